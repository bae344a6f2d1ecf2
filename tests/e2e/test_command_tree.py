"""Every command a server is given: no two share a name, and each command and option says what it does.

A walk over every cog and over the commands as synced to Discord (the python-discord habit): a new command cannot
shadow another, and none reaches the command picker with discord.py's placeholder description "…", which
Discord accepts and shows to every user.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import Running

pytestmark = pytest.mark.e2e

SUBCOMMAND, SUBCOMMAND_GROUP = 1, 2


def walk(commands: list[dict[str, Any]], parents: tuple[str, ...] = ()) -> Iterator[tuple[str, dict[str, Any]]]:
    """``("fact search query", option)`` for every command, subcommand, group and option, depth first."""
    for item in commands:
        path = (*parents, item["name"])
        yield " ".join(path), item
        options = item.get("options") or []
        if not parents or item.get("type") in (SUBCOMMAND, SUBCOMMAND_GROUP):
            yield from walk(options, path)


def says_nothing(description: str | None, path: str) -> bool:
    """True for a missing or blank description, discord.py's placeholder "…", or one that only repeats the name
    (a callback's docstring such as "/fact show." becomes the description when none is given)."""
    text = (description or "").strip(" .…/").lower()
    return not text or text == path or text == path.rsplit(" ", 1)[-1]


async def test_no_two_commands_or_options_share_a_name(running: Running) -> None:
    r = running
    synced = [path for path, _ in walk(r.fake.commands())]
    assert [path for path, n in Counter(synced).items() if n > 1] == []
    defined = [c.qualified_name for cog in r.bot.cogs.values() for c in cog.walk_app_commands()]
    assert [name for name, n in Counter(defined).items() if n > 1] == [], "a command defined twice"
    assert sorted(set(defined) - set(synced)) == [], "a cog's command never reached Discord"
    assert {c.qualified_name for c in r.bot.tree.walk_commands()} <= set(synced)
    assert [c.qualified_name for c in r.bot.walk_commands()] == []  # slash commands only: no prefix commands
    assert sorted(r.fake.command_names()) == ["cards", "daily", "fact", "study"]


async def test_every_command_and_option_has_a_description(running: Running) -> None:
    r = running
    walked = dict(walk(r.fake.commands()))
    assert {"fact", "fact search", "fact search query", "cards add", "daily set"} <= set(walked)
    assert [path for path, item in walked.items() if says_nothing(item.get("description"), path)] == []
    for cog in r.bot.cogs.values():
        for command in cog.walk_app_commands():
            assert not says_nothing(command.description, command.qualified_name), command.qualified_name
            for parameter in getattr(command, "parameters", []):
                path = f"{command.qualified_name} {parameter.name}"
                assert not says_nothing(parameter.description, path), path
