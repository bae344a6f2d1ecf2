"""What the validator tells a curator, and what it refuses: values YAML 1.1 would silently change, files that are
not card files, and files too large to check."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from bot.cards import library as library_module
from bot.cards import yamlio
from bot.cards.library import load_library
from bot.cards.model import Card, CardFile, Collection, Source
from bot.cards.validate import Problem, validate_text
from tests.cards.test_library import make_file
from tests.cards.test_validate import GOOD as HEAD

ROOT = Path(__file__).resolve().parents[2]


def problems_with(extra: str) -> list[str]:
    return [str(p) for p in validate_text(HEAD + extra, "f.yml").problems]


def test_a_control_character_is_reported_where_it_is_on_one_line() -> None:
    text = HEAD.replace("predicts outcome", "prédicts \x01 outcome")
    (problem,) = validate_text(text, "f.yml").problems
    assert (problem.line, problem.column) == (7, 33)
    assert "U+0001" in problem.message
    assert "\n" not in problem.message


def test_a_year_out_of_range_says_what_is_allowed() -> None:
    assert problems_with("    source: {year: 0}\n") == [
        "f.yml:9:20: cards[0].source.year is 0; it should be at least 1"
    ]
    assert problems_with("    source: {year: 12000}\n") == [
        "f.yml:9:20: cards[0].source.year is 12000; it should be at most 9999"
    ]


@pytest.mark.parametrize("year", ["33:20", "0x7D0", "03720", "2_000", "!!int 0x7D0"])
def test_years_in_base_60_hex_octal_or_with_underscores_are_refused(year: str) -> None:
    (problem,) = problems_with(f"    source: {{year: {year}}}\n")
    assert problem.startswith("f.yml:9:20: ")
    assert "whole number" in problem


def test_a_set_is_refused_by_name() -> None:
    text = HEAD.replace("topics: [outcome]", "topics: !!set {outcome, alliance}")
    assert [str(p) for p in validate_text(text, "f.yml").problems] == [
        "f.yml:8:13: the tag '!!set' is not allowed: card files hold plain text, lists and mappings"
    ]


def test_text_that_looks_like_a_number_stays_text_when_written_and_read_back() -> None:
    looks_numeric = ("09", "1e3", "0x7D0", "33:20", "1_000", ".5", "+1")
    card = Card(id="demo-1", text="1e3", topics=looks_numeric, source=Source(year=2000))
    original = CardFile(collection=Collection(id="demo", title="Demo", curator="Ada"), cards=(card,))
    assert msgspec.convert(yamlio.load(yamlio.dump(original)), CardFile) == original


@pytest.mark.parametrize("when", ["2026-11-26", "2026-11-26T09:30:00", "2026-11-26 09:30"])
def test_added_at_without_a_time_zone_is_refused(when: str) -> None:
    assert problems_with(f"    added_at: {when}\n") == [
        f"f.yml:9:15: cards[0].added_at '{when}' should be a date and time with a time zone, "
        "written like 2026-11-26T09:30:00+00:00 (or ...Z for UTC)"
    ]


@pytest.mark.parametrize("when", ["2026-11-26T09:30:00Z", "2026-11-26T09:30:00+01:00"])
def test_added_at_with_a_time_zone_is_accepted(when: str) -> None:
    assert problems_with(f"    added_at: {when}\n") == []


def test_a_huge_id_is_clipped_in_the_message() -> None:
    (problem,) = problems_with("  - id: " + "X" * 50_000 + "\n    text: t\n    topics: [t]\n")
    assert len(problem) < 300
    assert "(50,000 characters)" in problem
    assert "is not a valid id" in problem


def test_a_huge_unknown_key_is_clipped_in_the_message() -> None:
    (problem,) = problems_with("    " + "k" * 1000 + ": 1\n")  # YAML keys stop at 1,024
    assert len(problem) < 400
    assert "unknown key 'kkk" in problem


# ------------------------------------------------------------------------------------------- discovery
def messages(problems: tuple[Problem, ...], root: Path) -> list[tuple[str, str]]:
    return [(str(Path(p.path).relative_to(root)), p.message) for p in problems]


def test_dangling_links_fifos_and_links_outside_the_folder_are_each_reported(tmp_path: Path) -> None:
    cards, outside = tmp_path / "cards", tmp_path / "elsewhere"
    cards.mkdir()
    outside.mkdir()
    make_file(cards, "good", 1)
    secret = make_file(outside, "secret", 1)
    (cards / "dangling.yml").symlink_to(tmp_path / "missing.yml")
    (cards / "outside.yml").symlink_to(secret)
    (cards / "inside.yml").symlink_to(cards / "good.yml")
    os.mkfifo(cards / "pipe.yml")
    library = load_library(cards)
    assert "secret-000" not in library.cards
    assert messages(library.errors, cards) == [
        ("dangling.yml", f"a symbolic link to {tmp_path / 'missing.yml'}, which does not exist"),
        ("outside.yml", f"a symbolic link to {secret}, outside the cards folder: not read (copy the file in instead)"),
        ("pipe.yml", "this is a named pipe (FIFO), not a file; card files must be regular files"),
    ]


def test_a_folder_that_cannot_be_listed_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests run as root, who may list a mode-000 folder: the refusal everyone else gets is injected.
    make_file(tmp_path, "good", 1)
    (tmp_path / "private").mkdir()
    make_file(tmp_path / "private", "hidden", 1)
    real_scandir = os.scandir

    def refusing(path: object = ".") -> object:
        if Path(str(path)).name == "private":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", refusing)
    library = load_library(tmp_path)
    assert list(library.cards) == ["good-000"]
    assert messages(library.errors, tmp_path) == [
        ("private", "cannot open this folder: Permission denied; the card files in it are not loaded")
    ]


def test_a_file_over_the_size_limit_is_refused_before_it_is_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = make_file(tmp_path, "big", 40)
    make_file(tmp_path, "small", 1)
    parsed: list[str] = []
    real = library_module.parse_bytes
    monkeypatch.setattr(
        library_module, "parse_bytes", lambda raw, path: parsed.append(Path(path).name) or real(raw, path)
    )
    size = big.stat().st_size
    library = load_library(tmp_path, max_file_bytes=size - 1)
    assert parsed == ["small.yml"]
    assert [str(p) for p in library.errors] == [
        f"{big}:1:1: the file is {size:,} bytes; card files may be at most {size - 1:,} bytes (max_card_file_bytes),"
        " so it was not read: split it into several collections"
    ]
    assert library_module.MAX_FILE_BYTES == 16 << 20


def run_check(*args: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from bot.cli.main import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, "check", *args], capture_output=True, text=True, timeout=60, cwd=ROOT, check=False
    )


def test_check_of_dev_zero_and_of_a_fifo_answers_at_once(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.yml")
    zero = run_check("/dev/zero")
    assert (zero.returncode, zero.stdout.splitlines()[0]) == (
        1,
        "/dev/zero:1:1: this is a device, not a file; card files must be regular files",
    )
    pipe = run_check(str(tmp_path / "pipe.yml"))
    assert (pipe.returncode, pipe.stdout.splitlines()[0]) == (
        1,
        f"{tmp_path / 'pipe.yml'}:1:1: this is a named pipe (FIFO), not a file; card files must be regular files",
    )


async def test_the_size_limit_comes_from_the_configuration_and_holds_on_reload(tmp_path: Path) -> None:
    from bot.discord.app import load_service
    from bot.settings import load_settings

    cards = tmp_path / "cards"
    cards.mkdir()
    make_file(cards, "small", 1)
    config = tmp_path / "config.yml"
    config.write_text(f"cards_dir: {cards}\nmax_card_file_bytes: 4096\nsemantic: off\n", encoding="utf-8")
    service = await load_service(load_settings(config, env={}))
    assert list(service.library.cards) == ["small-000"]
    big = make_file(cards, "big", 40)
    service.reload()
    assert [p.message.split(";")[1] for p in service.library.errors if p.path == str(big)] == [
        " card files may be at most 4,096 bytes (max_card_file_bytes), so it was not read: split it into several "
        "collections"
    ]
