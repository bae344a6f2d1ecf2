"""/cards end to end: the real discord.py client, the bot as started in production, and the fake Discord.

Every test runs on its own copy of the card library (never the repo's cards/ nor the shared e2e library).
Moderators: ``maria`` has Manage Messages through a role; ``carl`` has the ``Curators`` role named in the
settings' ``moderator_roles``. ``bob`` is a plain member.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord
import pytest
import pytest_asyncio

from bot.cards.validate import validate_text
from bot.discord.app import FactdeckBot
from bot.discord.checks import NOT_MODERATOR
from tests.e2e.conftest import start_bot
from tests.fakediscord import FakeChannel, FakeDiscord, FakeGuild, FakeInteraction, FakeMember, FakeMessage
from tests.storage.engines import query

pytestmark = pytest.mark.e2e

COLLECTION = "therapeutic-alliance"
CONFIG = """\
cards_dir: cards
database: data/factdeck.db
cache_dir: cache
guild_ready_timeout: 0.05
view_flush_interval: 0.1
moderator_roles: [Curators]
"""
FORM = {
    "Text": "Alliance ruptures that are repaired predict better outcomes than alliances that never ruptured.",
    "Topics (comma-separated)": "rupture and repair, outcomes",
    "Article": "Repairing alliance ruptures",
    "Source type": "Offline Book/Journal",
    "References (semicolon-separated)": "Safran & Muran 2000; Eubanks et al. 2018",
}


@dataclass
class Deck:
    """The running bot, its world, and its own card folder."""

    fake: FakeDiscord
    guild: FakeGuild
    chan: FakeChannel
    maria: FakeMember
    carl: FakeMember
    bob: FakeMember
    bot: FactdeckBot
    cards: Path
    database: str

    async def cards_cmd(self, command: str, user: FakeMember | None = None, **options: Any) -> FakeInteraction:
        """Invoke ``/cards <command>`` (as maria by default)."""
        return await self.fake.slash(self.guild, self.chan, user or self.maria, f"cards {command}", **options)

    async def fact(self, command: str, user: FakeMember | None = None, **options: Any) -> FakeInteraction:
        """Invoke ``/fact <command>`` (as bob by default)."""
        return await self.fake.slash(self.guild, self.chan, user or self.bob, f"fact {command}", **options)

    def file(self, collection: str = COLLECTION) -> Path:
        return self.cards / f"{collection}.yml"


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def _views_in_db(database: str, card_id: str) -> int:
    return int(query(database, "SELECT COUNT(*) FROM views WHERE card_id = ?", (card_id,))[0][0])


@pytest_asyncio.fixture
async def deck(
    world: tuple[FakeDiscord, FakeGuild, FakeChannel, FakeMember, FakeMember], library: Path, tmp_path: Path
) -> AsyncIterator[Deck]:
    fake, guild, chan, _alice, bob = world
    mods = guild.add_role("Moderators", permissions=discord.Permissions(manage_messages=True))
    curators = guild.add_role("Curators")
    maria = guild.add_member("maria", roles=[mods])
    carl = guild.add_member("carl", roles=[curators])
    cards = tmp_path / "cards"
    await asyncio.to_thread(shutil.copytree, library, cards)
    (tmp_path / "config.yml").write_text(CONFIG, encoding="utf-8")
    async with start_bot(fake, tmp_path / "config.yml") as (settings, bot, _task):
        yield Deck(fake, guild, chan, maria, carl, bob, bot, cards.resolve(), settings.database_target)
    assert not fake.unhandled, [str(u) for u in fake.unhandled]


async def _add(deck: Deck, user: FakeMember | None = None, **fields: str) -> FakeMessage:
    it = await deck.cards_cmd("add", user, collection=COLLECTION)
    submitted = await deck.fake.submit_modal(it, {**FORM, **fields})
    return await submitted.wait_message()


def _new_id(message: FakeMessage) -> str:
    text = message.text
    start = text.index("Added card `") + len("Added card `")
    return text[start : text.index("`", start)]


# -------------------------------------------------------------------------------------------- the commands
async def test_the_group_is_hidden_by_default_and_checked_at_runtime(deck: Deck) -> None:
    (group,) = [c for c in deck.fake.commands() if c["name"] == "cards"]
    assert int(group["default_member_permissions"]) == discord.Permissions(manage_messages=True).value
    assert group.get("contexts") == [0] or group.get("dm_permission") is False
    names = {o["name"] for o in group["options"]}
    assert names == {
        "add",
        "edit",
        "remove",
        "import",
        "export",
        "reload",
        "history",
        "new-collection",
        "collections",
        "copy",
        "reports",
        "insights",
    }


async def test_add_makes_the_card_live_at_once(deck: Deck) -> None:
    message = await _add(deck)
    assert message.ephemeral
    card_id = _new_id(message)
    assert card_id == f"{COLLECTION}-011"
    assert f"card {card_id}" in message.embed["footer"]["text"]
    # search, citations and show find it straight away
    search = await (await deck.fact("search", query="repaired ruptured alliances")).wait_message()
    assert card_id in search.text
    cite = await (await deck.fact("cite", reference="Eubanks")).wait_message()
    assert card_id in cite.text
    # the file is valid and records who added it
    text = await asyncio.to_thread(_read, deck.file())
    assert validate_text(text, "x.yml").ok
    assert "added_by: maria" in text
    deck.fake.assert_no_errors()


async def test_a_role_from_the_settings_makes_a_moderator(deck: Deck) -> None:
    message = await _add(deck, deck.carl)
    assert _new_id(message).startswith(COLLECTION)


async def test_an_invalid_card_is_refused_with_its_problems(deck: Deck) -> None:
    before = await asyncio.to_thread(_read, deck.file())
    it = await deck.cards_cmd("add", collection=COLLECTION)
    modal = await it.wait_modal()
    submitted = await deck.fake.submit_modal(modal, {**FORM, "Text": "   "})
    message = await submitted.wait_message()
    assert message.ephemeral
    assert "not valid" in message.embed["title"]
    assert "text is empty" in message.embed["description"]
    assert await asyncio.to_thread(_read, deck.file()) == before


async def test_edit_prefills_the_form_and_keeps_id_and_views(deck: Deck) -> None:
    card_id = _new_id(await _add(deck))
    for _ in range(3):  # readers see it
        await (await deck.fact("show", card=card_id)).wait_message()
    it = await deck.cards_cmd("edit", card=card_id)
    modal = await it.wait_modal()
    defaults = {t["_label"]: t.get("value") for t in modal.text_inputs()}
    assert defaults["Text"] == FORM["Text"]
    assert defaults["Topics (comma-separated)"] == "rupture and repair, outcomes"
    assert defaults["References (semicolon-separated)"] == "Safran & Muran 2000; Eubanks et al. 2018"
    new_text = "Repaired alliance ruptures predict better outcomes (edited)."
    submitted = await deck.fake.submit_modal(modal, {**defaults, "Text": new_text})
    message = await submitted.wait_message()
    assert f"Updated card `{card_id}`" in message.text
    assert "3 views" in message.embed["footer"]["text"]
    shown = await (await deck.fact("show", card=card_id)).wait_message()
    assert "(edited)" in shown.embed["description"]
    assert "4 views" in shown.embed["footer"]["text"]
    await deck.bot.storage.views.flush()
    assert await asyncio.to_thread(_views_in_db, deck.database, card_id) == 4


async def test_remove_asks_then_takes_the_card_out_and_keeps_its_views(deck: Deck) -> None:
    card_id = f"{COLLECTION}-003"
    await (await deck.fact("show", card=card_id)).wait_message()
    it = await deck.cards_cmd("remove", card=card_id)
    prompt = await it.wait_message()
    assert "Remove card" in prompt.text
    assert prompt.button_labels == ["Remove", "Cancel"]
    assert deck.bot.service.detail(card_id) is not None  # nothing yet
    click = await deck.fake.click(it, "Remove")
    done = await click.wait_message()
    assert "Removed card" in done.embed["description"]
    assert all(b.get("disabled") for b in done.buttons)
    assert deck.bot.service.detail(card_id) is None
    shown = await (await deck.fact("show", card=card_id)).wait_message()
    assert shown.ephemeral
    assert f"id: {card_id}\n" not in await asyncio.to_thread(_read, deck.file())
    await deck.bot.storage.views.flush()
    assert await asyncio.to_thread(_views_in_db, deck.database, card_id) == 1


async def test_cancel_changes_nothing(deck: Deck) -> None:
    before = await asyncio.to_thread(_read, deck.file())
    it = await deck.cards_cmd("remove", card=f"{COLLECTION}-001")
    await it.wait_message()
    done = await (await deck.fake.click(it, "Cancel")).wait_message()
    assert "Cancelled" in done.embed["description"]
    assert await asyncio.to_thread(_read, deck.file()) == before
    assert deck.bot.service.detail(f"{COLLECTION}-001") is not None


async def test_import_previews_and_applies_on_confirm(deck: Deck) -> None:
    """A new collection goes into the server's own collections (issue 15): the shared library is for what a
    curator imports into one of its collections."""
    csv = "text,topics,article,source\nFirst imported fact.,imports;csv,Art,Journal\nSecond imported fact.,csv,,\n"
    upload = deck.fake.add_attachment("Study Notes.csv", csv)
    it = await deck.cards_cmd("import", file=upload)
    preview = await it.wait_message()
    own = deck.cards / "servers" / str(deck.guild.id)
    assert f"cards/servers/{deck.guild.id}/study-notes.yml" in preview.embed["title"]
    assert "study-notes-001" in preview.text
    assert preview.button_labels == ["Confirm", "Cancel"]
    assert not (own / "study-notes.yml").exists()  # nothing until confirmed
    assert deck.bot.service.detail("study-notes-001", deck.guild.id) is None
    done = await (await deck.fake.click(it, "Confirm")).wait_message()
    assert "Imported" in done.embed["title"]
    assert (own / "study-notes.yml").exists()
    assert deck.bot.service.detail("study-notes-002", deck.guild.id) is not None
    assert deck.bot.service.detail("study-notes-002") is None  # not shared: a direct message does not see it
    search = await (await deck.fact("search", query="second imported fact")).wait_message()
    assert "study-notes-002" in search.text


async def test_import_dry_run_changes_nothing(deck: Deck) -> None:
    export = await (await deck.cards_cmd("export", collection=COLLECTION)).wait_message()
    text = export.attachment(f"{COLLECTION}.yml").text.replace("Seeking to operationalize", "Seeking to make real")
    upload = deck.fake.add_attachment("edited.yml", text)
    it = await deck.cards_cmd("import", file=upload, dry_run=True)
    preview = await it.wait_message()
    assert "dry run" in preview.embed["title"]
    assert f"{COLLECTION}-002" in preview.text
    assert not preview.buttons
    assert "Seeking to operationalize" in deck.bot.service.detail(f"{COLLECTION}-002").card.text


async def test_import_with_errors_lists_file_line_and_column(deck: Deck) -> None:
    text = (
        "collection:\n  id: broken-one\n  title: Broken\n  curator: C\n"
        "cards:\n  - id: broken-one-001\n    text: ok\n    topic: [x]\n"
        "  - id: Bad Id\n    text: fine\n"
    )
    upload = deck.fake.add_attachment("broken.yml", text)
    message = await (await deck.cards_cmd("import", file=upload)).wait_message()
    assert "2 errors" in message.embed["title"]
    assert "broken.yml:8:5: unknown key 'topic'" in message.embed["description"]
    assert "broken.yml:9:9:" in message.embed["description"]
    assert not message.buttons
    assert not (deck.cards / "broken-one.yml").exists()


async def test_export_is_a_file_that_reimports_to_the_same_cards(deck: Deck) -> None:
    message = await (await deck.cards_cmd("export", collection=COLLECTION)).wait_message()
    assert message.ephemeral
    exported = message.attachment(f"{COLLECTION}.yml").text
    result = validate_text(exported, "export.yml")
    assert result.ok
    assert result.card_file is not None
    assert result.card_file.cards == deck.bot.service.library.cards_of(COLLECTION)
    upload = deck.fake.add_attachment(f"{COLLECTION}.yml", exported)
    preview = await (await deck.cards_cmd("import", file=upload)).wait_message()
    assert "nothing to change" in preview.embed["title"]


async def test_reload_with_a_broken_file_keeps_its_cards_live(deck: Deck) -> None:
    path = deck.file()
    original = await asyncio.to_thread(_read, path)
    broken = original.replace("cards:\n", "cards:\n  - id: [\n", 1)
    await asyncio.to_thread(_write, path, broken)
    await asyncio.to_thread(
        _write,
        deck.cards / "extra.yml",
        "collection:\n  id: extra\n  title: Extra\n  curator: C\ncards:\n  - id: extra-001\n    text: An extra fact.\n",
    )
    message = await (await deck.cards_cmd("reload")).wait_message()
    summary, errors = message.embeds
    assert "extra-001" in str(summary)
    assert "cards/therapeutic-alliance.yml" in str(summary)  # listed as broken
    assert "cards/therapeutic-alliance.yml:16:3: YAML syntax" in errors["description"]
    assert str(deck.cards) not in str(message.embeds)  # no server paths in Discord
    search = await (await deck.fact("search", query="core conditions Rogers")).wait_message()
    assert f"{COLLECTION}-001" in search.text
    assert deck.bot.service.detail("extra-001") is not None


async def test_history_shows_who_changed_what(deck: Deck) -> None:
    card_id = _new_id(await _add(deck))
    it = await deck.cards_cmd("edit", card=card_id, user=deck.carl)
    modal = await it.wait_modal()
    defaults = {t["_label"]: t.get("value") for t in modal.text_inputs()}
    await (
        await deck.fake.submit_modal(modal, {**defaults, "Topics (comma-separated)": "rupture and repair, ruptures"})
    ).wait_message()
    message = await (await deck.cards_cmd("history", card=card_id)).wait_message()
    fields = message.embed["fields"]
    assert [f["name"] for f in fields] == ["edit by carl", "add by maria"]
    assert "outcomes" in fields[0]["value"]
    assert "→" in fields[0]["value"]
    assert "ruptures" in fields[0]["value"]


async def test_a_file_edited_by_hand_is_not_overwritten(deck: Deck) -> None:
    path = deck.file()
    edited = (await asyncio.to_thread(_read, path)).replace("Rogers (1951)", "Carl Rogers (1951)")
    await asyncio.to_thread(_write, path, edited)
    message = await _add_expecting_refusal(deck)
    assert "changed on disk since it was loaded; run /cards reload and try again" in message.text
    assert await asyncio.to_thread(_read, path) == edited


async def _add_expecting_refusal(deck: Deck) -> FakeMessage:
    it = await deck.cards_cmd("add", collection=COLLECTION)
    return await (await deck.fake.submit_modal(it, FORM)).wait_message()


async def test_two_adds_at_once_both_land(deck: Deck) -> None:
    first = await deck.cards_cmd("add", collection=COLLECTION)
    second = await deck.cards_cmd("add", deck.carl, collection=COLLECTION)
    modals = await asyncio.gather(first.wait_modal(), second.wait_modal())
    submits = await asyncio.gather(
        deck.fake.submit_modal(modals[0], {**FORM, "Text": "The first of two facts added at once."}),
        deck.fake.submit_modal(modals[1], {**FORM, "Text": "The second of two facts added at once."}),
    )
    messages = await asyncio.gather(*(s.wait_message() for s in submits))
    ids = {_new_id(m) for m in messages}
    assert len(ids) == 2
    assert all(deck.bot.service.detail(i) is not None for i in ids)
    text = await asyncio.to_thread(_read, deck.file())
    assert all(f"id: {i}\n" in text for i in ids)


# ---------------------------------------------------------------------------------------- non-moderators
@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("add", {"collection": COLLECTION}),
        ("edit", {"card": f"{COLLECTION}-001"}),
        ("remove", {"card": f"{COLLECTION}-001"}),
        ("export", {"collection": COLLECTION}),
        ("reload", {}),
        ("history", {"card": f"{COLLECTION}-001"}),
    ],
)
async def test_a_member_without_the_right_is_refused(deck: Deck, command: str, options: dict[str, Any]) -> None:
    before = await asyncio.to_thread(_read, deck.file())
    it = await deck.cards_cmd(command, deck.bob, **options)
    response = await it.wait_response()
    assert response.modal is None
    message = await it.wait_message()
    assert message.ephemeral
    assert message.text == NOT_MODERATOR
    assert await asyncio.to_thread(_read, deck.file()) == before
    assert await deck.bot.storage.audit.recent() == []


async def test_a_member_without_the_right_cannot_import(deck: Deck) -> None:
    upload = deck.fake.add_attachment("x.csv", "text\nSneaky fact.\n")
    message = await (await deck.cards_cmd("import", deck.bob, file=upload)).wait_message()
    assert message.ephemeral
    assert message.text == NOT_MODERATOR
    assert not (deck.cards / "x.yml").exists()


async def test_another_member_pressing_confirm_is_refused(deck: Deck) -> None:
    card_id = f"{COLLECTION}-001"
    it = await deck.cards_cmd("remove", card=card_id)
    await it.wait_message()
    by_bob = await (await deck.fake.click(it, "Remove", user=deck.bob)).wait_message()
    assert by_bob.ephemeral
    assert by_bob.text == NOT_MODERATOR
    by_carl = await (await deck.fake.click(it, "Remove", user=deck.carl)).wait_message()  # a moderator, not the asker
    assert by_carl.ephemeral
    assert "Only the moderator who started this" in by_carl.text
    assert deck.bot.service.detail(card_id) is not None
    # the asker still can
    await (await deck.fake.click(it, "Remove")).wait_message()
    assert deck.bot.service.detail(card_id) is None


async def test_another_member_confirming_an_import_is_refused(deck: Deck) -> None:
    upload = deck.fake.add_attachment("notes.csv", "text\nAn imported fact.\n")
    it = await deck.cards_cmd("import", file=upload)
    await it.wait_message()
    refused = await (await deck.fake.click(it, "Confirm", user=deck.bob)).wait_message()
    assert refused.text == NOT_MODERATOR
    assert not (deck.cards / "notes.yml").exists()


async def test_a_forged_modal_submit_is_refused(deck: Deck) -> None:
    it = await deck.cards_cmd("edit", card=f"{COLLECTION}-001")
    modal = await it.wait_modal()
    before = await asyncio.to_thread(_read, deck.file())
    ids = {t["_label"]: t["custom_id"] for t in modal.text_inputs()}
    forged = await deck.fake.submit_modal(
        modal.custom_id,
        {ids["Text"]: "Vandalised.", ids["Topics (comma-separated)"]: "x"},
        user=deck.bob,
        guild=deck.guild,
        channel=deck.chan,
    )
    message = await forged.wait_message()
    assert message.ephemeral
    assert message.text == NOT_MODERATOR
    assert await asyncio.to_thread(_read, deck.file()) == before
    assert "Vandalised" not in deck.bot.service.detail(f"{COLLECTION}-001").card.text


async def test_edit_refuses_a_card_the_form_would_cut(deck: Deck) -> None:
    text = await asyncio.to_thread(_read, deck.file())
    many = ", ".join(f"'Author{n} & Coauthor{n}, {1900 + n}'" for n in range(250))  # ~8,000 characters
    edited = text.replace(f"  - id: {COLLECTION}-002\n", f"  - id: {COLLECTION}-002\n    citations: [{many}]\n", 1)
    await asyncio.to_thread(_write, deck.file(), edited)
    await (await deck.cards_cmd("reload")).wait_message()
    assert len(deck.bot.service.detail(f"{COLLECTION}-002").card.citations) == 250
    reply = await (await deck.cards_cmd("edit", card=f"{COLLECTION}-002")).wait_message()
    assert reply.ephemeral
    assert f"Card `{COLLECTION}-002` has references longer than a Discord form holds" in reply.text
    assert await asyncio.to_thread(_read, deck.file()) == edited  # nothing cut, nothing written


async def test_add_edit_and_remove_explain_what_they_cannot_find(deck: Deck) -> None:
    assert len(deck.bot.service.library.collections) > 1
    replies = [
        await (await deck.cards_cmd("add")).wait_message(),
        await (await deck.cards_cmd("add", collection="no-such-collection")).wait_message(),
        await (await deck.cards_cmd("edit", card="no-such-card")).wait_message(),
        await (await deck.cards_cmd("remove", card="no-such-card")).wait_message(),
    ]
    assert [r.text for r in replies] == [
        "Choose the collection to add the card to.",
        "There is no collection `no-such-collection`.",
        "There is no card `no-such-card`.",
        "There is no card `no-such-card`.",
    ]
    assert all(r.ephemeral for r in replies)
    deck.fake.assert_no_errors()


async def test_card_and_collection_options_autocomplete(deck: Deck) -> None:
    cards = await deck.fake.autocomplete(
        deck.guild, deck.chan, deck.maria, "cards edit", focused="card", card=f"{COLLECTION}-00"
    )
    assert cards[0]["value"].startswith(f"{COLLECTION}-00")
    assert all(len(c["name"]) <= 100 for c in cards)
    collections = await deck.fake.autocomplete(
        deck.guild, deck.chan, deck.maria, "cards add", focused="collection", collection="thera"
    )
    assert collections[0] == {"name": f"Therapeutic Alliance ({COLLECTION})", "value": COLLECTION}
    deck.fake.assert_no_errors()


# ------------------------------------------------------------------------------------ changes never lost
async def test_a_stale_edit_form_is_refused_and_names_what_changed(deck: Deck) -> None:
    card_id = f"{COLLECTION}-002"
    first = await (await deck.cards_cmd("edit", card=card_id)).wait_modal()
    second = await (await deck.cards_cmd("edit", deck.carl, card=card_id)).wait_modal()
    carls = {t["_label"]: t.get("value") for t in second.text_inputs()}
    carls_text = "Carl's corrected text about the alliance."
    done = await (await deck.fake.submit_modal(second, {**carls, "Text": carls_text})).wait_message()
    assert f"Updated card `{card_id}`" in done.text
    marias = {t["_label"]: t.get("value") for t in first.text_inputs()}  # opened before carl's change
    refused = await (
        await deck.fake.submit_modal(first, {**marias, "Topics (comma-separated)": "alliance, a new topic"})
    ).wait_message()
    assert refused.ephemeral
    assert f"`{card_id}` was changed since you opened the form" in refused.text
    assert carls_text in refused.text  # what changed, so maria can redo her change on top of it
    assert deck.bot.service.detail(card_id).card.text == carls_text
    assert carls_text in await asyncio.to_thread(_read, deck.file())
    history = await deck.bot.storage.audit.history(card_id)
    assert [e.moderator_name for e in history] == ["carl"]


async def test_a_removed_cards_id_is_never_given_to_a_new_card(deck: Deck) -> None:
    highest = f"{COLLECTION}-010"
    await (await deck.fact("show", card=highest)).wait_message()  # it has a view, and will have a history
    it = await deck.cards_cmd("remove", card=highest)
    await it.wait_message()
    await (await deck.fake.click(it, "Remove")).wait_message()
    assert deck.bot.service.detail(highest) is None
    new_id = _new_id(await _add(deck))
    assert new_id == f"{COLLECTION}-011"
    history = await (await deck.cards_cmd("history", card=new_id)).wait_message()
    assert [f["name"] for f in history.embed["fields"]] == ["add by maria"]  # not the removed card's history


async def test_an_archived_copy_never_takes_a_collection_over(deck: Deck) -> None:
    original = await asyncio.to_thread(_read, deck.file())
    archived = original.replace("Rogers (1951)", "Rogers (archived)")
    (deck.cards / "archive").mkdir()
    await asyncio.to_thread(_write, deck.cards / "archive" / f"{COLLECTION}.yml", archived)
    await (await deck.cards_cmd("reload")).wait_message()
    served = deck.bot.service.detail(f"{COLLECTION}-001").card.text
    assert "Rogers (1951)" in served  # the file it was served from keeps it
    refused = await _add_expecting_refusal(deck)
    assert refused.ephemeral
    assert f"cards/{COLLECTION}.yml" in refused.text
    assert f"cards/archive/{COLLECTION}.yml" in refused.text
    assert await asyncio.to_thread(_read, deck.file()) == original
    assert await asyncio.to_thread(_read, deck.cards / "archive" / f"{COLLECTION}.yml") == archived


async def test_an_edit_keeps_curators_comments_layout_and_the_files_mode(deck: Deck) -> None:
    path = deck.file()
    text = await asyncio.to_thread(_read, path)
    curated = text.replace(f"  - id: {COLLECTION}-001\n", f"  # checked against the book\n  - id: {COLLECTION}-001\n")
    await asyncio.to_thread(_write, path, curated)
    await asyncio.to_thread(path.chmod, 0o644)
    await (await deck.cards_cmd("reload")).wait_message()
    it = await deck.cards_cmd("edit", card=f"{COLLECTION}-003")
    modal = await it.wait_modal()
    defaults = {t["_label"]: t.get("value") for t in modal.text_inputs()}
    await (await deck.fake.submit_modal(modal, {**defaults, "Article": "An edited article"})).wait_message()
    after = await asyncio.to_thread(_read, path)
    assert "  # checked against the book\n" in after
    assert "An edited article" in after
    assert (await asyncio.to_thread(path.stat)).st_mode & 0o777 == 0o644
    unchanged = [line for line in curated.splitlines() if line not in after.splitlines()]
    assert len(unchanged) == 1  # the old article line of card -003, nothing else


def _audit_rows(database: str) -> list[tuple[str, str | None, str]]:
    return query(database, "SELECT action, card_id, state FROM audit_log ORDER BY id")


async def test_a_write_that_cannot_be_served_is_put_back_and_the_next_one_works(
    deck: Deck, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = await asyncio.to_thread(_read, deck.file())
    real_swap = deck.bot.service.swap

    def full_cache_disk(library: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(deck.bot.service, "swap", full_cache_disk)
    refused = await _add_expecting_refusal(deck)
    assert refused.ephemeral
    assert "could not be updated (No space left on device)" in refused.text
    assert "nothing changed" in refused.text
    assert await asyncio.to_thread(_read, deck.file()) == before  # the file agrees with the served cards
    assert deck.bot.service.detail(f"{COLLECTION}-011") is None
    assert await deck.bot.storage.audit.recent() == []  # and with the audit log
    monkeypatch.setattr(deck.bot.service, "swap", real_swap)
    added = _new_id(await _add(deck))  # the collection is not left refusing writes
    assert deck.bot.service.detail(added) is not None
    assert [(a, c) for a, c, s in await asyncio.to_thread(_audit_rows, deck.database) if s == "done"] == [
        ("add", added)
    ]


async def test_shutdown_waits_for_the_write_under_way_and_its_audit_row(
    deck: Deck, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.curation import curator

    started, release = threading.Event(), threading.Event()
    real_commit = curator.commit_file

    def slow_commit(*args: Any) -> Any:
        started.set()
        release.wait(2)  # released once storage has closed, or after 2 s
        return real_commit(*args)

    monkeypatch.setattr(curator, "commit_file", slow_commit)
    storage_close = deck.bot.storage.close

    async def closing_storage() -> None:  # the write may finish only after storage closed, unless shutdown waits
        await storage_close()
        release.set()

    monkeypatch.setattr(deck.bot.storage, "close", closing_storage)
    it = await deck.cards_cmd("add", collection=COLLECTION)
    await deck.fake.submit_modal(it, FORM)
    assert await asyncio.to_thread(started.wait, 10)
    await deck.bot.close()  # as SIGTERM does
    task = deck.fake.bot_task
    await deck.fake.wait_for(lambda: task is None or task.done(), timeout=15, what="run() to end")
    written = validate_text(await asyncio.to_thread(_read, deck.file()), "x.yml").card_file
    assert written is not None
    assert FORM["Text"] in [c.text for c in written.cards]
    assert [(a, s) for a, _c, s in await asyncio.to_thread(_audit_rows, deck.database)] == [("add", "done")]
