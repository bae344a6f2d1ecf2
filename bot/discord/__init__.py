"""The Discord surface of Factdeck: the bot, its cogs, embeds and components.

Everything else in :mod:`bot` (cards, search, storage) works without Discord; this package only turns
interactions into service calls and service results into embeds. Start it with :func:`bot.discord.app.main`.
"""
