"""The embeds every Discord surface shows: one builder per kind of reply, all within Discord's limits.

By surface: :mod:`.cards` is what a reader sees (a card, results, a source, views, collections, help),
:mod:`.curation` what a curator sees after ``/cards``, :mod:`.daily` what ``/daily`` shows, :mod:`.study` what
``/study`` shows (imported from there), and :mod:`.common` the limits, colours and the two text helpers
(:func:`safe`, :func:`clip`) they all use. Builders take the service's records and return embeds or text, never
touching an interaction, so each is tested without Discord. Cogs parse, call a service, and render with these.
"""

from __future__ import annotations

from bot.discord.embeds.cards import (
    CARD_TEXT_MAX,
    HELP,
    CardRender,
    card_embed,
    cite_page_embed,
    collections_embed,
    full_card_messages,
    help_embed,
    search_page_embed,
    source_embed,
    stats_embed,
)
from bot.discord.embeds.common import (
    AUTHOR_MAX,
    CARD_COLOR,
    DESCRIPTION_MAX,
    ELLIPSIS,
    EMBED_TOTAL_MAX,
    ERROR_COLOR,
    FIELD_NAME_MAX,
    FIELD_VALUE_MAX,
    FIELDS_MAX,
    FOOTER_MAX,
    OK_COLOR,
    TITLE_MAX,
    WARN_COLOR,
    clip,
    safe,
)
from bot.discord.embeds.curation import (
    cancelled_embed,
    change_lines,
    history_embed,
    import_preview_embed,
    imported_embed,
    problems_embed,
    refused_embed,
    reload_embed,
    removed_embed,
    stale_card_text,
    written_card_text,
)
from bot.discord.embeds.daily import filters_text, set_text, status_embed, when_text

__all__ = [
    "AUTHOR_MAX",
    "CARD_COLOR",
    "CARD_TEXT_MAX",
    "DESCRIPTION_MAX",
    "ELLIPSIS",
    "EMBED_TOTAL_MAX",
    "ERROR_COLOR",
    "FIELDS_MAX",
    "FIELD_NAME_MAX",
    "FIELD_VALUE_MAX",
    "FOOTER_MAX",
    "HELP",
    "OK_COLOR",
    "TITLE_MAX",
    "WARN_COLOR",
    "CardRender",
    "cancelled_embed",
    "card_embed",
    "change_lines",
    "cite_page_embed",
    "clip",
    "collections_embed",
    "filters_text",
    "full_card_messages",
    "help_embed",
    "history_embed",
    "import_preview_embed",
    "imported_embed",
    "problems_embed",
    "refused_embed",
    "reload_embed",
    "removed_embed",
    "safe",
    "search_page_embed",
    "set_text",
    "source_embed",
    "stale_card_text",
    "stats_embed",
    "status_embed",
    "when_text",
    "written_card_text",
]
