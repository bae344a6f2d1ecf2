"""Importing seed pages and CSV files, and the card commands of the `factdeck` CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cards.importers import parse_csv, parse_seed_page
from bot.cards.library import load_library
from bot.cli.main import main
from tests.conftest import ROOT, SEED_PAGE, SHIPPED_CARDS

pytestmark = pytest.mark.usefixtures("cli_cache_outside_repo")


def test_importing_the_seed_page_yields_the_shipped_cards() -> None:
    result = parse_seed_page(SEED_PAGE.read_text(encoding="utf-8"), str(SEED_PAGE))
    assert result.errors == []
    assert result.card_file is not None
    shipped = load_library(SHIPPED_CARDS)
    imported, collection = result.card_file.cards, result.card_file.collection
    expected = shipped.cards_of("therapeutic-alliance")
    assert [(c.id, c.text, c.source) for c in imported] == [(c.id, c.text, c.source) for c in expected]
    info = shipped.collections["therapeutic-alliance"]
    assert (collection.id, collection.title, collection.description, collection.curator) == (
        info.id,
        info.title,
        info.description,
        info.curator,
    )


def test_a_page_with_a_fact_missing_its_article_names_the_line() -> None:
    page = "Title\n\nCurated by\n\nAda\n\nCurated Facts\n\nA fact.\n\nArticle: A\nSource: B\n\nA lost fact.\n"
    result = parse_seed_page(page, "page.txt")
    assert [str(p) for p in result.problems] == [
        "page.txt:14:1: a paragraph at the end of the page has no 'Article:' line after it"
    ]


def test_csv_import_reports_bad_rows_by_row_number() -> None:
    text = "text,topics,article,source\nA good fact.,a;b,Art,Book\n,x,Art,Book\n" + "y" * 5000 + ",,,\n"
    result = parse_csv(text, "in.csv", collection_id="demo")
    assert [(p.line, p.message.split(":")[0]) for p in result.errors] == [(3, "row 3"), (4, "row 4")]
    assert "text is empty" in result.errors[0].message
    assert "at most 4,096" in result.errors[1].message
    assert result.card_file is not None
    assert [c.topics for c in result.card_file.cards] == [("a", "b")]


def test_csv_without_a_text_column_is_refused() -> None:
    result = parse_csv("body,topics\nx,y\n", "in.csv", collection_id="demo")
    assert result.card_file is None
    assert "must name a 'text' column" in result.errors[0].message


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_passes_on_shipped_cards_and_prints_a_summary(capsys) -> None:
    code, out, _ = run_cli(capsys, "check")
    assert code == 0
    assert out.strip() == "1 file, 1 collection, 10 cards: 0 errors, 0 warnings"


def test_check_prints_every_error_and_exits_1(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("collection:\n  id: x\n  title: X\ncards:\n  - id: x-1\n    txt: t\n", encoding="utf-8")
    code, out, _ = run_cli(capsys, "check", str(bad))
    assert code == 1
    assert f"{bad}:2:3: collection is missing the required key 'curator'" in out
    assert f"{bad}:5:5: cards[0] is missing the required key 'text'" in out
    assert f"{bad}:6:5: unknown key 'txt' in cards[0]; did you mean 'text'?" in out
    assert out.strip().endswith("0 collections, 0 cards: 3 errors, 0 warnings")


def test_import_then_check_then_show(tmp_path: Path, capsys) -> None:
    out_file = tmp_path / "seed.yml"
    code, out, _ = run_cli(capsys, "import", str(SEED_PAGE), "--out", str(out_file))
    assert code == 0
    assert "10 cards in 'therapeutic-alliance'" in out
    code, out, _ = run_cli(capsys, "check", str(out_file))
    assert code == 0
    assert "10 warnings" in out  # the page has no topics: each card is flagged, none is an error
    code, out, _ = run_cli(capsys, "show", "therapeutic-alliance-002", "--cards", str(tmp_path), "--json")
    card = json.loads(out)
    assert card["id"] == "therapeutic-alliance-002"
    assert card["collection"] == "therapeutic-alliance"
    assert card["text"].startswith("Seeking to operationalize this concept")
    assert card["source"] == {"article": "Therapeutic alliance as a…", "type": "Offline Book/Journal"}
    assert set(card) >= {"id", "text", "collection", "topics", "source", "citations"}


def test_import_writes_nothing_when_a_row_is_bad_unless_skip_bad(tmp_path: Path, capsys) -> None:
    source = tmp_path / "in.csv"
    source.write_text("text,topics\nGood fact.,a\n,b\n", encoding="utf-8")
    out_file = tmp_path / "out.yml"
    code, _, err = run_cli(capsys, "import", str(source), "--out", str(out_file))
    assert code == 1
    assert "in.csv:3:1: row 3: text is empty" in err
    assert not out_file.exists()
    code, out, _ = run_cli(capsys, "import", str(source), "--out", str(out_file), "--skip-bad")
    assert code == 0
    assert "skipped 1 bad row" in out
    assert load_library(tmp_path).cards["in-001"].text == "Good fact."


def test_show_unknown_card_suggests_close_ids(capsys) -> None:
    code, _, err = run_cli(capsys, "show", "therapeutic-alliance-01")
    assert code == 1
    assert "No card has the id 'therapeutic-alliance-01'" in err


def test_list_json_counts_cards(capsys) -> None:
    code, out, _ = run_cli(capsys, "list", "--json")
    assert code == 0
    (entry,) = json.loads(out)
    assert (entry["id"], entry["cards"], entry["curator"]) == ("therapeutic-alliance", 10, "Mee Young Jeong")


@pytest.mark.parametrize("argv", [["-m", "bot", "check"], ["-m", "bot", "list"]])
def test_python_dash_m_bot_works_like_the_console_script(argv: list[str], tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, *argv], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "therapeutic-alliance" in done.stdout or "10 cards" in done.stdout
    assert ROOT.exists()


def test_check_json_lists_every_problem_across_files(tmp_path: Path, capsys) -> None:
    good = (SHIPPED_CARDS / "therapeutic-alliance.yml").read_text(encoding="utf-8")
    (tmp_path / "a.yml").write_text(good, encoding="utf-8")
    (tmp_path / "b.yml").write_text(good.replace("title: Therapeutic Alliance", "title: Copy"), encoding="utf-8")
    code, out, _ = run_cli(capsys, "check", str(tmp_path), "--json")
    assert code == 1
    report = json.loads(out)
    assert (report["files"], report["collections"], report["cards"]) == (2, 1, 10)
    messages = {(Path(p["path"]).name, p["line"], p["message"]) for p in report["problems"]}
    assert ("b.yml", 3, f"duplicate collection id 'therapeutic-alliance': {tmp_path / 'a.yml'} has it too") in messages
    assert report["errors"] == 11  # the collection id and each of the ten card ids


def test_import_of_a_csv_with_a_huge_cell_names_the_row_and_writes_nothing(tmp_path: Path, capsys) -> None:
    source = tmp_path / "huge.csv"
    source.write_text("text,topics\nA good fact.,a\n" + "x" * 200_000 + ",b\n", encoding="utf-8")
    assert main(["import", str(source), "--out", str(tmp_path / "out.yml")]) == 1
    err = capsys.readouterr().err
    assert f"{source}:3:1: row 3: a cell is longer than 131,072 characters" in err
    assert not (tmp_path / "out.yml").exists()


def test_import_of_dev_zero_or_a_fifo_answers_at_once(tmp_path: Path) -> None:
    import os

    os.mkfifo(tmp_path / "pipe.csv")
    for target, kind in (("/dev/zero", "a device"), (str(tmp_path / "pipe.csv"), "a named pipe (FIFO)")):
        done = subprocess.run(
            [sys.executable, "-m", "bot", "import", target, "--out", str(tmp_path / "out.yml")],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
            check=False,
        )
        assert done.returncode == 2
        assert done.stderr.startswith(f"{target}: this is {kind}, not a file")
