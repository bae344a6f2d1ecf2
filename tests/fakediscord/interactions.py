"""Interactions the fake dispatched, and what the bot answered."""

# The wait helpers take a `timeout=` on purpose: it is the test-facing API (default 5 s, never hang).
# ruff: noqa: ASYNC109

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .models import FLAG_EPHEMERAL, FakeChannel, FakeGuild, FakeMember, FakeMessage, FakeUser

if TYPE_CHECKING:
    from .server import FakeDiscord, FakeError


class InteractionType(enum.IntEnum):
    """Discord interaction types."""

    PING = 1
    APPLICATION_COMMAND = 2
    MESSAGE_COMPONENT = 3
    AUTOCOMPLETE = 4
    MODAL_SUBMIT = 5


class ResponseType(enum.IntEnum):
    """Discord interaction callback types."""

    PONG = 1
    CHANNEL_MESSAGE = 4
    DEFERRED_CHANNEL_MESSAGE = 5
    DEFERRED_UPDATE_MESSAGE = 6
    UPDATE_MESSAGE = 7
    AUTOCOMPLETE_RESULT = 8
    MODAL = 9
    LAUNCH_ACTIVITY = 12


@dataclass
class FakeModal:
    """A modal the bot opened (callback type 9)."""

    custom_id: str
    title: str
    components: list[dict[str, Any]]
    source: FakeInteraction

    def text_inputs(self) -> list[dict[str, Any]]:
        """Text inputs (type 4), each with an extra ``"_label"`` key holding its visible label."""
        out = []
        for comp in self.components:
            if comp.get("type") == 1:
                for ti in comp.get("components") or []:
                    out.append({**ti, "_label": ti.get("label")})
            elif comp.get("type") == 18 and isinstance(comp.get("component"), dict):
                out.append({**comp["component"], "_label": comp.get("label")})
        return [t for t in out if t.get("type") == 4]

    @property
    def labels(self) -> list[str]:
        """Visible labels of the text inputs, in order."""
        return [t.get("_label") or "" for t in self.text_inputs()]


@dataclass
class FakeResponse:
    """The bot's acknowledgement of an interaction (the interaction callback)."""

    type: ResponseType
    data: dict[str, Any]
    raw: dict[str, Any]
    message: FakeMessage | None = None
    modal: FakeModal | None = None
    #: ``loop.time()`` when the fake received the callback request (same clock as ``FakeInteraction.created_at``).
    received_at: float | None = None
    #: Whether the callback asked for the created message back (``?with_response=true``, discord.py 2.5 and later).
    with_response: bool = False

    @property
    def content(self) -> str:
        """Message content sent with the callback (``""`` if none)."""
        return self.data.get("content") or ""

    @property
    def embeds(self) -> list[dict[str, Any]]:
        """Embeds sent with the callback."""
        return self.data.get("embeds") or []

    @property
    def components(self) -> list[dict[str, Any]]:
        """Components sent with the callback."""
        return self.data.get("components") or []

    @property
    def flags(self) -> int:
        """Flags sent with the callback."""
        return int(self.data.get("flags") or 0)

    @property
    def ephemeral(self) -> bool:
        """Whether the response (or the deferred message to come) is ephemeral."""
        if self.message is not None:
            return self.message.ephemeral
        return bool(self.flags & FLAG_EPHEMERAL)

    @property
    def deferred(self) -> bool:
        """Type 5 or 6."""
        return self.type in (ResponseType.DEFERRED_CHANNEL_MESSAGE, ResponseType.DEFERRED_UPDATE_MESSAGE)

    @property
    def choices(self) -> list[dict[str, Any]]:
        """Autocomplete choices (type 8)."""
        return self.data.get("choices") or []

    @property
    def allowed_mentions(self) -> dict[str, Any] | None:
        """``allowed_mentions`` sent with the callback, if any."""
        return self.data.get("allowed_mentions")


@dataclass(eq=False)
class FakeInteraction:
    """An interaction the fake sent to the bot, plus everything the bot did with it.

    ``response`` is the first acknowledgement; ``original`` the @original message as it stands now;
    ``followups`` the follow-up messages that created new messages (the first follow-up after a
    deferral replaces the "thinking" @original instead, and is also listed here).
    """

    fake: FakeDiscord
    id: int
    token: str
    type: InteractionType
    payload: dict[str, Any]
    guild: FakeGuild | None
    channel: FakeChannel | None
    user: FakeMember | FakeUser
    created_at: float
    label: str
    message: FakeMessage | None = None  # for components: the message the component is on
    response: FakeResponse | None = None
    original: FakeMessage | None = None
    followups: list[FakeMessage] = field(default_factory=list)
    rejected: list[FakeError] = field(default_factory=list)
    original_edits: int = 0

    def __repr__(self) -> str:
        return f"<FakeInteraction {self.label} id={self.id} response={self.response and self.response.type.name}>"

    @property
    def data(self) -> dict[str, Any]:
        """The interaction's ``data`` object."""
        return self.payload.get("data") or {}

    @property
    def acknowledged(self) -> bool:
        """Whether the bot acknowledged it in time."""
        return self.response is not None

    @property
    def modal(self) -> FakeModal | None:
        """The modal the bot answered with, if any."""
        return self.response.modal if self.response else None

    def messages(self) -> Iterator[FakeMessage]:
        """The @original (if any) and the follow-ups, without duplicates."""
        seen: set[int] = set()
        for m in [self.original, *self.followups]:
            if m is not None and m.id not in seen:
                seen.add(m.id)
                yield m

    def _fail_fast(self) -> None:
        if self.rejected and self.response is None:
            raise AssertionError(f"Discord rejected the bot's response to {self.label}: {self.rejected[0]}")

    async def wait_response(self, timeout: float | None = None) -> FakeResponse:
        """Wait for the bot's acknowledgement (type 4 message, 5 deferred, 6, 7 update, 8, 9 modal).

        Raises AssertionError on timeout or if Discord rejected the acknowledgement.
        """

        def ready() -> FakeResponse | None:
            self._fail_fast()
            return self.response

        return await self.fake.wait_for(ready, timeout=timeout, what=f"the bot's response to {self.label}")

    async def wait_message(self, timeout: float | None = None) -> FakeMessage:
        """Wait for the visible result: the @original message once it is no longer "thinking".

        For a type 6 (deferred update) acknowledgement this waits until the bot edits the message.
        """

        def ready() -> FakeMessage | None:
            self._fail_fast()
            resp = self.response
            if resp is None:
                return None
            if resp.type in (ResponseType.MODAL, ResponseType.AUTOCOMPLETE_RESULT):
                raise AssertionError(f"{self.label} was answered with {resp.type.name}, which has no message")
            orig = self.original
            if orig is None or orig.loading:
                return None
            if resp.type == ResponseType.DEFERRED_UPDATE_MESSAGE and self.original_edits == 0:
                return None
            return orig

        return await self.fake.wait_for(ready, timeout=timeout, what=f"the message answering {self.label}")

    async def wait_followup(self, count: int = 1, timeout: float | None = None) -> FakeMessage:
        """Wait until at least ``count`` follow-ups were sent; return the ``count``-th."""

        def ready() -> FakeMessage | None:
            self._fail_fast()
            return self.followups[count - 1] if len(self.followups) >= count else None

        return await self.fake.wait_for(ready, timeout=timeout, what=f"follow-up #{count} to {self.label}")

    async def wait_modal(self, timeout: float | None = None) -> FakeModal:
        """Wait for the bot to answer with a modal."""
        resp = await self.wait_response(timeout)
        if resp.modal is None:
            raise AssertionError(f"{self.label} was answered with {resp.type.name}, not a modal")
        return resp.modal
