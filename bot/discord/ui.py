"""Message components: paged results (Previous / Next / open a card) and the "Read more" button.

:class:`ResultsView` pages any :class:`PageSource`; only the person who asked may page, anyone may open a card
(it comes back to them ephemerally, and counts as a view). When the view times out it edits its message to
disable the components. :class:`ReadMore` is a dynamic item (its custom id carries the card id), so it keeps
working after a restart and needs no timeout.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import discord

from bot.discord.embeds import clip

if TYPE_CHECKING:
    from bot.discord.app import FactdeckBot

log = logging.getLogger(__name__)

__all__ = ["CardOption", "Page", "PageSource", "ReadMore", "ResultsView", "card_view"]

NOT_YOURS = "Only the person who searched can page; run /fact search yourself."


@dataclass(frozen=True, slots=True)
class CardOption:
    """A card offered in the "open a card" menu."""

    card_id: str
    label: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class Page:
    """One page: its embed, the cards it lists, and whether there is a page before and after it."""

    embed: discord.Embed
    options: tuple[CardOption, ...] = ()
    has_prev: bool = False
    has_next: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class PageSource(Protocol):
    """Something that can render page ``number`` (0-based)."""

    async def page(self, number: int) -> Page:
        """Render page ``number``."""
        ...


OpenCard = Callable[[discord.Interaction, str], Awaitable[None]]


class _Nav(discord.ui.Button["ResultsView"]):
    def __init__(self, label: str, step: int, custom_id: str) -> None:
        super().__init__(label=label, style=discord.ButtonStyle.secondary, custom_id=custom_id)
        self.step = step

    async def callback(self, interaction: discord.Interaction) -> None:
        assert self.view is not None
        await self.view.turn(interaction, self.step)


class _Open(discord.ui.Select["ResultsView"]):
    def __init__(self) -> None:
        super().__init__(
            placeholder="Open a card…",
            min_values=1,
            max_values=1,
            custom_id="factdeck:results:open",
            options=[discord.SelectOption(label="-", value="-")],
        )

    async def callback(self, interaction: discord.Interaction) -> None:
        assert self.view is not None
        await self.view.open(interaction, self.values[0])


class ResultsView(discord.ui.View):
    """Previous / Next buttons and an "Open a card" menu over a :class:`PageSource`."""

    def __init__(
        self,
        source: PageSource,
        *,
        owner_id: int,
        open_card: OpenCard | None,
        timeout: float,
        not_owner: str = NOT_YOURS,
    ) -> None:
        super().__init__(timeout=timeout)
        self.source = source
        self.owner_id = owner_id
        self.open_card = open_card
        self.not_owner = not_owner
        self.number = 0
        self.message: discord.InteractionMessage | discord.Message | None = None
        #: Instead of ``message``: the interaction whose original response carries this view. Lighter to keep for
        #: the whole timeout than the parsed message (its embeds and components); edited the same way.
        self.original: discord.Interaction[Any] | None = None
        self.prev = _Nav("Previous", -1, "factdeck:results:prev")
        self.next = _Nav("Next", +1, "factdeck:results:next")
        self.menu = _Open()
        self.add_item(self.prev)
        self.add_item(self.next)

    def show(self, page: Page) -> None:
        """Set the components for ``page``."""
        self.prev.disabled = not page.has_prev
        self.next.disabled = not page.has_next
        if self.menu in self.children:
            self.remove_item(self.menu)
        if page.options and self.open_card is not None:
            self.menu.options = [
                discord.SelectOption(
                    label=clip(o.label, 100)[0],
                    value=o.card_id,
                    description=clip(o.description, 100)[0] or None,
                )
                for o in page.options[:25]
            ]
            self.add_item(self.menu)

    @property
    def pages(self) -> bool:
        """Whether there is more than one page (else the buttons are left out)."""
        return not (self.prev.disabled and self.next.disabled)

    async def first(self) -> Page:
        """Render page 0 and set the components for it."""
        page = await self.source.page(0)
        self.show(page)
        if not self.pages:
            self.remove_item(self.prev)
            self.remove_item(self.next)
        return page

    async def turn(self, interaction: discord.Interaction, step: int) -> None:
        """Move ``step`` pages (owner only)."""
        if interaction.user.id != self.owner_id:
            await interaction.response.send_message(self.not_owner, ephemeral=True)
            return
        page = await self.source.page(max(self.number + step, 0))
        self.number = max(self.number + step, 0)
        self.show(page)
        await interaction.response.edit_message(embed=page.embed, view=self)

    async def open(self, interaction: discord.Interaction, card_id: str) -> None:
        """Open a card from the menu (anyone may; the card comes back to them alone)."""
        if self.open_card is not None:
            await self.open_card(interaction, card_id)

    async def on_timeout(self) -> None:
        """Disable every component on the message, so nobody clicks a dead button."""
        for item in self.children:
            if isinstance(item, discord.ui.Button | discord.ui.Select):
                item.disabled = True
        try:
            if self.message is not None:
                await self.message.edit(view=self)
            elif self.original is not None:
                await self.original.edit_original_response(view=self)
        except discord.HTTPException as exc:
            log.info("could not disable the components of a timed-out result list: %s", exc)

    async def on_error(self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item[Any]) -> None:
        """Log the traceback; tell the user briefly."""
        from bot.discord.app import report_error

        await report_error(interaction, error)


class ReadMore(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"factdeck:more:(?P<card>[a-z0-9][a-z0-9-]{0,79})"
):
    """A "Read more" button that sends the whole card to whoever presses it (works across restarts)."""

    def __init__(self, card_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Read more", style=discord.ButtonStyle.primary, custom_id=f"factdeck:more:{card_id}"
            )
        )
        self.card_id = card_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button[Any], match: re.Match[str], /
    ) -> ReadMore:
        """Rebuild the button from its custom id."""
        return cls(match["card"])

    async def callback(self, interaction: discord.Interaction) -> None:
        """Send the full card, ephemerally."""
        client: FactdeckBot = interaction.client  # type: ignore[assignment]
        facts = client.get_cog("FactsCog")
        if facts is None:
            await interaction.response.send_message("Cards are not available right now.", ephemeral=True)
            return
        await facts.send_full_card(interaction, self.card_id)  # type: ignore[attr-defined]


def card_view(card_id: str, *, truncated: bool) -> discord.ui.View | None:
    """The components under a card: "Read more" when something was cut. Never stored (the item is dynamic)."""
    if not truncated:
        return None
    view = discord.ui.View(timeout=None)
    view.add_item(ReadMore(card_id))
    view.stop()  # a finished view is not kept in the view store; the dynamic item routes the click
    return view
