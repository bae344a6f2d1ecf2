"""A problem in one card file is that file's ``path:line:col`` problem, never the loader's crash.

Every path that reads card files is tried: ``factdeck check``, a load or ``/cards reload`` (the service's reload),
a YAML upload to ``/cards import`` and a moderator's ``/cards add`` beside a broken file.
"""

from __future__ import annotations

import builtins
import codecs
import io
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.cards.library import load_library, parse_bytes
from bot.cli.main import main
from bot.curation import CardInput, Curator, Moderator
from bot.service import CardService
from tests.cards.test_library import make_file

MOD = Moderator("mod-alice", id=1001, guild_id=42)


def refuse_to_open(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Opening a file called ``name`` fails as it does for a mode-000 file (tests run as root, who may read it)."""
    real_open = io.open

    def refusing_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, str | Path) and Path(file).name == name:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(io, "open", refusing_open)
    monkeypatch.setattr(builtins, "open", refusing_open)


# `**` makes the alias finder look closer; the unclosed flow list is a syntax error further down.
STARS_AND_SYNTAX_ERROR = """\
collection:
  id: stars
  title: Bold **claims**
  curator: Ada
cards:
  - id: stars-001
    text: A fact with *emphasis* and &more.
    topics: [unclosed
"""


def test_check_reports_a_syntax_error_in_a_file_with_stars_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_file(tmp_path, "good", 2)
    (tmp_path / "stars.yml").write_text(STARS_AND_SYNTAX_ERROR, encoding="utf-8")
    assert main(["check", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"{tmp_path / 'stars.yml'}:9:1: YAML syntax:" in out
    assert "2 cards: 1 error" in out


def test_a_reload_with_a_starred_broken_file_keeps_serving_the_rest(tmp_path: Path) -> None:
    make_file(tmp_path, "good", 2)
    service = CardService.load(tmp_path)
    (tmp_path / "stars.yml").write_text(STARS_AND_SYNTAX_ERROR, encoding="utf-8")
    report = service.reload()
    assert sorted(service.library.cards) == ["good-000", "good-001"]
    assert report.broken == (tmp_path / "stars.yml",)
    assert [(Path(p.path).name, p.line) for p in service.library.errors] == [("stars.yml", 9)]


async def test_a_starred_broken_upload_is_a_problem_not_a_crash(cards_copy: Path) -> None:
    curator = Curator(CardService.load(cards_copy), cards_copy)
    plan = await curator.import_file("stars.yml", STARS_AND_SYNTAX_ERROR.encode())
    assert [(p.line, p.message.split(":")[0]) for p in plan.problems] == [(9, "YAML syntax")]


def test_an_unreadable_file_is_its_own_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_file(tmp_path, "good", 2)
    locked = make_file(tmp_path, "locked", 1)
    refuse_to_open(monkeypatch, "locked.yml")
    library = load_library(tmp_path)
    assert sorted(library.cards) == ["good-000", "good-001"]
    assert [str(p) for p in library.errors] == [f"{locked}:1:1: cannot read this file: Permission denied"]
    assert library.broken == (locked,)


def test_an_unreadable_file_keeps_its_last_good_version_on_reload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_file(tmp_path, "locked", 1)
    first = load_library(tmp_path)
    refuse_to_open(monkeypatch, "locked.yml")
    second = load_library(tmp_path, previous=first)
    assert list(second.cards) == ["locked-000"]
    assert any("cannot read this file" in p.message for p in second.errors)


def test_a_file_with_two_byte_order_marks_repeating_a_text_is_located(tmp_path: Path) -> None:
    first = make_file(tmp_path, "aaa", 1)
    text = first.read_text(encoding="utf-8").replace("aaa", "bbb").replace("bbb, citing", "aaa, citing")
    second = tmp_path / "bbb.yml"
    second.write_bytes(codecs.BOM_UTF8 * 2 + text.split("\n", 1)[1].encode())  # without the schema comment
    library = load_library(tmp_path)
    warnings = [str(p) for p in library.warnings]
    assert warnings == [f"{second}:7:11: warning: this text is also card 'aaa-000' in {first}"]


async def test_an_add_beside_a_file_being_saved_still_works(cards_copy: Path) -> None:
    # b.yml and c.yml repeat a text: the cross-file check has a warning to place in c.yml. Then c.yml is caught
    # half-written on disk; adding a card to an unrelated collection must not trip over it.
    make_file(cards_copy, "bbb", 1)
    c_text = (cards_copy / "bbb.yml").read_text(encoding="utf-8").replace("id: bbb", "id: ccc")
    (cards_copy / "ccc.yml").write_text(c_text.replace("bbb-000", "ccc-000"), encoding="utf-8")
    service = CardService.load(cards_copy)
    assert "ccc-000" in service.library.cards
    (cards_copy / "ccc.yml").write_bytes(codecs.BOM_UTF8 * 2 + b"collection:\n  id: [ccc\n")
    curator = Curator(service, cards_copy)
    form = CardInput.from_form(text="A brand new fact about alliances.", topics="alliance")
    change = await curator.add_card("therapeutic-alliance", form, MOD)
    assert change.card_id in service.library.cards


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400) | st.text(max_size=400).map(lambda t: f"collection:\n  {t}".encode(errors="replace")))
def test_arbitrary_bytes_as_a_card_file_give_problems_never_an_exception(raw: bytes) -> None:
    result = parse_bytes(raw, "any.yml")
    if not result.ok:
        assert any(p.is_error for p in result.problems)
    for problem in result.problems:
        assert (problem.line, problem.column) >= (1, 1)
        assert "\n" not in problem.message
