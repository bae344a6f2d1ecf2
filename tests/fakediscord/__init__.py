"""A fake Discord (REST + gateway on 127.0.0.1) that the real discord.py client talks to in tests.

Quick start::

    from tests.fakediscord import FakeDiscord, run_bot

    async def test_search(fake_discord: FakeDiscord):
        guild = fake_discord.add_guild("Study Group")
        chan = guild.add_channel("general")
        alice = guild.add_member("alice")
        bot = make_bot()  # e.g. commands.Bot(...); sync the tree in setup_hook
        async with run_bot(fake_discord, bot):
            it = await fake_discord.slash(guild, chan, alice, "fact search", query="alliance")
            msg = await it.wait_message()
            assert "alliance" in msg.text
        fake_discord.assert_no_errors()

See ``FakeDiscord`` for the full API.
"""

from .harness import patch_discord, run_bot
from .interactions import FakeInteraction, FakeModal, FakeResponse, InteractionType, ResponseType
from .models import (
    DEFAULT_EVERYONE_PERMISSIONS,
    FakeAttachment,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeMessage,
    FakeRole,
    FakeUser,
)
from .server import CommandSync, FakeDiscord, FakeError, GatewayConnection, UnhandledRequest

__all__ = [
    "DEFAULT_EVERYONE_PERMISSIONS",
    "CommandSync",
    "FakeAttachment",
    "FakeChannel",
    "FakeDiscord",
    "FakeError",
    "FakeGuild",
    "FakeInteraction",
    "FakeMember",
    "FakeMessage",
    "FakeModal",
    "FakeResponse",
    "FakeRole",
    "FakeUser",
    "GatewayConnection",
    "InteractionType",
    "ResponseType",
    "UnhandledRequest",
    "patch_discord",
    "run_bot",
]
