"""Whose collections a curator writes: the shared library, or one server's own (``cards/servers/<id>/``).

Each audience has a :class:`~bot.curation.Curator` of its own, working on its part of the library with the ids as
written in its files (:meth:`bot.cards.library.Library.of_audience`), so the same validation, atomic writes, id
numbering and audit serve a server's collections as the shared ones, and a server's curator can neither see nor
touch another audience's files. Its writes are merged back into the library being served
(:meth:`~bot.cards.library.Library.with_audience`); its audit rows carry the served keys (``id@server``), so one
server's history never shows another's changes to a card with the same id.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from bot.cards.library import SERVERS, Audience, Library, audience_folder, audience_of_key, local_id, qualify
from bot.service import CardService, ReloadReport
from bot.storage import AuditLog, CardBus
from bot.storage.audit import Action, AuditEntry, State

from .curator import Curator
from .quotas import Quota

__all__ = ["AudienceAudit", "AudienceDesk", "Curators"]


class AudienceDesk:
    """One audience's part of the card service, as its curator reads and swaps it (see :class:`Curator`)."""

    def __init__(self, service: CardService, audience: Audience) -> None:
        self.service = service
        self.audience = audience
        self._part: tuple[Library, Library] | None = None  # (the full library, its part), for the last one seen
        self._lock = threading.Lock()

    @property
    def library(self) -> Library:
        """This audience's part of the library being served, with its ids as written (computed once per library)."""
        full = self.service.library
        with self._lock:
            cached = self._part
            if cached is not None and cached[0] is full:
                return cached[1]
        part = full.of_audience(self.audience)
        with self._lock:
            self._part = (full, part)
        return part

    def swap(self, part: Library) -> None:
        """Serve ``part`` (an edited :attr:`library`) in place of this audience's part; the others stay as served."""
        self.service.swap_part(self.audience, part)

    def reload(self) -> ReloadReport:
        """Re-read the whole cards folder."""
        return self.service.reload()


class AudienceAudit(AuditLog):
    """The audit log as one audience's curator sees it: the ids it records are qualified with the server, and
    what it reads back (pending rows, id marks, card ids) is its own, with the ids as written."""

    def __init__(self, log: AuditLog, audience: Audience) -> None:
        self.inner = log
        self.audience = audience

    def _key(self, value: str | None) -> str | None:
        return qualify(value, self.audience) if value is not None else None

    def _mine(self, value: str | None) -> bool:
        return value is not None and audience_of_key(value) == self.audience

    def _qualified(self, entry: Mapping[str, Any]) -> dict[str, Any]:
        return {
            **entry,
            "card_id": self._key(entry.get("card_id")),
            "collection_id": self._key(entry.get("collection_id")),
        }

    async def record(self, action: Action, **fields: Any) -> int:
        fields = self._qualified(fields)
        return await self.inner.record(action, **fields)

    async def record_many(self, entries: Iterable[Mapping[str, Any]]) -> int:
        return await self.inner.record_many([self._qualified(e) for e in entries])

    async def begin(self, entries: Iterable[Mapping[str, Any]]) -> list[int]:
        return await self.inner.begin([self._qualified(e) for e in entries])

    async def settle(self, entry_ids: Iterable[int], state: State) -> None:
        await self.inner.settle(entry_ids, state)

    async def pending(self) -> list[AuditEntry]:
        found = []
        for entry in await self.inner.pending():
            if self._mine(entry.card_id or entry.collection_id):
                found.append(
                    dataclasses.replace(
                        entry,
                        card_id=local_id(entry.card_id) if entry.card_id else None,
                        collection_id=local_id(entry.collection_id) if entry.collection_id else None,
                    )
                )
        return found

    async def marks(self) -> dict[str, int]:
        return {local_id(prefix): n for prefix, n in (await self.inner.marks()).items() if self._mine(prefix)}

    async def card_ids(self) -> set[str]:
        return {local_id(card_id) for card_id in await self.inner.card_ids() if self._mine(card_id)}

    async def raise_marks(self, marks: Mapping[str, int]) -> None:
        await self.inner.raise_marks({qualify(prefix, self.audience): n for prefix, n in marks.items()})

    async def history(self, card_id: str, limit: int = 25) -> list[AuditEntry]:
        return await self.inner.history(qualify(card_id, self.audience), limit)

    async def recent(self, guild_id: int | None = None, limit: int = 25) -> list[AuditEntry]:
        return await self.inner.recent(guild_id, limit)


class Curators:
    """A curator per audience, made (and started) when first asked for; closed together."""

    def __init__(
        self,
        service: CardService,
        cards_dir: Path,
        *,
        audit: AuditLog | None = None,
        quota: Quota | None = None,
        bus: CardBus | None = None,
    ) -> None:
        self.service = service
        #: Other processes serving the same files (PostgreSQL), handed to every curator.
        self.bus = bus
        self.cards_dir = Path(cards_dir).resolve()
        self.audit = audit
        #: What each server may hold in its own collections (the shared library has no limit).
        self.quota = quota
        self._curators: dict[Audience, Curator] = {}
        self._lock = asyncio.Lock()

    def _make(self, audience: Audience) -> Curator:
        audit = AudienceAudit(self.audit, audience) if self.audit is not None else None
        return Curator(
            self.service,
            audience_folder(self.cards_dir, audience),
            audit=audit,
            desk=AudienceDesk(self.service, audience),
            shown=None if audience is None else f"{self.cards_dir.name}/{SERVERS}/{audience}",
            quota=None if audience is None else self.quota,
            bus=self.bus,
        )

    @property
    def shared(self) -> Curator:
        """The shared library's curator (made at once; :meth:`start` starts it)."""
        found = self._curators.get(None)
        if found is None:
            found = self._curators[None] = self._make(None)
        return found

    async def start(self) -> None:
        """Start the shared library's curator (the others start when first asked for)."""
        await self.shared.start()

    async def of(self, audience: Audience) -> Curator:
        """The curator of ``audience``, started."""
        if audience is None:
            return self.shared
        async with self._lock:
            found = self._curators.get(audience)
            if found is None:
                found = self._make(audience)
                await found.start()
                self._curators[audience] = found
            return found

    async def close(self) -> None:
        """Let every write under way finish, then refuse new ones."""
        for curator in list(self._curators.values()):
            await curator.close()
