"""The collections on the web: a page per collection and per card, JSON beside every page (docs/web.md).

:func:`create_app` builds the aiohttp application over a :class:`bot.service.CardService`; :class:`WebServer` runs
it on the running event loop (``factdeck web`` alone, or beside the bot with ``web: {enabled: true}``).
"""

from bot.web.app import CSP, HEADERS, create_app
from bot.web.pages import Published, shared_only
from bot.web.server import WebServer, serving
from bot.web.visitors import WEB_SOURCE, ViewStore, is_crawler

__all__ = [
    "CSP",
    "HEADERS",
    "WEB_SOURCE",
    "Published",
    "ViewStore",
    "WebServer",
    "create_app",
    "is_crawler",
    "serving",
    "shared_only",
]
