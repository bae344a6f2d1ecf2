"""What moderators type and who they are: the add/edit form's fields, and a card built from them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import msgspec

from bot.cards.model import Card

__all__ = ["CardInput", "Moderator", "card_builtins", "card_data", "parse_list"]


@dataclass(frozen=True, slots=True)
class Moderator:
    """Who asks for a change, and where: recorded on new cards and in the audit log."""

    name: str
    id: int | None = None
    guild_id: int | None = None


@dataclass(frozen=True, slots=True)
class CardInput:
    """What a moderator types for a card: the fields of the add/edit form."""

    text: str
    topics: tuple[str, ...] = ()
    article: str | None = None
    source_type: str | None = None
    citations: tuple[str, ...] = ()

    @classmethod
    def from_form(
        cls, text: str, topics: str = "", article: str = "", source_type: str = "", references: str = ""
    ) -> CardInput:
        """Parse the form: topics separated by commas, references by semicolons; blank fields are left out."""
        return cls(
            text=text.strip(),
            topics=parse_list(topics, ","),
            article=article.strip() or None,
            source_type=source_type.strip() or None,
            citations=parse_list(references, ";"),
        )

    @classmethod
    def of(cls, card: Card) -> CardInput:
        """The form's fields for an existing card (to pre-fill an edit)."""
        return cls(card.text, card.topics, card.source.article, card.source.type, card.citations)


def parse_list(text: str, separator: str) -> tuple[str, ...]:
    """Split a form field into trimmed, non-empty items, dropping repeats (case-insensitively), keeping order."""
    seen: set[str] = set()
    out: list[str] = []
    for item in (" ".join(part.split()) for part in (text or "").split(separator)):
        if item and item.casefold() not in seen:
            seen.add(item.casefold())
            out.append(item)
    return tuple(out)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def card_builtins(card: Card | None) -> dict[str, Any] | None:
    """A card as plain data for the audit log (dates as ISO text)."""
    if card is None:
        return None
    data: dict[str, Any] = msgspec.to_builtins(card)
    if card.added_at is not None:
        data["added_at"] = card.added_at.isoformat()
    return data


def card_data(card_id: str, form: CardInput, *, base: Card | None, moderator: Moderator) -> dict[str, Any]:
    """The plain data of a new or edited card, in the shape the validator checks."""
    data: dict[str, Any] = {"id": card_id, "text": form.text}
    if form.topics:
        data["topics"] = list(form.topics)
    old_source = msgspec.to_builtins(base.source) if base is not None else {}
    source = {**old_source, "article": form.article, "type": form.source_type}
    source = {k: v for k, v in source.items() if v not in (None, "", [], ())}
    if source:
        data["source"] = source
    if form.citations:
        data["citations"] = list(form.citations)
    if base is None:
        data["added_by"] = moderator.name[:1000] or "unknown"
        data["added_at"] = _utcnow().isoformat()
    else:
        if base.added_by is not None:
            data["added_by"] = base.added_by
        if base.added_at is not None:
            data["added_at"] = base.added_at.isoformat()
    return data
