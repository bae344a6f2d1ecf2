"""Every /fact command and option, through the real discord.py client and the fake Discord."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.discord.freeze import no_freeze
from tests.e2e.conftest import Running, StartFactory, assert_quiet
from tests.e2e.library import HOSTILE_CARD, LAB_CARDS, LONG_CARD, PAGED_REFERENCE, PAGED_WORD
from tests.fakediscord import ResponseType

pytestmark = pytest.mark.e2e

COMMANDS = {"random", "search", "cite", "show", "source", "stats", "collections", "help"}


def _subcommands(r: Running) -> dict[str, dict[str, Any]]:
    fact = next(c for c in r.fake.commands() if c["name"] == "fact")
    return {o["name"]: o for o in fact["options"]}


async def test_the_fact_group_is_synced_once_with_every_command_described(running: Running) -> None:
    r = running
    subs = _subcommands(r)
    assert set(subs) >= COMMANDS  # other cogs may add more (the daily cog adds /fact today)
    fact = next(c for c in r.fake.commands() if c["name"] == "fact")
    assert 1 <= len(fact["description"]) <= 100
    for sub in subs.values():
        assert 1 <= len(sub["description"]) <= 100, sub["name"]
        for option in sub.get("options", []):
            assert 1 <= len(option["description"]) <= 100, (sub["name"], option["name"])
    options = {name: {o["name"] for o in sub.get("options", [])} for name, sub in subs.items() if name in COMMANDS}
    assert options == {
        "random": {"topic", "collection"},
        "search": {"query", "topic", "collection"},
        "cite": {"reference"},
        "show": {"card"},
        "source": {"card", "style"},
        "stats": set(),
        "collections": set(),
        "help": set(),
    }
    style = next(o for o in subs["source"]["options"] if o["name"] == "style")
    assert {c["value"] for c in style["choices"]} == {"apa", "mla", "bibtex", "plain"}
    assert len(r.fake.command_syncs) == 1
    r.fake.assert_no_errors()


async def test_random_prefers_unseen_cards_and_says_when_all_were_seen(running: Running) -> None:
    r = running
    seen = []
    for _ in range(LAB_CARDS):
        msg = await (await r.slash("random", collection="lab", topic="cell biology")).wait_message()
        assert_quiet(msg.allowed_mentions)
        seen.append(re.search(r"card (\S+)", msg.embed["footer"]["text"])[1])
        assert not msg.content
    assert len(set(seen)) == LAB_CARDS  # no repeats while unseen cards are left
    for _ in range(LAB_CARDS + 2 - len(seen)):
        msg = await (await r.slash("random", collection="lab", topic="cell biology")).wait_message()
        seen.append(re.search(r"card (\S+)", msg.embed["footer"]["text"])[1])
    msg = await (await r.slash("random", collection="lab", topic="cell biology")).wait_message()
    assert "seen every card" in msg.content
    # bob has seen nothing: his first pick is never flagged
    msg = await (await r.slash("random", user=r.bob)).wait_message()
    assert not msg.content
    r.fake.assert_no_errors()


async def test_random_with_unknown_topic_or_collection_is_a_helpful_ephemeral_reply(running: Running) -> None:
    r = running
    msg = await (await r.slash("random", topic="no such topic")).wait_message()
    assert msg.ephemeral
    assert "No card has the topic" in msg.text
    msg = await (await r.slash("random", collection="nope")).wait_message()
    assert msg.ephemeral
    assert msg.text == "There is no collection “nope”. /fact collections lists them."
    msg = await (await r.slash("search", query="zzyzx quuxbar")).wait_message()  # Discord's own hint
    assert msg.text == "No card matches “zzyzx quuxbar”. Try fewer or other words, or /fact help."
    r.fake.assert_no_errors()


async def test_card_embed_has_every_part_and_counts_views(running: Running) -> None:
    r = running
    for expected in (1, 2):
        msg = await (await r.slash("show", card="lab-003")).wait_message()
        embed = msg.embed
        assert "Lab Notebook" in embed["author"]["name"]
        assert "Test Curator" in embed["author"]["name"]
        assert "room 3" in embed["description"]
        fields = {f["name"]: f["value"] for f in embed["fields"]}
        assert fields["Article"] == "Lab notes 3"
        assert fields["Source type"] == "Offline Book/Journal"
        assert "Quillfeather & Dunmore (2004)" in fields["Cites"]
        assert embed["footer"]["text"] == f"card lab-003 · {expected} view{'s' if expected > 1 else ''} in this server"
        assert msg.button_labels == ["Report a problem"]  # nothing was cut
    r.fake.assert_no_errors()


async def test_long_card_is_cut_at_a_word_and_read_more_sends_the_rest(running: Running) -> None:
    r = running
    msg = await (await r.slash("show", card=LONG_CARD)).wait_message()
    assert msg.embed["description"].endswith("…")
    assert msg.embed["description"][-2] != " "
    assert len(msg.embed["description"]) < 2000
    assert msg.button_labels == ["Read more", "Report a problem"]
    click = await r.fake.click(msg, "Read more", user=r.bob)  # anyone may read the rest
    full = await click.wait_message()
    assert full.ephemeral
    card_text = r.bot.service.detail(LONG_CARD).card.text
    assert card_text[-60:].replace("&", "&") in full.text
    assert "Balton" in full.text
    assert "Marstone" in full.text
    assert_quiet(full.allowed_mentions)
    r.fake.assert_no_errors()


async def test_search_pages_only_for_the_searcher_and_opens_cards_from_the_menu(running: Running) -> None:
    r = running
    it = await r.slash("search", query=PAGED_WORD)
    msg = await it.wait_message()
    assert f"{LAB_CARDS + 2} cards match" in msg.embed["title"]
    assert "Showing 1–5" in msg.embed["footer"]["text"]
    prev, nxt = msg.buttons
    assert prev["disabled"]
    assert not nxt["disabled"]
    # bob may not page alice's search
    refused = await (await r.fake.click(msg, "Next", user=r.bob)).wait_message()
    assert refused.ephemeral
    assert "Only the person who searched can page" in refused.text
    assert "Showing 1–5" in r.fake.get_message(msg.id).embed["footer"]["text"]
    # alice pages forward and back
    await (await r.fake.click(msg, "Next")).wait_message()
    msg = r.fake.get_message(msg.id)
    assert "Showing 6–10" in msg.embed["footer"]["text"]
    assert not msg.buttons[0]["disabled"]
    await (await r.fake.click(msg, "Next")).wait_message()
    msg = r.fake.get_message(msg.id)
    assert "Showing 11–14" in msg.embed["footer"]["text"]
    assert msg.buttons[1]["disabled"]
    await (await r.fake.click(msg, "Previous")).wait_message()
    assert "Showing 6–10" in r.fake.get_message(msg.id).embed["footer"]["text"]
    # anyone may open a card; it comes back to them alone and counts as a view
    msg = r.fake.get_message(msg.id)
    option = msg.selects[0]["options"][0]["value"]
    opened = await (await r.fake.select(msg, "Open a card…", [option], user=r.bob)).wait_message()
    assert opened.ephemeral
    assert f"card {option}" in opened.embed["footer"]["text"]
    assert await r.bot.storage.views.count(option, r.guild.id) == 1
    r.fake.assert_no_errors()


async def test_search_filters_by_topic_and_collection(running: Running) -> None:
    r = running
    msg = await (await r.slash("search", query=PAGED_WORD, topic="room 4")).wait_message()
    assert "1 card match" in msg.embed["title"]
    assert "lab-004" in msg.text
    assert not msg.buttons  # one page: no paging buttons
    msg = await (await r.slash("search", query="alliance", collection="therapeutic-alliance")).wait_message()
    assert "therapeutic-alliance-" in msg.text
    assert "lab-" not in msg.text
    msg = await (await r.slash("search", query="alliance", collection="lab")).wait_message()
    assert msg.ephemeral
    assert "No card matches" in msg.text
    r.fake.assert_no_errors()


async def test_cite_pages_and_a_reference_nothing_cites(running: Running) -> None:
    r = running
    msg = await (await r.slash("cite", reference=PAGED_REFERENCE)).wait_message()
    assert "cite “Quillfeather & Dunmore 2004”" in msg.embed["title"]
    assert "cites it as" in msg.text
    assert [b["label"] for b in msg.buttons] == ["Previous", "Next"]
    await (await r.fake.click(msg, "Next")).wait_message()
    assert "Showing 6–10" in r.fake.get_message(msg.id).embed["footer"]["text"]
    refused = await (await r.fake.click(msg, "Next", user=r.bob)).wait_message()
    assert refused.ephemeral
    card = r.fake.get_message(msg.id).selects[0]["options"][0]["value"]
    opened = await (await r.fake.select(msg, "Open a card…", [card])).wait_message()
    assert opened.ephemeral
    assert card in opened.text
    nothing = await (await r.slash("cite", reference="Nobody 1850")).wait_message()
    assert nothing.ephemeral
    assert "No card cites" in nothing.text
    r.fake.assert_no_errors()


async def test_show_and_source_of_an_unknown_card_are_helpful(running: Running) -> None:
    r = running
    for command in ("show", "source"):
        msg = await (await r.slash(command, card="no-such-card")).wait_message()
        assert msg.ephemeral
        assert "There is no card “no-such-card”" in msg.text
    r.fake.assert_no_errors()


@pytest.mark.parametrize("style", ["plain", "apa", "mla", "bibtex"])
async def test_source_in_every_style(running: Running, style: str) -> None:
    r = running
    msg = await (await r.slash("source", card="lab-001", style=style)).wait_message()
    assert f"Source of lab-001 ({style})" in msg.embed["title"]
    assert "Lab notes 1" in msg.embed["description"]
    if style == "bibtex":
        assert msg.embed["description"].startswith("```bibtex\n@")
    assert await r.bot.storage.views.count("lab-001") == 0  # a source is not a card display
    r.fake.assert_no_errors()


async def test_stats_and_collections_count_this_servers_views(running: Running) -> None:
    r = running
    empty = await (await r.slash("stats")).wait_message()
    assert "**0** card views" in empty.embed["description"]
    for card in ("lab-001", "lab-001", "therapeutic-alliance-001"):
        await (await r.slash("show", card=card)).wait_message()
    msg = await (await r.slash("stats")).wait_message()
    assert "**3** card views" in msg.embed["description"]
    fields = {f["name"]: f["value"] for f in msg.embed["fields"]}
    assert fields["Most viewed cards"].splitlines()[0].startswith("`lab-001` · 2")
    assert "Lab Notebook: 2" in fields["Views per collection"]
    assert "Therapeutic Alliance: 1" in fields["Views per collection"]
    msg = await (await r.slash("collections")).wait_message()
    fields = {f["name"]: f["value"] for f in msg.embed["fields"]}
    assert "curated by Test Curator" in fields["Lab Notebook"]
    assert "2 views" in fields["Lab Notebook"]
    assert "Mee Young Jeong" in fields["Therapeutic Alliance"]
    assert "10 cards" in fields["Therapeutic Alliance"]
    assert "helping alliance" in fields["Therapeutic Alliance"]  # the description, as the page presents it
    r.fake.assert_no_errors()


async def test_help_lists_every_command_with_an_example(running: Running) -> None:
    r = running
    msg = await (await r.slash("help")).wait_message()
    assert msg.ephemeral
    (fact,) = [c for c in r.fake.commands() + r.fake.commands(r.guild) if c["name"] == "fact"]
    synced = {option["name"] for option in fact["options"]}
    assert synced >= set(COMMANDS)
    for name in synced:
        assert f"/fact {name}" in msg.embed["description"]
    assert msg.embed["description"].count("e.g.") == len(synced)
    assert "Where the cards come from" in msg.text
    assert "Mee Young Jeong" in msg.text
    r.fake.assert_no_errors()


async def test_autocomplete_for_every_option_kind(running: Running) -> None:
    r = running
    cases = [
        ("random", "topic", "cell", "cell biology"),
        ("search", "topic", "room 1", "room 1"),
        ("random", "collection", "Lab", "lab"),
        ("search", "collection", "thera", "therapeutic-alliance"),
        ("cite", "reference", "Quill", "Quillfeather & Dunmore (2004)"),
        ("show", "card", "lab-00", "lab-001"),
        ("source", "card", "therapeutic", "therapeutic-alliance-001"),
    ]
    extra = {"search": {"query": "x"}}
    for command, option, typed, wanted in cases:
        # answered within the fake's 3 s acknowledgement deadline, or the fake fails the test
        choices = await r.complete(command, option, **extra.get(command, {}), **{option: typed})
        assert 0 < len(choices) <= 25, (command, option)
        assert all(1 <= len(c["name"]) <= 100 and len(c["value"]) <= 100 for c in choices)
        assert wanted in [c["value"] for c in choices], (command, option, choices)
    empty = await r.complete("show", "card")  # nothing typed yet: still at most 25
    assert 0 < len(empty) <= 25
    r.fake.assert_no_errors()


HOSTILE = '**@everyone** <@123456789012345678> <@&42> @here _x_ `y` NEAR(" OR * ||z||'


async def test_hostile_queries_are_escaped_and_never_ping(running: Running) -> None:
    r = running
    for command, option in (("search", "query"), ("cite", "reference"), ("show", "card")):
        msg = await (await r.slash(command, **{option: HOSTILE})).wait_message()
        assert msg.ephemeral or command == "search"  # the words may match the hostile card
        assert_quiet(msg.allowed_mentions)
        text = msg.text
        assert "@everyone" not in text
        assert "@here" not in text
        assert "\\*\\*" in text
        assert "\\_x\\_" in text
        assert "\\|\\|z\\|\\|" in text
    # a hit whose text is hostile: escaped in the list and in the card
    msg = await (await r.slash("search", query="Ping everyone bold")).wait_message()
    assert_quiet(msg.allowed_mentions)
    msg = await (await r.slash("show", card=HOSTILE_CARD)).wait_message()
    assert_quiet(msg.allowed_mentions)
    assert "\\*\\*bold\\*\\*" in msg.embed["description"]
    assert "@everyone" not in msg.embed["description"]
    r.fake.assert_no_errors()


async def test_every_reply_pings_nobody(running: Running) -> None:
    r = running
    await (await r.slash("random")).wait_message()
    await (await r.slash("search", query=PAGED_WORD)).wait_message()
    await (await r.slash("help")).wait_message()
    for it in r.fake.interactions:
        if it.response is not None and it.response.type != ResponseType.AUTOCOMPLETE_RESULT:
            assert_quiet(it.response.allowed_mentions)


async def test_cooldown_tells_the_wait_time(launch: Any) -> None:
    async with launch(search_rate=2) as r:
        for _ in range(2):
            await (await r.slash("search", query="alliance")).wait_message()
        msg = await (await r.slash("search", query="alliance")).wait_message()
        assert msg.ephemeral
        assert re.search(r"try that again in \d+ seconds?", msg.text)
        other = await (await r.slash("search", query="alliance", user=r.bob)).wait_message()
        assert not other.ephemeral  # per user
        assert not r.errors.records  # a cooldown is not an error
        r.fake.assert_no_errors()


async def test_an_unexpected_error_is_logged_and_the_user_gets_a_short_message(
    running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = running

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("index on fire")

    monkeypatch.setattr(r.bot.service, "search", broken)
    msg = await (await r.slash("search", query="alliance")).wait_message()
    assert msg.ephemeral
    assert "Something went wrong" in msg.text
    assert "fire" not in msg.text
    assert any("index on fire" in str(rec.exc_info) for rec in r.errors.records)
    r.errors.records.clear()
    r.fake.assert_no_errors()


async def test_a_result_list_disables_its_components_when_it_times_out(launch: Any) -> None:
    async with launch(results_timeout=1) as r:
        it = await r.slash("search", query=PAGED_WORD)
        msg = await it.wait_message()
        assert not msg.buttons[1]["disabled"]

        def disabled() -> bool:
            m = r.fake.get_message(msg.id)
            return bool(m.edited) and all(c.get("disabled") for c in m.buttons + m.selects)

        await r.fake.wait_for(disabled, timeout=5, what="the components to be disabled")
        r.fake.assert_no_errors()


async def test_server_only_commands_say_so_in_direct_messages(running: Running) -> None:
    r = running
    for command in ("stats", "today"):
        msg = await (await r.fake.slash(None, None, r.alice, f"fact {command}")).wait_message()
        assert msg.ephemeral
        assert msg.text == "That works in a server, not in direct messages."
    shown = await (await r.fake.slash(None, None, r.alice, "fact show", card="lab-001")).wait_message()
    assert "lab-001" in shown.text  # cards themselves can be shown anywhere
    assert r.errors.records == []  # nothing crashed on the way
    r.fake.assert_no_errors()


async def test_a_failing_button_is_answered_and_logged_like_a_failing_command(running: Running, monkeypatch) -> None:
    r = running
    msg = await (await r.slash("show", card=LONG_CARD)).wait_message()

    async def broken(interaction, card_id):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(r.bot.get_cog("FactsCog"), "send_full_card", broken)
    reply = await (await r.fake.click(msg, "Read more", user=r.bob)).wait_message()
    assert reply.ephemeral
    assert reply.text == "Something went wrong on our side; it has been logged. Please try again."
    assert [record.exc_info[1].args for record in r.errors.records] == [("disk on fire",)]
    r.errors.records.clear()


# ------------------------------------------------------------------------------------------------- hardening
EDGE_CARD = "edge-001"


def _library_with(library: Path, folder: Path, *cards: dict[str, Any]) -> Path:
    """A copy of the e2e library plus an ``edge`` collection holding ``cards``."""
    shutil.copytree(library, folder)
    data = {
        "collection": {"id": "edge", "title": "Edge Cases", "description": "Hostile cards.", "curator": "Tester"},
        "cards": list(cards),
    }
    (folder / "edge.yml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return folder


async def test_read_more_answers_on_a_card_full_of_backslashes(
    launch: StartFactory, library: Path, tmp_path: Path
) -> None:
    """A long run of backslashes in the text and the article once froze the bot on "Read more" (issue 14.1)."""
    text = "A path: " + "\\" * 2000 + " and the end of the card."
    article = "\\" * 520
    card = {"id": EDGE_CARD, "text": text, "source": {"article": article, "type": "Website"}}
    cards = _library_with(library, tmp_path / "cards", card)
    async with launch(cards=cards) as r:
        with no_freeze(30):
            shown = await (await r.slash("show", card=EDGE_CARD)).wait_message()
            assert shown.button_labels == ["Read more", "Report a problem"]
            full = await (await r.fake.click(shown, "Read more", user=r.bob)).wait_message()
            later = await (await r.slash("show", card="lab-001")).wait_message()  # the bot still answers
        assert full.ephemeral
        descriptions = "".join(e.get("description") or "" for e in full.embeds)
        assert descriptions.count("\\") == 2 * 2000  # every backslash, each escaped so it shows as typed
        assert descriptions.endswith("and the end of the card.")
        articles = [f["value"] for e in full.embeds for f in e.get("fields", []) if f["name"] == "Article"]
        assert "".join(articles).count("\\") == 2 * 520
        assert "lab-001" in later.text
        assert r.errors.records == []
        r.fake.assert_no_errors()


BROKEN = "alliance \ud800 therapy \udcff"  # unpaired surrogates: what invalid UTF-8 becomes on the way in


async def test_unpaired_surrogates_in_any_option_get_an_answer(running: Running) -> None:
    """A broken client's text (issue 14.5): every command and autocomplete answers, nothing is logged as a crash."""
    r = running
    commands: list[tuple[str, dict[str, str]]] = [
        ("search", {"query": BROKEN}),
        ("search", {"query": "alliance", "topic": "\ud800", "collection": "\udcff"}),
        ("random", {"topic": "cell \ud800"}),
        ("random", {"collection": "lab\udc80"}),
        ("cite", {"reference": "Horvath \ud800"}),
        ("show", {"card": "lab-001\ud800"}),
        ("source", {"card": "\udcff"}),
    ]
    for command, options in commands:
        msg = await (await r.slash(command, **options)).wait_message()
        assert "Something went wrong" not in msg.text, (command, options)
        assert "\ud800" not in msg.text
        assert "\udcff" not in msg.text
    found = await (await r.slash("search", query="working \ud800 alliance")).wait_message()
    assert "match" in found.embed["title"]  # the rest of the query still searches
    for command, option in (("random", "topic"), ("search", "collection"), ("cite", "reference"), ("show", "card")):
        extra = {"query": "x"} if command == "search" else {}
        choices = await r.complete(command, option, **extra, **{option: "\ud800th"})
        assert len(choices) <= 25, (command, option)
    assert r.errors.records == []
    r.fake.assert_no_errors()


async def test_a_forged_pick_of_no_card_is_answered(running: Running) -> None:
    r = running
    msg = await (await r.slash("search", query=PAGED_WORD)).wait_message()
    menu = msg.selects[0]
    forged = await r.fake.forge_component(msg, {"custom_id": menu["custom_id"], "component_type": 3, "values": []})
    answer = await forged.wait_message()
    assert answer.ephemeral
    assert answer.text == "Pick a card in the menu to open it."
    assert r.errors.records == []
    r.fake.assert_no_errors()


async def test_an_option_of_thousands_of_characters_still_gets_a_reply(running: Running) -> None:
    """Discord holds text options to their ``max_length``; a forged one longer than a message still gets an
    answer, with the echo cut (issue 14.5)."""
    r = running
    long_topic, long_collection = "t" * 3000, "c" * 3000
    for options in ({"topic": long_topic}, {"collection": long_collection}):
        msg = await (await r.slash("random", **options)).wait_message()
        assert msg.ephemeral
        assert len(msg.text) <= 2000
        assert "ttttt" in msg.text or "ccccc" in msg.text  # what was asked for, cut
    msg = await (await r.slash("search", query="alliance", topic=long_topic, collection=long_collection)).wait_message()
    assert len(msg.text) <= 2000
    groups = [c for c in r.fake.commands() if c["name"] in ("fact", "cards")]
    for group in groups:
        for sub in group["options"]:
            for option in sub.get("options", []):
                if option["type"] == 3 and not option.get("choices"):  # every free text option has a longest value
                    assert 1 <= option.get("max_length", 0) <= 200, (group["name"], sub["name"], option["name"])
    assert len(groups) == 2
    assert r.errors.records == []
    r.fake.assert_no_errors()
