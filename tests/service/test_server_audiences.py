"""A server without collections of its own searches as a direct message does (issue 15): the same cards, pages
and totals, filtered on the shared audience alone; once it has a deck, its own cards join its searches."""

from __future__ import annotations

from pathlib import Path

from bot.cards.library import load_library
from bot.service import CardService

DECK = """\
collection:
  id: {cid}
  title: {title}
  curator: C
cards:
{cards}"""


def _write(path: Path, cid: str, texts: list[str]) -> None:
    cards = "".join(f"  - id: {cid}-{n:03d}\n    text: {text}\n" for n, text in enumerate(texts, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(DECK.format(cid=cid, title=cid.title(), cards=cards), encoding="utf-8")


def _found(service: CardService, query: str, viewer: int | None) -> tuple[int, list[str]]:
    result = service.search(query, limit=10, viewer=viewer, mode="lexical")
    return result.page.total, [d.card.id for d in result.details]


def test_a_server_without_a_deck_finds_what_a_direct_message_finds(tmp_path: Path) -> None:
    _write(tmp_path / "shared.yml", "shared", ["Tigers hunt alone at night.", "Owls hunt mice at night."])
    _write(tmp_path / "servers" / "1" / "course.yml", "course", ["In our course, bats hunt at night too."])
    service = CardService(load_library(tmp_path))

    dm = _found(service, "hunt night", None)
    assert dm[0] == 2
    assert set(dm[1]) == {"shared-001", "shared-002"}
    assert _found(service, "hunt night", 2) == dm  # no deck: what a direct message sees
    total, ids = _found(service, "hunt night", 1)
    assert total == 3
    assert "course-001@1" in ids
    assert service._snapshot.audiences_for(2) == service._snapshot.audiences_for(None)
    assert service._snapshot.audiences_for(1) != service._snapshot.audiences_for(None)


def test_a_server_that_gains_a_deck_finds_its_cards_after_the_reload(tmp_path: Path) -> None:
    _write(tmp_path / "shared.yml", "shared", ["Tigers hunt alone at night."])
    service = CardService(load_library(tmp_path))
    assert _found(service, "hunt", 5) == (1, ["shared-001"])

    _write(tmp_path / "servers" / "5" / "course.yml", "course", ["In our course, bats hunt too."])
    service.swap(load_library(tmp_path))

    total, ids = _found(service, "hunt", 5)
    assert total == 2
    assert set(ids) == {"shared-001", "course-001@5"}
    assert _found(service, "hunt", 6) == (1, ["shared-001"])  # another server still sees only the shared card
