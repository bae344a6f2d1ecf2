"""Time zones by name: what a moderator types (``europe/berlin``, ``new york``, ``Berln``) to an IANA zone.

Pure and cached: the system's (or the tzdata package's) zone list is read once. :func:`resolve_zone` accepts a name
case-insensitively and names close matches when it does not know it; :func:`zone_choices` ranks names for
autocomplete.
"""

from __future__ import annotations

import difflib
import functools
import zoneinfo

from .errors import DailyError

__all__ = ["resolve_zone", "zone_choices", "zone_suggestions"]

_CANONICAL_AREAS = frozenset(
    {"Africa", "America", "Antarctica", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific"}
)
_COMMON_ZONES = (
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Paris",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
)


@functools.cache
def _zones() -> tuple[str, ...]:
    """All IANA zone names the system (or the tzdata package) knows, sorted; computed once."""
    return tuple(sorted(z for z in zoneinfo.available_timezones() if z not in {"Factory", "localtime"}))


@functools.cache
def _zones_by_lower() -> dict[str, str]:
    return {z.lower(): z for z in _zones()}


@functools.cache
def _zones_by_city() -> dict[str, list[str]]:
    """Zones by their last path part, lower-cased (``berlin`` -> ``Europe/Berlin``)."""
    cities: dict[str, list[str]] = {}
    for zone in _zones():
        cities.setdefault(zone.rsplit("/", 1)[-1].lower(), []).append(zone)
    return cities


def _zone_rank(zone: str) -> int:
    """Prefer ``Area/City`` names over legacy aliases such as ``US/Pacific`` or ``Etc/GMT+5``."""
    return 0 if zone == "UTC" or zone.split("/", 1)[0] in _CANONICAL_AREAS else 1


def resolve_zone(name: str) -> zoneinfo.ZoneInfo:
    """The :class:`~zoneinfo.ZoneInfo` for an IANA name (case-insensitive, e.g. ``europe/berlin``).

    Raises :class:`DailyError` naming close matches when the zone is unknown.
    """
    cleaned = (name or "").strip().replace(" ", "_")
    key = _zones_by_lower().get(cleaned.lower())
    if key is not None:
        return zoneinfo.ZoneInfo(key)
    suggestions = zone_suggestions(cleaned)
    hint = f" Did you mean {', '.join(suggestions)}?" if suggestions else ""
    raise DailyError(f"Unknown time zone {name!r}.{hint} Use an IANA name such as Europe/Berlin or America/New_York.")


def zone_suggestions(name: str, limit: int = 3) -> list[str]:
    """Zone names close to a mistyped ``name``: substring matches first, then fuzzy (difflib) ones."""
    found = list(zone_choices(name, limit=limit)) if name else []
    if len(found) < limit:
        lower, cities = _zones_by_lower(), _zones_by_city()
        fuzzy = difflib.get_close_matches(name.lower(), list(lower), n=limit, cutoff=0.6)
        # Also compare against the city part, so "Berln" finds Europe/Berlin.
        fuzzy_cities = difflib.get_close_matches(name.lower(), list(cities), n=limit, cutoff=0.7)
        candidates = [lower[z] for z in fuzzy] + [z for c in fuzzy_cities for z in cities[c]]
        for zone in sorted(candidates, key=_zone_rank):
            if zone not in found:
                found.append(zone)
    return found[:limit]


def _match_tier(zone_lower: str, query: str) -> int:
    """0: the full name starts with the query; 1: a path part does; 2: it occurs anywhere."""
    if zone_lower.startswith(query):
        return 0
    if any(part.startswith(query) for part in zone_lower.split("/")):
        return 1
    return 2


def zone_choices(prefix: str, limit: int = 25) -> list[str]:
    """Zone names for autocomplete: case-insensitive substring match, best first.

    Ranked: the full name starts with the query, then a path part starts with it (``berlin`` ->
    ``Europe/Berlin``), then it occurs anywhere; ``Area/City`` names before legacy aliases; then
    alphabetically. Spaces match underscores (``new york``). An empty query gives common zones.
    """
    query = (prefix or "").strip().lower().replace(" ", "_")
    if not query:
        return list(_COMMON_ZONES[:limit])
    ranked = sorted(
        (_match_tier(zone.lower(), query), _zone_rank(zone), zone) for zone in _zones() if query in zone.lower()
    )
    return [zone for _, _, zone in ranked[:limit]]
