"""Autocomplete choices, the same in every cog: at most 25, names and values within Discord's 100 characters.

``viewer`` is the server the member types in (the interaction's guild id; None in a direct message): only what
it sees is offered (the shared library and its own collections).
"""

from __future__ import annotations

from collections.abc import Iterable

from discord import app_commands

from bot.discord.embeds import clip
from bot.service import CardService

#: Discord's limits for one autocomplete answer.
CHOICES_MAX, CHOICE_MAX = 25, 100


def choice(name: str, value: str) -> app_commands.Choice[str]:
    """One choice: the name on one line and cut to fit; the value cut to fit."""
    return app_commands.Choice(
        name=clip(" ".join(name.split()), CHOICE_MAX)[0] or value[:CHOICE_MAX], value=value[:CHOICE_MAX]
    )


def _first(pairs: Iterable[tuple[str, str]]) -> list[app_commands.Choice[str]]:
    return [choice(name, value) for name, value in pairs if name.strip()][:CHOICES_MAX]


def topics(service: CardService, current: str, viewer: int | None = None) -> list[app_commands.Choice[str]]:
    """Topics, best match first."""
    return _first((t, t) for t in service.topics(current, CHOICES_MAX, viewer))


def collections(service: CardService, current: str, viewer: int | None = None) -> list[app_commands.Choice[str]]:
    """Collections as "Title (id)"; the value is the id."""
    return _first((label, cid) for cid, label in service.collection_choices(current, CHOICES_MAX, viewer))


def cards(service: CardService, current: str, viewer: int | None = None) -> list[app_commands.Choice[str]]:
    """Cards as "id · start of the text"; the value is the id."""
    return _first((f"{cid} · {label}", cid) for cid, label in service.card_choices(current, CHOICES_MAX, viewer))


def references(service: CardService, current: str, viewer: int | None = None) -> list[app_commands.Choice[str]]:
    """Cited works, most cited first, with how many cards cite each."""
    return _first(
        (f"{display} · {n} card{'s' if n != 1 else ''}", display)
        for display, n in service.references(current, CHOICES_MAX, viewer)
    )


def zones(names: Iterable[str]) -> list[app_commands.Choice[str]]:
    """Time zone names."""
    return _first((name, name) for name in names)
