"""``/cards``: curators change the shared card files from Discord, with an audit trail.

Thin on purpose: each command parses the interaction, calls :class:`bot.curation.Curator` (which validates, writes
the YAML files atomically and serves the result) and renders what came back with the builders in
:mod:`bot.discord.embeds.curation`. The card library is shared by every server, so every command needs a curator:
the bot's owner (or its team), or a moderator of a server named in ``curator_guilds``. That is checked twice
(``default_permissions`` on the group hides it from members without Manage Messages, :func:`curator_only` decides
on our side); buttons and modals check again when pressed or submitted (:func:`curator_refusal`), and only the
moderator who opened them may use them.
"""

from __future__ import annotations

import dataclasses
import io
import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.cards.model import Card
from bot.cards.validate import Problem
from bot.curation import (
    MAX_IMPORT_BYTES,
    CardChange,
    CardInput,
    CurationError,
    Curator,
    Moderator,
    StaleCardError,
    ValidationFailed,
)
from bot.discord import choices
from bot.discord.checks import curator_only, curator_refusal
from bot.discord.embeds import (
    cancelled_embed,
    card_embed,
    clip,
    history_embed,
    import_preview_embed,
    imported_embed,
    problems_embed,
    refused_embed,
    reload_embed,
    removed_embed,
    safe,
    stale_card_text,
    written_card_text,
)
from bot.discord.errors import NO_MENTIONS, report_error
from bot.discord.inputs import CardId, CollectionId, clean_text

if TYPE_CHECKING:
    from bot.discord.app import FactdeckBot
    from bot.service import CardService
    from bot.storage import Storage

log = logging.getLogger(__name__)

__all__ = ["CardModal", "CardsCog", "ConfirmView"]

#: A Discord text input holds at most this many characters.
INPUT_MAX = 4000
#: How long a confirmation or a form stays usable.
CONFIRM_TIMEOUT = 600.0
MODAL_TIMEOUT = 900.0
NOT_YOURS = "Only the moderator who started this can use it."


def moderator_of(interaction: discord.Interaction[Any]) -> Moderator:
    """Who is asking, for the card's ``added_by`` and the audit log."""
    user = interaction.user
    return Moderator(name=user.name, id=user.id, guild_id=interaction.guild_id)


async def _send(interaction: discord.Interaction[Any], *, ephemeral: bool = True, **kwargs: Any) -> None:
    """Reply, or follow up when the interaction was already answered (deferred)."""
    kwargs.setdefault("allowed_mentions", NO_MENTIONS)
    if interaction.response.is_done():
        await interaction.followup.send(ephemeral=ephemeral, **kwargs)
    else:
        await interaction.response.send_message(ephemeral=ephemeral, **kwargs)


def _report_file(name: str, problems: Sequence[Problem]) -> discord.File:
    text = "\n".join(str(p) for p in problems) + "\n"
    return discord.File(io.BytesIO(text.encode("utf-8")), filename=name)


# --------------------------------------------------------------------------------------------- the form
class CardModal(discord.ui.Modal):
    """The add/edit form. Re-checks, when submitted, that the submitter is the moderator who opened it."""

    def __init__(
        self,
        cog: CardsCog,
        *,
        owner_id: int,
        collection_id: str | None = None,
        card_id: str | None = None,
        opened: Card | None = None,
    ) -> None:
        title = f"Edit {card_id}" if card_id else "Add a card"
        super().__init__(title=clip(title, 45)[0], timeout=MODAL_TIMEOUT)
        self.cog = cog
        self.owner_id = owner_id
        self.collection_id = collection_id
        self.card_id = card_id
        self.opened = opened
        init = CardInput.of(opened) if opened is not None else CardInput("")
        self.text: discord.ui.TextInput[CardModal] = discord.ui.TextInput(
            label="Text", style=discord.TextStyle.paragraph, max_length=INPUT_MAX, default=init.text or None
        )
        self.topics: discord.ui.TextInput[CardModal] = discord.ui.TextInput(
            label="Topics (comma-separated)",
            style=discord.TextStyle.paragraph,
            required=False,
            max_length=INPUT_MAX,
            default=", ".join(init.topics) or None,
        )
        self.article: discord.ui.TextInput[CardModal] = discord.ui.TextInput(
            label="Article", required=False, max_length=1000, default=init.article or None
        )
        self.source_type: discord.ui.TextInput[CardModal] = discord.ui.TextInput(
            label="Source type",
            required=False,
            max_length=1000,
            default=init.source_type or None,
            placeholder="e.g. Offline Book/Journal",
        )
        self.references: discord.ui.TextInput[CardModal] = discord.ui.TextInput(
            label="References (semicolon-separated)",
            style=discord.TextStyle.paragraph,
            required=False,
            max_length=INPUT_MAX,
            default="; ".join(init.citations) or None,
        )
        for item in (self.text, self.topics, self.article, self.source_type, self.references):
            self.add_item(item)

    def form(self) -> CardInput:
        """What was typed, made valid Unicode (a broken client's unpaired surrogates become U+FFFD)."""
        fields = (self.text, self.topics, self.article, self.source_type, self.references)
        return CardInput.from_form(*(clean_text(field.value) for field in fields))

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        """Only the moderator who opened the form, and only while still a curator, may submit it."""
        return await _owner_and_curator(interaction, self.owner_id)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        """Add or edit the card, then show it."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        if self.card_id is None:
            await self.cog.finish_add(interaction, self.collection_id, self.form())
        else:
            await self.cog.finish_edit(interaction, self.card_id, self.form(), self.opened)

    async def on_error(self, interaction: discord.Interaction[Any], error: Exception, /, *_: object) -> None:
        """Log it; tell the moderator briefly."""
        await report_error(interaction, error)


async def _owner_and_curator(interaction: discord.Interaction[Any], owner_id: int) -> bool:
    """For forms and buttons: the moderator who started the action, still a curator (:func:`curator_refusal`);
    others are told why."""
    refusal = await curator_refusal(interaction)
    if refusal is not None:
        await _send(interaction, content=refusal)
        return False
    if interaction.user.id != owner_id:
        await _send(interaction, content=NOT_YOURS)
        return False
    return True


def _too_long_for_the_form(form: CardInput) -> str | None:
    """The first field of a card that a Discord form cannot hold whole (the form would cut it), or None."""
    fields = (
        ("text", form.text, INPUT_MAX),
        ("topics", ", ".join(form.topics), INPUT_MAX),
        ("article", form.article or "", 1000),
        ("source type", form.source_type or "", 1000),
        ("references", "; ".join(form.citations), INPUT_MAX),
    )
    return next((name for name, value, limit in fields if len(value) > limit), None)


# ------------------------------------------------------------------------------------------- confirming
#: What Confirm does: given the press, act and return the embed that replaces the question.
ConfirmAction = Callable[[discord.Interaction[Any]], Awaitable[discord.Embed]]


class ConfirmView(discord.ui.View):
    """Confirm / Cancel for the moderator who asked; everyone else is refused when they press."""

    def __init__(self, *, owner_id: int, confirm_label: str, action: ConfirmAction) -> None:
        super().__init__(timeout=CONFIRM_TIMEOUT)
        self.owner_id = owner_id
        self.action = action
        self.message: discord.Message | discord.InteractionMessage | None = None
        self.done = False
        self.confirm.label = confirm_label

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        """Checked again at each press: the moderator who asked, still a curator."""
        return await _owner_and_curator(interaction, self.owner_id)

    def _disable(self) -> None:
        for item in self.children:
            if isinstance(item, discord.ui.Button):
                item.disabled = True

    @discord.ui.button(label="Confirm", style=discord.ButtonStyle.danger)
    async def confirm(self, interaction: discord.Interaction[Any], button: discord.ui.Button[Any]) -> None:
        """Do it (once), and show the outcome in place of the question."""
        if self.done:
            await _send(interaction, content="This was already answered.")
            return
        self.done = True
        self._disable()
        self.stop()
        await interaction.response.defer()
        embed = await self.action(interaction)
        await interaction.edit_original_response(embed=embed, view=self)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: discord.Interaction[Any], button: discord.ui.Button[Any]) -> None:
        """Change nothing."""
        self.done = True
        self._disable()
        self.stop()
        await interaction.response.edit_message(embed=cancelled_embed(), view=self)

    async def on_timeout(self) -> None:
        """Disable the buttons, so nobody presses a dead one."""
        self._disable()
        if self.message is not None:
            try:
                await self.message.edit(view=self)
            except discord.HTTPException as exc:
                log.info("could not disable an expired confirmation: %s", exc)

    async def on_error(
        self, interaction: discord.Interaction[Any], error: Exception, item: discord.ui.Item[Any]
    ) -> None:
        """Log it; tell the moderator briefly."""
        await report_error(interaction, error)


# -------------------------------------------------------------------------------------------------- cog
class CardsCog(commands.Cog):
    """Curators' commands for the cards: add, edit, remove, import, export, reload and history."""

    cards = app_commands.Group(
        name="cards",
        description="Curate the fact cards (moderators)",
        guild_only=True,
        default_permissions=discord.Permissions(manage_messages=True),
    )

    def __init__(self, curator: Curator, storage: Storage) -> None:
        self.curator = curator
        self.storage = storage
        super().__init__()

    @classmethod
    def from_bot(cls, bot: FactdeckBot) -> CardsCog:
        """The cog factory used by :data:`bot.discord.app.COGS`: writes go to the folder the bot serves."""
        service = bot.service
        return cls(Curator(service, service.library.root, audit=bot.storage.audit, bus=bot.storage.cards), bot.storage)

    async def cog_load(self) -> None:
        """Bring the audit log in line with the card files before the first write."""
        await self.curator.start()

    async def cog_unload(self) -> None:
        """On shutdown (the bot removes its cogs before storage closes): let the write under way finish, with its
        audit rows, and refuse new ones."""
        await self.curator.close()

    @property
    def service(self) -> CardService:
        """The card service being served."""
        return self.curator.service

    # ----------------------------------------------------------------------------------- autocomplete
    async def _card_choices(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return choices.cards(self.service, current)

    async def _collection_choices(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return choices.collections(self.service, current)

    # ------------------------------------------------------------------------------------------ views
    async def _views(self, card_id: str, guild_id: int | None) -> int | None:
        return await self.storage.views.count(card_id, guild_id)

    async def _card_reply(self, interaction: discord.Interaction[Any], change: CardChange, headline: str) -> None:
        detail = self.service.detail(change.card_id)
        embeds: list[discord.Embed] = []
        if detail is not None:
            embeds.append(card_embed(detail, views=await self._views(change.card_id, interaction.guild_id)).embed)
        await _send(interaction, content=written_card_text(change, headline), embeds=embeds)

    async def _refusal(self, interaction: discord.Interaction[Any], error: CurationError) -> None:
        if isinstance(error, StaleCardError):
            await _send(interaction, content=stale_card_text(error))
        elif isinstance(error, ValidationFailed) and error.problems:
            embed, _ = problems_embed(error.message, error.problems, with_place=False)
            await _send(interaction, embed=embed)
        else:
            await _send(interaction, content=clip(error.message, 2000)[0])

    # -------------------------------------------------------------------------------------------- add
    @cards.command(name="add", description="Add a card (opens a form)")
    @app_commands.describe(collection="The collection to add it to (the only one if there is just one)")
    @app_commands.autocomplete(collection=_collection_choices)
    @curator_only()
    async def add(self, interaction: discord.Interaction[Any], collection: CollectionId | None = None) -> None:
        """Open the form for a new card."""
        library = self.service.library
        if collection is not None and collection not in library.collections:
            await _send(interaction, content=f"There is no collection `{safe(collection, 100)}`.")
            return
        if collection is None and len(library.collections) != 1:
            await _send(interaction, content="Choose the collection to add the card to.")
            return
        await interaction.response.send_modal(CardModal(self, owner_id=interaction.user.id, collection_id=collection))

    async def finish_add(self, interaction: discord.Interaction[Any], collection: str | None, form: CardInput) -> None:
        """Write the new card (called by the form) and show it with its id."""
        try:
            change = await self.curator.add_card(collection, form, moderator_of(interaction))
        except CurationError as error:
            await self._refusal(interaction, error)
            return
        await self._card_reply(interaction, change, f"Added card `{change.card_id}`; it is live now.")

    # ------------------------------------------------------------------------------------------- edit
    @cards.command(name="edit", description="Edit a card (opens a form filled in with it)")
    @app_commands.describe(card="The card's id")
    @app_commands.autocomplete(card=_card_choices)
    @curator_only()
    async def edit(self, interaction: discord.Interaction[Any], card: CardId) -> None:
        """Open the form, filled in with the card."""
        found = self.service.library.cards.get(card)
        if found is None:
            await _send(interaction, content=f"There is no card `{safe(card, 100)}`.")
            return
        initial = CardInput.of(found)
        too_long = _too_long_for_the_form(initial)
        if too_long is not None:  # the form would cut it, and saving would write the cut version back
            await _send(
                interaction,
                content=f"Card `{card}` has {too_long} longer than a Discord form holds: edit it in its file, "
                "or with /cards export and /cards import.",
            )
            return
        modal = CardModal(self, owner_id=interaction.user.id, card_id=card, opened=found)
        await interaction.response.send_modal(modal)

    async def finish_edit(
        self, interaction: discord.Interaction[Any], card_id: str, form: CardInput, opened: Card | None
    ) -> None:
        """Write the edited card (called by the form, with the card it was opened on) and show it."""
        try:
            change = await self.curator.edit_card(card_id, form, moderator_of(interaction), opened=opened)
        except CurationError as error:
            await self._refusal(interaction, error)
            return
        headline = f"Updated card `{card_id}`." if change.changed else f"Nothing changed in card `{card_id}`."
        await self._card_reply(interaction, change, headline)

    # ----------------------------------------------------------------------------------------- remove
    @cards.command(name="remove", description="Remove a card (asks to confirm)")
    @app_commands.describe(card="The card's id")
    @app_commands.autocomplete(card=_card_choices)
    @curator_only()
    async def remove(self, interaction: discord.Interaction[Any], card: CardId) -> None:
        """Show the card and ask to confirm its removal."""
        detail = self.service.detail(card)
        if detail is None:
            await _send(interaction, content=f"There is no card `{safe(card, 100)}`.")
            return

        async def do_remove(pressed: discord.Interaction[Any]) -> discord.Embed:
            try:
                change = await self.curator.remove_card(card, moderator_of(pressed))
            except CurationError as error:
                return refused_embed(error.message)
            return removed_embed(card, change.display_path)

        confirm = ConfirmView(owner_id=interaction.user.id, confirm_label="Remove", action=do_remove)
        shown = card_embed(detail, views=await self._views(card, interaction.guild_id)).embed
        await interaction.response.send_message(
            content=f"Remove card `{card}`? Readers will no longer find it.",
            embed=shown,
            view=confirm,
            allowed_mentions=NO_MENTIONS,
        )
        confirm.message = await interaction.original_response()

    # ----------------------------------------------------------------------------------------- import
    @cards.command(name="import", description="Import a YAML card file, a CSV file or a curator's page")
    @app_commands.describe(
        file="A .yml card file, a .csv file (text, topics, article, source) or a page in the seed format",
        collection="The collection it goes into (CSV: defaults to the file name; YAML: must match the file)",
        dry_run="Only check it and show what would change",
    )
    @app_commands.autocomplete(collection=_collection_choices)
    @curator_only()
    async def import_(
        self,
        interaction: discord.Interaction[Any],
        file: discord.Attachment,
        collection: CollectionId | None = None,
        dry_run: bool = False,
    ) -> None:
        """Validate the file in full, then show every error, or a preview with Confirm / Cancel."""
        if file.size > MAX_IMPORT_BYTES:
            await _send(
                interaction, content=f"{safe(file.filename, 100)} is too large: at most {MAX_IMPORT_BYTES:,} bytes."
            )
            return
        await interaction.response.defer(thinking=True)
        raw = await file.read()
        plan = await self.curator.import_file(file.filename, raw, collection_id=collection)
        if not plan.ok:
            embed, cut = problems_embed(
                f"{file.filename}: {len(plan.errors)} error{'s' if len(plan.errors) != 1 else ''}; nothing was changed",
                plan.errors,
            )
            files = [_report_file(f"{file.filename}.errors.txt", plan.errors)] if cut else []
            await interaction.followup.send(embed=embed, files=files, allowed_mentions=NO_MENTIONS)
            return
        embed = import_preview_embed(plan, dry_run=dry_run)
        if dry_run or not plan.has_changes:
            await interaction.followup.send(embed=embed, allowed_mentions=NO_MENTIONS)
            return

        async def do_import(pressed: discord.Interaction[Any]) -> discord.Embed:
            try:
                applied = await self.curator.apply_import(plan, moderator_of(pressed))
            except CurationError as error:
                return refused_embed(error.message)
            return imported_embed(applied.plan)

        confirm = ConfirmView(owner_id=interaction.user.id, confirm_label="Confirm", action=do_import)
        message = await interaction.followup.send(embed=embed, view=confirm, allowed_mentions=NO_MENTIONS, wait=True)
        confirm.message = message

    # ----------------------------------------------------------------------------------------- export
    @cards.command(name="export", description="Download a collection as a YAML card file")
    @app_commands.describe(collection="The collection (all of them when left empty, up to 10)")
    @app_commands.autocomplete(collection=_collection_choices)
    @curator_only()
    async def export(self, interaction: discord.Interaction[Any], collection: CollectionId | None = None) -> None:
        """Attach the collection's card file, as served."""
        library = self.service.library
        wanted = [collection] if collection is not None else sorted(library.collections)
        if len(wanted) > 10:
            await _send(interaction, content="There are more than 10 collections: pick one.")
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        files: list[discord.File] = []
        total = 0
        try:
            for collection_id in wanted:
                exported = await self.curator.export_collection(collection_id)
                total += exported.cards
                files.append(discord.File(io.BytesIO(exported.text.encode("utf-8")), filename=exported.filename))
        except CurationError as error:
            await self._refusal(interaction, error)
            return
        names = ", ".join(f"`{c}`" for c in wanted)
        await interaction.followup.send(
            content=f"{names}: {total} card{'s' if total != 1 else ''}. Edit and bring back with /cards import.",
            files=files,
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    # ----------------------------------------------------------------------------------------- reload
    @cards.command(name="reload", description="Re-read the card files from disk")
    @curator_only()
    async def reload(self, interaction: discord.Interaction[Any]) -> None:
        """Re-read cards/ and summarise what changed; broken files keep their last good version."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        report = await self.curator.reload(moderator_of(interaction))
        embeds = [reload_embed(report, [self.curator.display(p) for p in report.broken])]
        errors = [
            dataclasses.replace(p, path=self.curator.display(Path(p.path))) for p in report.problems if p.is_error
        ]
        files: list[discord.File] = []
        if errors:
            embed, cut = problems_embed(f"Errors in {len(report.broken)} file(s)", errors)
            embeds.append(embed)
            if cut:
                files.append(_report_file("reload-errors.txt", errors))
        await interaction.followup.send(embeds=embeds, files=files, ephemeral=True, allowed_mentions=NO_MENTIONS)

    # ---------------------------------------------------------------------------------------- history
    @cards.command(name="history", description="Who changed a card, when, and what")
    @app_commands.describe(card="The card's id (removed cards too)")
    @app_commands.autocomplete(card=_card_choices)
    @curator_only()
    async def history(self, interaction: discord.Interaction[Any], card: CardId) -> None:
        """The card's changes, newest first, each with what it was before and after."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        entries = await self.storage.audit.history(card, limit=10)
        if not entries:
            await interaction.followup.send(
                content=f"No recorded changes to `{safe(card, 100)}`.", ephemeral=True, allowed_mentions=NO_MENTIONS
            )
            return
        await interaction.followup.send(
            embed=history_embed(card, entries), ephemeral=True, allowed_mentions=NO_MENTIONS
        )
