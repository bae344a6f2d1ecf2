"""``/fact``: random, search, cite, show, source, stats, collections and help.

Commands are thin: they read the interaction, call :class:`bot.service.CardService` and the view log, and render
with :mod:`bot.discord.embeds`. Every card shown is recorded as a view (without waiting for the disk).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord import embeds
from bot.discord.errors import NO_MENTIONS, reply
from bot.discord.ui import CardOption, Page, ResultsView, card_view
from bot.service import CardService, CardView, CiteHit, SearchResult
from bot.settings import Settings
from bot.storage import Storage, View

if TYPE_CHECKING:
    from bot.discord.app import FactdeckBot

log = logging.getLogger(__name__)

__all__ = ["PAGE_SIZE", "FactsCog"]

PAGE_SIZE = 5
COLLECTIONS_PER_PAGE = 5
CHOICE_MAX = 100


def _cooldown(command: str) -> Callable[[discord.Interaction], app_commands.Cooldown | None]:
    """Dynamic cooldown factory: per user, with the rate from the settings (None: no cooldown)."""

    def factory(interaction: discord.Interaction) -> app_commands.Cooldown | None:
        settings: Settings | None = getattr(interaction.client, "settings", None)
        cooldown = settings.cooldown(command) if settings is not None else None
        return app_commands.Cooldown(cooldown.rate, cooldown.per) if cooldown is not None else None

    return factory


def _choice(name: str, value: str) -> app_commands.Choice[str]:
    return app_commands.Choice(
        name=embeds.clip(" ".join(name.split()), CHOICE_MAX)[0] or value[:CHOICE_MAX], value=value[:CHOICE_MAX]
    )


def _short(text: str, limit: int) -> str:
    return embeds.clip(" ".join(text.split()), limit)[0]


class _SearchPages:
    def __init__(
        self, cog: FactsCog, first: SearchResult, *, topic: str | None, collection: str | None, guild_id: int | None
    ) -> None:
        self.cog, self.first, self.topic, self.collection, self.guild_id = cog, first, topic, collection, guild_id

    async def page(self, number: int) -> Page:
        result = (
            self.first
            if number == 0
            else self.cog.service.search(
                self.first.page.query,
                topic=self.topic,
                collection=self.collection,
                limit=PAGE_SIZE,
                offset=number * PAGE_SIZE,
            )
        )
        page = result.page
        counts = await self.cog.storage.views.counts([v.card.id for v in result.views], self.guild_id)
        embed = embeds.search_page_embed(
            page.hits,
            result.views,
            total=page.total,
            offset=page.offset,
            query=page.query,
            counts=counts,
            note=page.message,
        )
        options = tuple(
            CardOption(v.card.id, f"{n}. {v.card.id}", _short(v.card.text, 100))
            for n, v in enumerate(result.views, page.offset + 1)
        )
        return Page(embed, options, has_prev=number > 0, has_next=page.offset + len(page.hits) < page.total)


class _CitePages:
    def __init__(self, cog: FactsCog, query: str, hits: tuple[CiteHit, ...], guild_id: int | None) -> None:
        self.cog, self.query, self.hits, self.guild_id = cog, query, hits, guild_id

    async def page(self, number: int) -> Page:
        offset = number * PAGE_SIZE
        hits = self.hits[offset : offset + PAGE_SIZE]
        counts = await self.cog.storage.views.counts([h.view.card.id for h in hits], self.guild_id)
        embed = embeds.cite_page_embed(hits, total=len(self.hits), offset=offset, query=self.query, counts=counts)
        options = tuple(
            CardOption(h.view.card.id, f"{n}. {h.view.card.id}", _short(h.written, 100))
            for n, h in enumerate(hits, offset + 1)
        )
        return Page(embed, options, has_prev=number > 0, has_next=offset + len(hits) < len(self.hits))


class _CollectionPages:
    def __init__(self, cog: FactsCog, views: dict[str, int]) -> None:
        self.summaries = cog.service.collections()
        self.views = views

    async def page(self, number: int) -> Page:
        offset = number * COLLECTIONS_PER_PAGE
        shown = self.summaries[offset : offset + COLLECTIONS_PER_PAGE]
        embed = embeds.collections_embed(shown, self.views, offset=offset, total=len(self.summaries))
        return Page(embed, has_prev=number > 0, has_next=offset + len(shown) < len(self.summaries))


class FactsCog(commands.GroupCog, group_name="fact", group_description="Curated fact cards: random, search, cite"):
    """The reader's commands. Dependencies come in through the constructor."""

    def __init__(self, service: CardService, storage: Storage, settings: Settings) -> None:
        self.service = service
        self.storage = storage
        self.settings = settings
        super().__init__()

    @classmethod
    def from_bot(cls, bot: FactdeckBot) -> FactsCog:
        """The cog factory used by :data:`bot.discord.app.COGS`."""
        return cls(bot.service, bot.storage, bot.settings)

    # ------------------------------------------------------------------------------------------ helpers
    def _record(self, interaction: discord.Interaction, card_id: str, command: str) -> None:
        self.storage.views.record(
            View(card_id, interaction.guild_id, interaction.channel_id, interaction.user.id, command)
        )

    async def _views_here(self, interaction: discord.Interaction, card_id: str) -> int | None:
        if interaction.guild_id is None:
            return None
        return await self.storage.views.count(card_id, interaction.guild_id)

    async def show_card(
        self,
        interaction: discord.Interaction,
        view: CardView,
        command: str,
        *,
        ephemeral: bool = False,
        note: str | None = None,
    ) -> None:
        """Record a view of ``view`` and reply with its embed (plus "Read more" when it was cut)."""
        self._record(interaction, view.card.id, command)
        render = embeds.card_embed(view, views=await self._views_here(interaction, view.card.id))
        components = card_view(view.card.id, truncated=render.truncated)
        await interaction.response.send_message(
            content=note,
            embed=render.embed,
            ephemeral=ephemeral,
            allowed_mentions=NO_MENTIONS,
            **({"view": components} if components is not None else {}),
        )

    async def send_full_card(self, interaction: discord.Interaction, card_id: str) -> None:
        """The whole card, ephemerally, over as many messages as it needs ("Read more")."""
        view = self.service.view(card_id)
        if view is None:
            await reply(interaction, "That card is no longer in the deck.")
            return
        messages = embeds.full_card_messages(view, views=await self._views_here(interaction, card_id))
        await interaction.response.send_message(embeds=messages[0], ephemeral=True, allowed_mentions=NO_MENTIONS)
        for more in messages[1:]:
            await interaction.followup.send(embeds=more, ephemeral=True, allowed_mentions=NO_MENTIONS)

    async def open_card(self, interaction: discord.Interaction, card_id: str) -> None:
        """A card picked from a result list: shown to the picker alone, and counted as a view."""
        view = self.service.view(card_id)
        if view is None:
            await reply(interaction, "That card is no longer in the deck.")
            return
        await self.show_card(interaction, view, "open", ephemeral=True)

    async def _send_pages(
        self,
        interaction: discord.Interaction,
        source: _SearchPages | _CitePages | _CollectionPages,
        *,
        pick: bool = True,
        ephemeral: bool = False,
    ) -> None:
        pager = ResultsView(
            source,
            owner_id=interaction.user.id,
            open_card=self.open_card if pick else None,
            timeout=self.settings.results_timeout,
        )
        page = await pager.first()
        if not pager.children:
            await interaction.response.send_message(embed=page.embed, ephemeral=ephemeral, allowed_mentions=NO_MENTIONS)
            pager.stop()
            return
        callback = await interaction.response.send_message(
            embed=page.embed, view=pager, ephemeral=ephemeral, allowed_mentions=NO_MENTIONS
        )
        # Keep the interaction, not the parsed message, for the timeout edit: same request, far less memory held.
        pager.original = interaction if isinstance(callback.resource, discord.InteractionMessage) else None

    # ----------------------------------------------------------------------------------------- commands
    @app_commands.command(name="random", description="A random card you have not seen in this server yet")
    @app_commands.describe(topic="Only cards with this topic", collection="Only cards from this collection")
    @app_commands.checks.dynamic_cooldown(_cooldown("random"))
    async def random_card(
        self, interaction: discord.Interaction, topic: str | None = None, collection: str | None = None
    ) -> None:
        """/fact random."""
        seen = await self.storage.views.seen_by_user(interaction.user.id, interaction.guild_id)
        pick = self.service.random(topic=topic, collection=collection, avoid=seen)
        if pick.view is None:
            await reply(interaction, embeds.safe(pick.message or "No card matches that."))
            return
        note = None
        if pick.exhausted:
            note = "You have seen every card that matches here, so this one is a repeat."
        await self.show_card(interaction, pick.view, "random", note=note)

    @app_commands.command(name="search", description="Search the cards by words, topics or article")
    @app_commands.describe(
        query="Words to look for, e.g. working alliance",
        topic="Only cards with this topic",
        collection="Only cards from this collection",
    )
    @app_commands.checks.dynamic_cooldown(_cooldown("search"))
    async def search(
        self,
        interaction: discord.Interaction,
        query: app_commands.Range[str, 1, 200],
        topic: str | None = None,
        collection: str | None = None,
    ) -> None:
        """/fact search."""
        result = self.service.search(query, topic=topic, collection=collection, limit=PAGE_SIZE)
        if not result.page.hits:
            await reply(interaction, embeds.safe(result.message or f"No card matches “{query}”."))
            return
        await self._send_pages(
            interaction, _SearchPages(self, result, topic=topic, collection=collection, guild_id=interaction.guild_id)
        )

    @app_commands.command(name="cite", description="The cards that cite a work, e.g. Horvath & Symonds 1991")
    @app_commands.describe(reference="An author, author and year, or a reference number")
    @app_commands.checks.dynamic_cooldown(_cooldown("cite"))
    async def cite(self, interaction: discord.Interaction, reference: app_commands.Range[str, 1, 200]) -> None:
        """/fact cite."""
        result = self.service.cite(reference)
        if not result.hits:
            await reply(interaction, embeds.safe(result.message or f"No card cites “{reference}”."))
            return
        await self._send_pages(interaction, _CitePages(self, reference, result.hits, interaction.guild_id))

    @app_commands.command(name="show", description="Show one card by its id")
    @app_commands.describe(card="The card id (start typing for suggestions)")
    async def show(self, interaction: discord.Interaction, card: app_commands.Range[str, 1, 100]) -> None:
        """/fact show."""
        view = self.service.view(card.strip())
        if view is None:
            await reply(interaction, self._unknown_card(card))
            return
        await self.show_card(interaction, view, "show")

    @app_commands.command(name="source", description="Where a card comes from, as a formatted reference")
    @app_commands.describe(card="The card id (start typing for suggestions)", style="Citation style (default plain)")
    async def source(
        self,
        interaction: discord.Interaction,
        card: app_commands.Range[str, 1, 100],
        style: Literal["apa", "mla", "bibtex", "plain"] = "plain",
    ) -> None:
        """/fact source."""
        view = self.service.view(card.strip())
        text = self.service.source(card.strip(), style) if view is not None else None
        if view is None or text is None:
            await reply(interaction, self._unknown_card(card))
            return
        await interaction.response.send_message(
            embed=embeds.source_embed(view, style, text), allowed_mentions=NO_MENTIONS
        )

    @app_commands.command(name="stats", description="Total views and the most viewed cards in this server")
    @app_commands.guild_only()
    async def stats(self, interaction: discord.Interaction) -> None:
        """/fact stats."""
        assert interaction.guild_id is not None
        stats = await self.storage.views.stats(interaction.guild_id, top=10)
        by_card = await self.storage.views.views_by_card(interaction.guild_id)
        library = self.service.library
        per_collection: dict[str, int] = {}
        for card_id, n in by_card.items():
            collection_id = library.card_collection.get(card_id)
            if collection_id is not None:
                per_collection[collection_id] = per_collection.get(collection_id, 0) + n
        top = []
        for card_id, n in stats.top_cards:
            card = library.cards.get(card_id)
            top.append((card_id, n, _short(card.text, 80) if card else "(no longer in the deck)"))
        collections = sorted(
            ((library.collections[c].title, n) for c, n in per_collection.items() if c in library.collections),
            key=lambda item: -item[1],
        )
        guild_name = interaction.guild.name if interaction.guild else "this server"
        embed = embeds.stats_embed(guild_name=guild_name, total=stats.total_views, top=top, per_collection=collections)
        await interaction.response.send_message(embed=embed, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="collections", description="The curated collections, with their cards and views")
    async def collections(self, interaction: discord.Interaction) -> None:
        """/fact collections."""
        by_card = await self.storage.views.views_by_card(interaction.guild_id) if interaction.guild_id else {}
        views: dict[str, int] = {}
        for card_id, n in by_card.items():
            collection_id = self.service.library.card_collection.get(card_id)
            if collection_id is not None:
                views[collection_id] = views.get(collection_id, 0) + n
        await self._send_pages(interaction, _CollectionPages(self, views), pick=False)

    @app_commands.command(name="help", description="What each /fact command does, with examples")
    async def help(self, interaction: discord.Interaction) -> None:
        """/fact help."""
        embed = embeds.help_embed(cards=len(self.service.library.cards), collections=self.service.collections())
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @staticmethod
    def _unknown_card(card: str) -> str:
        return (
            f"There is no card “{embeds.safe(card.strip(), 100)}”. Start typing in the card option for "
            "suggestions, or find one with /fact search."
        )

    # ------------------------------------------------------------------------------------- autocomplete
    @random_card.autocomplete("topic")
    @search.autocomplete("topic")
    async def topic_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Topics, best match first."""
        return [_choice(t, t) for t in self.service.topics(current, 25)[:25] if t.strip()]

    @random_card.autocomplete("collection")
    @search.autocomplete("collection")
    async def collection_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Collections as "Title (id)"; the value is the id."""
        return [_choice(label, cid) for cid, label in self.service.collection_choices(current, 25)[:25]]

    @cite.autocomplete("reference")
    async def reference_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Cited works, most cited first, with how many cards cite each."""
        return [
            _choice(f"{display} · {n} card{'s' if n != 1 else ''}", display)
            for display, n in self.service.references(current, 25)[:25]
            if display.strip()
        ]

    @show.autocomplete("card")
    @source.autocomplete("card")
    async def card_autocomplete(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        """Cards as "id · start of the text"; the value is the id."""
        return [_choice(f"{cid} · {label}", cid) for cid, label in self.service.card_choices(current, 25)[:25]]
