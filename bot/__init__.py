"""Factdeck: a Discord bot that serves curated fact cards."""

__version__ = "0.1.0"
