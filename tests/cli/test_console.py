"""The offline console and the search/cite/random/source CLI commands, as a terminal user sees them."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli.console import Console, _completer, run_console
from bot.cli.main import main
from bot.service import CardService
from tests.conftest import SHIPPED_CARDS

pytestmark = pytest.mark.usefixtures("cli_cache_outside_repo")


@pytest.fixture(scope="module")
def service() -> CardService:
    return CardService.load(SHIPPED_CARDS)


def run(service: CardService, *lines: str) -> str:
    out = io.StringIO()
    console = Console(service, out)
    for line in lines:
        console.handle(line)
    return out.getvalue()


def test_search_pages_with_next_and_prev(service: CardService) -> None:
    out = run(service, "search therapeutic alliance", "next", "prev")
    first, second, third = out.split("cards match")[1:]
    assert "showing 1–5" in first
    assert "showing 6–10" in second
    assert "showing 1–5" in third
    assert "[therapeutic-alliance-0" in first


def test_show_cite_source_and_topics(service: CardService) -> None:
    out = run(
        service,
        "show therapeutic-alliance-002",
        "cite Horvath & Symonds 1991",
        "source therapeutic-alliance-002 apa",
        "topics coup",
    )
    assert "Bordin (5) identified three components" in out
    assert "Article: Therapeutic alliance as a…" in out
    assert "3 cards cite “Horvath & Symonds 1991”" in out
    assert "cites it as “Horvath and Symonds, 1991”" in out
    assert "Therapeutic alliance as a…" in out.split("3 cards cite")[1]
    assert "couple therapy" in out.rsplit("\n\n", 2)[-2]


def test_mistakes_get_helpful_messages(service: CardService) -> None:
    out = run(service, "show nope", "source", "source therapeutic-alliance-001 chicago", "frobnicate", "next")
    assert "No card has the id “nope”." in out
    assert "Usage: source CARD [plain|apa|mla|bibtex]" in out
    assert "Unknown style “chicago”: use plain, apa, mla, bibtex." in out
    assert "Unknown command “frobnicate”. Type help for the list." in out
    assert "Search first" in out


def test_quit_stops_reading(service: CardService) -> None:
    out = io.StringIO()
    assert run_console(service, stdin=io.StringIO("random\nquit\nrandom\n"), stdout=out) == 0
    assert out.getvalue().count("curated by Mee Young Jeong") == 1


def test_console_command_runs_from_a_pipe() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "console"],
        input="search engaging adolescents\ncite Simpson\nquit\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Factdeck console: 10 cards in 1 collection(s)" in done.stdout
    assert "[therapeutic-alliance-010]" in done.stdout.split("match “engaging adolescents”")[1].split("\n\n")[1]
    assert "cites it as “Simpson 2004; Simpson 2001”" in done.stdout


def test_cli_search_cite_random_source_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "couple therapy", "--json", "--limit", "2"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["total"] == 3
    assert len(found["cards"]) == 2
    assert all("couple therapy" in card["topics"] for card in found["cards"])
    assert main(["cite", "Orlinsky et al. 2004", "--json"]) == 0
    cited = json.loads(capsys.readouterr().out)
    assert [c["id"] for c in cited["cards"]] == ["therapeutic-alliance-010"]
    assert main(["random", "--topic", "children and adolescents", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == "therapeutic-alliance-006"
    assert main(["source", "therapeutic-alliance-003", "--style", "bibtex"]) == 0
    bibtex = capsys.readouterr().out
    assert bibtex.startswith("@misc{therapeutic-alliance-003,")
    assert "Utility of the initial th" in bibtex


def test_cli_reports_nothing_found_with_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cite", "Freud 1900"]) == 1
    assert "No card cites “Freud 1900”." in capsys.readouterr().out
    assert main(["random", "--topic", "astronomy"]) == 1
    assert "No card has the topic “astronomy”" in capsys.readouterr().err


def test_a_relaxed_search_shows_the_cards_that_match_some_words(service: CardService) -> None:
    # "teh" is in no card, so no card has all three words: the search falls back to cards with some of them.
    out = run(service, "search teh therapeutc aliance")
    assert "No card matches all of those words; showing cards that match some of them." in out
    assert "(showing 1–5)" in out
    assert out.count("[therapeutic-alliance-0") == 5


def test_cli_text_search_shows_relaxed_results_like_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "teh therapeutc aliance", "--json", "--limit", "3"]) == 0
    found = [card["id"] for card in json.loads(capsys.readouterr().out)["cards"]]
    assert len(found) == 3
    assert main(["search", "teh therapeutc aliance", "--limit", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("No card matches all of those words; showing cards that match some of them.")
    assert "10 cards match “teh therapeutc aliance” (showing 1–3)" in out
    assert [line.split("]")[0] for line in out.splitlines() if line[:3] in ("1. ", "2. ", "3. ")] == [
        f"{n}. [{card_id}" for n, card_id in enumerate(found, 1)
    ]


def test_cli_searches_a_single_file_and_a_folder_whose_cache_cannot_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    card_file = tmp_path / "cards" / "therapeutic-alliance.yml"
    card_file.parent.mkdir()
    shutil.copy(SHIPPED_CARDS / card_file.name, card_file)
    monkeypatch.delenv("FACTDECK_CACHE_DIR", raising=False)
    monkeypatch.delenv("FACTDECK_CACHE", raising=False)
    assert main(["search", "couple therapy", "--cards", str(card_file), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"] == 3
    # A read-only cache folder, simulated: tests run as root, where chmod does not stop writes, so the cache
    # path lies under a regular file and cannot be created.
    monkeypatch.setenv("FACTDECK_CACHE_DIR", str(card_file / "cache"))
    assert main(["search", "couple therapy", "--cards", str(card_file.parent)]) == 0
    done = capsys.readouterr()
    assert "3 cards match “couple therapy”" in done.out
    assert "Traceback" not in done.err
    assert f"cannot write the cache folder {card_file / 'cache'}" in done.err
    assert card_file.is_file()


def test_tab_completes_commands_topics_card_ids_and_references(service: CardService) -> None:
    from prompt_toolkit.completion import CompleteEvent
    from prompt_toolkit.document import Document

    def complete(text: str) -> list[str]:
        return [c.text for c in _completer(service).get_completions(Document(text), CompleteEvent())]

    assert complete("se") == ["search"]
    assert "couple therapy" in complete("search coup")
    assert complete("show therapeutic-alliance-00")[0].startswith("therapeutic-alliance-00")
    assert any("Horvath" in option for option in complete("cite Horv"))
    assert complete("help me") == []


@pytest.mark.parametrize(
    ("argv", "answer"),
    [
        (["search", "alliance\udcff adolescent"], "match “alliance� adolescent”"),
        (["search", "\udcff", "--json"], "There is nothing to search for in that"),
        (["search", "alliance", "--topic", "youth\ud800"], "No card matches “alliance”"),
        (["search", "alliance", "--collection", "\udcff"], "No card matches “alliance”"),
        (["show", "therapeutic-alliance-\udcff"], "No card has the id 'therapeutic-alliance-�'."),
        (["source", "\udcff"], "No card has the id '�'."),
        (["cite", "Horvath\udcff"], "No card cites “Horvath�”."),
        (["random", "--topic", "\udcff"], "No card has the topic “�”"),
        (["random", "--collection", "\udcff"], "There is no collection “�”"),
    ],
)
def test_cli_text_that_is_not_utf8_gets_a_clear_answer(
    argv: list[str], answer: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Bytes of an argument that are not UTF-8 reach Python as lone surrogates ("\udcff" for the byte 0xFF).
    assert main(argv) in (0, 1)
    done = capsys.readouterr()
    shown = done.out + done.err
    assert answer in shown
    shown.encode("utf-8")  # nothing unprintable is echoed back


def test_console_lines_that_are_not_utf8_get_a_clear_answer(service: CardService) -> None:
    # A piped line with bytes that are not UTF-8 reaches the console with lone surrogates.
    out = run(service, "show \udcff", "search couple\udcff therapy", "topics coup\udcff")
    assert "No card has the id “�”." in out
    assert "3 cards match “couple� therapy”" in out
    assert "couple therapy" in out.rsplit("\n\n", 2)[-2]
    out.encode("utf-8")  # nothing unprintable is echoed back
