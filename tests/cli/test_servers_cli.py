"""The command line and servers' own collections (issue 15): ``--server ID`` sees what that server sees;
``factdeck servers`` lists them; ``factdeck promote`` moves one into the shared library."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from bot.cli.console import Console
from bot.cli.main import main
from bot.service import CardService

pytestmark = pytest.mark.usefixtures("cli_cache_outside_repo")

SERVER = 123456789012345678
DECK = """\
collection:
  id: course
  title: Our course
  curator: Study group
cards:
  - id: course-001
    text: Zebrafish regrow their hearts after an injury, a study group learned.
    topics: [regeneration]
"""


@pytest.fixture
def cards(cards_copy: Path) -> Path:
    folder = cards_copy / "servers" / str(SERVER)
    folder.mkdir(parents=True)
    (folder / "course.yml").write_text(DECK, encoding="utf-8")
    return cards_copy


def test_server_option_sees_the_servers_own_cards_and_without_it_only_the_shared(
    cards: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["search", "zebrafish", "--cards", str(cards)]) == 1
    capsys.readouterr()
    assert main(["search", "zebrafish", "--cards", str(cards), "--server", str(SERVER)]) == 0
    assert "Zebrafish" in capsys.readouterr().out
    assert main(["show", "course-001", "--cards", str(cards), "--server", str(SERVER), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == f"course-001@{SERVER}"
    assert main(["show", "course-001", "--cards", str(cards), "--server", "42"]) == 1
    assert main(["list", "--cards", str(cards), "--json"]) == 0
    assert all(c["id"] != f"course@{SERVER}" for c in json.loads(capsys.readouterr().out))


def test_the_console_with_a_server_sees_what_it_sees(cards: Path) -> None:
    service = CardService.load(cards)
    out = io.StringIO()
    console = Console(service, out, viewer=SERVER)
    console.handle("search zebrafish")
    assert "Zebrafish" in out.getvalue()
    shared = io.StringIO()
    Console(service, shared).handle("search zebrafish")
    assert "Zebrafish" not in shared.getvalue()


def _config(tmp_path: Path, cards: Path) -> Path:
    config = tmp_path / "config.yml"
    config.write_text(f"cards_dir: {cards}\ndatabase: {tmp_path / 'f.db'}\n", encoding="utf-8")
    return config


def test_servers_lists_each_server_with_its_collections(
    cards: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["servers", "--config", str(_config(tmp_path, cards)), "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["server"] == SERVER
    assert row["collections"] == [{"id": "course", "title": "Our course", "cards": 1}]
    assert row["bytes"] == len(DECK.encode())
    assert row["bot_left"] is None


def test_promote_moves_a_servers_collection_into_the_shared_library(
    cards: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(_config(tmp_path, cards))
    assert main(["promote", str(SERVER), "course", "--as", "therapeutic-alliance", "--config", config]) == 1
    assert "already has a collection 'therapeutic-alliance'" in capsys.readouterr().err
    assert main(["promote", str(SERVER), "course", "--config", config]) == 0
    assert (cards / "course.yml").read_text(encoding="utf-8") == DECK
    assert not (cards / "servers" / str(SERVER) / "course.yml").exists()
    assert main(["search", "zebrafish", "--cards", str(cards)]) == 0  # the shared library serves it now
