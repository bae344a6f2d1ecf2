"""The embeds a reader sees, built from the shipped cards with no Discord at all (issue 12.4).

Each test builds an embed the way a command does and checks what a member would read: the title, the fields in
order, the footer, Discord's limits, and that card and user text shows verbatim (escaped, never pinging).
"""

from __future__ import annotations

import dataclasses

import discord
import msgspec
import pytest

from bot.discord import embeds
from bot.service import CardDetail, CardService
from tests.conftest import SHIPPED_CARDS

CARD = "therapeutic-alliance-001"


@pytest.fixture(scope="module")
def service() -> CardService:
    return CardService.load(SHIPPED_CARDS)


@pytest.fixture(scope="module")
def detail(service: CardService) -> CardDetail:
    found = service.detail(CARD)
    assert found is not None
    return found


def _with_text(detail: CardDetail, text: str, **source: str) -> CardDetail:
    card = detail.card
    new_source = msgspec.structs.replace(card.source, **source) if source else card.source
    return dataclasses.replace(detail, card=msgspec.structs.replace(card, text=text, source=new_source))


def _within_limits(embed: discord.Embed) -> None:
    assert len(embed) <= embeds.EMBED_TOTAL_MAX
    assert len(embed.title or "") <= embeds.TITLE_MAX
    assert len(embed.description or "") <= embeds.DESCRIPTION_MAX
    assert len(embed.fields) <= embeds.FIELDS_MAX
    for field in embed.fields:
        assert 0 < len(field.value or "") <= embeds.FIELD_VALUE_MAX
        assert 0 < len(field.name or "") <= embeds.FIELD_NAME_MAX


def test_a_card_shows_its_text_collection_source_references_topics_and_views(detail: CardDetail) -> None:
    render = embeds.card_embed(detail, views=3)
    embed = render.embed
    assert not render.truncated
    assert embed.author.name == "Therapeutic Alliance · curated by Mee Young Jeong"
    assert embed.description == discord.utils.escape_markdown(detail.card.text)
    fields = {f.name: f.value for f in embed.fields}
    assert list(fields) == ["Article", "Source type", "Cites", "Topics"]
    assert fields["Article"] == discord.utils.escape_markdown(detail.card.source.article or "")
    assert fields["Source type"] == "Offline Book/Journal"
    assert fields["Cites"].startswith("Rogers (1951); Horvath & Luborsky (1993)")
    assert fields["Topics"] == "core conditions, carl rogers, empathy, transactional analysis, psychoanalysis"
    assert embed.footer.text == f"card {CARD} · 3 views in this server"
    assert embeds.card_embed(detail, views=1).embed.footer.text == f"card {CARD} · 1 view in this server"
    assert embeds.card_embed(detail).embed.footer.text == f"card {CARD}"  # outside a server: no count
    _within_limits(embed)


def test_a_long_card_is_cut_at_a_word_and_says_so(detail: CardDetail) -> None:
    long = _with_text(detail, "A fact about alliances that goes on and on. " * 100)
    render = embeds.card_embed(long)
    assert render.truncated
    text = render.embed.description or ""
    assert len(text) <= embeds.CARD_TEXT_MAX
    assert text.endswith("on." + embeds.ELLIPSIS) or text.endswith("on" + embeds.ELLIPSIS)
    _within_limits(render.embed)


def test_card_text_shows_verbatim_and_never_pings(detail: CardDetail) -> None:
    hostile = _with_text(
        detail, "**bold** _it_ @everyone @here <@123456789012345678> a\\b", article="@everyone *shout*"
    )
    embed = embeds.card_embed(hostile).embed
    assert (
        embed.description == "\\*\\*bold\\*\\* \\_it\\_ @\u200beveryone @\u200bhere <@\u200b123456789012345678> a\\\\b"
    )
    assert embed.fields[0].value == "@\u200beveryone \\*shout\\*"


def test_read_more_lays_the_whole_card_out_within_discords_limits(detail: CardDetail) -> None:
    text = " ".join(f"word{i}" for i in range(2000))  # about 15,000 characters: four embeds of text
    messages = embeds.full_card_messages(_with_text(detail, text, article="An article " * 200), views=2)
    everything = [embed for message in messages for embed in message]
    for message in messages:
        assert 1 <= len(message) <= 10
        assert sum(len(e) for e in message) <= embeds.EMBED_TOTAL_MAX
    for embed in everything:
        _within_limits(embed)
    shown = " ".join(e.description or "" for e in everything)
    assert shown.split() == text.split()  # nothing cut, nothing added
    assert everything[0].author.name == "Therapeutic Alliance · curated by Mee Young Jeong"
    details = [e for e in everything if e.title == "About this card"]
    assert len(details) == 1
    assert [f.name for f in details[0].fields][:2] == ["Article", "Article"]  # a long article over two fields
    assert details[0].footer.text == f"card {CARD} · 2 views in this server"


def test_a_search_page_lists_each_hit_with_its_collection_snippet_and_views(service: CardService) -> None:
    result = service.search("working alliance", limit=5)
    counts = {result.details[0].card.id: 4}
    embed = embeds.search_page_embed(
        result.page.hits, result.details, total=result.page.total, offset=0, query="working alliance", counts=counts
    )
    assert embed.title == "3 cards match “working alliance”"
    names = [f.name for f in embed.fields]
    assert names == [f"{n}. Therapeutic Alliance · {d.card.id}" for n, d in enumerate(result.details, 1)]
    assert "**" in (embed.fields[0].value or "")  # the matched words in bold
    assert (embed.fields[0].value or "").endswith("-# 4 views")
    assert (embed.fields[1].value or "").endswith("-# 0 views")
    assert embed.footer.text == "Showing 1–3 of 3 · pick a card below to open it"
    _within_limits(embed)


def test_a_hostile_query_is_escaped_in_the_title(service: CardService) -> None:
    query = "**@everyone** " + "x" * 400
    embed = embeds.search_page_embed((), (), total=0, offset=0, query=query, counts={})
    assert "@everyone" not in (embed.title or "")
    assert (embed.title or "").startswith("0 cards match “\\*\\*@\u200beveryone\\*\\*")
    _within_limits(embed)


def test_a_cite_page_shows_how_each_card_writes_the_reference(service: CardService) -> None:
    result = service.cite("Horvath")
    hits = result.hits[0:5]
    embed = embeds.cite_page_embed(hits, total=len(result.hits), offset=0, query=" Horvath ", counts={})
    assert embed.title == f"{len(result.hits)} cards cite “Horvath”"
    assert (embed.fields[0].value or "").startswith(f"cites it as “{hits[0].written}”")
    assert embed.footer.text == f"Showing 1–{len(hits)} of {len(result.hits)} · pick a card below to open it"
    _within_limits(embed)


def test_a_source_in_bibtex_is_a_code_block_and_other_styles_are_text(service: CardService, detail: CardDetail) -> None:
    bibtex = service.source(CARD, "bibtex") or ""
    embed = embeds.source_embed(detail, "bibtex", bibtex + "```")
    assert embed.title == f"Source of {CARD} (bibtex)"
    assert (embed.description or "").startswith("```bibtex\n")
    assert (embed.description or "").count("```") == 2  # a fence in the text cannot close the block
    plain = embeds.source_embed(detail, "plain", "*Title*")
    assert plain.description == "\\*Title\\*"


def test_stats_show_the_total_the_top_cards_and_each_collection() -> None:
    embed = embeds.stats_embed(
        guild_name="Study Group", total=5, top=[("c-001", 4, "A *card*"), ("c-002", 1, "B")], per_collection=[("T", 5)]
    )
    assert embed.title == "Card views in Study Group"
    assert embed.description == "**5** card views in this server."
    assert [(f.name, f.value) for f in embed.fields] == [
        ("Most viewed cards", "`c-001` · 4 · A \\*card\\*\n`c-002` · 1 · B"),
        ("Views per collection", "T: 5"),
    ]
    empty = embeds.stats_embed(guild_name="New", total=0, top=[], per_collection=[])
    assert [f.name for f in empty.fields] == ["Nothing yet"]


def test_collections_and_help_name_the_curators_and_every_command(service: CardService) -> None:
    summaries = service.collections()
    page = embeds.collections_embed(summaries, {"therapeutic-alliance": 7}, offset=0, total=len(summaries))
    assert page.title == "1 collection"
    assert page.fields[0].name == "Therapeutic Alliance"
    assert "curated by Mee Young Jeong · 10 cards · 7 views in this server" in (page.fields[0].value or "")
    help_embed = embeds.help_embed(cards=10, collections=summaries)
    for usage, example, _what in embeds.HELP:
        assert f"**{usage}**" in (help_embed.description or "")
        assert f"`{example}`" in (help_embed.description or "")
    assert "10 cards in 1 curated collection (curated by Mee Young Jeong)" in (help_embed.fields[0].value or "")
    _within_limits(page)
    _within_limits(help_embed)


def test_a_card_edited_in_place_shows_its_new_text_though_the_old_one_was_shown_last(detail: CardDetail) -> None:
    assert embeds.card_embed(detail).embed.description == discord.utils.escape_markdown(detail.card.text)
    edited = _with_text(detail, "The alliance predicts outcome.", article="A new article")
    embed = embeds.card_embed(edited).embed
    assert embed.description == "The alliance predicts outcome."
    assert embed.fields[0].value == "A new article"
    assert embeds.card_embed(detail).embed.description == discord.utils.escape_markdown(detail.card.text)


def test_a_card_with_long_fields_gives_its_text_the_room_its_footer_leaves(detail: CardDetail) -> None:
    crowded = _with_text(detail, "word " * 800, article="article " * 300, type="type " * 300)
    topics = tuple(f"topic number {i}" for i in range(200))
    crowded = dataclasses.replace(  # four fields of 1,024 characters: the text has less than its usual room
        crowded, card=msgspec.structs.replace(crowded.card, topics=topics), references=detail.references * 40
    )
    few = embeds.card_embed(crowded, views=1)
    many = embeds.card_embed(crowded, views=10**15)  # a longer footer: less room for the text
    for render in (few, many, embeds.card_embed(crowded, views=1)):
        assert render.truncated
        _within_limits(render.embed)
    assert len(many.embed.description or "") < len(few.embed.description or "")
    assert embeds.card_embed(crowded, views=1).embed.description == few.embed.description
