"""One way to wire a cog (issue 12.4): every cog the bot adds is built from the bot, typed, by its constructor."""

from __future__ import annotations

import inspect

from discord.ext import commands

from bot.discord.app import COGS


def test_every_cog_is_a_class_whose_constructor_takes_the_typed_bot() -> None:
    for factory in COGS:
        assert inspect.isclass(factory), f"{factory!r} is not a cog class"
        assert issubclass(factory, commands.Cog)
        first = next(iter(list(inspect.signature(factory.__init__).parameters.values())[1:]))
        assert (first.name, first.annotation) == ("bot", "FactdeckBot"), factory.__name__
