"""Card and collection keys in custom ids: Discord refuses a component whose custom id is over 100 characters, and
with it the whole message.

A server's own card is served as ``id@<server id>`` (:func:`bot.cards.library.qualify`): with the longest id a card
file may use (80 characters) and a server id of 19 digits, that is 100 characters before the custom id's prefix.
So a component carries a server's own card or collection as ``id@`` (:func:`component_key`), and a press reads it
back as the card of the server it is pressed in (:func:`served_key`): the interaction's server, never one the
custom id names. Components posted before carry ``id@<server id>``; they still work, and a key naming another
server is checked like any other key (found in none but its own server, refused by the curation checks).
"""

from __future__ import annotations

from bot.cards.library import audience_of_key, local_id

__all__ = ["CARRIED", "CUSTOM_ID_MAX", "component_key", "served_key"]

#: The most characters Discord takes in a custom id (and in a menu option's value).
CUSTOM_ID_MAX = 100
#: A card or collection in a custom id: its id, then ``@`` for the server's own (``@<server id>`` in components
#: posted before).
CARRIED = r"[a-z0-9][a-z0-9-]{0,79}(?:@\d{0,20})?"


def component_key(key: str) -> str:
    """A served key as a component carries it (``id@`` for a server's own: see :data:`CARD`)."""
    return f"{local_id(key)}@" if audience_of_key(key) is not None else key


def served_key(carried: str, guild_id: int | None) -> str:
    """The served key a component's ``carried`` key stands for when pressed in server ``guild_id`` (``id@`` is that
    server's own; in a direct message, no server's)."""
    return f"{carried}{guild_id or 0}" if carried.endswith("@") else carried
