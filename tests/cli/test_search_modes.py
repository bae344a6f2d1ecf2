"""`factdeck search --mode lexical|semantic|hybrid`: a curator compares search by words with search by meaning
on their own cards, offline; FACTDECK_SEMANTIC=off keeps the CLI to words (and never loads the model)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from bot.cli.main import main
from tests.service.test_semantic import write_cards

pytestmark = pytest.mark.usefixtures("cli_cache_outside_repo")

QUESTION = "what are banknotes made of?"


def search(capsys: pytest.CaptureFixture[str], cards: Path, *args: str) -> dict[str, Any]:
    main(["search", QUESTION, "--cards", str(cards), "--json", *args])
    found: dict[str, Any] = json.loads(capsys.readouterr().out)
    return found


@pytest.mark.semantic
@pytest.mark.usefixtures("encoder")
def test_each_mode_answers_a_question_its_own_way(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cards = write_cards(tmp_path / "cards")
    meaning = search(capsys, cards, "--mode", "semantic")
    assert meaning["by_meaning"] is True
    assert meaning["cards"][0]["id"] == "fact-01"
    assert search(capsys, cards)["by_meaning"] is True  # hybrid, the default, as the bot searches
    words = search(capsys, cards, "--mode", "lexical")
    assert words["by_meaning"] is False
    assert [t.name for t in threading.enumerate() if t.name == "factdeck-embed"] == []  # each command closed it


def test_factdeck_semantic_off_keeps_the_cli_to_words(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cards = write_cards(tmp_path / "cards")
    assert search(capsys, cards)["by_meaning"] is False  # FACTDECK_SEMANTIC=off, as in every test not marked semantic
