"""CSV imports: every malformed row is a row-level problem, nothing is silently merged, and a large import is
done away from the bot's other commands."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cards import importers
from bot.cards.importers import import_text, parse_csv
from bot.curation import Curator
from bot.service import CardService

HEADER = "text,topics\n"


def problems(text: str) -> list[str]:
    result = parse_csv(text, "in.csv", collection_id="demo")
    assert result.card_file is None
    return [str(p) for p in result.problems]


def test_an_unterminated_quote_is_an_error_at_its_row_not_rows_swallowed() -> None:
    text = HEADER + "A first fact.,a\n" + '"An unclosed fact,b\nA third fact.,c\nA fourth fact.,d\n'
    assert problems(text) == [
        "in.csv:3:1: row 3: a quoted cell opened on this row is never closed, so every row after it would become "
        'part of it; close the quote (write "" for a quote inside a quoted cell); the rows after it were not read'
    ]


def test_a_quote_closed_in_the_middle_of_a_cell_is_an_error_at_its_row() -> None:
    text = HEADER + 'A first fact.,a\n"Quoted" then more,b\nA third fact.,c\n'
    assert problems(text) == [
        'in.csv:3:1: row 3: a quoted cell goes on after its closing quote; write "" for a quote inside a quoted '
        "cell; the rows after it were not read"
    ]


def test_a_cell_over_128_kb_is_an_error_at_its_row() -> None:
    text = HEADER + "A first fact.,a\n" + "x" * 200_000 + ",b\n"
    assert problems(text) == [
        "in.csv:3:1: row 3: a cell is longer than 131,072 characters (a card's text may have at most 4,096), so "
        "the file cannot be imported as it is; the rows after it were not read"
    ]


def test_rows_are_numbered_as_a_spreadsheet_does_and_placed_at_their_line() -> None:
    text = HEADER + 'A fact.,a\n"A fact over\ntwo lines.",b\n,c\n'
    result = parse_csv(text, "in.csv", collection_id="demo")
    assert [str(p) for p in result.problems] == ["in.csv:5:1: row 4: text is empty"]
    assert result.card_file is not None
    assert [c.text for c in result.card_file.cards] == ["A fact.", "A fact over\ntwo lines."]


def test_a_large_import_is_done_in_a_worker_process(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = "".join(f"Fact number {n} about the working alliance.,alliance\n" for n in range(60_000))
    text = HEADER + rows
    assert len(text) >= importers.ISOLATE_FROM

    def not_here(*args: object, **kwargs: object) -> None:
        raise AssertionError("a large import ran in the bot's own process")

    monkeypatch.setattr(importers, "_import", not_here)
    monkeypatch.setattr(importers, "parse_csv", not_here)
    result = import_text(text, "big.csv", "csv")
    assert result.errors == []
    assert result.card_file is not None
    assert len(result.card_file.cards) == 60_000
    assert result.card_file.cards[-1].text == "Fact number 59999 about the working alliance."


async def test_an_upload_with_an_unterminated_quote_is_refused_with_its_row(cards_copy: Path) -> None:
    curator = Curator(CardService.load(cards_copy), cards_copy)
    upload = (HEADER + 'A fact.,a\n"Never closed,b\nAnother fact.,c\n').encode()
    plan = await curator.import_file("alliance.csv", upload)
    assert [p.message.split(":")[0] for p in plan.problems] == ["row 3"]
    assert plan.card_file is None


def test_a_large_file_is_validated_aside_in_a_worker_process(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.cards import validate, yamlio
    from bot.cards.model import Card, CardFile, Collection

    cards = tuple(Card(id=f"big-{n:05d}", text=f"Fact {n} about the alliance.", topics=("a",)) for n in range(14_000))
    text = yamlio.dump(CardFile(collection=Collection(id="big", title="Big", curator="Ada"), cards=cards))
    assert len(text) >= validate.ASIDE_FROM

    def not_here(*args: object) -> None:
        raise AssertionError("a large file was parsed in the bot's own process")

    monkeypatch.setattr(validate, "validate_text", not_here)
    result = validate.validate_text_aside(text, "big.yml")
    assert result.ok
    assert result.card_file is not None
    assert result.card_file.cards == cards
