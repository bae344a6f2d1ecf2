"""The web server's application: routes, HTML from Jinja2 templates, JSON beside every page, security headers.

Every page has its JSON mirror under ``/api`` (the same handler answers both; docs/web.md lists the shapes). The
pages are read-only: nothing a reader sends is stored but the view of a card's page (:mod:`bot.web.visitors`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from aiohttp import web

from bot.service import CardService
from bot.service.shapes import card_json, cite_hit_json, collection_json, search_json
from bot.web import pages
from bot.web.pages import Published, shared_only
from bot.web.visitors import ViewStore, ViewTotals, is_crawler

__all__ = ["CSP", "HEADERS", "WebContext", "create_app"]

log = logging.getLogger(__name__)

#: Only our own stylesheet; no script, no frame, no form posting elsewhere, never framed.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "interest-cohort=()",
}
SITE_NAME = "Factdeck"
#: The longest description a share card carries.
DESCRIPTION_MAX = 200

_JSON_INERT = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class WebContext:
    """What the handlers share: the card service, the view totals, which collections are public, the address."""

    service: CardService
    totals: ViewTotals
    published: Published
    base_url: str | None
    templates: jinja2.Environment
    css: bytes
    css_etag: str


CONTEXT = web.AppKey("factdeck", WebContext)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bot.web", "templates"),
        autoescape=True,  # every template, whatever its name: nothing a user wrote is ever markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["clip"] = clip
    env.globals["quote"] = lambda value: quote(str(value), safe="")
    env.globals["query"] = lambda **params: urlencode({k: v for k, v in params.items() if v is not None})
    return env


def clip(text: str, limit: int = DESCRIPTION_MAX) -> str:
    """``text`` on one line, cut at a word boundary to at most ``limit`` characters (an ellipsis when cut)."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat.rfind(" ", 0, limit - 1)
    return flat[: cut if cut > limit // 2 else limit - 1].rstrip(" ,;:") + "…"


def create_app(
    service: CardService,
    *,
    views: ViewStore | None = None,
    base_url: str | None = None,
    published: Published | None = None,
    totals_ttl: float = 30.0,
) -> web.Application:
    """The web application over ``service``. ``views`` records card page views (None: not counted, no totals);
    ``base_url`` is the public address (share tags then carry it); ``published`` says which collections are
    served (default: :func:`shared_only`, the shared library, never a server's own collections)."""
    css = resources.files("bot.web").joinpath("static/site.css").read_bytes()
    context = WebContext(
        service=service,
        totals=ViewTotals(views, ttl=totals_ttl),
        published=published if published is not None else shared_only(),
        base_url=base_url.rstrip("/") if base_url else None,
        templates=_environment(),
        css=css,
        css_etag='"' + hashlib.sha256(css).hexdigest()[:16] + '"',
    )
    app = web.Application(middlewares=[_headers, _errors])
    app[CONTEXT] = context
    for prefix in ("", "/api"):
        app.router.add_get(prefix + "/", index)
        app.router.add_get(prefix + "/c/{collection}", collection)
        app.router.add_get(prefix + "/card/{card}", card)
        app.router.add_get(prefix + "/search", search)
        app.router.add_get(prefix + "/cite", cite)
        app.router.add_get(prefix + "/topics/{topic}", topic)
    app.router.add_get("/api", index)
    app.router.add_get("/static/site.css", stylesheet)
    app.on_cleanup.append(_close)
    return app


async def _close(app: web.Application) -> None:
    await app[CONTEXT].totals.close()


# ------------------------------------------------------------------------------------------- middlewares
@web.middleware
async def _headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The security headers on every answer, errors included."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers.update(HEADERS)
        raise
    response.headers.update(HEADERS)
    return response


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """An unknown address is a 404 page (or JSON) that suggests where to go; a fault is logged and a 500 page."""
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return _not_found(request, what="page", text=request.path.rsplit("/", 1)[-1])
    except web.HTTPException:
        raise
    except Exception:
        log.exception("the web page %s failed", request.path)
        return _page(request, "error.html", {"title": "Something went wrong"}, {"error": "internal"}, status=500)


# -------------------------------------------------------------------------------------------- rendering
def _ctx(request: web.Request) -> WebContext:
    return request.app[CONTEXT]


def _wants_json(request: web.Request) -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def _absolute(request: web.Request, path: str) -> str:
    """The full address of ``path``: on the public address when one is configured."""
    base = _ctx(request).base_url
    if base is None:
        base = f"{request.scheme}://{request.host}"
    return base + path


def _page(
    request: web.Request,
    template: str,
    values: dict[str, Any],
    data: object | Callable[[], object],
    *,
    status: int = 200,
) -> web.Response:
    """The HTML page (``template`` with ``values``) or, under ``/api``, ``data`` as JSON (a callable is called
    only then, so an HTML page does not pay for its JSON)."""
    if _wants_json(request):
        if callable(data):
            data = data()
        # <, > and & as \u escapes: the JSON stays inert even if something treats it as HTML
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).translate(_JSON_INERT)
        return web.Response(text=body, status=status, content_type="application/json")
    path = request.path
    values.setdefault("description", "Curated collections of the most useful facts.")
    values.setdefault("og_type", "website")
    page = {
        "site": SITE_NAME,
        "url": _absolute(request, request.rel_url.path_qs if request.rel_url.query_string else path),
        "css": f"/static/site.css?v={_ctx(request).css_etag.strip(chr(34))}",
        "api": "/api" + path,
        **values,
    }
    html = _ctx(request).templates.get_template(template).render(page)
    return web.Response(text=html, status=status, content_type="text/html")


def _not_found(request: web.Request, *, what: str, text: str) -> web.Response:
    ctx = _ctx(request)
    cards = pages.close_cards(ctx.service, ctx.published, text) if text else []
    collections = pages.close_collections(ctx.service, ctx.published, text) if text else []
    data = {
        "error": "not found",
        "what": what,
        "asked": text,
        "close_cards": [{"id": i, "label": label} for i, label in cards],
        "close_collections": [c.id for c in collections],
    }
    values = {
        "title": "Not found",
        "what": what,
        "asked": text,
        "close_cards": cards,
        "close_collections": collections,
    }
    return _page(request, "not_found.html", values, data, status=404)


# ---------------------------------------------------------------------------------------------- handlers
async def index(request: web.Request) -> web.Response:
    """``/``: the shared collections, with their curator, number of cards and views."""
    ctx = _ctx(request)
    summaries = pages.collection_summaries(ctx.service, ctx.published)
    views = await ctx.totals.by_collection(ctx.service.library.card_collection)
    rows = [(s, views.get(s.collection.id, 0)) for s in summaries]
    data = [{**collection_json(s), "views": n, "url": f"/c/{quote(s.collection.id)}"} for s, n in rows]
    values = {"title": "Curated collections", "rows": rows, "cards": sum(s.cards for s in summaries)}
    return _page(request, "index.html", values, data)


async def collection(request: web.Request) -> web.Response:
    """``/c/<collection>``: the collection as the seed page lays it out, paged."""
    ctx = _ctx(request)
    collection_id = request.match_info["collection"]
    found = pages.collection_page(ctx.service, ctx.published, collection_id, request.query.get("page"))
    if found is None:
        return _not_found(request, what="collection", text=collection_id)
    views = (await ctx.totals.by_collection(ctx.service.library.card_collection)).get(collection_id, 0)
    info = found.summary.collection

    def data() -> object:
        return {
            "collection": {**collection_json(found.summary), "views": views},
            **found.paging.json(),
            "cards": [card_json(d) for d in found.cards],
        }

    share = _absolute(request, f"/c/{quote(info.id)}")
    values = {
        "title": info.title,
        "description": clip(info.description or f"{found.summary.cards} knowledge cards curated by {info.curator}"),
        "found": found,
        "info": info,
        "views": views,
        "share": share,
        "paging": found.paging,
        "page_path": f"/c/{quote(info.id)}",
    }
    return _page(request, "collection.html", values, data)


async def card(request: web.Request) -> web.Response:
    """``/card/<id>``: one card, its sources in four styles, its references and the cards citing the same works."""
    ctx = _ctx(request)
    card_id = request.match_info["card"]
    found = pages.card_page(ctx.service, ctx.published, card_id)
    if found is None:
        return _not_found(request, what="card", text=card_id)
    if request.method == "GET" and not _wants_json(request) and not is_crawler(request.headers.get("User-Agent")):
        ctx.totals.record(card_id)
    views = (await ctx.totals.by_card()).get(card_id, 0)
    detail = found.detail

    def data() -> object:
        return {
            **card_json(detail),
            "views": views,
            "url": f"/card/{quote(card_id)}",
            "sources": dict(found.sources),
            "cited_with": [
                {**card_json(c.detail), "shared": [r.display() for r in c.shared]} for c in found.cited_with
            ],
        }

    values = {
        "title": f"{clip(detail.card.text, 60)} · {detail.collection.title}",
        "description": clip(detail.card.text),
        "og_type": "article",
        "og_title": f"{detail.collection.title} · curated by {detail.collection.curator}",
        "d": detail,
        "found": found,
        "views": views,
        "share": _absolute(request, f"/card/{quote(card_id)}"),
    }
    return _page(request, "card.html", values, data)


async def search(request: web.Request) -> web.Response:
    """``/search?q=``: ranked search, the same engine and answers as ``/fact search``."""
    ctx = _ctx(request)
    query = request.query.get("q", "")
    if not query.strip():
        empty: dict[str, Any] = {"title": "Search", "q": "", "result": None, "paging": None}
        nothing = {"query": "", "total": 0, "offset": 0, "message": None, "cards": []}
        return _page(request, "search.html", empty, nothing)
    result, paging = pages.search_page(ctx.service, ctx.published, query, request.query.get("page"))

    def data() -> object:
        return {**search_json(query, result), **paging.json()}

    values = {
        "title": f"Search: {clip(query, 60)}",
        "q": query,
        "result": result,
        "rows": list(zip(result.page.hits, result.details, strict=False)),
        "paging": paging,
        "page_path": "/search",
        "page_params": {"q": query},
    }
    return _page(request, "search.html", values, data)


async def cite(request: web.Request) -> web.Response:
    """``/cite?ref=``: every card citing a work, as ``/fact cite`` finds them."""
    ctx = _ctx(request)
    ref = request.query.get("ref", "")
    message, paging, hits = pages.cite_page(ctx.service, ctx.published, ref, request.query.get("page"))

    def data() -> object:
        return {
            "query": ref,
            "message": message,
            **paging.json(),
            "cards": [cite_hit_json(h) for h in hits],
        }

    values = {
        "title": f"Cards citing {clip(ref, 60)}" if ref.strip() else "Citations",
        "description": f"{paging.total} cards cite {clip(ref, 80)}" if paging.total else "Look up a reference",
        "ref": ref,
        "message": message,
        "hits": hits,
        "paging": paging,
        "page_path": "/cite",
        "page_params": {"ref": ref},
    }
    return _page(request, "cite.html", values, data)


async def topic(request: web.Request) -> web.Response:
    """``/topics/<topic>``: the cards with a topic, paged."""
    ctx = _ctx(request)
    name = request.match_info["topic"]
    found = pages.topic_page(ctx.service, ctx.published, name, request.query.get("page"))
    if found is None:
        return _topic_not_found(request, name)

    def data() -> object:
        return {"topic": name, **found.paging.json(), "cards": [card_json(d) for d in found.cards]}

    values = {
        "title": f"Topic: {clip(name, 60)}",
        "description": f"{found.paging.total} knowledge cards on {clip(name, 80)}",
        "topic": name,
        "found": found,
        "paging": found.paging,
        "page_path": f"/topics/{quote(name, safe='')}",
    }
    return _page(request, "topic.html", values, data)


def _topic_not_found(request: web.Request, name: str) -> web.Response:
    ctx = _ctx(request)
    close = ctx.service.topics(name[: pages.MAX_QUERY], limit=5)
    data = {"error": "not found", "what": "topic", "asked": name, "close_topics": close}
    values = {"title": "Not found", "what": "topic", "asked": name, "close_topics": close}
    return _page(request, "not_found.html", values, data, status=404)


async def stylesheet(request: web.Request) -> web.Response:
    """The one stylesheet, served by us (no third-party fonts or files), cached by the browser."""
    ctx = _ctx(request)
    if request.headers.get("If-None-Match") == ctx.css_etag:
        return web.Response(status=304, headers={"ETag": ctx.css_etag})
    headers = {"ETag": ctx.css_etag, "Cache-Control": "public, max-age=86400"}
    return web.Response(body=ctx.css, content_type="text/css", charset="utf-8", headers=headers)
