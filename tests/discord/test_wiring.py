"""One way to wire a cog (issue 12.4): every cog takes its typed dependencies through its constructor, and the bot
builds each one with the cog's ``from_bot`` factory, so a test can build a cog from exactly what it needs."""

from __future__ import annotations

import inspect

from discord.ext import commands

from bot.discord.app import COGS


def test_every_cog_is_built_by_its_from_bot_factory_from_typed_dependencies() -> None:
    assert len(COGS) == 5
    for factory in COGS:
        cog = getattr(factory, "__self__", None)
        assert inspect.isclass(cog), f"{factory!r} is not a cog's classmethod"
        assert issubclass(cog, commands.Cog)
        assert factory.__name__ == "from_bot", cog.__name__
        for param in list(inspect.signature(cog.__init__).parameters.values())[1:]:
            assert param.annotation is not inspect.Parameter.empty, (cog.__name__, param.name)
            assert "Any" not in str(param.annotation), (cog.__name__, param.name)
            assert "FactdeckBot" not in str(param.annotation), (cog.__name__, param.name)
