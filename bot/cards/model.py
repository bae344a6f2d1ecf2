"""The card model: the one definition of what a card file may contain.

Everything that reads or writes cards goes through these structs: the loader decodes YAML into them, the
validator checks YAML against their fields and constraints, `schema()` turns them into the JSON Schema that
editors use, and moderator edits build them. Structs are frozen and slotted (``gc=False``) so that 100k loaded
cards stay small and can be shared between the search, citation and random indexes without copying.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from functools import lru_cache
from typing import Annotated, Any

import msgspec

from bot.util.text import fold

#: A card must fit in a Discord embed description.
MAX_TEXT = 4096
#: Card and collection ids: lowercase slugs, so they are safe in file names, custom ids and URLs.
ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,79}$"
SCHEMA_ID = "https://factdeck.invalid/card-file.schema.json"

Slug = Annotated[
    str,
    msgspec.Meta(
        pattern=ID_PATTERN,
        description="Lowercase letters, digits and hyphens; starts with a letter or digit; at most 80.",
        examples=["therapeutic-alliance-01"],
    ),
]
NonEmpty = Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]
Topic = Annotated[str, msgspec.Meta(min_length=1, max_length=64, description="A topic a reader searches by.")]
CardText = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=MAX_TEXT,
        description="The fact itself, verbatim. At most 4,096 characters so that it fits a Discord embed.",
    ),
]
Year = Annotated[int, msgspec.Meta(ge=1, le=9999)]
#: When a card was added: a date and time with its time zone, so that every reader agrees on the moment.
AddedAt = Annotated[
    dt.datetime,
    msgspec.Meta(tz=True, description="ISO 8601 date and time with a time zone, e.g. 2026-11-26T09:30:00+00:00."),
]


class _Base(msgspec.Struct, frozen=True, gc=False, forbid_unknown_fields=True, omit_defaults=True):
    """Shared struct options: immutable, untracked by the GC, strict about keys, compact when written."""


class Source(_Base, frozen=True, kw_only=True):
    """Where a card comes from: the article and source type as the page gives them, plus optional detail."""

    article: NonEmpty | None = None
    type: NonEmpty | None = None
    authors: tuple[NonEmpty, ...] = ()
    year: Year | None = None
    title: NonEmpty | None = None
    container: NonEmpty | None = None
    pages: NonEmpty | None = None
    doi: NonEmpty | None = None
    url: NonEmpty | None = None

    @property
    def has_structured_fields(self) -> bool:
        """True when the source carries enough detail for a formatted reference."""
        return bool(self.authors or self.title or self.container or self.doi)


EMPTY_SOURCE = Source()

#: A term a curator asks to blank: a word or a phrase of the card's text, not a sentence.
ClozeTerm = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=100,
        description="A word or phrase of the card's text (matched ignoring case and accents) to blank in a quiz.",
    ),
]
AcceptedAnswer = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class Study(_Base, frozen=True, kw_only=True):
    """How study mode quizzes a card, when the curator wants a say: which terms to blank, which other answers to
    accept, or not to quiz the card at all. Without it, questions are derived from the text on their own."""

    cloze: Annotated[
        tuple[ClozeTerm, ...],
        msgspec.Meta(
            max_length=10,
            description="The terms to blank, instead of those study mode would pick; each must occur in the text.",
        ),
    ] = ()
    answers: Annotated[
        tuple[AcceptedAnswer, ...],
        msgspec.Meta(
            max_length=20,
            description="Other answers accepted for the cloze terms (synonyms, abbreviations); needs `cloze`.",
        ),
    ] = ()
    skip: Annotated[bool, msgspec.Meta(description="true: study mode never quizzes this card.")] = False


NO_STUDY = Study()


class Card(_Base, frozen=True, kw_only=True):
    """One fact, with the topics it is found by, its source and the references it cites."""

    id: Slug
    text: CardText
    topics: tuple[Topic, ...] = ()
    source: Source = EMPTY_SOURCE
    citations: tuple[NonEmpty, ...] = ()
    added_by: NonEmpty | None = None
    added_at: AddedAt | None = None
    study: Study = NO_STUDY


class Collection(_Base, frozen=True, kw_only=True):
    """A curated collection: its title, description and curator, as the curator's page presents them."""

    id: Slug
    title: NonEmpty
    description: Annotated[str, msgspec.Meta(max_length=4096)] = ""
    curator: NonEmpty
    topics: tuple[Topic, ...] = ()
    url: NonEmpty | None = None
    license: NonEmpty | None = None


class CardFile(_Base, frozen=True, kw_only=True):
    """One YAML file in ``cards/``: a collection and its cards."""

    collection: Collection
    cards: tuple[Card, ...] = ()


#: The order keys are written in, as documented in docs/cards.md.
FILE_KEYS = tuple(f.encode_name for f in msgspec.structs.fields(CardFile))
COLLECTION_KEYS = tuple(f.encode_name for f in msgspec.structs.fields(Collection))
CARD_KEYS = tuple(f.encode_name for f in msgspec.structs.fields(Card))
SOURCE_KEYS = tuple(f.encode_name for f in msgspec.structs.fields(Source))


class FoldedText:
    """A text folded as search folds it (:func:`bot.util.text.fold`), able to map a match in the folded text back
    to the characters of the text it comes from (folding can change lengths: "ß" becomes "ss")."""

    __slots__ = ("folded", "offsets", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.offsets: list[int] | None = None  # None: one folded character per character (ASCII)
        if text.isascii():
            self.folded = text.lower()
            return
        parts: list[str] = []
        offsets: list[int] = []
        for index, char in enumerate(text):
            folded = fold(char)
            parts.append(folded)
            offsets.extend([index] * len(folded))
        offsets.append(len(text))
        self.folded, self.offsets = "".join(parts), offsets

    def spans(self, pattern: re.Pattern[str] | None) -> list[tuple[int, int]]:
        """The (start, end) in the text of each match of ``pattern`` in the folded text."""
        if pattern is None:
            return []
        found = [m.span() for m in pattern.finditer(self.folded)]
        offsets = self.offsets
        return found if offsets is None else [(offsets[start], offsets[end]) for start, end in found]


@lru_cache(maxsize=8192)
def term_pattern(term: str) -> re.Pattern[str] | None:
    """The pattern of a term in folded text: its folded words, any run of spaces between them, whole words only."""
    words = fold(term).split()
    if not words:
        return None
    return re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, words)) + r"(?!\w)")


def term_spans(text: str | FoldedText, term: str) -> list[tuple[int, int]]:
    """Where ``term`` occurs in ``text`` as whole words, ignoring case, accents and spacing: the (start, end) of each
    occurrence in ``text``. A study block's cloze term must occur at least once."""
    return (text if isinstance(text, FoldedText) else FoldedText(text)).spans(term_pattern(term))


def schema() -> dict[str, Any]:
    """The JSON Schema of a card file, generated from the structs above."""
    body = msgspec.json.schema(CardFile)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Factdeck card file",
        **body,
    }


def schema_text() -> str:
    """The schema as written to ``cards/card-file.schema.json``."""
    return json.dumps(schema(), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def to_builtins(struct: Card | Collection | Source) -> dict[str, Any]:
    """A card (or collection, or source) as plain data: dicts, lists and strings, without empty fields."""
    data: dict[str, Any] = msgspec.to_builtins(struct)
    return data
