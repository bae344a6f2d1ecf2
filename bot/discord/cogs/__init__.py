"""The bot's cogs, one module each; :data:`bot.discord.app.COGS` lists them."""
