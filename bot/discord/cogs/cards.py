"""``/cards``: moderators curate their server's own collections, and curators the shared card files, from Discord,
with an audit trail.

A server's moderators (Manage Messages, or a moderator role) change their server's own collections
(``cards/servers/<id>/``): by default every command acts on those. The shared library is changed only by its
curators, as below; which of the two a command touches is decided from the collection or card it names, and
checked again on every button press and form submit (:func:`bot.discord.checks.may_curate`).

Thin on purpose: each command parses the interaction, calls :class:`bot.curation.Curator` (which validates, writes
the YAML files atomically and serves the result) and renders what came back with the builders in
:mod:`bot.discord.embeds.curation`. The card library is shared by every server, so every command needs a curator:
the bot's owner (or its team), or a moderator of a server named in ``curator_guilds``. That is checked twice
(``default_permissions`` on the group hides it from members without Manage Messages, :func:`curator_only` decides
on our side); buttons and modals check again when pressed or submitted (:func:`curator_refusal`), and only the
moderator who opened them may use them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import io
import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.cards.library import Audience, audience_of_key, local_id
from bot.cards.model import Card
from bot.cards.validate import Problem
from bot.curation import (
    MAX_IMPORT_BYTES,
    CardChange,
    CardInput,
    CurationError,
    Curator,
    ImportPlan,
    Moderator,
    StaleCardError,
    ValidationFailed,
)
from bot.curation.audiences import Curators
from bot.curation.quotas import Quota
from bot.curation.servers import DeckKeeper
from bot.discord import choices
from bot.discord.checks import curates_here, curator_only, may_curate
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
from bot.discord.insights import send_insights
from bot.discord.reports import ReportsCog
from bot.storage import StorageUnavailable

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
#: Seconds between two looks for servers whose own collections are due to be archived.
KEEP_EVERY = 3600.0
#: What a moderator is told who names no collection while their server has none of its own.
NO_OWN_COLLECTION = "This server has no collection of its own yet: create one with /cards new-collection."


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
        audience: Audience = None,
    ) -> None:
        title = f"Edit {card_id}" if card_id else "Add a card"
        super().__init__(title=clip(title, 45)[0], timeout=MODAL_TIMEOUT)
        self.cog = cog
        self.owner_id = owner_id
        self.audience = audience
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
        """Only the moderator who opened the form, and only while they may still change its collection, may submit
        it (a server's own collection: from that server)."""
        return await _owner_and_curator(interaction, self.owner_id, self.audience)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        """Add or edit the card, then show it."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        if self.card_id is None:
            await self.cog.finish_add(interaction, self.collection_id, self.form(), self.audience)
        else:
            await self.cog.finish_edit(interaction, self.card_id, self.form(), self.opened, self.audience)

    async def on_error(self, interaction: discord.Interaction[Any], error: Exception, /, *_: object) -> None:
        """Log it; tell the moderator briefly."""
        await report_error(interaction, error)


async def _owner_and_curator(interaction: discord.Interaction[Any], owner_id: int, audience: Audience) -> bool:
    """For forms and buttons: the moderator who started the action, who may still change ``audience``'s
    collections here (:func:`may_curate`); others are told why."""
    refusal = await may_curate(interaction, audience)
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

    def __init__(self, *, owner_id: int, confirm_label: str, action: ConfirmAction, audience: Audience = None) -> None:
        super().__init__(timeout=CONFIRM_TIMEOUT)
        self.owner_id = owner_id
        self.audience = audience
        self.action = action
        self.message: discord.Message | discord.InteractionMessage | None = None
        self.done = False
        self.confirm.label = confirm_label

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        """Checked again at each press: the moderator who asked, who may still change what it changes."""
        return await _owner_and_curator(interaction, self.owner_id, self.audience)

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

    def __init__(self, curators: Curators, storage: Storage, keeper: DeckKeeper | None = None) -> None:
        self.curators = curators
        self.storage = storage
        #: Archives a server's own collections once the bot has been gone from it for the grace period.
        self.keeper = keeper
        self._keeping: asyncio.Task[None] | None = None
        self._poke = asyncio.Event()
        super().__init__()

    @classmethod
    def from_bot(cls, bot: FactdeckBot) -> CardsCog:
        """The cog factory used by :data:`bot.discord.app.COGS`: writes go to the folder the bot serves."""
        service, limits = bot.service, bot.settings.server_decks
        quota = Quota(limits.max_collections, limits.max_cards, limits.max_bytes)
        curators = Curators(service, service.library.root, audit=bot.storage.audit, quota=quota, bus=bot.storage.cards)
        keeper = DeckKeeper(service, bot.storage.decks, dt.timedelta(days=limits.grace_days))
        return cls(curators, bot.storage, keeper)

    async def cog_load(self) -> None:
        """Bring the audit log in line with the card files before the first write; start the hourly look for
        servers whose collections are due to be archived."""
        await self.curators.start()
        if self.keeper is not None:
            self._keeping = asyncio.create_task(self._keep(self.keeper), name="factdeck-server-decks")

    async def cog_unload(self) -> None:
        """On shutdown (the bot removes its cogs before storage closes): let the writes under way finish, with
        their audit rows, and refuse new ones."""
        if self._keeping is not None:
            self._keeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeping
        await self.curators.close()

    # ------------------------------------------------------------------------- servers the bot leaves
    async def _keep(self, keeper: DeckKeeper) -> None:
        """Every hour (and at once after the bot leaves a server), archive what is due."""
        while True:
            try:
                if self.storage.unavailable is None:  # a database that is down is looked at again next time
                    await keeper.archive_due()
            except StorageUnavailable:  # said once at start by the bot; tried again at the next look
                log.info("servers the bot left are looked at for archiving once the database is back")
            except OSError as exc:  # tried again at the next look
                log.warning("could not archive the collections of servers the bot left: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poke.wait(), timeout=KEEP_EVERY)
            self._poke.clear()

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """The bot was removed from a server: its own collections are kept for the grace period, then archived."""
        if self.keeper is not None:
            await self.keeper.left(guild.id)
            self._poke.set()

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        """The bot is (back) in a server: its own collections stay."""
        if self.keeper is not None:
            await self.keeper.joined(guild.id)

    @property
    def curator(self) -> Curator:
        """The shared library's curator."""
        return self.curators.shared

    @property
    def service(self) -> CardService:
        """The card service being served."""
        return self.curators.service

    # ------------------------------------------------------------------------------- whose collections
    async def _card_target(self, interaction: discord.Interaction[Any], card: str) -> tuple[Audience, str] | None:
        """The audience and the id as written of the card a moderator names, when they may change it here;
        otherwise they are told why (a card of another server is one that does not exist) and None."""
        key = self.service.resolve(card.strip(), interaction.guild_id)
        if key is None:
            await _send(interaction, content=f"There is no card `{safe(card, 100)}`.")
            return None
        return await self._allowed(interaction, audience_of_key(key), local_id(key))

    async def _collection_target(
        self, interaction: discord.Interaction[Any], collection: str | None
    ) -> tuple[Audience, str | None] | None:
        """The audience and id as written of the collection a moderator names (None: the only one there is), when
        they may change it here; otherwise they are told why and None. Without a name, the server's own
        collections come first; the shared library only for those who may curate it."""
        here = interaction.guild_id
        if collection is not None:
            key = self.service.resolve_collection(collection.strip(), here)
            if key is None:
                await _send(interaction, content=f"There is no collection `{safe(collection, 100)}`.")
                return None
            return await self._allowed(interaction, audience_of_key(key), local_id(key))
        own = [c.collection.id for c in self.service.collections(here) if audience_of_key(c.collection.id) == here]
        if own or await may_curate(interaction, None) is not None:
            if len(own) != 1:
                hint = "Choose the collection to add the card to." if own else NO_OWN_COLLECTION
                await _send(interaction, content=hint)
                return None
            return here, local_id(own[0])
        shared = [c.collection.id for c in self.service.collections(None)]
        if len(shared) != 1:
            await _send(interaction, content="Choose the collection to add the card to.")
            return None
        return None, shared[0]

    async def _allowed(
        self, interaction: discord.Interaction[Any], audience: Audience, local: str
    ) -> tuple[Audience, str] | None:
        refusal = await may_curate(interaction, audience)
        if refusal is not None:
            await _send(interaction, content=refusal)
            return None
        return audience, local

    # ----------------------------------------------------------------------------------- autocomplete
    async def _card_choices(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return choices.cards(self.service, current, interaction.guild_id)

    async def _collection_choices(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return choices.collections(self.service, current, interaction.guild_id)

    # ------------------------------------------------------------------------------------------ views
    async def _views(self, card_id: str, guild_id: int | None) -> int | None:
        return await self.storage.views.count(card_id, guild_id)

    async def _card_reply(self, interaction: discord.Interaction[Any], change: CardChange, headline: str) -> None:
        detail = self.service.detail(change.card_id, interaction.guild_id)
        embeds: list[discord.Embed] = []
        if detail is not None:
            embeds.append(card_embed(detail, views=await self._views(detail.card.id, interaction.guild_id)).embed)
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
    @curates_here()
    async def add(self, interaction: discord.Interaction[Any], collection: CollectionId | None = None) -> None:
        """Open the form for a new card."""
        target = await self._collection_target(interaction, collection)
        if target is None:
            return
        audience, local = target
        modal = CardModal(self, owner_id=interaction.user.id, collection_id=local, audience=audience)
        await interaction.response.send_modal(modal)

    async def finish_add(
        self, interaction: discord.Interaction[Any], collection: str | None, form: CardInput, audience: Audience = None
    ) -> None:
        """Write the new card (called by the form) and show it with its id."""
        try:
            curator = await self.curators.of(audience)
            change = await curator.add_card(collection, form, moderator_of(interaction))
        except CurationError as error:
            await self._refusal(interaction, error)
            return
        await self._card_reply(interaction, change, f"Added card `{change.card_id}`; it is live now.")

    # ------------------------------------------------------------------------------------------- copy
    @cards.command(name="copy", description="Copy a shared card into one of this server's collections, to adapt it")
    @app_commands.describe(card="The shared card's id", collection="This server's collection to copy it into")
    @app_commands.autocomplete(card=_card_choices, collection=_collection_choices)
    @curates_here()
    async def copy(
        self, interaction: discord.Interaction[Any], card: CardId, collection: CollectionId | None = None
    ) -> None:
        """Add a copy of a shared card (its text, topics, source and citations) to the server's own collection;
        the reply and the card's history name the card it came from."""
        here = interaction.guild_id
        key = self.service.resolve(card.strip(), here)
        found = self.service.library.cards.get(key) if key is not None and audience_of_key(key) is None else None
        if key is None:
            await _send(interaction, content=f"There is no card `{safe(card, 100)}`.")
            return
        if found is None:
            await _send(interaction, content=f"`{safe(card, 100)}` is already this server's own: edit it instead.")
            return
        target = await self._collection_target(interaction, collection)
        if target is None:
            return
        audience, local = target
        if audience != here:
            await _send(interaction, content="Copy it into one of this server's own collections.")
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            curator = await self.curators.of(here)
            change = await curator.copy_card(local, found, moderator_of(interaction), origin=key)
        except CurationError as error:
            await self._refusal(interaction, error)
            return
        await self._card_reply(interaction, change, f"Copied `{key}` as `{change.card_id}`; edit it with /cards edit.")

    # ------------------------------------------------------------------------------------------- edit
    @cards.command(name="edit", description="Edit a card (opens a form filled in with it)")
    @app_commands.describe(card="The card's id")
    @app_commands.autocomplete(card=_card_choices)
    @curates_here()
    async def edit(self, interaction: discord.Interaction[Any], card: CardId) -> None:
        """Open the form, filled in with the card."""
        target = await self._card_target(interaction, card)
        if target is None:
            return
        audience, card = target
        found = (await self.curators.of(audience)).desk.library.cards.get(card)
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
        modal = CardModal(self, owner_id=interaction.user.id, card_id=card, opened=found, audience=audience)
        await interaction.response.send_modal(modal)

    async def finish_edit(
        self,
        interaction: discord.Interaction[Any],
        card_id: str,
        form: CardInput,
        opened: Card | None,
        audience: Audience = None,
        note: str = "",
    ) -> CardChange | None:
        """Write the edited card (called by the form, with the card it was opened on) and show it; return the
        change (None when refused). ``note`` goes into the audit entry (the reports a Fix resolves)."""
        try:
            curator = await self.curators.of(audience)
            change = await curator.edit_card(card_id, form, moderator_of(interaction), opened=opened, note=note)
        except CurationError as error:
            await self._refusal(interaction, error)
            return None
        headline = f"Updated card `{card_id}`." if change.changed else f"Nothing changed in card `{card_id}`."
        await self._card_reply(interaction, change, headline)
        return change

    # ----------------------------------------------------------------------------------------- remove
    @cards.command(name="remove", description="Remove a card (asks to confirm)")
    @app_commands.describe(card="The card's id")
    @app_commands.autocomplete(card=_card_choices)
    @curates_here()
    async def remove(self, interaction: discord.Interaction[Any], card: CardId) -> None:
        """Show the card and ask to confirm its removal."""
        target = await self._card_target(interaction, card)
        detail = self.service.detail(card.strip(), interaction.guild_id) if target is not None else None
        if target is None or detail is None:
            return
        audience, card = target

        async def do_remove(pressed: discord.Interaction[Any]) -> discord.Embed:
            try:
                change = await (await self.curators.of(audience)).remove_card(card, moderator_of(pressed))
            except CurationError as error:
                return refused_embed(error.message)
            return removed_embed(card, change.display_path)

        confirm = ConfirmView(owner_id=interaction.user.id, confirm_label="Remove", action=do_remove, audience=audience)
        shown = card_embed(detail, views=await self._views(detail.card.id, interaction.guild_id)).embed
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
    @curates_here()
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
        audience, plan = await self._import_plan(interaction, file.filename, raw, collection)
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
                applied = await (await self.curators.of(audience)).apply_import(plan, moderator_of(pressed))
            except CurationError as error:
                return refused_embed(error.message)
            return imported_embed(applied.plan)

        confirm = ConfirmView(
            owner_id=interaction.user.id, confirm_label="Confirm", action=do_import, audience=audience
        )
        message = await interaction.followup.send(embed=embed, view=confirm, allowed_mentions=NO_MENTIONS, wait=True)
        confirm.message = message

    async def _import_plan(
        self, interaction: discord.Interaction[Any], filename: str, raw: bytes, collection: str | None
    ) -> tuple[Audience, ImportPlan]:
        """Where an import goes, and its plan: into the server's own collections, unless it names (by the option
        or in the file) a shared collection the member may curate. A moderator who may not curate the shared
        library and imports one of its collections gets a copy of their own, under the same id."""
        here = interaction.guild_id
        curates_shared = await may_curate(interaction, None) is None
        key = self.service.resolve_collection(collection.strip(), here) if collection is not None else None
        if key is not None and audience_of_key(key) is None and curates_shared:
            return None, await self.curator.import_file(filename, raw, collection_id=key)
        local = local_id(key) if key is not None else collection
        own = await self.curators.of(here)
        plan = await own.import_file(filename, raw, collection_id=local)
        shared = plan.collection_id is not None and plan.collection_id in self.service.library.collections
        if collection is None and plan.ok and plan.new_collection and shared and curates_shared:
            return None, await self.curator.import_file(filename, raw)
        return here, plan

    # ----------------------------------------------------------------------------------------- export
    @cards.command(name="export", description="Download a collection as a YAML card file")
    @app_commands.describe(collection="The collection (all of them when left empty, up to 10)")
    @app_commands.autocomplete(collection=_collection_choices)
    @curates_here()
    async def export(self, interaction: discord.Interaction[Any], collection: CollectionId | None = None) -> None:
        """Attach the collection's card file, as written (any collection the server sees: its own, to bring to
        another server with /cards import, or a shared one, to adapt a copy)."""
        here = interaction.guild_id
        if collection is not None:
            key = self.service.resolve_collection(collection.strip(), here)
            if key is None:
                await _send(interaction, content=f"There is no collection `{safe(collection, 100)}`.")
                return
            wanted = [key]
        else:
            seen = sorted(c.collection.id for c in self.service.collections(here))
            own = [c for c in seen if audience_of_key(c) is not None]
            wanted = own or seen
        if len(wanted) > 10:
            await _send(interaction, content="There are more than 10 collections: pick one.")
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        files: list[discord.File] = []
        total = 0
        try:
            for collection_id in wanted:
                curator = await self.curators.of(audience_of_key(collection_id))
                exported = await curator.export_collection(local_id(collection_id))
                total += exported.cards
                files.append(discord.File(io.BytesIO(exported.text.encode("utf-8")), filename=exported.filename))
        except CurationError as error:
            await self._refusal(interaction, error)
            return
        names = ", ".join(f"`{local_id(c)}`" for c in wanted)
        await interaction.followup.send(
            content=f"{names}: {total} card{'s' if total != 1 else ''}. Edit and bring back with /cards import.",
            files=files,
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    # ------------------------------------------------------------------------------------ collections
    @cards.command(name="collections", description="This server's own collections and how much of its limits they use")
    @curates_here()
    async def collections(self, interaction: discord.Interaction[Any]) -> None:
        """The server's own collections, each with its cards, and the server's usage beside its limits."""
        here = interaction.guild_id
        assert here is not None  # curates_here() refused direct messages
        curator = await self.curators.of(here)
        part = curator.desk.library
        usage = await asyncio.to_thread(Quota.usage, part)
        quota = self.curators.quota
        counts = {c.id: len(part.cards_of(c.id)) for c in part.collections.values()}
        lines = [
            f"`{cid}` · {safe(part.collections[cid].title, 100)} · {n} card{'s' if n != 1 else ''}"
            for cid, n in sorted(counts.items())
        ] or ["No collection of its own yet: create one with /cards new-collection."]
        if quota is not None:
            lines.append(
                f"\nUsed: {usage.collections:,} of {quota.collections:,} collections, {usage.cards:,} of "
                f"{quota.cards:,} cards, {usage.bytes / 1024:,.0f} of {quota.bytes / 1024:,.0f} KiB."
            )
        await _send(interaction, content=clip("\n".join(lines), 2000)[0])

    # -------------------------------------------------------------------------------- new-collection
    @cards.command(name="new-collection", description="Create a collection of this server's own")
    @app_commands.describe(
        id="Its id: lowercase letters, digits and hyphens (cards get ids like <id>-001)",
        title="Its title, as readers see it",
        description="What it is about (optional)",
    )
    @curates_here()
    async def new_collection(
        self,
        interaction: discord.Interaction[Any],
        id: app_commands.Range[str, 1, 80],
        title: app_commands.Range[str, 1, 200],
        description: app_commands.Range[str, 0, 200] = "",
    ) -> None:
        """Write an empty collection file in the server's folder (validated, atomic and audited as an import),
        served at once; only this server sees it."""
        here = interaction.guild_id
        assert here is not None  # curates_here() refused direct messages
        refusal = await may_curate(interaction, here)
        if refusal is not None:
            await _send(interaction, content=refusal)
            return
        guild = interaction.guild.name if interaction.guild is not None else "this server"
        await interaction.response.defer(ephemeral=True, thinking=True)
        curator = await self.curators.of(here)
        try:
            made = await curator.new_collection(
                clean_text(id).strip(),
                clean_text(title).strip(),
                clean_text(description).strip(),
                guild,
                moderator_of(interaction),
            )
        except CurationError as error:
            await self._refusal(interaction, error)
            return
        await _send(
            interaction,
            content=f"Created the collection `{made}` ({safe(title, 200)}); only this server sees it. "
            f"Add cards with /cards add collection:{made}, or bring a file with /cards import.",
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
    @curates_here()
    async def history(self, interaction: discord.Interaction[Any], card: CardId) -> None:
        """The card's changes, newest first, each with what it was before and after: a card of the server's own
        (removed ones too), or a shared card for those who curate the shared library."""
        here = interaction.guild_id
        key = self.service.resolve(card.strip(), here)
        if key is None:  # a removed card: this server's own id, else a shared one
            key = f"{local_id(card.strip())}@{here}"
            if not await self.storage.audit.history(key, limit=1) and await may_curate(interaction, None) is None:
                key = card.strip()
        audience = audience_of_key(key)
        refusal = await may_curate(interaction, audience)
        if refusal is not None:
            await _send(interaction, content=refusal)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        entries = await self.storage.audit.history(key, limit=10)
        if not entries:
            await interaction.followup.send(
                content=f"No recorded changes to `{safe(card, 100)}`.", ephemeral=True, allowed_mentions=NO_MENTIONS
            )
            return
        await interaction.followup.send(
            embed=history_embed(card, entries), ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    # ---------------------------------------------------------------------------------------- reports
    @cards.command(name="reports", description="Readers' problem reports, most reported cards first")
    @app_commands.describe(status="Which reports (default: open)", collection="Only cards of this collection")
    @app_commands.autocomplete(collection=_collection_choices)
    @curates_here()  # what each sees, and may act on, is decided by the card (bot.discord.reports)
    async def reports(
        self,
        interaction: discord.Interaction[Any],
        status: Literal["open", "fixed", "dismissed", "all"] = "open",
        collection: CollectionId | None = None,
    ) -> None:
        """The queue (bot.discord.reports): open a card to Fix, Dismiss or Reopen."""
        cog = interaction.client.get_cog("ReportsCog")
        if not isinstance(cog, ReportsCog):
            await _send(interaction, content="Reports are not available right now.")
            return
        await cog.show_queue(interaction, status, collection)

    # --------------------------------------------------------------------------------------- insights
    @cards.command(name="insights", description="What readers searched for and did not find, read, and reported")
    @app_commands.describe(collection="Only this collection", days="How many days back (default 30)")
    @app_commands.autocomplete(collection=_collection_choices)
    @curates_here()  # the server's view: the shared library and its own collections
    async def insights(
        self,
        interaction: discord.Interaction[Any],
        collection: CollectionId | None = None,
        days: app_commands.Range[int, 1, 365] = 30,
    ) -> None:
        """Failed searches, most and least viewed, most reported, and the views chart (bot.discord.insights)."""
        await send_insights(interaction, self.service, self.storage, collection=collection, days=days)
