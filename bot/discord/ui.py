"""Message components: paged result lists (Previous / Next / open a card) and the "Read more" button.

A result list (``/fact search``, ``/fact cite``, ``/fact collections``) keeps no :class:`discord.ui.View` and no
timer while it is on screen. Its state is one small tuple (:class:`ListState`) in a bounded store
(:class:`ResultLists`, held by the facts cog), under a short key that the buttons' custom ids carry
(``factdeck:results:<kind><key>:next``). The buttons and the "Open a card…" menu are
:class:`discord.ui.DynamicItem` s registered once with the client: a click is routed by its custom id, looks the
state up (the cog's :meth:`ListHandler.turn_page`), and answers with a freshly rendered page. A list that expired,
was evicted, or belongs to an earlier run of the bot answers "This list has expired". Only the person who asked
may page; anyone may open a card (it comes back to them ephemerally, and counts as a view). The cog's sweeper
disables the components of lists whose time ran out (:func:`list_components` with no page).

:class:`ReadMore` is a dynamic item too (its custom id carries the card id), so it works across restarts.
"""

from __future__ import annotations

import functools
import itertools
import logging
import re
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

import discord
from discord.ext import commands

from bot.discord.embeds import card_embed, clip
from bot.discord.errors import report_error
from bot.discord.keys import CARRIED, component_key, served_key
from bot.discord.reports import REPORT_LABEL, REPORT_PICK_ID, REPORT_PLACEHOLDER, report_id

if TYPE_CHECKING:
    from bot.service import CardDetail

log = logging.getLogger(__name__)

__all__ = [
    "KINDS",
    "LIST_CAP",
    "NOT_YOURS",
    "CardOption",
    "Components",
    "ListHandler",
    "ListState",
    "OpenCardMenu",
    "Page",
    "PageButton",
    "ReadMore",
    "ResultLists",
    "card_view",
    "component_area",
    "component_event",
    "disabled_copy",
    "expired_text",
    "list_components",
]


def component_event(area: str) -> str:
    """The event :class:`bot.discord.app.FactdeckBot` dispatches (after discord.py's own ``interaction`` event) for a
    component click or a modal submit whose custom id is ``factdeck:<area>:…``.

    A cog that must see every click of its own components (one discord.py would not route: forged, or from an
    earlier message) listens for ``"on_" + component_event(area)``, not for ``on_interaction``: discord.py starts a
    task per listener for every event, so two ``on_interaction`` listeners cost every slash command, autocomplete
    and page click two tasks that had nothing to do."""
    return f"factdeck_{area}_interaction"


def component_area(data: object) -> str | None:
    """The ``<area>`` of an interaction's ``factdeck:<area>:…`` custom id (see :func:`component_event`); None for
    any other custom id, or none."""
    custom_id = data.get("custom_id") if isinstance(data, dict) else None
    if not isinstance(custom_id, str) or not custom_id.startswith("factdeck:"):
        return None
    return custom_id.split(":", 2)[1]


NOT_YOURS = "Only the person who searched can page; run /fact search yourself."
#: What a pick of no card (only a forged one can be) is told.
PICK_A_CARD = "Pick a card in the menu to open it."
#: The command behind each kind of list, by the letter its custom ids carry.
KINDS: dict[str, str] = {"s": "search", "c": "cite", "l": "collections"}
#: How many result lists are kept at most; adding one more forgets (and retires) the oldest.
LIST_CAP = 50_000
#: Prefix of every result-list custom id (the same as before lists became dynamic, so old menus keep working).
PREFIX = "factdeck:results:"
OPEN_ID = PREFIX + "open"
OPEN_PLACEHOLDER = "Open a card…"


def expired_text(kind: str | None) -> str:
    """What a click on a list that is no longer kept says (``kind``: a letter of :data:`KINDS`)."""
    return f"This list has expired; run /fact {KINDS.get(kind or 's', 'search')} again."


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


class ListState(NamedTuple):
    """One result list on screen: only strings, numbers and None.

    ``token`` is the interaction token whose ``@original`` response is the list's message (the command's, or
    the latest page turn's, which is fresher); with the application id it is all the sweeper needs to edit it.
    """

    kind: str
    owner_id: int
    guild_id: int | None
    query: str
    topic: str | None
    collection: str | None
    page: int
    paged: bool
    menu: bool
    created: float
    expires: float
    token: str


class ResultLists:
    """A bounded store of :class:`ListState` by key, oldest (soonest to expire) first.

    Keys are short (``[0-9a-z]``): a random prefix per store, so keys from an earlier run of the bot never match,
    and a counter. At most ``cap`` lists are kept; adding one more evicts the oldest. Evicted and expired lists
    are handed out once by :meth:`due` (the cog's sweeper disables their components).

    Each list is kept as a plain tuple of atoms (a :class:`ListState` is made on the way out): the garbage
    collector stops tracking such tuples, so even a full store adds nothing to a collection's work.
    """

    def __init__(self, *, ttl: float, cap: int = LIST_CAP, clock: Callable[[], float] = time.monotonic) -> None:
        if cap < 1:
            raise ValueError("cap must be at least 1")
        self.ttl = ttl
        self.cap = cap
        self.clock = clock
        self._lists: OrderedDict[str, tuple[Any, ...]] = OrderedDict()
        self._retired: deque[tuple[str, tuple[Any, ...]]] = deque(maxlen=cap)
        self._prefix = _base36(secrets.randbits(40))
        self._counter = itertools.count(1)

    def __len__(self) -> int:
        return len(self._lists)

    def add(
        self,
        kind: str,
        *,
        owner_id: int,
        guild_id: int | None,
        token: str,
        paged: bool,
        menu: bool,
        query: str = "",
        topic: str | None = None,
        collection: str | None = None,
    ) -> str:
        """Keep a new list (on page 0) and return its key."""
        now = self.clock()
        key = self._prefix + _base36(next(self._counter))
        self._lists[key] = (
            kind,
            owner_id,
            guild_id,
            query,
            topic,
            collection,
            0,
            paged,
            menu,
            now,
            now + self.ttl,
            token,
        )
        while len(self._lists) > self.cap:
            self._retired.append(self._lists.popitem(last=False))
        return key

    def get(self, key: str | None) -> ListState | None:
        """The live list under ``key``; None when it was never kept here, was evicted, or has expired."""
        row = self._lists.get(key) if key is not None else None
        if row is None or row[_EXPIRES] <= self.clock():
            return None
        return ListState._make(row)

    def turned(self, key: str, state: ListState, *, page: int, menu: bool, token: str) -> ListState:
        """Record that the list under ``key`` now shows ``page`` (edited through ``token``); its time restarts."""
        now = self.clock()
        state = state._replace(page=page, menu=menu, token=token, expires=now + self.ttl)
        if key in self._lists:
            self._lists[key] = tuple(state)
            self._lists.move_to_end(key)
        return state

    def discard(self, key: str | None) -> None:
        """Forget the list under ``key`` (if kept) without retiring it."""
        if key is not None:
            self._lists.pop(key, None)

    def due(self) -> list[tuple[str, ListState]]:
        """Forget every expired list and return them (key and state), after every list evicted since the last
        call. Each list is handed out once."""
        now = self.clock()
        out = [(key, ListState._make(row)) for key, row in self._retired]
        self._retired.clear()
        lists = self._lists
        while lists:
            key, row = next(iter(lists.items()))
            if row[_EXPIRES] > now:
                break
            del lists[key]
            out.append((key, ListState._make(row)))
        return out


_EXPIRES = ListState._fields.index("expires")


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if not n:
            return out


# ----------------------------------------------------------------------------------------- the components
@runtime_checkable
class ListHandler(Protocol):
    """What the list components and "Read more" call (the facts cog)."""

    async def turn_page(self, interaction: discord.Interaction, kind: str | None, key: str | None, step: int) -> None:
        """Move the list ``kind``/``key`` on the clicked message ``step`` pages."""
        ...

    async def open_card(self, interaction: discord.Interaction, card_id: str) -> None:
        """Show ``card_id`` to whoever picked it."""
        ...

    async def send_full_card(self, interaction: discord.Interaction, card_id: str) -> None:
        """Send the whole of ``card_id`` to whoever asked."""
        ...


async def _route(interaction: discord.Interaction, call: Callable[[ListHandler], Awaitable[None]]) -> None:
    """Hand a component click to the facts cog; any error is logged and answered like a command's."""
    client = interaction.client
    facts = client.get_cog("FactsCog") if isinstance(client, commands.Bot) else None
    try:
        if not isinstance(facts, ListHandler):
            await interaction.response.send_message("Cards are not available right now.", ephemeral=True)
            return
        await call(facts)
    except Exception as exc:  # noqa: BLE001 - report_error logs it with its traceback
        await report_error(interaction, exc)


class PageButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"factdeck:results:(?:(?P<kind>[scl])(?P<key>[0-9a-z]{1,40}):)?(?P<step>prev|next)",
):
    """Previous or Next on a result list. The custom id carries the list's kind and key (ids without them are
    from before lists were kept this way: they answer "expired")."""

    def __init__(self, kind: str | None, key: str | None, step: str, *, disabled: bool = False) -> None:
        custom_id = f"{PREFIX}{kind}{key}:{step}" if kind and key else f"{PREFIX}{step}"
        super().__init__(
            discord.ui.Button(
                label="Previous" if step == "prev" else "Next",
                style=discord.ButtonStyle.secondary,
                custom_id=custom_id,
                disabled=disabled,
            )
        )
        self.kind, self.key, self.step = kind, key, step

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> PageButton:
        """Rebuild the button from its custom id."""
        return cls(match["kind"], match["key"], match["step"])

    async def callback(self, interaction: discord.Interaction) -> None:
        """Turn the page (the handler checks the list is still kept and whose it is)."""
        step = -1 if self.step == "prev" else +1
        await _route(interaction, lambda facts: facts.turn_page(interaction, self.kind, self.key, step))


class OpenCardMenu(discord.ui.DynamicItem[discord.ui.Select[Any]], template=r"factdeck:results:open"):
    """The "Open a card…" menu: the value is the card id, so it needs no stored state (anyone may use it)."""

    def __init__(self, options: tuple[CardOption, ...] = (), *, disabled: bool = False) -> None:
        choices = [
            discord.SelectOption(
                label=clip(o.label, 100)[0], value=o.card_id, description=clip(o.description, 100)[0] or None
            )
            for o in options[:25]
        ] or [discord.SelectOption(label="-", value="-")]
        super().__init__(
            discord.ui.Select(
                placeholder=OPEN_PLACEHOLDER,
                min_values=1,
                max_values=1,
                custom_id=OPEN_ID,
                options=choices,
                disabled=disabled,
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> OpenCardMenu:
        """Rebuild the menu (the picked value arrives with the interaction)."""
        return cls()

    async def callback(self, interaction: discord.Interaction) -> None:
        """Open the picked card for whoever picked it (a forged pick of nothing is told to pick a card)."""
        picked = self.item.values
        if not picked:
            await interaction.response.send_message(PICK_A_CARD, ephemeral=True)
            return
        await _route(interaction, lambda facts: facts.open_card(interaction, picked[0]))


class Components(discord.ui.View):
    """A finished view whose components are given as Discord's JSON, for a message whose components change with
    every page (a result list) or are the same for every showing of a card: building discord.py's items for each
    page (buttons, two menus and their options) cost more than the rest of the page. Finished, so discord.py never
    keeps it; the dynamic items route clicks.

    It skips :class:`discord.ui.View`'s constructor, which readies what a live view needs (a random id from the
    operating system, a future for its end, its children and timeout) and was a sizeable part of each reply's own
    cost: what discord.py asks of a view it sends (its components; whether it is finished, dispatchable, uses
    components v2; its timeout) is answered here. Never changed after it is made, so one can be sent many times."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        # Deliberately not View.__init__ (see the class).
        self.rows = rows
        self._children = []

    def __repr__(self) -> str:
        return f"<Components rows={len(self.rows)}>"

    @property
    def timeout(self) -> float | None:
        """None: it has no timer."""
        return None

    @timeout.setter
    def timeout(self, value: float | None) -> None:
        raise AttributeError("a Components view has no timeout")

    def is_finished(self) -> bool:
        """Always: discord.py never keeps it."""
        return True

    def is_dispatchable(self) -> bool:
        """Never: its clicks are routed by the dynamic items, not by this view."""
        return False

    def has_components_v2(self) -> bool:
        """No: plain action rows."""
        return False

    def to_components(self) -> list[dict[str, Any]]:
        """The components, as sent to Discord."""
        return self.rows


def _button(label: str, custom_id: str, *, disabled: bool) -> dict[str, Any]:
    """A secondary button, as :class:`discord.ui.Button` sends it."""
    return {"type": 2, "style": 2, "disabled": disabled, "label": label, "custom_id": custom_id}


def _menu(custom_id: str, placeholder: str, options: list[dict[str, Any]], *, disabled: bool) -> dict[str, Any]:
    """A one-choice menu in its own row, as :class:`discord.ui.Select` sends it."""
    menu = {
        "type": 3,
        "custom_id": custom_id,
        "min_values": 1,
        "max_values": 1,
        "disabled": disabled,
        "required": True,
        "placeholder": placeholder,
        "options": options or [{"label": "-", "value": "-", "default": False}],
    }
    return {"type": 1, "components": [menu]}


def _option(label: str, value: str, description: str = "") -> dict[str, Any]:
    """A menu option, as :class:`discord.SelectOption` sends it (no description when it is empty)."""
    option: dict[str, Any] = {"label": label, "value": value, "default": False}
    if description:
        option["description"] = description
    return option


def list_components(kind: str, key: str, page: Page | None, *, paged: bool, menu: bool) -> discord.ui.View:
    """The components of a result list showing ``page``; every one disabled when ``page`` is None (expired):
    Previous and Next (:class:`PageButton`), "Open a card…" (:class:`OpenCardMenu`) and "Report a problem…"
    (:class:`bot.discord.reports.ReportMenu`), as those items send them (``tests/discord/test_components.py``).
    """
    rows: list[dict[str, Any]] = []
    if paged:
        buttons = [
            _button("Previous", f"{PREFIX}{kind}{key}:prev", disabled=page is None or not page.has_prev),
            _button("Next", f"{PREFIX}{kind}{key}:next", disabled=page is None or not page.has_next),
        ]
        rows.append({"type": 1, "components": buttons})
    if page is None:
        if menu:
            rows += [
                _menu(OPEN_ID, OPEN_PLACEHOLDER, [], disabled=True),
                _menu(REPORT_PICK_ID, REPORT_PLACEHOLDER, [], disabled=True),
            ]
    elif menu and page.options:
        rows += _menus(page.options)
    return Components(rows)


@functools.lru_cache(maxsize=1024)
def _menus(options: tuple[CardOption, ...]) -> tuple[dict[str, Any], ...]:
    """The two menus of a result list offering ``options``: the same for every showing of the same page, so those
    of the pages shown last are kept (each is sent as it is, never changed)."""
    shown = options[:25]
    opens = [_option(clip(o.label, 100)[0], o.card_id, clip(o.description, 100)[0]) for o in shown]
    reports = [_option(o.card_id, o.card_id) for o in shown]
    return (
        _menu(OPEN_ID, OPEN_PLACEHOLDER, opens, disabled=False),
        _menu(REPORT_PICK_ID, REPORT_PLACEHOLDER, reports, disabled=False),
    )


def disabled_copy(message: discord.Message) -> discord.ui.View:
    """``message``'s components, every button and menu disabled (a finished view: not kept)."""
    view = discord.ui.View.from_message(message, timeout=None)
    for item in view.walk_children():
        if isinstance(item, discord.ui.Button | discord.ui.Select):
            item.disabled = True
    view.stop()
    return view


# -------------------------------------------------------------------------------------------- read more
class ReadMore(discord.ui.DynamicItem[discord.ui.Button[Any]], template=rf"factdeck:more:(?P<card>{CARRIED})"):
    """A "Read more" button that sends the whole card to whoever presses it (works across restarts)."""

    def __init__(self, card_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Read more",
                style=discord.ButtonStyle.primary,
                custom_id=f"factdeck:more:{component_key(card_id)}",
            )
        )
        self.card_id = card_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ReadMore:
        """Rebuild the button from its custom id."""
        return cls(served_key(match["card"], interaction.guild_id))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Send the full card, ephemerally."""
        await _route(interaction, lambda facts: facts.send_full_card(interaction, self.card_id))


def card_message(detail: CardDetail, *, views: int | None, link: str | None = None) -> dict[str, Any]:
    """A card's embed, "Report a problem" and, when its text was cut, "Read more": keyword arguments for any send.
    ``link``: the card's web page (when the pages have a public address)."""
    render = card_embed(detail, views=views, link=link)
    return {"embed": render.embed, "view": card_view(detail.card.id, truncated=render.truncated)}


@functools.lru_cache(maxsize=4096)
def card_view(card_id: str, *, truncated: bool) -> discord.ui.View:
    """The components under a card: "Read more" (:class:`ReadMore`) when something was cut, and "Report a problem"
    (:class:`bot.discord.reports.ReportButton`), as those items send them (``tests/discord/test_components.py``).
    Never stored (the items are dynamic: they route the click); the same for every showing of the card, so the
    views of the cards shown last are kept and sent again."""
    buttons = [{"type": 2, "style": 2, "disabled": False, "label": REPORT_LABEL, "custom_id": report_id(card_id)}]
    if truncated:
        custom_id = f"factdeck:more:{component_key(card_id)}"
        more = {"type": 2, "style": 1, "disabled": False, "label": "Read more", "custom_id": custom_id}
        buttons.insert(0, more)
    return Components([{"type": 1, "components": buttons}])
