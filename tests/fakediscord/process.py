"""Run the bot as production does (``factdeck run --config ...``), pointed at a fake Discord at ``--base-url``.

Only the three URLs discord.py talks to change (REST ``Route.BASE``, the gateway ``DEFAULT_GATEWAY`` and the CDN
``Asset.BASE``, as ``tests/fakediscord/harness.py`` ``patch_discord`` does); everything else is the shipped entry
point: settings from the config file and ``DISCORD_TOKEN``, logging set up by ``bot.discord.app.main``, SIGTERM
for a clean shutdown that writes every buffered view.
``benchmarks/bench_bot.py`` and ``tests/e2e/test_process.py`` start it in its own process.

    DISCORD_TOKEN=test-token python -m tests.fakediscord.process --base-url http://127.0.0.1:PORT --config config.yml
"""

from __future__ import annotations

import argparse
import sys

import discord.asset
import discord.gateway
import discord.http
import yarl

from bot.cli.main import main as factdeck


def patch_urls(base_url: str) -> None:
    """Point discord.py at the fake Discord serving ``base_url`` (``http://127.0.0.1:PORT``)."""
    base = yarl.URL(base_url)
    discord.http.Route.BASE = str(base / "api" / "v10")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = base.with_scheme("ws").with_path("/")
    discord.asset.Asset.BASE = str(base)


def main() -> int:
    """Patch the URLs, then run ``factdeck run --config CONFIG`` (or ``sync``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True, help="the fake's base URL, http://127.0.0.1:PORT")
    parser.add_argument("--config", required=True, help="the bot's config.yml")
    parser.add_argument("--command", default="run", choices=["run", "sync"], help="the factdeck command (run)")
    args = parser.parse_args()
    patch_urls(args.base_url)
    return factdeck([args.command, "--config", args.config])


if __name__ == "__main__":
    sys.exit(main())
