"""A moderator's write keeps the file as curators wrote it: comments, flow or block style, mode; and every file
the bot writes or ships reads back as it was (a load -> dump -> load fixed point)."""

from __future__ import annotations

import difflib
import os
import stat
from pathlib import Path

import msgspec
import pytest

from bot.cards.model import CardFile
from bot.cards.validate import validate_text
from bot.cards.yamlio import dump
from bot.curation import CardInput, Curator, Moderator
from bot.curation.layout import render
from bot.service import CardService
from tests.conftest import SHIPPED_CARDS
from tests.e2e.library import build_library

MOD = Moderator("mod-alice", id=1001, guild_id=42)
#: Characters YAML 1.1 reads as line breaks besides \n: written bare, a folded or quoted scalar turns them into a
#: space or a newline, so the card read back is not the card written.
BREAKS = ["\x85", "\u2028", "\u2029"]


def _load(text: str, name: str = "x.yml") -> CardFile:
    result = validate_text(text, name)
    assert result.ok, [str(p) for p in result.problems]
    assert result.card_file is not None
    return result.card_file


def _every_card_file(tmp_path: Path) -> list[Path]:
    generated = build_library(tmp_path / "generated")
    return sorted({*SHIPPED_CARDS.glob("*.yml"), *generated.glob("*.yml")})


def test_every_shipped_and_generated_file_is_a_fixed_point_of_load_dump_load(tmp_path: Path) -> None:
    files = _every_card_file(tmp_path)
    assert any(p.parent == SHIPPED_CARDS for p in files)
    assert any(p.name == "lab.yml" for p in files)
    for path in files:
        text = path.read_text(encoding="utf-8")
        loaded = _load(text, str(path))
        dumped = dump(loaded)
        assert _load(dumped) == loaded, path
        assert dump(_load(dumped)) == dumped, path
        # a moderator's write of the same file: unchanged cards keep their bytes, changed ones read back
        assert render(text, loaded, loaded) == text, path
        edited_card = msgspec.structs.replace(loaded.cards[-1], text="An edited text\x85 with a NEL.", topics=("x",))
        edited = msgspec.structs.replace(loaded, cards=(*loaded.cards[:-1], edited_card))
        assert _load(render(text, loaded, edited)) == edited, path
        assert _load(render(dumped, loaded, edited)) == edited, path


@pytest.mark.parametrize("brk", BREAKS)
@pytest.mark.parametrize(
    "shape", ["short{}text", "a long text that the writer folds " * 4 + "{}end", "two\nlines and a{}break"]
)
def test_texts_with_every_yaml_line_break_read_back_as_written(tmp_path: Path, brk: str, shape: str) -> None:
    loaded = _load((SHIPPED_CARDS / "therapeutic-alliance.yml").read_text(encoding="utf-8"))
    text = shape.format(brk)
    card = msgspec.structs.replace(loaded.cards[0], text=text)
    with_break = msgspec.structs.replace(loaded, cards=(card, *loaded.cards[1:]))
    dumped = dump(with_break)
    assert _load(dumped).cards[0].text == text
    assert _load(dumped) == with_break


CURATED = """\
# Curated by hand: keep the comments.
collection:
  id: curated
  title: Curated
  curator: C
cards:
  # the first card, checked against the book
  - {id: curated-001, text: "A first fact with a NEL\\N inside.", topics: [one, two]}
  - id: curated-002
    text: A second fact.   # a trailing comment
    topics: [three]
  # the third card
  - id: curated-003
    text: >-
      A third fact, folded
      over two lines.
"""


@pytest.fixture
def curated(tmp_path: Path) -> tuple[Curator, Path]:
    folder = tmp_path / "cards"
    folder.mkdir()
    path = folder / "curated.yml"
    path.write_text(CURATED, encoding="utf-8")
    path.chmod(0o644)
    return Curator(CardService.load(folder), folder), path


def _changed_lines(before: str, after: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))
    ]


async def test_an_edit_rewrites_only_its_card_and_keeps_comments_style_and_mode(
    curated: tuple[Curator, Path],
) -> None:
    curator, path = curated
    first = curator.service.library.cards["curated-001"].text
    card = curator.service.library.cards["curated-002"]
    form = CardInput.of(card)
    await curator.edit_card("curated-002", CardInput("A second fact, edited.", *_rest(form)), MOD)
    after = path.read_text(encoding="utf-8")
    assert _changed_lines(CURATED, after) == [
        "-    text: A second fact.   # a trailing comment",
        "+    text: A second fact, edited.",
    ]
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert _load(after).cards[0].text == first  # the NEL in card 1 is still a NEL
    assert curator.service.library.cards["curated-001"].text == first


async def test_add_and_remove_touch_only_their_card(curated: tuple[Curator, Path]) -> None:
    curator, path = curated
    added = await curator.add_card("curated", CardInput("A fourth fact.", ("four",)), MOD)
    await curator.remove_card("curated-002", MOD)
    after = path.read_text(encoding="utf-8")
    changed = _changed_lines(CURATED, after)
    assert [line for line in changed if line.startswith("-")] == [
        "-  - id: curated-002",
        "-    text: A second fact.   # a trailing comment",
        "-    topics: [three]",
    ]
    assert f"+  - id: {added.card_id}" in changed
    assert "# the third card" in after
    assert "# the first card, checked against the book" in after
    assert [c.id for c in _load(after).cards] == ["curated-001", "curated-003", added.card_id]
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    if os.getuid() == 0:  # pragma: no cover - only root can hand a file to another owner
        assert path.stat().st_uid == path.parent.stat().st_uid


def _rest(form: CardInput) -> tuple[tuple[str, ...], str | None, str | None, tuple[str, ...]]:
    return form.topics, form.article, form.source_type, form.citations
