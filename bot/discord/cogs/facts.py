"""``/fact``: random, search, cite, show, source, stats, collections, today and help.

Commands are thin: they read the interaction, call :class:`bot.service.CardService` and the view log, and render
with :mod:`bot.discord.embeds`. Every card shown is recorded as a view (without waiting for the disk).

Result lists (search, cite, collections) keep no view object: their state is a small tuple in
:class:`bot.discord.ui.ResultLists` (``self.lists``), the buttons are dynamic items that call
:meth:`FactsCog.turn_page`, and one sweeper task (started in ``cog_load``, stopped in ``cog_unload``) disables
the components of the lists whose time ran out, through each list's interaction webhook.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord import choices, embeds, replies
from bot.discord.charts import attach_chart
from bot.discord.checks import in_guild, per_user_cooldown
from bot.discord.daily_questions import question_post
from bot.discord.errors import NO_MENTIONS, reply
from bot.discord.inputs import COLLECTION_MAX, QUERY_MAX, TOPIC_MAX, CardId, CollectionId, Query, ReferenceText, Topic
from bot.discord.reports import ReportsCog
from bot.discord.ui import (
    NOT_YOURS,
    CardOption,
    ListState,
    OpenCardMenu,
    Page,
    PageButton,
    ResultLists,
    card_message,
    disabled_copy,
    expired_text,
    list_components,
)
from bot.insights import SearchMisses, views_chart_of
from bot.service import CardDetail, CardService, CiteHit, Pick, SearchResult
from bot.settings import Settings
from bot.storage import Storage, ViewEvent
from bot.storage.daily import DailyMode

if TYPE_CHECKING:
    from bot.discord.app import FactdeckBot

log = logging.getLogger(__name__)

__all__ = ["PAGE_SIZE", "SWEEP_EVERY", "FactsCog"]

PAGE_SIZE = 5
#: Days the /fact stats chart shows.
STATS_DAYS = 30
COLLECTIONS_PER_PAGE = 5
#: The sweeper's longest pause between two looks for expired result lists (seconds; shorter for short timeouts).
SWEEP_EVERY = 5.0
#: How many expired lists the sweeper edits at once.
SWEEP_BATCH = 50
#: The kinds of result list (the letters their custom ids carry, see :data:`bot.discord.ui.KINDS`).
SEARCH, CITE, COLLECTIONS = "s", "c", "l"
#: What /fact stats shows for a viewed card no longer served here.
GONE_CARD = "(no longer in the deck)"


def _no_pick(pick: Pick, topic: str | None, collection: str | None) -> str:
    """Why /fact random found no card, and where to look instead (what was asked for is echoed, cut)."""
    if pick.reason == "collection":
        shown = embeds.safe(collection or "", COLLECTION_MAX)
        return f"There is no collection “{shown}”. /fact collections lists them."
    if pick.reason == "topic":
        close = ", ".join(f"“{embeds.safe(t, TOPIC_MAX)}”" for t in pick.close)
        hint = f" Did you mean {close}?" if close else " Start typing in the topic option for suggestions."
        return f"No card has the topic “{embeds.safe(topic or '', TOPIC_MAX)}”.{hint}"
    return "No card has that topic in that collection; /fact collections shows each collection's topics."


#: Above a search page ranked by meaning: no card has every word, so the closest ones are shown.
MEANING_NOTE = "Closest in meaning to your question (no card has all of those words)."


def _no_hits(reason: str | None, query: str) -> str:
    """Why /fact search shows nothing: the index's reason (an empty query), or no card matching."""
    if reason:
        return embeds.safe(reason)
    return f"No card matches “{embeds.safe(query, QUERY_MAX)}”. Try fewer or other words, or /fact help."


@functools.lru_cache(maxsize=4096)
def _short(text: str, limit: int) -> str:
    """``text`` on one line (each run of white space one space), cut to ``limit`` characters at a word boundary.

    The result depends only on the first ``limit + 1`` characters of the line, so only the head of a long card's
    text is split and joined (the whole text was, for each card of every page of results); and it is kept for
    the cards shown last (a card's text is the same string object for as long as the card is served, so looking
    it up costs no hashing after the first time)."""
    line = " ".join(text[: limit * 4].split())
    if len(line) <= limit:  # a short text, or one with much white space: the whole text decides
        line = " ".join(text.split())
    return embeds.clip(line, limit)[0]


async def _search(
    service: CardService,
    query: str,
    *,
    topic: str | None,
    collection: str | None,
    offset: int = 0,
    viewer: int | None,
) -> SearchResult:
    """A page of search results, off the event loop when the search may run the sentence-embedding model or compare
    vectors; on it when searches are by words only (as before search by meaning: a worker thread costs about 50 µs
    of CPU an interaction, and the search by words it would carry is well under a millisecond at 10,000 cards)."""
    if service.by_words_only:
        return service.search(
            query, topic=topic, collection=collection, limit=PAGE_SIZE, offset=offset, viewer=viewer, mode="lexical"
        )
    return await asyncio.to_thread(
        service.search, query, topic=topic, collection=collection, limit=PAGE_SIZE, offset=offset, viewer=viewer
    )


class _SearchPages:
    def __init__(
        self,
        cog: FactsCog,
        query: str,
        *,
        topic: str | None,
        collection: str | None,
        guild_id: int | None,
        first: SearchResult | None = None,
    ) -> None:
        self.cog, self.query, self.first = cog, query, first
        self.topic, self.collection, self.guild_id = topic, collection, guild_id

    async def page(self, number: int) -> Page:
        result = (
            self.first
            if number == 0 and self.first is not None
            else await _search(
                self.cog.service,
                self.query,
                topic=self.topic,
                collection=self.collection,
                offset=number * PAGE_SIZE,
                viewer=self.guild_id,
            )
        )
        counts = await self.cog.storage.views.counts([d.card.id for d in result.details], self.guild_id)
        return self.cog.search_renders.page(result, counts, number)


class _SearchRenders:
    """The search pages shown last, as rendered (embed and menu options) with the views they showed.

    A popular search asked again gets the same page from the index and the same cards' details from the service:
    rendering it again would give the same page, unless a card on it was viewed since (its views are on the page).
    Kept by the identity of the index's page (held here, so its id is not reused) and of each card's details."""

    __slots__ = ("_kept", "_link", "_size")

    def __init__(self, link: Callable[[str], str | None], size: int = 256) -> None:
        self._link = link
        self._size = size
        self._kept: dict[int, tuple[SearchResult, tuple[int, ...], int, Page]] = {}

    def page(self, result: SearchResult, counts: dict[str, int], number: int) -> Page:
        """Page ``number`` of the results, showing ``result`` with the views in ``counts``."""
        page, details = result.page, result.details
        views = tuple(counts.get(d.card.id, 0) for d in details)
        kept = self._kept.get(id(page))
        if (
            kept is not None
            and kept[0].page is page
            and kept[1] == views
            and kept[2] == number
            and kept[0].by_meaning == result.by_meaning
            and len(kept[0].details) == len(details)
            and all(a is b for a, b in zip(kept[0].details, details, strict=True))
        ):
            return kept[3]
        rendered = self._render(result, counts, number)
        self._kept.pop(id(page), None)
        self._kept[id(page)] = (result, views, number, rendered)
        if len(self._kept) > self._size:
            del self._kept[next(iter(self._kept))]
        return rendered

    def _render(self, result: SearchResult, counts: dict[str, int], number: int) -> Page:
        page = result.page
        embed = embeds.search_page_embed(
            page.hits,
            result.details,
            total=page.total,
            offset=page.offset,
            query=page.query,
            counts=counts,
            note=MEANING_NOTE if result.by_meaning else page.message,
            link=self._link,
        )
        options = tuple(
            CardOption(detail.card.id, f"{n}. {detail.card.id}", _short(detail.card.text, 100))
            for n, detail in enumerate(result.details, page.offset + 1)
        )
        return Page(embed, options, has_prev=number > 0, has_next=page.offset + len(page.hits) < page.total)


class _CitePages:
    def __init__(self, cog: FactsCog, query: str, hits: Sequence[CiteHit], guild_id: int | None) -> None:
        self.cog, self.query, self.hits, self.guild_id = cog, query, hits, guild_id

    async def page(self, number: int) -> Page:
        offset = number * PAGE_SIZE
        hits = self.hits[offset : offset + PAGE_SIZE]
        counts = await self.cog.storage.views.counts([h.detail.card.id for h in hits], self.guild_id)
        embed = embeds.cite_page_embed(hits, total=len(self.hits), offset=offset, query=self.query, counts=counts)
        options = tuple(
            CardOption(h.detail.card.id, f"{n}. {h.detail.card.id}", _short(h.written, 100))
            for n, h in enumerate(hits, offset + 1)
        )
        return Page(embed, options, has_prev=number > 0, has_next=offset + len(hits) < len(self.hits))


class _CollectionPages:
    def __init__(self, cog: FactsCog, views: dict[str, int], guild_id: int | None) -> None:
        self.summaries = cog.service.collections(viewer=guild_id)
        self.views = views

    async def page(self, number: int) -> Page:
        offset = number * COLLECTIONS_PER_PAGE
        shown = self.summaries[offset : offset + COLLECTIONS_PER_PAGE]
        embed = embeds.collections_embed(shown, self.views, offset=offset, total=len(self.summaries))
        return Page(embed, has_prev=number > 0, has_next=offset + len(shown) < len(self.summaries))


class FactsCog(commands.GroupCog, group_name="fact", group_description="Curated fact cards: random, search, cite"):
    """The reader's commands. Dependencies come in through the constructor."""

    def __init__(
        self,
        service: CardService,
        storage: Storage,
        settings: Settings,
        *,
        client: discord.Client | None = None,
        lists: ResultLists | None = None,
        todays_card: Callable[[int], Awaitable[str | None]] | None = None,
        todays_mode: Callable[[int], Awaitable[DailyMode]] | None = None,
    ) -> None:
        """``client`` routes the list components to this cog and edits expired lists (without it lists are kept
        but nothing is registered or swept); ``lists`` defaults to a store with ``settings.results_timeout``;
        ``todays_card(guild_id)`` is the id of the server's daily card for ``/fact today`` (without it: none) and
        ``todays_mode(guild_id)`` whether the daily post asks it as a question (then so does ``/fact today``)."""
        self.service = service
        self.storage = storage
        self.settings = settings
        self.client = client
        self.lists = lists if lists is not None else ResultLists(ttl=settings.results_timeout)
        self.todays_card = todays_card
        self.todays_mode = todays_mode
        #: Counts the searches that found nothing (curator insights).
        self.misses = SearchMisses(storage.searches, threshold=settings.insights.miss_score)
        self.search_renders = _SearchRenders(settings.web.card_url)
        self._sweeper: asyncio.Task[None] | None = None
        super().__init__()

    @classmethod
    def from_bot(cls, bot: FactdeckBot) -> FactsCog:
        """The cog factory used by :data:`bot.discord.app.COGS`."""
        return cls(
            bot.service,
            bot.storage,
            bot.settings,
            client=bot,
            todays_card=bot.daily.today,
            todays_mode=bot.daily.today_mode,
        )

    async def cog_load(self) -> None:
        """Route the result-list components here and start the sweeper."""
        if self.client is not None:
            self.client.add_dynamic_items(PageButton, OpenCardMenu)
            self._sweeper = asyncio.create_task(self._sweep_forever(), name="factdeck-result-lists")

    async def cog_unload(self) -> None:
        """Stop the sweeper and stop routing the result-list components (a click then does nothing)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        if self.client is not None:
            self.client.remove_dynamic_items(PageButton, OpenCardMenu)

    # ------------------------------------------------------------------------------------------ helpers
    def _record(self, interaction: discord.Interaction, card_id: str, command: str) -> None:
        self.storage.views.record(
            ViewEvent(card_id, interaction.guild_id, interaction.channel_id, interaction.user.id, command)
        )

    async def _views_here(self, interaction: discord.Interaction, card_id: str) -> int | None:
        if interaction.guild_id is None:
            return None
        return await self.storage.views.count(card_id, interaction.guild_id)

    async def show_card(
        self,
        interaction: discord.Interaction,
        detail: CardDetail,
        command: str,
        *,
        ephemeral: bool = False,
        note: str | None = None,
    ) -> None:
        """Log that ``detail`` was shown (a view) and reply with its embed (plus "Read more" when it was cut)."""
        self._record(interaction, detail.card.id, command)
        views = await self._views_here(interaction, detail.card.id)
        await replies.send(
            interaction,
            note,
            ephemeral=ephemeral,
            allowed_mentions=NO_MENTIONS,
            **card_message(detail, views=views, link=self.settings.web.card_url(detail.card.id)),
        )

    async def send_full_card(self, interaction: discord.Interaction, card_id: str) -> None:
        """The whole card, ephemerally, over as many messages as it needs ("Read more": ``card_id`` is the served
        key of the card shown)."""
        detail = self.service.detail(card_id, viewer=interaction.guild_id, exact=True)
        if detail is None:
            await reply(interaction, "That card is no longer in the deck.")
            return
        messages = embeds.full_card_messages(detail, views=await self._views_here(interaction, detail.card.id))
        await interaction.response.send_message(embeds=messages[0], ephemeral=True, allowed_mentions=NO_MENTIONS)
        for more in messages[1:]:
            await interaction.followup.send(embeds=more, ephemeral=True, allowed_mentions=NO_MENTIONS)

    async def open_card(self, interaction: discord.Interaction, card_id: str) -> None:
        """A card picked from a result list (``card_id``: the served key it was listed under): shown to the picker
        alone, and counted as a view."""
        detail = self.service.detail(card_id, viewer=interaction.guild_id, exact=True)
        if detail is None:
            await reply(interaction, "That card is no longer in the deck.")
            return
        await self.show_card(interaction, detail, "open", ephemeral=True)

    # ------------------------------------------------------------------------------------- result lists
    async def _send_pages(
        self,
        interaction: discord.Interaction,
        kind: str,
        source: _SearchPages | _CitePages | _CollectionPages,
        *,
        query: str = "",
        topic: str | None = None,
        collection: str | None = None,
        ephemeral: bool = False,
    ) -> None:
        """Reply with page 0 of ``source``; keep the list's state when it has components."""
        page = await source.page(0)
        paged = page.has_prev or page.has_next
        pick = kind != COLLECTIONS
        menu = pick and bool(page.options)
        if not paged and not menu:
            await replies.send(interaction, embed=page.embed, ephemeral=ephemeral, allowed_mentions=NO_MENTIONS)
            return
        key = self.lists.add(
            kind,
            owner_id=interaction.user.id,
            guild_id=interaction.guild_id,
            token=interaction.token,
            paged=paged,
            menu=menu,
            query=query,
            topic=topic,
            collection=collection,
        )
        try:
            await replies.send(
                interaction,
                embed=page.embed,
                view=list_components(kind, key, page, paged=paged, menu=pick),
                ephemeral=ephemeral,
                allowed_mentions=NO_MENTIONS,
            )
        except BaseException:
            self.lists.discard(key)
            raise

    async def _source(self, state: ListState) -> _SearchPages | _CitePages | _CollectionPages:
        """The pages of a kept list, searched again (cheap) for the page asked for."""
        if state.kind == CITE:
            hits = self.service.cite(state.query, viewer=state.guild_id).hits
            return _CitePages(self, state.query, hits, state.guild_id)
        if state.kind == COLLECTIONS:
            return _CollectionPages(self, await self._collection_views(state.guild_id), state.guild_id)
        return _SearchPages(self, state.query, topic=state.topic, collection=state.collection, guild_id=state.guild_id)

    async def turn_page(self, interaction: discord.Interaction, kind: str | None, key: str | None, step: int) -> None:
        """Previous / Next on a result list: only its owner may page; a list no longer kept says it expired."""
        state = self.lists.get(key)
        if state is None:
            self.lists.discard(key)
            await self._expired(interaction, kind)
            return
        assert key is not None
        if interaction.user.id != state.owner_id:
            await interaction.response.send_message(NOT_YOURS, ephemeral=True)
            return
        number = max(state.page + step, 0)
        page = await (await self._source(state)).page(number)
        pick = state.kind != COLLECTIONS
        # The click's token edits the same message and is fresher than the command's: the sweeper uses it. It is
        # kept before the reply goes out, so a sweep that runs while the reply is on its way sees the fresh list.
        self.lists.turned(key, state, page=number, menu=pick and bool(page.options), token=interaction.token)
        await replies.edit(
            interaction, embed=page.embed, view=list_components(state.kind, key, page, paged=state.paged, menu=pick)
        )

    async def _expired(self, interaction: discord.Interaction, kind: str | None) -> None:
        """Disable the clicked list's components (the click's own response edits it) and say it expired."""
        if interaction.message is not None:
            try:
                await interaction.response.edit_message(view=disabled_copy(interaction.message))
            except discord.HTTPException as exc:
                log.info("could not disable the components of an expired result list: %s", exc)
        await reply(interaction, expired_text(kind))

    async def _sweep_forever(self) -> None:
        every = min(SWEEP_EVERY, max(self.lists.ttl / 4, 0.05))
        while True:
            await asyncio.sleep(every)
            try:
                await self.sweep()
            except Exception:
                log.exception("could not sweep the expired result lists")

    async def sweep(self) -> int:
        """Forget every expired (or evicted) result list and disable its components; return how many."""
        due = self.lists.due()
        client = self.client
        if client is None or client.application_id is None or client.is_closed():
            return len(due)
        for start in range(0, len(due), SWEEP_BATCH):
            await asyncio.gather(
                *(self._disable(client, client.application_id, key, s) for key, s in due[start : start + SWEEP_BATCH])
            )
        return len(due)

    @staticmethod
    async def _disable(client: discord.Client, application_id: int, key: str, state: ListState) -> None:
        webhook = discord.Webhook.partial(application_id, state.token, client=client)
        view = list_components(state.kind, key, None, paged=state.paged, menu=state.menu)
        try:
            await webhook.edit_message("@original", view=view)  # type: ignore[call-overload]  # the route takes it
        except discord.HTTPException as exc:
            log.info("could not disable the components of an expired result list: %s", exc)

    # ----------------------------------------------------------------------------------------- commands
    @app_commands.command(name="random", description="A random card you have not seen in this server yet")
    @app_commands.describe(topic="Only cards with this topic", collection="Only cards from this collection")
    @per_user_cooldown("random")
    async def random_card(
        self,
        interaction: discord.Interaction,
        topic: Topic | None = None,
        collection: CollectionId | None = None,
    ) -> None:
        """/fact random."""
        seen = await self.storage.views.seen_by_user(interaction.user.id, interaction.guild_id)
        pick = self.service.random(topic=topic, collection=collection, avoid=seen, viewer=interaction.guild_id)
        if pick.detail is None:
            await reply(interaction, _no_pick(pick, topic, collection))
            return
        note = None
        if pick.exhausted:
            note = "You have seen every card that matches here, so this one is a repeat."
        await self.show_card(interaction, pick.detail, "random", note=note)

    @app_commands.command(name="search", description="Search the cards by words, topics or article")
    @app_commands.describe(
        query="Words to look for, e.g. working alliance",
        topic="Only cards with this topic",
        collection="Only cards from this collection",
    )
    @per_user_cooldown("search")
    async def search(
        self,
        interaction: discord.Interaction,
        query: Query,
        topic: Topic | None = None,
        collection: CollectionId | None = None,
    ) -> None:
        """/fact search."""
        result = await _search(self.service, query, topic=topic, collection=collection, viewer=interaction.guild_id)
        self.misses.search(query, [hit.score for hit in result.page.hits], interaction.guild_id)
        if not result.page.hits:
            await reply(interaction, _no_hits(result.page.message, query))
            return
        source = _SearchPages(
            self, query, topic=topic, collection=collection, guild_id=interaction.guild_id, first=result
        )
        await self._send_pages(interaction, SEARCH, source, query=query, topic=topic, collection=collection)

    @app_commands.command(name="cite", description="The cards that cite a work, e.g. Horvath & Symonds 1991")
    @app_commands.describe(reference="An author, author and year, or a reference number")
    @per_user_cooldown("cite")
    async def cite(self, interaction: discord.Interaction, reference: ReferenceText) -> None:
        """/fact cite."""
        result = self.service.cite(reference, viewer=interaction.guild_id)
        self.misses.cite(reference, len(result.hits), interaction.guild_id)
        if not result.hits:
            await reply(interaction, embeds.safe(result.message or f"No card cites “{reference}”."))
            return
        source = _CitePages(self, reference, result.hits, interaction.guild_id)
        await self._send_pages(interaction, CITE, source, query=reference)

    @app_commands.command(name="show", description="Show one card by its id")
    @app_commands.describe(card="The card id (start typing for suggestions)")
    async def show(self, interaction: discord.Interaction, card: CardId) -> None:
        """/fact show."""
        detail = self.service.detail(card.strip(), viewer=interaction.guild_id)
        if detail is None:
            await reply(interaction, self._unknown_card(card))
            return
        await self.show_card(interaction, detail, "show")

    @app_commands.command(name="report", description="Report a problem with a card to the moderators")
    @app_commands.describe(card="The card id (start typing for suggestions)")
    async def report(self, interaction: discord.Interaction, card: CardId) -> None:
        """/fact report: the same form as the "Report a problem" button under every card."""
        reports = interaction.client.get_cog("ReportsCog") if isinstance(interaction.client, commands.Bot) else None
        if not isinstance(reports, ReportsCog):
            await reply(interaction, "Reports are not available right now.")
            return
        await reports.open_form(interaction, card.strip())

    @app_commands.command(name="source", description="Where a card comes from, as a formatted reference")
    @app_commands.describe(card="The card id (start typing for suggestions)", style="Citation style (default plain)")
    async def source(
        self,
        interaction: discord.Interaction,
        card: CardId,
        style: Literal["apa", "mla", "bibtex", "plain"] = "plain",
    ) -> None:
        """/fact source."""
        detail = self.service.detail(card.strip(), viewer=interaction.guild_id)
        text = self.service.source(detail.card.id, style) if detail is not None else None
        if detail is None or text is None:
            await reply(interaction, self._unknown_card(card))
            return
        await interaction.response.send_message(
            embed=embeds.source_embed(detail, style, text), allowed_mentions=NO_MENTIONS
        )

    @app_commands.command(name="stats", description="Total views and the most viewed cards in this server")
    @in_guild()
    async def stats(self, interaction: discord.Interaction) -> None:
        """/fact stats."""
        assert interaction.guild_id is not None  # in_guild() refused direct messages
        by_card = await self.storage.views.views_by_card(interaction.guild_id)  # one tally: total, top, collections
        library, here = self.service.library, interaction.guild_id
        top = [
            (card_id, n, _short(d.card.text, 80) if (d := self.service.detail(card_id, here)) else GONE_CARD)
            for card_id, n in sorted(by_card.items(), key=lambda item: (-item[1], item[0]))[:10]
        ]
        collections = [
            (library.collections[c].title, n)
            for c, n in self.service.views_per_collection(by_card, viewer=here).items()
            if c in library.collections
        ]
        guild_name = interaction.guild.name if interaction.guild else "this server"
        total = sum(by_card.values())
        embed = embeds.stats_embed(guild_name=guild_name, total=total, top=top, per_collection=collections)
        await interaction.response.defer(thinking=True)  # the chart is drawn in a worker thread
        chart = await views_chart_of(self.service, self.storage, guild_id=interaction.guild_id, days=STATS_DAYS)
        files = await attach_chart(embed, chart, title=f"Views per day, last {STATS_DAYS} days")
        await interaction.followup.send(embed=embed, files=files, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="collections", description="The curated collections, with their cards and views")
    async def collections(self, interaction: discord.Interaction) -> None:
        """/fact collections."""
        views = await self._collection_views(interaction.guild_id)
        await self._send_pages(interaction, COLLECTIONS, _CollectionPages(self, views, interaction.guild_id))

    async def _collection_views(self, guild_id: int | None) -> dict[str, int]:
        """Views in ``guild_id`` per collection id (none outside a server)."""
        by_card = await self.storage.views.views_by_card(guild_id) if guild_id else {}
        return self.service.views_per_collection(by_card, viewer=guild_id)

    @app_commands.command(name="help", description="What each /fact command does, with examples")
    async def help(self, interaction: discord.Interaction) -> None:
        """/fact help."""
        here = interaction.guild_id
        embed = embeds.help_embed(cards=len(self.service.pool(viewer=here)), collections=self.service.collections(here))
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @staticmethod
    def _unknown_card(card: str) -> str:
        return (
            f"There is no card “{embeds.safe(card.strip(), 100)}”. Start typing in the card option for "
            "suggestions, or find one with /fact search."
        )

    @app_commands.command(name="today", description="Today's daily fact card in this server")
    @in_guild()
    async def today(self, interaction: discord.Interaction) -> None:
        """/fact today: the server's daily card (the one the daily post shows, all day); counted as a view."""
        assert interaction.guild_id is not None  # in_guild() refused direct messages
        card_id = await self.todays_card(interaction.guild_id) if self.todays_card is not None else None
        detail = self.service.detail(card_id, viewer=interaction.guild_id, exact=True) if card_id else None
        if detail is None:
            await reply(interaction, "There is no card for today: no card matches this server's daily filters.")
            return
        mode = await self.todays_mode(interaction.guild_id) if self.todays_mode is not None else "fact"
        question = question_post(detail.card, self.service.library) if mode == "question" else None
        if question is not None:  # the daily post asks it: the answer stays behind its Reveal button here too
            await interaction.response.send_message(allowed_mentions=NO_MENTIONS, **question)
            return
        await self.show_card(interaction, detail, "today")

    # ------------------------------------------------------------------------------------- autocomplete
    @random_card.autocomplete("topic")
    @search.autocomplete("topic")
    async def topic_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Topics, best match first."""
        return choices.topics(self.service, current, interaction.guild_id)

    @random_card.autocomplete("collection")
    @search.autocomplete("collection")
    async def collection_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Collections as "Title (id)"; the value is the id."""
        return choices.collections(self.service, current, interaction.guild_id)

    @cite.autocomplete("reference")
    async def reference_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Cited works, most cited first, with how many cards cite each."""
        return choices.references(self.service, current, interaction.guild_id)

    @show.autocomplete("card")
    @report.autocomplete("card")
    @source.autocomplete("card")
    async def card_autocomplete(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        """Cards as "id · start of the text"; the value is the id. A question (several words) is searched by meaning
        too, in a worker thread."""
        return await asyncio.to_thread(choices.cards, self.service, current, interaction.guild_id)
