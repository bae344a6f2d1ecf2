"""What a curator reads after ``/cards``, built from real curation results with no Discord (issue 12.4).

A :class:`~bot.curation.Curator` writes to a copy of the shipped cards with a real audit log, as in
tests/curation; each test renders what it returned the way the ``/cards`` cog does and checks what a moderator
reads: titles, the lines, field values, Discord's limits, and that user text is escaped and never pings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import discord
import pytest

from bot.curation import CardInput, Curator, Moderator, StaleCardError, ValidationFailed
from bot.discord import embeds
from bot.discord.embeds.curation import CONTENT_MAX
from bot.service import CardService
from bot.storage import Storage
from tests.curation.test_curation import COLLECTION, FORM, MOD

NEW_CARD = f"{COLLECTION}-011"  # the shipped file ends at -010
#: A moderator whose display name is markdown and a mention.
HOSTILE_MOD = Moderator("**@everyone**", id=1002, guild_id=42)


@pytest.fixture
def service(cards_copy: Path) -> CardService:
    return CardService.load(cards_copy)


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[Storage]:
    async with Storage.open(tmp_path / "factdeck.db", flush_interval=0.05) as opened:
        yield opened


@pytest.fixture
def curator(service: CardService, cards_copy: Path, storage: Storage) -> Curator:
    return Curator(service, cards_copy, audit=storage.audit)


def fields(embed: discord.Embed) -> dict[str, str]:
    return {str(f.name): str(f.value) for f in embed.fields}


def within_limits(embed: discord.Embed) -> None:
    assert len(embed) <= embeds.EMBED_TOTAL_MAX
    assert len(embed.title or "") <= embeds.TITLE_MAX
    assert len(embed.description or "") <= embeds.DESCRIPTION_MAX
    for field in embed.fields:
        assert 0 < len(field.value or "") <= embeds.FIELD_VALUE_MAX


def with_one_card_changed(exported: str) -> str:
    """The exported collection with card 002 reworded, 010 dropped and a new card 200 (without topics) added."""
    text = exported.replace("Seeking to operationalize", "Seeking to make operational")
    head, _, _ = text.partition(f"  - id: {COLLECTION}-010\n")
    return head + f"  - id: {COLLECTION}-200\n    text: An imported fact.\n"


# ------------------------------------------------------------------------------------------------ import
async def test_an_import_preview_lists_what_would_change_and_its_outcome_says_it_is_live(curator: Curator) -> None:
    exported = (await curator.export_collection(COLLECTION)).text
    plan = await curator.import_file("upload.yml", with_one_card_changed(exported).encode())
    assert plan.ok, plan.problems

    preview = embeds.import_preview_embed(plan, dry_run=False)
    assert preview.title == f"upload.yml → {plan.display_path}: would change"
    assert preview.color == embeds.WARN_COLOR
    shown = fields(preview)
    assert shown["Added (1)"] == f"`{COLLECTION}-200`"
    assert shown["Changed (1)"] == f"`{COLLECTION}-002`"
    assert shown["Removed (1)"] == f"`{COLLECTION}-010`"
    assert shown["Warnings (1)"].endswith("has no topics, so topic search cannot find it")
    assert preview.footer.text == f"{plan.unchanged} unchanged. Nothing changes until you confirm."

    dry = embeds.import_preview_embed(plan, dry_run=True)
    assert dry.title == f"upload.yml → {plan.display_path}: would change (dry run)"
    assert dry.footer.text == f"{plan.unchanged} unchanged. Nothing was changed."

    applied = await curator.apply_import(plan, MOD)
    done = embeds.imported_embed(applied.plan)
    assert done.title == f"Imported upload.yml into {plan.display_path}"
    assert done.color == embeds.OK_COLOR
    assert done.footer.text == "Live now."
    assert fields(done)["Added (1)"] == f"`{COLLECTION}-200`"

    same = await curator.import_file("again.yml", (await curator.export_collection(COLLECTION)).text.encode())
    unchanged = embeds.import_preview_embed(same, dry_run=False)
    assert unchanged.title == f"again.yml → {plan.display_path}: nothing to change"
    assert fields(unchanged)["Added (0)"] == "none"


async def test_an_import_with_errors_lists_each_with_its_place_and_says_when_some_did_not_fit(
    curator: Curator,
) -> None:
    head = "collection:\n  id: broken-one\n  title: Broken\n  curator: C\ncards:\n"
    cards = "".join(f"  - id: Bad Id {n}\n    text: fine @everyone `code`\n" for n in range(300))
    plan = await curator.import_file("broken.yml", (head + cards).encode())
    assert not plan.ok
    embed, cut = embeds.problems_embed("broken.yml: 300 errors; nothing was changed", plan.errors)
    assert cut  # more than fit: the cog attaches the whole list as a file
    body = embed.description or ""
    assert embed.title == "broken.yml: 300 errors; nothing was changed"
    assert embed.color == embeds.ERROR_COLOR
    lines = body.split("\n")
    assert lines[0] == "```"
    assert lines[1].startswith("broken.yml:6:9: ")
    assert "not a valid id" in lines[1]
    assert lines[-1].startswith("```… and ")
    assert lines[-1].endswith(" more (see the attached file)")
    assert body.count("```") == 2  # a backtick in a message cannot close the block early
    within_limits(embed)

    few, cut = embeds.problems_embed("x", plan.errors[:2], with_place=False)
    assert not cut
    assert (few.description or "").split("\n")[1] == plan.errors[0].message.replace("`", "\u02cb")


# ------------------------------------------------------------------------------------------------ reload
async def test_a_reload_reports_what_changed_and_names_a_broken_file(curator: Curator, cards_copy: Path) -> None:
    clean = embeds.reload_embed(await curator.reload(MOD), [])
    assert clean.title == f"Reloaded: {len(curator.service.library.cards)} cards live"
    assert clean.color == embeds.OK_COLOR
    assert fields(clean) == {
        "Added (0)": "none",
        "Changed (0)": "none",
        "Removed (0)": "none",
        "Broken files (0)": "none",
    }

    (cards_copy / f"{COLLECTION}.yml").write_text("collection: [\n", encoding="utf-8")
    report = await curator.reload(MOD)
    broken = [curator.display(p) for p in report.broken]
    embed = embeds.reload_embed(report, broken)
    assert embed.color == embeds.ERROR_COLOR
    assert fields(embed)["Broken files (1)"] == (f"`{broken[0]}`\n-# a broken file keeps its last good version live")
    assert broken[0].endswith(f"{COLLECTION}.yml")


# ------------------------------------------------------------------------------------- writes and history
async def test_the_note_above_a_written_card_names_its_file_and_warnings(curator: Curator) -> None:
    change = await curator.add_card(COLLECTION, CardInput.from_form(text="A fact with no topics at all."), MOD)
    text = embeds.written_card_text(change, f"Added card `{change.card_id}`; it is live now.")
    lines = text.split("\n")
    assert lines[0] == f"Added card `{NEW_CARD}`; it is live now."
    assert lines[1] == f"-# written to `{change.display_path}`"
    assert lines[2] == f"-# warning: card '{NEW_CARD}' has no topics, so topic search cannot find it"


async def test_a_stale_form_says_what_changed_meanwhile_escaped_and_within_a_message(
    curator: Curator, service: CardService
) -> None:
    opened = service.library.cards[f"{COLLECTION}-001"]
    await curator.edit_card(opened.id, CardInput.from_form(text="**@everyone** " + "changed " * 400), MOD)
    with pytest.raises(StaleCardError) as caught:
        await curator.edit_card(opened.id, FORM, MOD, opened=opened)
    text = embeds.stale_card_text(caught.value)
    lines = text.split("\n")
    assert lines[0].startswith(f"Card `{opened.id}` was changed since you opened the form, so nothing was written")
    assert lines[1] == "What changed:"
    (text_line,) = [line for line in lines if line.startswith("- text: ")]
    assert "→ \\*\\*@\u200beveryone\\*\\* changed" in text_line
    assert text_line.endswith(embeds.ELLIPSIS)
    assert "@everyone" not in text
    assert len(text) <= CONTENT_MAX


async def test_history_shows_who_did_what_newest_first_escaped(curator: Curator, storage: Storage) -> None:
    change = await curator.add_card(COLLECTION, FORM, HOSTILE_MOD)
    await curator.edit_card(change.card_id, CardInput.from_form(text="Reworded: " + "long " * 400), MOD)
    await curator.remove_card(change.card_id, MOD)
    entries = await storage.audit.history(change.card_id)
    embed = embeds.history_embed(change.card_id, entries)
    assert embed.title == f"History of {NEW_CARD}"
    names = [f.name for f in embed.fields]
    assert names == ["remove by mod-alice", "edit by mod-alice", "add by \\*\\*@\u200beveryone\\*\\*"]
    remove, edit, add = (str(f.value) for f in embed.fields)
    for value, entry in zip((remove, edit, add), entries, strict=True):
        assert value.split("\n")[0] == f"<t:{int(entry.at.timestamp())}:f>"
    assert remove.split("\n")[1] == "removed; it was: Reworded: long long" + remove.split("long long", 1)[1]
    (edited,) = [line for line in edit.split("\n") if line.startswith("text: ")]
    assert edited.startswith(f"text: {FORM.text} → Reworded: long long")
    assert "citations: Safran & Muran 2000; Eubanks et al. 2018 → (none)" in edit.split("\n")
    assert add.split("\n")[1] == f"created: {FORM.text}"
    within_limits(embed)


async def test_confirmations_say_what_happened(curator: Curator) -> None:
    removed = embeds.removed_embed(f"{COLLECTION}-001", "cards/therapeutic-alliance.yml")
    assert removed.description == (
        f"Removed card `{COLLECTION}-001` from `cards/therapeutic-alliance.yml`; its view history is kept."
    )
    assert removed.color == embeds.OK_COLOR
    assert embeds.cancelled_embed().description == "Cancelled: nothing was changed."
    with pytest.raises(ValidationFailed) as caught:
        await curator.add_card(COLLECTION, CardInput.from_form(text="x" * 5000), MOD)
    refused = embeds.refused_embed(caught.value.message + " " + "because " * 1000)
    assert (refused.description or "").startswith(caught.value.message)
    assert refused.color == embeds.ERROR_COLOR
    within_limits(refused)
