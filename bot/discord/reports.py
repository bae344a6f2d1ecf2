"""Readers report problems with cards; curators work through them.

Readers: every message that shows a card carries a "Report a problem" button (:class:`ReportButton`, a dynamic
item whose custom id carries the card id, so it works across restarts), and ``/fact report card`` does the same.
Both open :class:`ReportModal` (what is wrong, from a list, and up to 1,000 characters); the reader is thanked
ephemerally, and told by DM (when they accept DMs) once a moderator resolves it.

Curators: ``/cards reports`` lists open reports grouped by card, most reported first, paged; a card opens to its
reports with Fix (the ``/cards edit`` form: saving closes the reports and the edit's audit entry names them),
Dismiss (with a reason) and Reopen. The queue's buttons and menus are dynamic items too; every press and every
form checks again, on our side, who the member is, so a crafted custom id gets the same refusal as the command.

A server's moderators see the reports made in their server on the cards it sees (:class:`bot.insights.ReportScope`),
and those who may curate the shared library the reports from every server on shared cards; Fix, Dismiss and
Reopen follow the card's audience as ``/cards edit`` does (:func:`bot.discord.checks.may_curate`): a server's own
card by that server's moderators, a shared one by the shared library's curators.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import discord
from discord.ext import commands

from bot.cards.library import audience_of_key, local_id
from bot.discord.checks import curator_refusal, may_curate, moderator_refusal
from bot.discord.embeds import card_embed, clip, safe
from bot.discord.embeds.insights import card_reports_embed, queue_embed
from bot.discord.errors import NO_MENTIONS, report_error
from bot.discord.inputs import clean_text
from bot.discord.keys import CARRIED, component_key, served_key
from bot.insights import KINDS, MAX_TEXT, CardReports, RateLimiter, ReportDesk, ReportRefused, ReportScope
from bot.storage import Report, Storage

if TYPE_CHECKING:
    from bot.curation import CardChange
    from bot.discord.app import FactdeckBot

log = logging.getLogger(__name__)

__all__ = [
    "QUEUE_PAGE",
    "REPORT_LABEL",
    "REPORT_PICK_ID",
    "REPORT_PLACEHOLDER",
    "QueueAction",
    "QueuePage",
    "QueuePick",
    "ReportButton",
    "ReportMenu",
    "ReportModal",
    "ReportsCog",
    "report_button",
    "report_id",
]

#: Cards per page of the queue.
QUEUE_PAGE = 10
#: How long the report form and the dismiss form stay usable (seconds).
FORM_TIMEOUT = 900.0
#: DMs sent at once when reports are resolved, and how long a shutdown waits for those under way (seconds).
DM_CONCURRENCY = 5
DM_SHUTDOWN_WAIT = 5.0
#: A card's served key: its id, and for a server's own card ``@`` and the server id.
CARD = r"[a-z0-9][a-z0-9-]{0,79}(?:@\d{1,20})?"

STATUS_CHOICES = ("open", "fixed", "dismissed", "all")
THANKS = "Thank you: the moderators will look at card `{card}`. You will get a DM when they resolve it."
UPDATED = "Thank you: your earlier report on card `{card}` was updated. You will get a DM when it is resolved."


def _cog(interaction: discord.Interaction[Any]) -> ReportsCog | None:
    client = interaction.client
    cog = client.get_cog("ReportsCog") if isinstance(client, commands.Bot) else None
    return cog if isinstance(cog, ReportsCog) else None


async def _say(interaction: discord.Interaction[Any], text: str, **kwargs: Any) -> None:
    """An ephemeral reply or follow-up, pinging nobody."""
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS, **kwargs)
    else:
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS, **kwargs)


async def _route(interaction: discord.Interaction[Any], name: str, *args: Any) -> None:
    """Hand a press or a form to the reports cog (``name``: its method); errors are logged and answered."""
    cog = _cog(interaction)
    try:
        if cog is None:
            await _say(interaction, "Reports are not available right now.")
            return
        await getattr(cog, name)(interaction, *args)
    except Exception as exc:  # noqa: BLE001 - report_error logs it with its traceback
        await report_error(interaction, exc)


# ------------------------------------------------------------------------------------------------ readers
class ReportButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=rf"factdeck:report:(?P<card>{CARRIED})"):
    """ "Report a problem" under a card: opens the report form for that card (anyone may press it)."""

    def __init__(self, card_id: str) -> None:
        super().__init__(
            discord.ui.Button(label=REPORT_LABEL, style=discord.ButtonStyle.secondary, custom_id=report_id(card_id))
        )
        self.card_id = card_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ReportButton:
        """Rebuild the button from its custom id."""
        return cls(served_key(match["card"], interaction.guild_id))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Open the form."""
        await _route(interaction, "open_shown_form", self.card_id)


def _card_menu(
    cards: Sequence[str], placeholder: str, custom_id: str, *, disabled: bool = False
) -> discord.ui.Select[Any]:
    """A menu of card ids (at most 25; a placeholder option when there are none)."""
    options = [discord.SelectOption(label=c, value=c) for c in cards[:25]] or [discord.SelectOption(label="-")]
    return discord.ui.Select(placeholder=placeholder, custom_id=custom_id, options=options, disabled=disabled)


async def _picked(interaction: discord.Interaction[Any], item: discord.ui.Select[Any], action: str) -> None:
    """Hand the card picked in ``item`` to the cog's ``action`` (a forged pick of no card or a bad id is told)."""
    picked = item.values
    if not picked or not re.fullmatch(CARD, picked[0]):
        await _say(interaction, "Pick a card in the menu.")
        return
    await _route(interaction, action, picked[0])


#: The label of :class:`ReportButton` (cards send it as JSON: :func:`bot.discord.ui.card_view`).
REPORT_LABEL = "Report a problem"


def report_id(card_id: str) -> str:
    """The custom id of :class:`ReportButton` for ``card_id``."""
    return f"factdeck:report:{component_key(card_id)}"


#: The custom id and placeholder of :class:`ReportMenu` (result lists send it as JSON: :mod:`bot.discord.ui`).
REPORT_PICK_ID = "factdeck:report-pick"
REPORT_PLACEHOLDER = "Report a problem…"


class ReportMenu(discord.ui.DynamicItem[discord.ui.Select[Any]], template=r"factdeck:report-pick"):
    """ "Report a problem…" under a result list: pick one of the page's cards to open the report form for it."""

    def __init__(self, cards: Sequence[str] = (), *, disabled: bool = False) -> None:
        super().__init__(_card_menu(cards, REPORT_PLACEHOLDER, REPORT_PICK_ID, disabled=disabled))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ReportMenu:
        """Rebuild the menu (the picked value comes with the interaction)."""
        return cls()

    async def callback(self, interaction: discord.Interaction) -> None:
        """Open the report form for the picked card."""
        await _picked(interaction, self.item, "open_shown_form")


def report_button(card_id: str) -> ReportButton:
    """The "Report a problem" button for ``card_id`` (to add to any view that shows the card)."""
    return ReportButton(card_id)


class ReportModal(discord.ui.Modal):
    """What is wrong with a card: a kind from the list and what the reader wants to say (up to 1,000 chars)."""

    def __init__(self, card_id: str) -> None:
        super().__init__(title=clip(f"Report a problem with {local_id(card_id)}", 45)[0], timeout=FORM_TIMEOUT)
        self.card_id = card_id
        self.kind: discord.ui.Select[ReportModal] = discord.ui.Select(
            options=[discord.SelectOption(label=label, value=value) for value, label in KINDS.items()],
            min_values=1,
            max_values=1,
        )
        self.details: discord.ui.TextInput[ReportModal] = discord.ui.TextInput(
            style=discord.TextStyle.paragraph, max_length=MAX_TEXT, required=False
        )
        self.add_item(discord.ui.Label(text="What is wrong?", component=self.kind))
        self.add_item(discord.ui.Label(text="Tell us more (optional)", component=self.details))

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        """Store the report and thank the reader."""
        kind = self.kind.values[0] if self.kind.values else ""
        await _route(interaction, "submit", self.card_id, kind, clean_text(self.details.value))

    async def on_error(self, interaction: discord.Interaction[Any], error: Exception, /, *_: object) -> None:
        """Log it; tell the reader briefly."""
        await report_error(interaction, error)


# --------------------------------------------------------------------------------------------- curators
class QueuePage(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=(
        r"factdeck:rq:(?:pg:(?P<status>open|fixed|dismissed|all):(?P<page>\d{1,5})|(?P<s>[ofda])(?P<p>\d{1,5}))"
        rf":(?P<collection>(?:{CARRIED})?)"
    ),
):
    """Previous / Next on the queue: the custom id carries the whole state: the status by its first letter, the page
    and the collection as typed (a server's own as :func:`component_key` carries it), so that the longest collection
    id fits (``factdeck:rq:pg:<status>:<page>:<collection>`` from before still works)."""

    def __init__(self, status: str, page: int, collection: str | None, label: str, *, disabled: bool = False) -> None:
        super().__init__(
            discord.ui.Button(
                label=label,
                style=discord.ButtonStyle.secondary,
                custom_id=f"factdeck:rq:{status[0]}{page}:{component_key(collection or '')}",
                disabled=disabled,
            )
        )
        self.status, self.page, self.collection = status, page, collection

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> QueuePage:
        """Rebuild the button from its custom id."""
        status = match["status"] or next(s for s in STATUS_CHOICES if s[0] == match["s"])
        collection = served_key(match["collection"], interaction.guild_id) or None
        return cls(status, int(match["page"] or match["p"]), collection, "page")

    async def callback(self, interaction: discord.Interaction) -> None:
        """Show that page of the queue in place."""
        await _route(interaction, "show_queue", self.status, self.collection, self.page, True)


class QueuePick(discord.ui.DynamicItem[discord.ui.Select[Any]], template=r"factdeck:rq:pick"):
    """ "Open a card's reports…": the value is the card id."""

    def __init__(self, cards: Sequence[str] = ()) -> None:
        super().__init__(_card_menu(cards, "Open a card's reports…", "factdeck:rq:pick"))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> QueuePick:
        """Rebuild the menu (the picked value comes with the interaction)."""
        return cls()

    async def callback(self, interaction: discord.Interaction) -> None:
        """Open the picked card's reports."""
        await _picked(interaction, self.item, "show_card")


class QueueAction(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=rf"factdeck:rq:(?P<action>fix|dismiss|reopen|[fdr]):(?P<card>{CARRIED})",
):
    """Fix, Dismiss or Reopen on one card's reports: the custom id names the action by its first letter and carries
    the card as :func:`component_key` does, so that the longest id fits (``factdeck:rq:dismiss:<served key>`` from
    before still works)."""

    LABELS: ClassVar[dict[str, str]] = {"fix": "Fix", "dismiss": "Dismiss", "reopen": "Reopen"}
    STYLES: ClassVar[dict[str, discord.ButtonStyle]] = {
        "fix": discord.ButtonStyle.primary,
        "dismiss": discord.ButtonStyle.danger,
    }

    def __init__(self, action: str, card_id: str, *, disabled: bool = False) -> None:
        super().__init__(
            discord.ui.Button(
                label=self.LABELS[action],
                style=self.STYLES.get(action, discord.ButtonStyle.secondary),
                custom_id=f"factdeck:rq:{action[0]}:{component_key(card_id)}",
                disabled=disabled,
            )
        )
        self.action, self.card_id = action, card_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> QueueAction:
        """Rebuild the button from its custom id."""
        action = next(a for a in cls.LABELS if a.startswith(match["action"]))
        return cls(action, served_key(match["card"], interaction.guild_id))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Do it (the cog checks the member may curate)."""
        await _route(interaction, self.action, self.card_id)


class DismissModal(discord.ui.Modal):
    """Why the reports on a card are dismissed (the reporters are told)."""

    def __init__(self, card_id: str) -> None:
        super().__init__(title=clip(f"Dismiss the reports on {card_id}", 45)[0], timeout=FORM_TIMEOUT)
        self.card_id = card_id
        self.reason: discord.ui.TextInput[DismissModal] = discord.ui.TextInput(
            label="Why (the reporters are told)", style=discord.TextStyle.paragraph, max_length=500
        )
        self.add_item(self.reason)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        """Dismiss (the cog checks the member may curate)."""
        await _route(interaction, "finish_dismiss", self.card_id, clean_text(self.reason.value))

    async def on_error(self, interaction: discord.Interaction[Any], error: Exception, /, *_: object) -> None:
        """Log it; tell the moderator briefly."""
        await report_error(interaction, error)


def _queue_view(
    status: str, collection: str | None, page: int, groups: Sequence[CardReports], total: int
) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    if groups:
        view.add_item(QueuePick([g.card_id for g in groups]))
    if total > QUEUE_PAGE:
        view.add_item(QueuePage(status, max(page - 1, 0), collection, "Previous", disabled=page == 0))
        view.add_item(QueuePage(status, page + 1, collection, "Next", disabled=(page + 1) * QUEUE_PAGE >= total))
    view.stop()  # finished: the dynamic items route the presses
    return view


def _card_view(group: CardReports, *, acts: bool) -> discord.ui.View:
    """Fix / Dismiss / Reopen, each enabled when it applies and the moderator may act on the card (``acts``)."""
    open_ = acts and any(r.status == "open" for r in group.reports)
    closed = acts and any(r.status != "open" for r in group.reports)
    view = discord.ui.View(timeout=None)
    view.add_item(QueueAction("fix", group.card_id, disabled=not (open_ and group.exists)))
    view.add_item(QueueAction("dismiss", group.card_id, disabled=not open_))
    view.add_item(QueueAction("reopen", group.card_id, disabled=not closed))
    view.stop()
    return view


# ------------------------------------------------------------------------------------------------- the cog
class ReportsCog(commands.Cog):
    """Routes the report and queue components; holds the report desk (with its rate limit)."""

    def __init__(self, desk: ReportDesk, storage: Storage, client: commands.Bot) -> None:
        self.desk = desk
        self.storage = storage
        self.bot = client
        self._dms: set[asyncio.Task[None]] = set()
        super().__init__()

    @classmethod
    def from_bot(cls, bot: FactdeckBot) -> ReportsCog:
        """The cog factory used by :data:`bot.discord.app.COGS`."""
        limits = bot.settings.insights
        limiter = RateLimiter(limit=limits.reports_per_window, window=limits.report_window)
        return cls(ReportDesk(bot.service, bot.storage.reports, limiter=limiter), bot.storage, bot)

    async def cog_load(self) -> None:
        """Route the components here."""
        self.bot.add_dynamic_items(ReportButton, ReportMenu, QueuePage, QueuePick, QueueAction)

    async def cog_unload(self) -> None:
        """Stop routing; give the DMs under way a few seconds to finish."""
        self.bot.remove_dynamic_items(ReportButton, ReportMenu, QueuePage, QueuePick, QueueAction)
        if self._dms:  # a few seconds at most: shutdown must not wait on Discord
            await asyncio.wait(set(self._dms), timeout=DM_SHUTDOWN_WAIT)

    # -------------------------------------------------------------------------------------------- readers
    async def open_form(self, interaction: discord.Interaction[Any], card_id: str, *, exact: bool = False) -> None:
        """The report form for ``card_id`` as a reader names it (a card no longer served, or not seen here, is
        said so); ``exact``: the served key of a card shown (see :meth:`CardService.detail`)."""
        detail = self.desk.service.detail(card_id, interaction.guild_id, exact=exact)
        if detail is None:
            await _say(interaction, f"There is no card `{safe(local_id(card_id), 100)}` (any more) to report.")
            return
        await interaction.response.send_modal(ReportModal(detail.card.id))

    async def open_shown_form(self, interaction: discord.Interaction[Any], key: str) -> None:
        """The report form for the card shown above the button or picked in a menu (its served key)."""
        await self.open_form(interaction, key, exact=True)

    async def submit(self, interaction: discord.Interaction[Any], card_id: str, kind: str, text: str) -> None:
        """Store the report and thank the reader (or say why it was not taken)."""
        try:
            report, new = await self.desk.submit(
                card_id,
                exact=True,  # the form carries the served key of the card it was opened for
                guild_id=interaction.guild_id,
                reporter_id=interaction.user.id,
                reporter_name=interaction.user.name,
                kind=kind,
                text=text,
            )
        except ReportRefused as refused:
            await _say(interaction, str(refused))
            return
        await _say(interaction, (THANKS if new else UPDATED).format(card=local_id(report.card_id)))

    # ------------------------------------------------------------------------------------------- curators
    async def _scope(self, interaction: discord.Interaction[Any]) -> ReportScope | None:
        """Whose reports the member sees here (see :class:`ReportScope`), or None (and they are told why) when they
        are not a moderator: checked at every press and form."""
        refusal = await moderator_refusal(interaction)
        if refusal is not None:
            await _say(interaction, refusal)
            return None
        return ReportScope(interaction.guild_id, shared=await curator_refusal(interaction) is None)

    async def _acting(self, interaction: discord.Interaction[Any], card_id: str) -> ReportScope | None:
        """The member's scope when they may close or reopen the reports on ``card_id`` (the card's audience decides,
        as for ``/cards edit``), else None and they are told why."""
        scope = await self._scope(interaction)
        if scope is None:
            return None
        refusal = await may_curate(interaction, audience_of_key(card_id))
        if refusal is not None:
            await _say(interaction, refusal)
            return None
        return scope

    async def show_queue(
        self,
        interaction: discord.Interaction[Any],
        status: str = "open",
        collection: str | None = None,
        page: int = 0,
        edit: bool = False,
    ) -> None:
        """A page of the queue: cards with ``status`` reports (``all``: any), most reported first."""
        scope = await self._scope(interaction)
        if scope is None:
            return
        key = self.desk.service.resolve_collection(collection, scope.viewer) if collection else None
        if collection and key is None:
            await _say(interaction, f"There is no collection `{safe(collection, 100)}`.")
            return
        groups = await self.desk.queue(scope=scope, status=None if status == "all" else status, collection=key)
        last = max((len(groups) - 1) // QUEUE_PAGE, 0)
        page = min(max(page, 0), last)
        shown = groups[page * QUEUE_PAGE : (page + 1) * QUEUE_PAGE]
        embed = queue_embed(shown, status=status, offset=page * QUEUE_PAGE, total=len(groups), collection=collection)
        view = _queue_view(status, collection, page, shown, len(groups))
        if edit:
            await interaction.response.edit_message(embed=embed, view=view)
        else:
            await interaction.response.send_message(
                embed=embed, view=view, ephemeral=True, allowed_mentions=NO_MENTIONS
            )

    async def _card_message(self, group: CardReports, scope: ReportScope) -> dict[str, Any]:
        embeds = [card_reports_embed(group)]
        if group.detail is not None:
            views = await self.storage.views.count(group.card_id, scope.viewer) if scope.viewer else None
            embeds.insert(0, card_embed(group.detail, views=views).embed)
        return {"embeds": embeds, "view": _card_view(group, acts=scope.acts_on(group.card_id))}

    async def show_card(self, interaction: discord.Interaction[Any], card_id: str, note: str | None = None) -> None:
        """One card's reports with Fix / Dismiss / Reopen (ephemeral)."""
        scope = await self._scope(interaction)
        if scope is None:
            return
        group = await self.desk.card(card_id, scope=scope)
        if not group.reports:
            await _say(interaction, f"There are no reports on `{safe(card_id, 100)}`.")
            return
        message = await self._card_message(group, scope)
        if note:
            message["content"] = note
        if interaction.response.is_done():
            await interaction.followup.send(ephemeral=True, allowed_mentions=NO_MENTIONS, **message)
        else:
            await interaction.response.send_message(ephemeral=True, allowed_mentions=NO_MENTIONS, **message)

    async def fix(self, interaction: discord.Interaction[Any], card_id: str) -> None:
        """Open the ``/cards edit`` form on the card; saving it closes the open reports."""
        scope = await self._acting(interaction, card_id)
        if scope is None:
            return
        from bot.discord.report_fix import open_fix_form  # the form is the /cards cog's; imported when used

        report_ids = await self.desk.open_ids(card_id, scope=scope)
        if not report_ids:
            await _say(interaction, f"There are no open reports on `{safe(card_id, 100)}`.")
            return
        await open_fix_form(interaction, card_id, report_ids)

    async def finish_fix(
        self, interaction: discord.Interaction[Any], card_id: str, report_ids: Sequence[int], change: CardChange
    ) -> None:
        """After the form saved the card: close the reports (naming the edit's audit entry) and tell reporters."""
        entries = await self.storage.audit.history(card_id, limit=1)
        audit_id = entries[0].id if entries and entries[0].action == "edit" else None
        closed = await self.desk.fix(
            card_id,
            report_ids,
            moderator_id=interaction.user.id,
            moderator_name=interaction.user.name,
            audit_id=audit_id,
        )
        await self._tell(closed, "a moderator fixed it")
        done = f"Closed {_reports(len(closed))} on `{card_id}` as fixed; the reporters are told by DM."
        await _say(interaction, done)

    async def dismiss(self, interaction: discord.Interaction[Any], card_id: str) -> None:
        """Ask why, then dismiss every open report on the card."""
        if await self._acting(interaction, card_id) is None:
            return
        await interaction.response.send_modal(DismissModal(card_id))

    async def finish_dismiss(self, interaction: discord.Interaction[Any], card_id: str, reason: str) -> None:
        """Dismiss with ``reason`` (checked again: the form may be submitted by anyone who crafts it)."""
        scope = await self._acting(interaction, card_id)
        if scope is None:
            return
        closed = await self.desk.dismiss(
            card_id, scope=scope, moderator_id=interaction.user.id, moderator_name=interaction.user.name, reason=reason
        )
        await self._tell(closed, f"a moderator left the card as it is: {safe(reason, 500)}")
        await self.show_card(interaction, card_id, note=f"Dismissed {_reports(len(closed))} on `{card_id}`.")

    async def reopen(self, interaction: discord.Interaction[Any], card_id: str) -> None:
        """Open the card's closed reports again."""
        scope = await self._acting(interaction, card_id)
        if scope is None:
            return
        opened = await self.desk.reopen(card_id, scope=scope)
        await self.show_card(interaction, card_id, note=f"Reopened {_reports(len(opened))} on `{card_id}`.")

    # ------------------------------------------------------------------------------------------- the DMs
    async def _tell(self, reports: Sequence[Report], outcome: str) -> None:
        """DM each reporter (once per report) in the background: the moderator does not wait for Discord."""
        if not reports:
            return
        task = asyncio.create_task(self._send_dms(list(reports), outcome), name="factdeck-report-dms")
        self._dms.add(task)
        task.add_done_callback(self._dms.discard)

    async def _send_dms(self, reports: list[Report], outcome: str) -> None:
        gate = asyncio.Semaphore(DM_CONCURRENCY)

        async def one(report: Report) -> None:
            guild = self.bot.get_guild(report.guild_id) if report.guild_id else None
            where = f" in {safe(guild.name, 100)}" if guild is not None else ""
            text = (
                f"Thank you for reporting a problem with card `{local_id(report.card_id)}`{where} "
                f"({KINDS.get(report.kind, report.kind).lower()}): {outcome}."
            )
            async with gate:
                try:
                    user = self.bot.get_user(report.reporter_id) or await self.bot.fetch_user(report.reporter_id)
                    await user.send(clip(text, 2000)[0], allowed_mentions=NO_MENTIONS)
                except discord.HTTPException as exc:  # DMs closed (50007), or the user is gone
                    log.info("could not tell reporter %s about report %s: %s", report.reporter_id, report.id, exc)

        await asyncio.gather(*(one(r) for r in reports))


def _reports(n: int) -> str:
    return f"{n} report{'s' if n != 1 else ''}"
