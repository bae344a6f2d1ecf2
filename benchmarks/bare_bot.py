"""The limit ``bench_bot`` measures Factdeck against: a minimal discord.py bot, in its own process, pointed at a
fake Discord.

One slash command, ``/ping``, that replies "pong" (a short plain message, no embed, no components), and nothing
else: no cogs, no database, no cards. It connects the way Factdeck does (a ``guilds``-only intent, no message
cache), so what is left between the two is Factdeck's own work per interaction. Only discord.py's three URLs are
pointed at the fake (``tests/fakediscord/process.py`` ``patch_urls``, as for Factdeck's own process); SIGTERM
closes it cleanly. It runs in Factdeck's environment, so its discord.py encodes and parses JSON with orjson as
Factdeck's does (``bot.discord.jsonio``; the bare bot without the fallback for what orjson refuses, which "pong"
never needs), on the same default asyncio event loop.

    DISCORD_TOKEN=test-token python -m benchmarks.bare_bot --base-url http://127.0.0.1:PORT
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

import discord
from discord import app_commands

from tests.fakediscord.process import patch_urls

#: The command the bare bot answers, and its reply.
COMMAND, REPLY = "ping", "pong"


class BareBot(discord.Client):
    """A discord.py client with a command tree holding one command."""

    def __init__(self) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(intents=intents, max_messages=None, guild_ready_timeout=0.05)
        self.tree: app_commands.CommandTree[BareBot] = app_commands.CommandTree(self)

        @self.tree.command(name=COMMAND, description="Answers pong")
        async def ping(interaction: discord.Interaction) -> None:
            await interaction.response.send_message(REPLY)

    async def setup_hook(self) -> None:
        """Sync the one command (globally), as a bot does on its first start."""
        await self.tree.sync()


async def run(token: str) -> None:
    """Run until SIGTERM or SIGINT."""
    bot = BareBot()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: loop.create_task(bot.close()))
    async with bot:
        await bot.start(token)


def main() -> int:
    """Point discord.py at the fake, then run the bare bot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True, help="the fake's base URL, http://127.0.0.1:PORT")
    args = parser.parse_args()
    patch_urls(args.base_url)
    discord.utils.setup_logging(level=logging.WARNING, root=True)
    asyncio.run(run(os.environ["DISCORD_TOKEN"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
