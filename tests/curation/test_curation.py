"""bot.curation: moderators' writes to the card files, with no Discord at all."""

from __future__ import annotations

import asyncio
import difflib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cards.library import file_digest
from bot.cards.validate import validate_text
from bot.curation import (
    CardInput,
    CurationError,
    Curator,
    Moderator,
    NotFoundError,
    StaleFileError,
    ValidationFailed,
    card_builtins,
    parse_list,
    writes,
)
from bot.service import CardService
from bot.storage import Storage

ROOT = Path(__file__).resolve().parents[2]
COLLECTION = "therapeutic-alliance"
MOD = Moderator("mod-alice", id=1001, guild_id=42)
FORM = CardInput.from_form(
    text="Alliance ruptures that are repaired predict better outcomes than alliances that never ruptured.",
    topics="rupture and repair, alliance ruptures ,  outcomes",
    article="Repairing alliance ruptures",
    source_type="Offline Book/Journal",
    references="Safran & Muran 2000; Eubanks et al. 2018",
)


@pytest.fixture
def file(cards_copy: Path) -> Path:
    return cards_copy / f"{COLLECTION}.yml"


@pytest.fixture
def service(cards_copy: Path) -> CardService:
    return CardService.load(cards_copy)


@pytest.fixture
async def storage(tmp_path: Path):
    async with Storage.open(tmp_path / "factdeck.db", flush_interval=0.05) as opened:
        yield opened


@pytest.fixture
def curator(service: CardService, cards_copy: Path, storage: Storage) -> Curator:
    return Curator(service, cards_copy, audit=storage.audit)


def assert_file_valid(path: Path) -> None:
    result = validate_text(read(path), str(path))
    assert result.ok, [str(p) for p in result.problems]
    assert not [p for p in result.problems if p.is_error]


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def raw_of(path: Path) -> bytes:
    return path.read_bytes()


def write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def mtime(path: Path) -> int:
    return path.stat().st_mtime_ns


def resolved(path: Path) -> Path:
    return path.resolve()


def factdeck_check(cards: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("factdeck")
    cmd = [str(exe), "check", str(cards)] if exe.exists() else [sys.executable, "-m", "bot", "check", str(cards)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=ROOT, check=False)


# ------------------------------------------------------------------------------------------- the form
def test_form_lists_are_split_trimmed_and_deduplicated() -> None:
    assert parse_list("a, b ,, A,  c  d ", ",") == ("a", "b", "c d")
    assert FORM.topics == ("rupture and repair", "alliance ruptures", "outcomes")
    assert FORM.citations == ("Safran & Muran 2000", "Eubanks et al. 2018")
    assert CardInput.from_form("  x  ").article is None


# ------------------------------------------------------------------------------------------------ add
async def test_add_writes_a_valid_file_and_serves_the_card_at_once(
    curator: Curator, service: CardService, file: Path, cards_copy: Path, storage: Storage
) -> None:
    before = len(service.library.cards)
    change = await curator.add_card(COLLECTION, FORM, MOD)
    assert change.card_id == f"{COLLECTION}-011"  # the shipped file ends at -010
    assert change.after is not None
    assert change.after.added_by == "mod-alice"
    assert change.after.added_at is not None
    assert change.after.added_at.tzinfo is not None
    assert change.after.source.article == "Repairing alliance ruptures"
    # live at once: the library, search and citations
    assert service.library is change.library
    assert len(service.library.cards) == before + 1
    assert service.detail(change.card_id) is not None
    assert change.card_id in [v.card.id for v in service.search("repaired ruptured alliances").details]
    assert change.card_id in [h.detail.card.id for h in service.cite("Eubanks").hits]
    # on disk, valid, and loaded back equal
    assert_file_valid(file)
    assert factdeck_check(cards_copy).returncode == 0
    assert CardService.load(cards_copy).library.cards[change.card_id] == change.after
    # audited
    (entry,) = await storage.audit.history(change.card_id)
    assert entry.action == "add"
    assert entry.moderator_name == "mod-alice"
    assert entry.guild_id == 42
    assert entry.before is None
    assert entry.after is not None
    assert entry.after["text"] == FORM.text


async def test_new_ids_are_unique_across_the_library(curator: Curator, service: CardService) -> None:
    # a card numbered far ahead anywhere in the library pushes the next number past it
    first = await curator.add_card(COLLECTION, FORM, MOD)
    second = await curator.add_card(COLLECTION, CardInput.from_form("Another fact entirely.", "x"), MOD)
    assert first.card_id != second.card_id
    assert curator.next_card_id(COLLECTION) == f"{COLLECTION}-013"
    assert curator.next_card_id(COLLECTION, taken=[f"{COLLECTION}-099"]) == f"{COLLECTION}-100"


async def test_two_adds_at_once_both_land(curator: Curator, service: CardService, file: Path) -> None:
    forms = [CardInput.from_form(f"Concurrent fact number {n}.", "concurrency") for n in range(2)]
    a, b = await asyncio.gather(*(curator.add_card(COLLECTION, f, MOD) for f in forms))
    assert a.card_id != b.card_id
    assert {a.card_id, b.card_id} <= set(service.library.cards)
    on_disk = CardService.load(file.parent).library
    assert {a.card_id, b.card_id} <= set(on_disk.cards)
    assert_file_valid(file)


async def test_an_invalid_card_is_refused_with_every_problem(curator: Curator, service: CardService, file: Path):
    raw = raw_of(file)
    with pytest.raises(ValidationFailed) as caught:
        await curator.add_card(COLLECTION, CardInput.from_form("x" * 5000, "t"), MOD)
    assert any("4,096" in str(p) for p in caught.value.problems)
    assert raw_of(file) == raw
    with pytest.raises(ValidationFailed):
        await curator.add_card(COLLECTION, CardInput.from_form("   "), MOD)
    assert raw_of(file) == raw


async def test_a_too_long_topic_is_refused_not_crashed(curator: Curator, file: Path) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await curator.add_card(COLLECTION, CardInput.from_form("A fact.", "t" * 70), MOD)
    assert any("64" in p.message for p in caught.value.problems)


async def test_add_to_an_unknown_collection_is_refused(curator: Curator) -> None:
    with pytest.raises(NotFoundError, match="no collection 'nope'"):
        await curator.add_card("nope", FORM, MOD)


# ----------------------------------------------------------------------------------------------- edit
async def test_edit_keeps_id_and_author_and_a_diff_shows_one_card(
    curator: Curator, service: CardService, file: Path, cards_copy: Path, storage: Storage
) -> None:
    card_id = f"{COLLECTION}-004"
    original = service.library.cards[card_id]
    before_text = read(file)
    form = CardInput.of(original)
    form = CardInput(form.text, (*form.topics, "couples therapy"), form.article, form.source_type, form.citations)
    change = await curator.edit_card(card_id, form, Moderator("mod-bob", 1002, 42))
    assert change.changed
    assert change.after is not None
    assert change.after.id == card_id
    assert change.after.added_by == original.added_by
    assert change.after.added_at == original.added_at
    assert service.library.cards[card_id].topics[-1] == "couples therapy"
    after_text = read(file)
    diff = [
        line
        for line in difflib.unified_diff(before_text.splitlines(), after_text.splitlines(), lineterm="", n=0)
        if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))
    ]
    assert diff == ["+      - couples therapy"]
    assert_file_valid(file)
    assert factdeck_check(cards_copy).returncode == 0
    (entry,) = await storage.audit.history(card_id)
    assert entry.action == "edit"
    assert entry.moderator_name == "mod-bob"
    assert entry.before is not None
    assert entry.after is not None
    assert "couples therapy" not in entry.before["topics"]
    assert "couples therapy" in entry.after["topics"]


async def test_an_edit_that_changes_nothing_writes_nothing(curator: Curator, service: CardService, file: Path):
    card_id = f"{COLLECTION}-001"
    stat = mtime(file)
    change = await curator.edit_card(card_id, CardInput.of(service.library.cards[card_id]), MOD)
    assert not change.changed
    assert mtime(file) == stat


async def test_a_text_edit_of_a_long_card_touches_only_that_card(
    curator: Curator, service: CardService, file: Path
) -> None:
    card_id = f"{COLLECTION}-002"
    lines_before = read(file).splitlines()
    card = service.library.cards[card_id]
    form = CardInput.of(card)
    await curator.edit_card(card_id, CardInput(form.text.replace("Bordin (5)", "Bordin (1979)"), *_rest(form)), MOD)
    lines_after = read(file).splitlines()
    start = next(i for i, line in enumerate(lines_before) if line.endswith(f"id: {card_id}"))
    end = next(i for i, line in enumerate(lines_before) if line.endswith(f"id: {COLLECTION}-003"))
    matcher = difflib.SequenceMatcher(a=lines_before, b=lines_after, autojunk=False)
    for tag, i1, i2, _, _ in matcher.get_opcodes():
        if tag != "equal":
            assert start <= i1, (tag, i1, i2)
            assert i2 <= end, (tag, i1, i2)


def _rest(form: CardInput) -> tuple:
    return form.topics, form.article, form.source_type, form.citations


# --------------------------------------------------------------------------------------------- remove
async def test_remove_takes_the_card_out_of_the_file_and_the_index(
    curator: Curator, service: CardService, file: Path, cards_copy: Path, storage: Storage
) -> None:
    card_id = f"{COLLECTION}-003"
    change = await curator.remove_card(card_id, MOD)
    assert change.before is not None
    assert change.after is None
    assert card_id not in service.library.cards
    assert service.detail(card_id) is None
    assert card_id not in [v.card.id for v in service.search("psychoanalysts negative transference").details]
    assert f"id: {card_id}\n" not in read(file)
    assert_file_valid(file)
    assert factdeck_check(cards_copy).returncode == 0
    (entry,) = await storage.audit.history(card_id)
    assert entry.action == "remove"
    assert entry.before is not None
    assert entry.after is None
    with pytest.raises(NotFoundError):
        await curator.remove_card(card_id, MOD)


# ---------------------------------------------------------------------------------- safety of writes
async def test_a_file_changed_on_disk_is_not_overwritten(curator: Curator, service: CardService, file: Path):
    edited_by_hand = read(file).replace("Rogers (1951)", "Carl Rogers (1951)")
    write(file, edited_by_hand)
    library = service.library
    for attempt in (
        curator.add_card(COLLECTION, FORM, MOD),
        curator.edit_card(f"{COLLECTION}-001", CardInput.from_form("Replaced."), MOD),
        curator.remove_card(f"{COLLECTION}-001", MOD),
    ):
        with pytest.raises(StaleFileError) as caught:
            await attempt
        assert caught.value.message == (
            "cards/therapeutic-alliance.yml changed on disk since it was loaded; run /cards reload and try again"
        )
    assert read(file) == edited_by_hand
    assert service.library is library
    # after a reload the hand edit is live and a write goes through
    report = await curator.reload(MOD)
    assert report.changed == (f"{COLLECTION}-001",)
    change = await curator.add_card(COLLECTION, FORM, MOD)
    assert "Carl Rogers (1951)" in read(file)
    assert change.card_id in service.library.cards


async def test_a_hand_edit_saved_while_a_write_is_checked_is_not_overwritten(
    curator: Curator, service: CardService, file: Path, monkeypatch
):
    edited_by_hand = read(file).replace("Rogers (1951)", "Carl Rogers (1951)")
    real = writes.validate_file

    def validate_while_someone_saves(*args):  # the curator saves in the middle of the write
        write(file, edited_by_hand)
        return real(*args)

    monkeypatch.setattr(writes, "validate_file", validate_while_someone_saves)
    with pytest.raises(StaleFileError):
        await curator.add_card(COLLECTION, FORM, MOD)
    assert read(file) == edited_by_hand


async def test_a_crash_mid_write_leaves_the_old_file_and_library(
    curator: Curator, service: CardService, file: Path, monkeypatch: pytest.MonkeyPatch, storage: Storage
) -> None:
    raw = raw_of(file)
    library = service.library

    def crash(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(CurationError, match=r"could not write cards/therapeutic-alliance\.yml"):
        await curator.add_card(COLLECTION, FORM, MOD)
    with pytest.raises(CurationError):
        await curator.remove_card(f"{COLLECTION}-001", MOD)
    assert raw_of(file) == raw
    assert service.library is library
    assert not [p for p in file.parent.iterdir() if p.name.endswith(".tmp")]
    assert await storage.audit.recent() == []
    monkeypatch.undo()
    change = await curator.add_card(COLLECTION, FORM, MOD)  # and the next write works
    assert change.card_id == f"{COLLECTION}-011"


@pytest.mark.parametrize(
    "collection_id", ["../evil", "..", "/etc/passwd", "a/../../b", "UPPER", "", "therapeutic-alliance/../../x"]
)
async def test_collection_ids_cannot_steer_a_write_outside_the_cards_folder(
    curator: Curator, tmp_path: Path, collection_id: str
) -> None:
    files_before = _files(tmp_path)
    with pytest.raises(CurationError):
        await curator.add_card(collection_id, FORM, MOD)
    with pytest.raises(CurationError):
        curator.path_for(collection_id)
    plan = await curator.import_file("x.csv", b"text\nA fact.\n", collection_id=collection_id)
    assert not plan.ok
    assert _files(tmp_path) == files_before


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if "factdeck.db" not in p.name}


@pytest.mark.parametrize("card_id", ["../therapeutic-alliance", "therapeutic-alliance-001/../x", "/etc", ""])
async def test_card_ids_cannot_steer_a_write(curator: Curator, card_id: str) -> None:
    with pytest.raises(NotFoundError):
        await curator.edit_card(card_id, FORM, MOD)
    with pytest.raises(NotFoundError):
        await curator.remove_card(card_id, MOD)


async def test_an_imported_yaml_with_a_traversing_collection_id_is_refused(curator: Curator, cards_copy: Path):
    text = "collection:\n  id: ../../escape\n  title: T\n  curator: C\ncards:\n  - id: a-1\n    text: x\n"
    plan = await curator.import_file("escape.yml", text.encode())
    assert not plan.ok
    assert any(p.line == 2 and "not a valid id" in p.message for p in plan.errors)
    assert not (cards_copy.parent.parent / "escape.yml").exists()


# --------------------------------------------------------------------------------- import and export
async def test_export_reimports_to_the_same_cards(curator: Curator, service: CardService, tmp_path: Path) -> None:
    exported = await curator.export_collection(COLLECTION)
    assert exported.filename == f"{COLLECTION}.yml"
    assert exported.cards == len(service.library.cards_of(COLLECTION))
    out = tmp_path / "exported" / exported.filename
    out.parent.mkdir()
    write(out, exported.text)
    assert factdeck_check(out).returncode == 0
    plan = await curator.import_file(exported.filename, exported.text.encode())
    assert plan.ok
    assert plan.card_file is not None
    assert not plan.has_changes
    assert plan.unchanged == exported.cards
    assert plan.card_file.cards == service.library.cards_of(COLLECTION)


async def test_import_yaml_previews_then_applies(
    curator: Curator, service: CardService, file: Path, storage: Storage, cards_copy: Path
) -> None:
    exported = (await curator.export_collection(COLLECTION)).text
    lines = exported.replace("Seeking to operationalize", "Seeking to make operational")
    # drop card 010 and add a new one
    head, _, _ = lines.partition(f"  - id: {COLLECTION}-010\n")
    text = head + f"  - id: {COLLECTION}-200\n    text: An imported fact.\n    topics:\n      - imports\n"
    raw_before = raw_of(file)
    plan = await curator.import_file("upload.yml", text.encode())
    assert plan.ok, plan.problems
    assert plan.added == (f"{COLLECTION}-200",)
    assert plan.changed == (f"{COLLECTION}-002",)
    assert plan.removed == (f"{COLLECTION}-010",)
    assert raw_of(file) == raw_before  # nothing until confirmed
    applied = await curator.apply_import(plan, MOD)
    assert service.library is applied.library
    assert f"{COLLECTION}-200" in service.library.cards
    assert f"{COLLECTION}-010" not in service.library.cards
    assert_file_valid(file)
    assert factdeck_check(cards_copy).returncode == 0
    history = await storage.audit.history(f"{COLLECTION}-010")
    assert [e.action for e in history] == ["import"]
    assert history[0].after is None
    # an applied plan cannot be applied again over the newer file
    with pytest.raises(StaleFileError):
        await curator.apply_import(plan, MOD)


async def test_import_with_errors_lists_every_one_and_writes_nothing(curator: Curator, cards_copy: Path):
    text = (
        "collection:\n  id: broken-one\n  title: Broken\n  curator: C\n"
        "cards:\n  - id: broken-one-001\n    text: ok\n    topic: [x]\n"
        "  - id: Bad Id\n    text: fine\n"
    )
    plan = await curator.import_file("broken.yml", text.encode())
    assert not plan.ok
    shown = [str(p) for p in plan.errors]
    assert any(s.startswith("broken.yml:8:5: unknown key 'topic'") for s in shown), shown
    assert any(s.startswith("broken.yml:9:9:") and "not a valid id" in s for s in shown), shown
    assert not (cards_copy / "broken-one.yml").exists()
    with pytest.raises(ValidationFailed):
        await curator.apply_import(plan, MOD)


async def test_import_yaml_clashing_with_another_file_is_refused(curator: Curator) -> None:
    text = f"collection:\n  id: other\n  title: O\n  curator: C\ncards:\n  - id: {COLLECTION}-001\n    text: x\n"
    plan = await curator.import_file("other.yml", text.encode())
    assert not plan.ok
    assert any("duplicate card id" in p.message and p.line == 6 for p in plan.errors), plan.problems


async def test_csv_import_creates_a_collection_and_reimport_keeps_ids(
    curator: Curator, service: CardService, cards_copy: Path
) -> None:
    csv = "text,topics,article,source\nFirst CSV fact.,a;b,Art,Journal\nSecond CSV fact.,c,,\n"
    plan = await curator.import_file("Study Notes.csv", csv.encode())
    assert plan.ok, plan.problems
    assert plan.new_collection
    assert plan.collection_id == "study-notes"
    assert plan.added == ("study-notes-001", "study-notes-002")
    await curator.apply_import(plan, MOD)
    path = cards_copy / "study-notes.yml"
    assert_file_valid(path)
    assert service.library.cards["study-notes-002"].text == "Second CSV fact."
    # re-import with one card dropped, one added, one changed topics: ids of the kept texts stay
    csv2 = "text,topics\nThird CSV fact.,d\nSecond CSV fact.,c;e\n"
    plan2 = await curator.import_file("study-notes.csv", csv2.encode())
    assert plan2.ok, plan2.problems
    assert plan2.added == ("study-notes-003",)
    assert plan2.changed == ("study-notes-002",)
    assert plan2.removed == ("study-notes-001",)
    await curator.apply_import(plan2, MOD)
    assert factdeck_check(cards_copy).returncode == 0


async def test_csv_errors_name_their_rows(curator: Curator) -> None:
    csv = "text,topics\nGood.,a\n,b\n" + "y" * 5000 + ",c\n"
    plan = await curator.import_file("rows.csv", csv.encode(), collection_id="rows")
    assert not plan.ok
    assert {p.line for p in plan.errors} == {3, 4}


async def test_seed_page_import_into_the_existing_collection(curator: Curator, service: CardService) -> None:
    page = (ROOT / "tests" / "fixtures" / "therapeutic-alliance.txt").read_bytes()
    plan = await curator.import_file("therapeutic-alliance.txt", page)
    assert plan.ok, plan.problems[:5]
    assert plan.collection_id == COLLECTION
    assert plan.card_file is not None
    # the page's facts are the shipped cards' texts, so their ids are kept and nothing is added or removed
    assert {c.id for c in plan.card_file.cards} == {c.id for c in service.library.cards_of(COLLECTION)}
    assert not plan.added
    assert not plan.removed


async def test_an_import_refuses_a_file_that_is_not_utf8(curator: Curator) -> None:
    plan = await curator.import_file("latin1.csv", "text\ncaf\xe9\n".encode("latin-1"))
    assert not plan.ok
    assert "UTF-8" in plan.errors[0].message


# ----------------------------------------------------------------------------------------------- reload
async def test_reload_with_a_broken_file_keeps_its_last_good_version(
    curator: Curator, service: CardService, file: Path, storage: Storage
) -> None:
    (file.parent / "extra.yml").write_text(
        "collection:\n  id: extra\n  title: Extra\n  curator: C\ncards:\n  - id: extra-001\n    text: Extra fact.\n",
    )
    write(file, read(file).replace("cards:\n", "cards:\n  - id: [\n", 1))
    report = await curator.reload(MOD)
    assert report.added == ("extra-001",)
    assert resolved(file) in report.broken
    assert any(p.is_error and p.line > 1 for p in report.problems)
    assert f"{COLLECTION}-001" in service.library.cards
    assert service.search("core conditions Rogers").details[0].card.id == f"{COLLECTION}-001"
    entries = await storage.audit.recent()
    assert entries[-1].action == "reload"
    assert "1 added" in (entries[-1].detail or "")
    # the file is broken, and stale relative to the live version: writes to it are refused
    with pytest.raises(StaleFileError):
        await curator.add_card(COLLECTION, FORM, MOD)


async def test_the_digest_checked_is_the_one_loaded(service: CardService, file: Path) -> None:
    loaded = service.library.file_of(COLLECTION)
    assert loaded is not None
    assert loaded.digest == file_digest(raw_of(file))


async def test_a_cancelled_write_still_finishes_before_the_next_starts(
    curator: Curator, service: CardService, file: Path, monkeypatch
):
    import threading

    started, release = threading.Event(), threading.Event()
    real = writes.validate_file

    def slow_write(*args):
        started.set()
        release.wait(5)
        return real(*args)

    monkeypatch.setattr(writes, "validate_file", slow_write)
    first = asyncio.create_task(curator.add_card(COLLECTION, FORM, MOD))
    await asyncio.to_thread(started.wait, 5)
    first.cancel()  # e.g. the bot shutting down mid-write
    second = asyncio.create_task(curator.add_card(COLLECTION, CardInput.from_form("Another fact."), MOD))
    await asyncio.sleep(0.05)
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await first
    added = await second
    texts = [c.text for c in service.library.cards_of(COLLECTION)]
    assert FORM.text in texts  # the cancelled write landed, and the next one built on it
    assert "Another fact." in texts
    assert added.card_id in service.library.cards
    assert_file_valid(file)
    assert read(file).count("Another fact.") == 1


def test_new_card_ids_count_up_past_every_id_in_use(curator: Curator) -> None:
    ids = curator.new_card_ids(COLLECTION, taken={f"{COLLECTION}-012", f"{COLLECTION}-014"})
    assert [next(ids) for _ in range(3)] == [f"{COLLECTION}-015", f"{COLLECTION}-016", f"{COLLECTION}-017"]
    assert curator.next_card_id(COLLECTION) == f"{COLLECTION}-011"  # the shipped file ends at -010


async def test_a_removed_id_is_not_reused_after_a_restart(
    curator: Curator, cards_copy: Path, storage: Storage, file: Path
) -> None:
    # -011 was added by hand and removed by hand while the bot ran; -010 removed by a moderator
    write(file, read(file) + f"  - id: {COLLECTION}-011\n    text: A fact added by hand.\n")
    started = Curator(CardService.load(cards_copy), cards_copy, audit=storage.audit)
    await started.start()  # the bot starts and sees -011
    write(file, read(file).replace(f"  - id: {COLLECTION}-011\n    text: A fact added by hand.\n", ""))
    await started.reload()
    await started.remove_card(f"{COLLECTION}-010", MOD)
    restarted = Curator(CardService.load(cards_copy), cards_copy, audit=storage.audit)
    await restarted.start()
    added = await restarted.add_card(COLLECTION, FORM, MOD)
    assert added.card_id == f"{COLLECTION}-012"


def test_at_start_an_archived_copy_does_not_take_its_collection_over(cards_copy: Path, file: Path) -> None:
    (cards_copy / "archive").mkdir()
    write(cards_copy / "archive" / file.name, read(file).replace("Rogers (1951)", "Rogers (archived)"))
    library = CardService.load(cards_copy).library
    assert "Rogers (1951)" in library.cards[f"{COLLECTION}-001"].text
    assert library.collection_file[COLLECTION] == resolved(file)
    assert library.contested[COLLECTION] == (resolved(file), resolved(cards_copy / "archive" / file.name))
    assert resolved(cards_copy / "archive" / file.name) in library.broken  # reported, loudly


async def test_a_start_settles_the_writes_a_kill_left_half_done(
    cards_copy: Path, file: Path, storage: Storage, service: CardService
) -> None:
    # killed after the file was written: the card is on disk, its audit row pending
    reached = service.library.cards[f"{COLLECTION}-002"]
    landed = await storage.audit.begin(
        [{"action": "edit", "card_id": reached.id, "before": None, "after": card_builtins(reached)}]
    )
    # killed before the file was written: the row is pending, the file never changed
    lost = await storage.audit.begin(
        [{"action": "add", "card_id": f"{COLLECTION}-011", "after": {"id": f"{COLLECTION}-011", "text": "Lost."}}]
    )
    leftover = cards_copy / f".{file.name}.k3x9q2.tmp"
    write(leftover, "half a file")
    curator = Curator(CardService.load(cards_copy), cards_copy, audit=storage.audit)
    await curator.start()
    assert not leftover.exists()
    assert await storage.audit.pending() == []
    (edit,) = await storage.audit.history(reached.id)
    assert (edit.id, edit.state) == (landed[0], "done")
    assert await storage.audit.history(f"{COLLECTION}-011") == []  # not written: not in the card's history
    rows = {e.id: e.state for e in await storage.audit.recent(limit=10)}
    assert lost[0] not in rows


async def test_while_the_database_is_down_changes_are_refused_and_the_file_is_untouched(
    cards_copy: Path, file: Path, tmp_path: Path
) -> None:
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(b"this is not a SQLite database" * 100)
    before = raw_of(file)
    async with Storage.open(damaged, in_memory_fallback=True, flush_interval=0.05) as storage:
        assert storage.unavailable is not None
        curator = Curator(CardService.load(cards_copy), cards_copy, audit=storage.audit)
        await curator.start()  # the bot still starts: the audit log is settled once the database is back
        with pytest.raises(CurationError, match="try again once the database is back"):
            await curator.add_card(COLLECTION, FORM, MOD)
    assert raw_of(file) == before
    assert f"{COLLECTION}-011" not in CardService.load(cards_copy).library.cards
