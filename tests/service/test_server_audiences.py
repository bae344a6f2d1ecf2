"""A server without collections of its own searches as a direct message does (issue 15): the same cards, pages
and totals, filtered on the shared audience alone; once it has a deck, its own cards join its searches."""

from __future__ import annotations

from pathlib import Path

from bot.cards.library import load_library, parse_bytes, replace_file
from bot.service import CardService
from tests.decks import write_deck


def _write(path: Path, cid: str, texts: list[str]) -> None:
    cards = "".join(f"  - id: {cid}-{n:03d}\n    text: {text}\n" for n, text in enumerate(texts, 1))
    write_deck(path, cid, cid.title(), cards)


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


def _with_topics(path: Path, cid: str, cards: list[tuple[str, str]]) -> bytes:
    body = "".join(
        f"  - id: {cid}-{n:03d}\n    text: {text}\n    topics: [{topic}]\n" for n, (text, topic) in enumerate(cards, 1)
    )
    return write_deck(path, cid, cid.title(), body)


def test_a_moderators_new_topic_completes_in_their_server_and_nowhere_else(tmp_path: Path) -> None:
    _write(tmp_path / "shared.yml", "shared", ["Tigers hunt alone at night."])
    mine, theirs = tmp_path / "servers" / "1" / "course.yml", tmp_path / "servers" / "2" / "course.yml"
    _with_topics(mine, "course", [("Bats hunt at night.", "bat biology")])
    _with_topics(theirs, "course", [("Moles dig tunnels.", "mole biology")])
    service = CardService(load_library(tmp_path))
    assert service.topics("bio", viewer=1) == ["bat biology"]  # each server's own, built as it first completes
    assert service.topics("bio", viewer=2) == ["mole biology"]
    assert service.collection_choices("cour", viewer=1) == [("course@1", "Course (course@1)")]

    # A moderator of server 1 adds a card with a new topic: the snapshot is derived, not rebuilt.
    raw = _with_topics(mine, "course", [("Bats hunt at night.", "bat biology"), ("Quolls climb.", "quoll habits")])
    result = parse_bytes(raw, str(mine))
    assert result.card_file is not None
    part = service.library.of_audience(1)
    service.swap_part(1, replace_file(part, mine, result.card_file, raw))

    assert service.topics("quoll", viewer=1) == ["quoll habits"]
    assert service.topics("", viewer=1)[:2] == ["bat biology", "quoll habits"]
    assert service.topics("quoll", viewer=2) == []
    assert service.topics("quoll", viewer=None) == []
    assert service.topics("bio", viewer=2) == ["mole biology"]
    assert service.pool(topic="quoll habits", viewer=1) == ("course-002@1",)
    assert service.pool(topic="quoll habits", viewer=2) == ()
    assert service.pool(topic="quoll habits", collection="course", viewer=1) == ("course-002@1",)


def test_a_random_card_by_topic_draws_from_the_shared_cards_and_the_servers_own_only(tmp_path: Path) -> None:
    _with_topics(tmp_path / "shared.yml", "shared", [("Owls hunt at night.", "night")])
    _with_topics(tmp_path / "servers" / "1" / "course.yml", "course", [("Bats hunt at night.", "night")])
    _with_topics(tmp_path / "servers" / "2" / "course.yml", "course", [("Moles dig at night.", "night")])
    service = CardService(load_library(tmp_path))
    assert service.pool(topic="Night", viewer=1) == ("shared-001", "course-001@1")
    assert service.pool(topic="night", viewer=2) == ("shared-001", "course-001@2")
    assert service.pool(topic="night", viewer=3) == ("shared-001",)
    assert service.pool(topic="night", viewer=None) == ("shared-001",)
    assert service.pool(topic="night", collection="course", viewer=1) == ("course-001@1",)
    assert service.pool(topic="night", collection="shared", viewer=1) == ("shared-001",)
    picks = [service.random(topic="night", viewer=1).detail for _ in range(60)]
    assert {d.card.id for d in picks if d is not None} == {"shared-001", "course-001@1"}
