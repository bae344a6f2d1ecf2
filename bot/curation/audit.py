"""Recording moderators' changes in the audit log: each card before and after, who, where and which file."""

from __future__ import annotations

import itertools
import json
import logging
import sqlite3
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from bot.cards.library import Library
from bot.cards.model import Card
from bot.service import ReloadReport
from bot.storage import Action, AuditEntry, AuditLog, StorageUnavailable
from bot.storage.audit import State

from .errors import CurationError
from .forms import Moderator, card_builtins
from .ids import highest_numbers
from .imports import ImportPlan
from .writes import CardChange

__all__ = ["AUDIT_CARDS_LIMIT", "AuditTrail"]

log = logging.getLogger(__name__)

#: Per-card audit entries written for one import or reload; beyond this only the summary entry is written.
AUDIT_CARDS_LIMIT = 2000

_AUDIT_FAULTS = (sqlite3.Error, OSError, ValueError, TypeError)


def _holds(library: Library, entry: AuditEntry) -> bool:
    """Whether the served files hold the change an audit row records."""
    if entry.card_id is not None:  # compared as the audit log stores it: JSON (tuples read back as lists)
        current: object = json.loads(json.dumps(card_builtins(library.cards.get(entry.card_id))))
        return current == entry.after
    loaded = library.file_of(entry.collection_id or "")
    return loaded is not None and entry.after is not None and loaded.digest == entry.after.get("digest")


def _fault(what: str, *args: object) -> None:
    """Log an audit-log fault: one line when the database is known to be down, the traceback otherwise."""
    exc = sys.exc_info()[1]
    if isinstance(exc, StorageUnavailable):
        log.warning(what + ": %s", *args, exc)
    else:
        log.exception(what, *args)


def _who(moderator: Moderator) -> dict[str, Any]:
    return {"guild_id": moderator.guild_id, "moderator_id": moderator.id, "moderator_name": moderator.name}


class AuditTrail:
    """Writes the audit rows of the curator's changes; without an audit log (``None``) it records nothing.

    A fault in the audit log is logged, never raised: the file is written and served by then, and the moderator
    must not be told otherwise.
    """

    def __init__(self, audit: AuditLog | None) -> None:
        self.log = audit

    async def _record(self, action: Action, **fields: Any) -> None:
        if self.log is None:
            return
        try:
            await self.log.record(action, **fields)
        except _AUDIT_FAULTS:
            _fault("could not record %s of %s in the audit log", action, fields.get("card_id"))

    async def marks(self) -> dict[str, int]:
        """Per id prefix, the highest number ever given out ({} without an audit log, or when it fails)."""
        if self.log is None:
            return {}
        try:
            return await self.log.marks()
        except _AUDIT_FAULTS:
            _fault("could not read the card id marks; new ids count from the cards served")
            return {}

    async def raise_marks(self, marks: Mapping[str, int]) -> None:
        """Record that these numbers were given out, so they are never given again."""
        if self.log is None or not marks:
            return
        try:
            await self.log.raise_marks(marks)
        except _AUDIT_FAULTS:
            _fault("could not record the card id marks %s", dict(marks))

    async def seed_marks(self, library: Library) -> None:
        """At start: every id the audit log or the library has seen counts as given out (a log from before the
        marks, or cards added and removed by hand, never hand an old id to a new card)."""
        if self.log is None:
            return
        try:
            seen = await self.log.card_ids()
        except _AUDIT_FAULTS:
            _fault("could not read the audit log's card ids")
            seen = set()
        await self.raise_marks(highest_numbers([*seen, *library.cards]))

    async def begin(self, entries: Sequence[Mapping[str, Any]]) -> list[int]:
        """Record a write's rows as pending, before its file is touched; their ids for :meth:`settle`."""
        if self.log is None or not entries:
            return []
        try:
            return await self.log.begin(entries)
        except _AUDIT_FAULTS as exc:
            _fault("could not record the pending %s in the audit log", entries[0].get("action"))
            raise CurationError(
                "the audit log cannot be written just now, so nothing was changed (every change is recorded "
                "before its file is written); try again once the database is back"
            ) from exc

    async def settle(self, entry_ids: Sequence[int], state: State) -> None:
        """Mark a write's rows done, or not written (a row left pending is settled at the next start)."""
        if self.log is None or not entry_ids:
            return
        try:
            await self.log.settle(entry_ids, state)
        except _AUDIT_FAULTS:
            _fault("could not mark audit rows %s %s", list(entry_ids), state)

    @staticmethod
    def change_entries(change: CardChange, moderator: Moderator, note: str = "") -> list[dict[str, Any]]:
        """The row of one card added, edited or removed (``note`` follows the file in its detail)."""
        return [
            {
                "action": change.action,
                "card_id": change.card_id,
                "collection_id": change.collection_id,
                "before": card_builtins(change.before),
                "after": card_builtins(change.after),
                "detail": f"{change.display_path} · {note}" if note else change.display_path,
                **_who(moderator),
            }
        ]

    @staticmethod
    def import_entries(plan: ImportPlan, digest: str, moderator: Moderator) -> list[dict[str, Any]]:
        """An import's rows: a summary (with the digest of the file it writes), then one per card it changes."""
        if plan.card_file is None:
            return []
        old = {c.id: c for c in plan.before}
        new = {c.id: c for c in plan.card_file.cards}
        summary = (
            f"{plan.filename} into {plan.display_path}: {len(plan.added)} added, {len(plan.changed)} changed,"
            f" {len(plan.removed)} removed"
        )
        head = {
            "action": "import",
            "collection_id": plan.collection_id,
            "before": None if plan.new_collection else {"cards": len(plan.before)},
            "after": {"cards": len(plan.card_file.cards), "digest": digest},
            "detail": summary,
            **_who(moderator),
        }
        ids = itertools.islice((*plan.added, *plan.changed, *plan.removed), AUDIT_CARDS_LIMIT)
        cards = [
            {
                "action": "import",
                "card_id": cid,
                "collection_id": plan.collection_id,
                "before": card_builtins(old.get(cid)),
                "after": card_builtins(new.get(cid)),
                "detail": summary,
                **_who(moderator),
            }
            for cid in ids
        ]
        return [head, *cards]

    async def reconcile(self, library: Library) -> tuple[int, int]:
        """At start: settle the rows a crash or kill left pending, by what the files hold. A row whose change is in
        the served files is done; any other was not written. Returns (done, not written)."""
        if self.log is None:
            return 0, 0
        try:
            pending = await self.log.pending()
        except StorageUnavailable:
            raise  # the database is down: the start waits for it (see Curator.start)
        except _AUDIT_FAULTS:
            _fault("could not read the pending rows of the audit log")
            return 0, 0
        done = [e.id for e in pending if _holds(library, e)]
        lost = [e.id for e in pending if e.id not in set(done)]
        await self.settle(done, "done")
        await self.settle(lost, "not written")
        return len(done), len(lost)

    async def _cards(
        self,
        action: Action,
        pairs: Iterable[tuple[str, Card | None, Card | None]],
        collection_of: Callable[[str], str | None],
        detail: str,
        moderator: Moderator,
    ) -> None:
        if self.log is None:
            return
        entries = [
            {
                "action": action,
                "card_id": card_id,
                "collection_id": collection_of(card_id),
                "before": card_builtins(before),
                "after": card_builtins(after),
                "detail": detail,
                **_who(moderator),
            }
            for card_id, before, after in itertools.islice(pairs, AUDIT_CARDS_LIMIT)
        ]
        try:
            await self.log.record_many(entries)  # one transaction, not one per card
        except _AUDIT_FAULTS:
            _fault("could not record the cards of this %s in the audit log", action)

    async def reloaded(self, before: Library, after: Library, report: ReloadReport, moderator: Moderator) -> None:
        """A reload: one summary row, then a row per card it brought in, changed or took out."""
        added, changed, removed = report.added, report.changed, report.removed
        summary = (
            f"{len(added)} added, {len(changed)} changed, {len(removed)} removed, {len(report.broken)} broken file(s)"
        )
        await self._record("reload", detail=summary, **_who(moderator))
        pairs = [(cid, before.cards.get(cid), after.cards.get(cid)) for cid in (*added, *changed, *removed)]

        def collection_of(cid: str) -> str | None:
            return after.card_collection.get(cid) or before.card_collection.get(cid)

        await self._cards("reload", pairs, collection_of, f"reload: {summary}", moderator)
