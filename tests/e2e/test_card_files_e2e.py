"""/cards reload and /cards import end to end with files that used to crash them: a broken file with `**` in it,
and a CSV with a quote never closed. Each is that file's problem, at its line, and the bot serves the rest."""

from __future__ import annotations

import asyncio

import pytest

from tests.cards.test_broken_files import STARS_AND_SYNTAX_ERROR
from tests.e2e import test_cards
from tests.e2e.test_cards import COLLECTION, Deck

deck = test_cards.deck  # the fixture: a running bot with its own copy of the cards

pytestmark = pytest.mark.e2e


async def test_reload_with_a_starred_broken_file_reports_it_and_serves_the_rest(deck: Deck) -> None:
    await asyncio.to_thread((deck.cards / "stars.yml").write_text, STARS_AND_SYNTAX_ERROR, "utf-8")
    message = await (await deck.cards_cmd("reload")).wait_message()
    summary, errors = message.embeds
    assert "cards/stars.yml" in str(summary)  # listed as broken
    assert "cards/stars.yml:9:1: YAML syntax" in errors["description"]
    search = await (await deck.fact("search", query="core conditions Rogers")).wait_message()
    assert f"{COLLECTION}-001" in search.text


async def test_import_of_a_starred_broken_file_lists_its_line(deck: Deck) -> None:
    upload = deck.fake.add_attachment("stars.yml", STARS_AND_SYNTAX_ERROR)
    message = await (await deck.cards_cmd("import", file=upload)).wait_message()
    assert "stars.yml:9:1: YAML syntax" in message.embed["description"]
    assert not message.buttons


async def test_import_of_a_csv_with_an_unclosed_quote_names_the_row(deck: Deck) -> None:
    csv = 'text,topics\nA first fact.,a\n"An unclosed fact,b\nA third fact.,c\n'
    upload = deck.fake.add_attachment("notes.csv", csv)
    message = await (await deck.cards_cmd("import", file=upload)).wait_message()
    assert "notes.csv:3:1: row 3: a quoted cell opened on this row is never closed" in message.embed["description"]
    assert not message.buttons
    assert not (deck.cards / "notes.yml").exists()
