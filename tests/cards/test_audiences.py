"""Card files under cards/servers/<id>/ belong to that server (issue 15): loaded and validated like the rest, with
ids unique per audience, served under id@server keys."""

from __future__ import annotations

from pathlib import Path

from bot.cards.library import audience_of_key, load_library, local_id, qualify, visible

DECK = """\
collection:
  id: {cid}
  title: T
  curator: C
cards:
  - id: {cid}-001
    text: {text}
"""


def _write(path: Path, cid: str, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(DECK.format(cid=cid, text=text), encoding="utf-8")


def test_the_same_ids_in_the_shared_library_and_two_servers_do_not_clash(tmp_path: Path) -> None:
    _write(tmp_path / "deck.yml", "deck", "Shared fact.")
    _write(tmp_path / "servers" / "1" / "deck.yml", "deck", "First server's fact.")
    _write(tmp_path / "servers" / "2" / "sub" / "deck.yml", "deck", "Second server's fact.")
    library = load_library(tmp_path)
    assert library.errors == ()
    assert set(library.cards) == {"deck-001", "deck-001@1", "deck-001@2"}
    assert library.cards["deck-001@2"].text == "Second server's fact."
    assert library.collections["deck@1"].id == "deck@1"
    assert library.audiences() == {1, 2}
    part = library.of_audience(1)
    assert set(part.cards) == {"deck-001"}
    assert part.cards["deck-001"].text == "First server's fact."


def test_ids_still_clash_within_one_server(tmp_path: Path) -> None:
    _write(tmp_path / "servers" / "1" / "a.yml", "deck", "One.")
    _write(tmp_path / "servers" / "1" / "b.yml", "deck", "Two.")
    library = load_library(tmp_path)
    assert any("duplicate collection id 'deck'" in p.message for p in library.errors)


def test_a_file_under_servers_outside_a_server_folder_is_refused_with_the_reason(tmp_path: Path) -> None:
    _write(tmp_path / "servers" / "loose.yml", "loose", "Nobody's.")
    _write(tmp_path / "servers" / "abc" / "named.yml", "named", "Not a server id.")
    library = load_library(tmp_path)
    assert library.cards == {}
    assert {Path(p.path).name for p in library.errors} == {"loose.yml", "named.yml"}
    assert all("servers/<server id>/" in p.message for p in library.errors)


def test_keys_say_whose_a_card_is() -> None:
    assert qualify("x-001", None) == "x-001"
    assert qualify("x-001", 7) == "x-001@7"
    assert audience_of_key("x-001@7") == 7
    assert audience_of_key("x-001") is None
    assert local_id("x-001@7") == "x-001"
    assert visible("x-001", 7)
    assert visible("x-001@7", 7)
    assert not visible("x-001@7", 8)
    assert not visible("x-001@7", None)
