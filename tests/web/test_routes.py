"""Every route of the web pages: status, content, escaping, share tags, JSON shapes, headers, bad input."""

from __future__ import annotations

import asyncio
import threading
from html.parser import HTMLParser
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from bot.service import CardService
from bot.service.shapes import card_json
from bot.web import CSP
from tests.web.conftest import BROWSER, Views
from tests.web.library import (
    ATTRIBUTE,
    HOSTILE_CARD,
    HOSTILE_COLLECTION,
    MANY,
    MANY_CARDS,
    PRIVATE_CARD,
    PRIVATE_COLLECTION,
    QUERIES,
    SCRIPT,
    SEED,
    TEMPLATE,
)

Client = TestClient[object, object]
PAGES = [
    "/",
    f"/c/{SEED}",
    f"/card/{SEED}-009",
    "/search?q=couple+therapy",
    "/cite?ref=Horvath+%26+Symonds+1991",
    "/topics/empathy",
]


class _Page(HTMLParser):
    """The parts of a page a reader (or an unfurler) sees: meta tags, elements by tag, links, text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.meta: dict[str, str] = {}
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.tags.append((tag, values))
        if tag == "meta" and values.get("content") is not None:
            key = values.get("property") or values.get("name")
            if key:
                self.meta[key] = values["content"] or ""

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def links(self) -> list[str]:
        return [v["href"] or "" for t, v in self.tags if t == "a" and v.get("href")]

    def all(self, tag: str, cls: str | None = None) -> list[dict[str, str | None]]:
        return [v for t, v in self.tags if t == tag and (cls is None or cls in (v.get("class") or "").split())]


async def _get(client: Client, path: str, **headers: str) -> tuple[int, str, _Page]:
    response = await client.get(path, headers={**BROWSER, **headers})
    text = await response.text()
    return response.status, text, _Page(text)


async def _json(client: Client, path: str) -> tuple[int, object]:
    response = await client.get(path, headers=BROWSER)
    assert response.content_type == "application/json"
    return response.status, await response.json()


# -------------------------------------------------------------------------------------------------- pages
async def test_the_front_page_lists_the_shared_collections_with_curator_cards_and_views(client: Client) -> None:
    status, _, page = await _get(client, "/")
    assert status == 200
    text = " ".join(page.text)
    assert "Therapeutic Alliance" in text
    assert "Curated by Mee Young Jeong" in text
    assert "10 Knowledge Cards" in text
    assert "Views 0" in text
    assert f"/c/{SEED}" in page.links()


async def test_the_collection_page_is_laid_out_as_the_seed_page(client: Client, web_service: CardService) -> None:
    status, _, page = await _get(client, f"/c/{SEED}")
    assert status == 200
    text = " ".join(" ".join(page.text).split())
    order = [
        "Therapeutic Alliance",
        "The therapeutic relationship",
        "Curated by",
        "Mee Young Jeong",
        "10 Knowledge Cards",
        "Views",
        "Share",
        "Curated Facts",
    ]
    positions = [text.index(part) for part in order]
    assert positions == sorted(positions), "title, description, curator, count, views, share, then the facts"
    assert len(page.all("article", "card")) == 10
    assert text.count("Article:") == 10
    assert text.count("Source:") == 10
    assert "'The vehicle of success':…" in text
    assert "Offline Book/Journal" in text
    for card in web_service.library.cards_of(SEED):
        assert f"/card/{card.id}" in page.links()
    assert any(link.startswith("https://twitter.com/intent/tweet?") for link in page.links())
    [share] = [v for v in page.all("input") if "readonly" in v]
    assert share["value"] == f"https://facts.example.org/c/{SEED}"


async def test_a_large_collection_is_paged(client: Client) -> None:
    _, _, first = await _get(client, f"/c/{MANY}")
    assert len(first.all("article", "card")) == 20
    assert f"/c/{MANY}?page=2" in first.links()
    _, _, last = await _get(client, f"/c/{MANY}?page=3")
    assert [v["id"] for v in last.all("article", "card")] == [f"{MANY}-{i:03d}" for i in range(40, MANY_CARDS)]
    assert f"/c/{MANY}?page=2" in last.links()
    assert f"/c/{MANY}?page=4" not in last.links()
    assert "Page 3 of 3" in " ".join(last.text)
    _, beyond = await _json(client, f"/api/c/{MANY}?page=99")
    assert isinstance(beyond, dict)
    assert (beyond["page"], beyond["pages"], beyond["per_page"], beyond["total"]) == (3, 3, 20, MANY_CARDS)


async def test_the_card_page_shows_topics_sources_references_and_the_cards_citing_the_same_works(
    client: Client,
) -> None:
    status, html, page = await _get(client, f"/card/{SEED}-009")
    assert status == 200
    text = " ".join(page.text)
    assert "Empirical evidence has accumulated" in text
    for topic in ("couple therapy", "treatment outcome"):
        assert f"/topics/{topic.replace(' ', '%20')}" in page.links()
    for label in ("Plain", "APA", "MLA", "BibTeX"):
        assert label in text
    assert "@misc{therapeutic-alliance-009," in text
    assert "/cite?ref=Horvath+%26+Symonds+%281991%29" in page.links()
    also = html[html.index('id="also"') :]
    # cards 007 and 010 cite Horvath & Symonds (1991) too; the hostile card as well; the server's card never
    for other in (f"{SEED}-007", f"{SEED}-010", HOSTILE_CARD):
        assert f"/card/{other}" in also
    assert PRIVATE_CARD not in html
    assert f'href="/card/{SEED}-009"' not in also  # not itself


async def test_search_gives_the_same_answers_as_the_bot(client: Client, web_service: CardService) -> None:
    status, _, page = await _get(client, "/search?q=couple+therapy")
    assert status == 200
    expected = web_service.search("couple therapy", limit=10)
    shown = [v["href"] for v in page.all("a") if (v.get("href") or "").startswith("/card/")]
    assert [s.removeprefix("/card/") for s in dict.fromkeys(shown)] == [d.card.id for d in expected.details]
    assert f"{expected.page.total} cards match" in " ".join(page.text)


async def test_search_pages_link_to_the_next_page(client: Client, web_service: CardService) -> None:
    total = web_service.search("therapeutic", limit=1).page.total
    assert total > 10
    _, _, first = await _get(client, "/search?q=therapeutic")
    assert "/search?page=2&q=therapeutic" in first.links()
    _, _, second = await _get(client, "/search?q=therapeutic&page=2")
    assert "/search?page=1&q=therapeutic" in second.links()


async def test_cite_lists_every_card_citing_a_work(client: Client, web_service: CardService) -> None:
    status, _, page = await _get(client, "/cite?ref=Horvath+%26+Symonds+1991")
    assert status == 200
    expected = [h.detail.card.id for h in web_service.cite("Horvath & Symonds 1991").hits]
    expected = [i for i in expected if i != PRIVATE_CARD]
    shown = list(dict.fromkeys(h.removeprefix("/card/") for h in page.links() if h.startswith("/card/")))
    assert shown == expected
    assert "Cites it as" in " ".join(page.text)


async def test_a_reference_nothing_cites_says_so(client: Client) -> None:
    status, _, page = await _get(client, "/cite?ref=Nobody+2999")
    assert status == 200
    assert "No card cites “Nobody 2999”." in " ".join(page.text)


async def test_a_topic_page_lists_its_cards(client: Client) -> None:
    status, _, page = await _get(client, "/topics/empathy")
    assert status == 200
    assert f"/card/{SEED}-001" in page.links()
    status, _, page = await _get(client, "/topics/therapeutic%20alliance")
    assert status == 200
    assert f"/card/{HOSTILE_CARD}" in page.links()
    assert PRIVATE_CARD not in " ".join(page.links())


# --------------------------------------------------------------------------------------------- share tags
@pytest.mark.parametrize("path", PAGES)
async def test_every_page_carries_opengraph_and_twitter_tags(client: Client, path: str) -> None:
    _, _, page = await _get(client, path)
    for key in ("og:title", "og:description", "og:url", "og:type", "og:site_name", "twitter:card", "twitter:title"):
        assert page.meta.get(key), f"{path} has no {key}"
    assert page.meta["og:url"].startswith("https://facts.example.org/")


async def test_a_cards_link_unfurls_with_its_text_and_collection(client: Client) -> None:
    _, _, page = await _get(client, f"/card/{SEED}-002", **{"User-Agent": "Mozilla/5.0 (compatible; Discordbot/2.0)"})
    assert page.meta["og:type"] == "article"
    assert page.meta["og:title"] == "Therapeutic Alliance · curated by Mee Young Jeong"
    assert page.meta["og:description"].startswith("Seeking to operationalize this concept")
    assert len(page.meta["og:description"]) <= 200
    assert page.meta["og:url"] == f"https://facts.example.org/card/{SEED}-002"


# ------------------------------------------------------------------------------------------------- JSON
async def test_the_json_mirrors_have_the_shapes_of_the_command_lines_json(
    client: Client, web_service: CardService
) -> None:
    status, listing = await _json(client, "/api/")
    assert status == 200
    assert isinstance(listing, list)
    assert (await _json(client, "/api"))[1] == listing
    assert (await _json(client, "/api/no/such/thing"))[0] == 404
    seed = next(c for c in listing if c["id"] == SEED)
    assert set(seed) == {"id", "title", "curator", "description", "cards", "topics", "views", "url"}
    assert seed["cards"] == 10

    status, card = await _json(client, f"/api/card/{SEED}-009")
    detail = web_service.detail(f"{SEED}-009")
    assert detail is not None
    assert isinstance(card, dict)
    assert {k: card[k] for k in card_json(detail)} == card_json(detail)
    assert set(card["sources"]) == {"plain", "apa", "mla", "bibtex"}
    assert {c["id"] for c in card["cited_with"]} >= {f"{SEED}-007", f"{SEED}-010"}
    assert all(c["shared"] for c in card["cited_with"])

    status, found = await _json(client, "/api/search?q=couple+therapy")
    assert isinstance(found, dict)
    assert {"query", "total", "offset", "message", "cards", "page", "pages"} <= set(found)
    assert {"score", "snippet", "id", "text"} <= set(found["cards"][0])

    status, cited = await _json(client, "/api/cite?ref=Horvath")
    assert isinstance(cited, dict)
    assert cited["total"] >= 3
    assert all("cited_as" in c for c in cited["cards"])

    status, topic = await _json(client, "/api/topics/empathy")
    assert isinstance(topic, dict)
    assert topic["topic"] == "empathy"
    assert topic["cards"][0]["id"] == f"{SEED}-001"

    status, missing = await _json(client, "/api/card/therapeutic-aliance-009")
    assert status == 404
    assert isinstance(missing, dict)
    assert f"{SEED}-009" in [c["id"] for c in missing["close_cards"]]


# ------------------------------------------------------------------------------------------------ escaping
async def test_hostile_card_and_collection_strings_are_shown_as_text(client: Client) -> None:
    for path in ("/", f"/c/{HOSTILE_COLLECTION}", f"/card/{HOSTILE_CARD}", "/topics/%3Cb%3Ebold%3C%2Fb%3E"):
        status, html, page = await _get(client, path)
        assert status == 200, path
        assert "<script" not in html, path
        assert "<img" not in html, path
        assert "<b>" not in html, path
        assert [t for t, _ in page.tags if t in ("script", "img", "style")] == [], path
    _, _, page = await _get(client, f"/card/{HOSTILE_CARD}")
    text = " ".join(page.text)
    assert SCRIPT in text
    assert ATTRIBUTE in text
    assert TEMPLATE in text
    assert "javascript:" not in " ".join(page.links())


@pytest.mark.parametrize("query", QUERIES, ids=range(len(QUERIES)))
async def test_hostile_queries_get_a_page_with_the_query_escaped(client: Client, query: str) -> None:
    for path in ("/search", "/cite", "/api/search", "/api/cite"):
        key = "q" if path.endswith("search") else "ref"
        response = await client.get(path, params={key: query}, headers=BROWSER)
        assert response.status == 200, (path, query)
        body = await response.text()
        assert "<script" not in body
        assert "<img" not in body
    for path in ("/card/", "/c/", "/topics/"):
        response = await client.get(path + query.replace("/", "%2F").replace("?", "%3F").replace("#", "%23") or "x")
        assert response.status in (200, 404), (path, query)


@pytest.mark.parametrize(
    "raw",
    [
        "/search?q=%FF%FE%00",
        "/search?q=%",
        "/search?q=%E2%82",
        "/search?q=" + "a" * 20_000,
        "/search?q=" + "%F0%9F%83%8F" * 3000,
        "/search?q=x&page=-1",
        "/search?q=x&page=99999999999999999999",
        "/search?q=x&page=%D9%A3",
        "/search?q=x&q=y&page=1&page=2",
        "/c/therapeutic-alliance?page=abc",
        "/cite?ref=" + "(" * 5000,
        "/card/%00",
        "/card/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/topics/%FF",
        "/search",
        "/cite",
    ],
)
async def test_any_query_string_gets_a_page_never_a_500(client: Client, raw: str) -> None:
    response = await client.get(raw, headers=BROWSER)
    assert response.status in (200, 404)
    assert "text/html" in response.headers["Content-Type"]
    assert "<html" in await response.text()


# ------------------------------------------------------------------------------------------------ not found
async def test_an_unknown_card_is_a_404_page_suggesting_close_ids(client: Client) -> None:
    status, _, page = await _get(client, "/card/therapeutic-alliance-01")
    assert status == 404
    assert "There is no card “therapeutic-alliance-01”." in " ".join(page.text)
    assert any(link.startswith(f"/card/{SEED}-0") for link in page.links())


async def test_an_unknown_collection_or_topic_suggests_close_ones(client: Client) -> None:
    status, _, page = await _get(client, "/c/therapeutic")
    assert status == 404
    assert f"/c/{SEED}" in page.links()
    status, _, page = await _get(client, "/topics/empath")
    assert status == 404
    assert "/topics/empathy" in page.links()
    status, _, page = await _get(client, "/no/such/page")
    assert status == 404
    assert "/" in page.links()


# ---------------------------------------------------------------------------------------- shared library only
async def test_a_servers_own_collection_is_not_on_the_web(client: Client) -> None:
    for path in (f"/c/{PRIVATE_COLLECTION}", f"/card/{PRIVATE_CARD}", "/topics/private%20topic"):
        status, html, _ = await _get(client, path)
        assert status == 404, path
        assert "Our course notes" not in html
    _, html, _ = await _get(client, "/")
    assert PRIVATE_COLLECTION not in html
    _, html, _ = await _get(client, "/search?q=private+note")
    assert PRIVATE_CARD not in html
    _, cited = await _json(client, "/api/cite?ref=Horvath+%26+Symonds+1991")
    assert isinstance(cited, dict)
    assert PRIVATE_CARD not in [c["id"] for c in cited["cards"]]
    assert cited["total"] == len(cited["cards"])  # not counted either
    _, html, _ = await _get(client, "/card/study-group-notes")  # suggestions do not leak it either
    assert PRIVATE_CARD not in html


# ------------------------------------------------------------------------------------------ headers, privacy
@pytest.mark.parametrize("path", [*PAGES, "/card/nope", "/api/", "/static/site.css"])
async def test_every_answer_carries_the_security_headers_and_no_cookie(client: Client, path: str) -> None:
    response = await client.get(path, headers=BROWSER)
    assert response.headers["Content-Security-Policy"] == CSP
    assert "script-src" not in CSP
    assert "'unsafe-inline'" not in CSP
    assert "frame-ancestors 'none'" in CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize("path", PAGES)
async def test_pages_have_no_inline_script_or_style_and_nothing_from_elsewhere(client: Client, path: str) -> None:
    _, html, page = await _get(client, path)
    assert not page.all("script")
    assert not page.all("style")
    assert not any(v.get("style") for _, v in page.tags)
    assert not any(name.startswith("on") for _, attrs in page.tags for name in attrs)  # no event handlers
    for tag, attrs in page.tags:
        for name in ("src", "href"):
            url = attrs.get(name) or ""
            if url and (tag == "link" or name == "src"):
                assert url.startswith("/") or url.startswith("https://facts.example.org/"), (tag, url)
    assert len(html.encode()) < 50_000


async def test_the_stylesheet_is_ours_with_light_and_dark_themes(client: Client) -> None:
    response = await client.get("/static/site.css")
    assert response.status == 200
    assert response.content_type == "text/css"
    css = await response.text()
    assert "prefers-color-scheme: dark" in css
    assert ":focus-visible" in css
    assert "@import" not in css
    assert "url(" not in css
    again = await client.get("/static/site.css", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status == 304


# ------------------------------------------------------------------------------------------------- views
async def test_a_readers_view_of_a_card_counts_with_source_web(client: Client, views: Views) -> None:
    await _get(client, f"/card/{SEED}-003")
    _, _, page = await _get(client, f"/card/{SEED}-003")
    assert [(e.card_id, e.command, e.guild_id, e.channel_id, e.user_id) for e in views.events] == [
        (f"{SEED}-003", "web", None, None, None)
    ] * 2
    assert [v for v in page.all("dd", "views")]  # the count is shown
    assert "2" in " ".join(page.text).split("Views:")[1][:10]


@pytest.mark.parametrize(
    "agent",
    [
        "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
        "Twitterbot/1.0",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "curl/8.5.0",
        "python-requests/2.32",
        "",
    ],
)
async def test_crawlers_and_unfurlers_are_not_counted(client: Client, views: Views, agent: str) -> None:
    status, _, _ = await _get(client, f"/card/{SEED}-003", **{"User-Agent": agent})
    assert status == 200
    assert views.events == []


async def test_json_and_other_pages_are_not_card_views(client: Client, views: Views) -> None:
    for path in ["/", f"/c/{SEED}", "/search?q=alliance", f"/api/card/{SEED}-003", "/card/nope"]:
        await _get(client, path)
    assert views.events == []


async def test_collection_views_add_up_every_surface(client: Client, views: Views) -> None:
    await _get(client, f"/card/{SEED}-001")
    await _get(client, f"/card/{SEED}-002")
    _status, data = await _json(client, f"/api/c/{SEED}")
    assert isinstance(data, dict)
    assert data["collection"]["views"] == 2


# ------------------------------------------------------------------------------------------ under change
async def test_pages_keep_being_served_while_the_cards_reload(client: Client, web_cards: Path) -> None:
    service = CardService.load(web_cards)
    from aiohttp.test_utils import TestServer

    from bot.web import create_app

    stop = threading.Event()

    def reload_forever() -> None:
        while not stop.is_set():
            service.reload()
            service.swap(service.library)

    async with TestClient(TestServer(create_app(service))) as own:
        worker = threading.Thread(target=reload_forever)
        worker.start()
        try:
            for _ in range(5):
                statuses = await asyncio.gather(*(own.get(p, headers=BROWSER) for p in PAGES))
                assert [r.status for r in statuses] == [200] * len(PAGES)
        finally:
            stop.set()
            worker.join()


async def test_a_page_read_across_a_swap_is_whole_never_a_500(web_cards: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # What a reload between two reads of one page looks like: the pool already has a card the library read first
    # does not, and the collection list no longer has the collection.
    service = CardService.load(web_cards)
    real_pool = service.pool
    monkeypatch.setattr(service, "pool", lambda **kw: ("ghost-001", *real_pool(**kw)))
    monkeypatch.setattr(service, "collections", lambda: [])
    from aiohttp.test_utils import TestServer

    from bot.web import create_app

    async with TestClient(TestServer(create_app(service))) as own:
        topic = await own.get("/topics/empathy", headers=BROWSER)
        assert topic.status == 200
        assert "ghost-001" not in await topic.text()
        gone = await own.get(f"/c/{SEED}", headers=BROWSER)
        assert gone.status == 404
