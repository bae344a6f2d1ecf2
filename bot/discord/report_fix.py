"""Fix, from the reports queue: the ``/cards edit`` form itself, and saving it closes the card's open reports.

The edit goes through :meth:`bot.discord.cogs.cards.CardsCog.finish_edit` like any other, through the curator of
the card's audience (a server's own card is written in that server's folder, and only from there), with a note
naming the reports it resolves in the edit's audit entry; the reports are then closed with that entry's id and the
reporters told by DM. An edit that changes nothing (or is refused) leaves the reports open.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import discord

from bot.cards.library import audience_of_key, local_id
from bot.cards.model import Card
from bot.curation import CardInput
from bot.discord.cogs.cards import CardModal, CardsCog, _too_long_for_the_form
from bot.discord.errors import NO_MENTIONS
from bot.discord.reports import ReportsCog

__all__ = ["FixModal", "open_fix_form"]


class FixModal(CardModal):
    """The edit form, opened from the queue on the card served as ``key`` (``opened`` as written in its file):
    saving closes ``report_ids``."""

    def __init__(
        self, cog: CardsCog, reports: ReportsCog, *, owner_id: int, key: str, opened: Card, report_ids: Sequence[int]
    ) -> None:
        audience = audience_of_key(key)
        super().__init__(cog, owner_id=owner_id, card_id=local_id(key), opened=opened, audience=audience)
        self.key = key
        self.reports = reports
        self.report_ids = tuple(report_ids)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        """Save the card (the /cards edit way), then close the reports if it changed."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        assert self.card_id is not None
        note = (
            "resolves report"
            + ("s " if len(self.report_ids) > 1 else " ")
            + ", ".join(f"#{i}" for i in self.report_ids)
        )
        change = await self.cog.finish_edit(
            interaction, self.card_id, self.form(), self.opened, audience=self.audience, note=note
        )
        if change is None or not change.changed:
            await interaction.followup.send(
                "The card did not change, so its reports stay open (Dismiss them if the card is right).",
                ephemeral=True,
                allowed_mentions=NO_MENTIONS,
            )
            return
        await self.reports.finish_fix(interaction, self.key, self.report_ids, change)


async def open_fix_form(interaction: discord.Interaction[Any], card_id: str, report_ids: Sequence[int]) -> None:
    """Open :class:`FixModal` on the card served as ``card_id`` (the caller checked the member may change it; the
    form checks again when submitted)."""
    client = interaction.client
    cards = client.get_cog("CardsCog") if hasattr(client, "get_cog") else None
    reports = client.get_cog("ReportsCog") if hasattr(client, "get_cog") else None
    if not isinstance(cards, CardsCog) or not isinstance(reports, ReportsCog):
        await interaction.response.send_message("Editing is not available right now.", ephemeral=True)
        return
    card = (await cards.curators.of(audience_of_key(card_id))).desk.library.cards.get(local_id(card_id))
    if card is None:
        await interaction.response.send_message(
            f"Card `{card_id}` is no longer in the deck: Dismiss its reports.", ephemeral=True
        )
        return
    too_long = _too_long_for_the_form(CardInput.of(card))
    if too_long is not None:
        await interaction.response.send_message(
            f"Card `{card_id}` has {too_long} longer than a Discord form holds: edit it in its file, then Dismiss.",
            ephemeral=True,
        )
        return
    await interaction.response.send_modal(
        FixModal(cards, reports, owner_id=interaction.user.id, key=card_id, opened=card, report_ids=report_ids)
    )
