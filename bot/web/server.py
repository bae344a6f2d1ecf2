"""Running the web application: on the event loop that is already running, beside the bot or alone.

:func:`serving` is the context the bot's run path enters when ``web.enabled`` is set (the pages then share the
bot's card service and view log); :func:`run_alone` is ``factdeck web``: it loads the cards and opens storage
itself, serves until SIGINT or SIGTERM, and re-reads the cards on SIGHUP.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from bot.service import CardService
from bot.settings import Settings, Web
from bot.storage import Storage
from bot.web.app import create_app
from bot.web.pages import Published
from bot.web.visitors import ViewStore

__all__ = ["MAX_LINE", "RUNNER_OPTIONS", "WebServer", "beside_the_bot", "run_alone", "serving"]

log = logging.getLogger(__name__)

#: The longest request line (and header) accepted: long enough for any query a reader types, and then some
#: (aiohttp's own default, 8 KiB, answers a longer search with a bare "400 Bad Request").
MAX_LINE = 64 * 1024
#: How the HTTP server is run: no access log (no addresses or user agents kept), the longer request lines.
RUNNER_OPTIONS: dict[str, Any] = {"access_log": None, "max_line_size": MAX_LINE, "max_field_size": MAX_LINE}


class WebServer:
    """The web application bound to ``host``:``port`` (port 0: any free port; :attr:`port` tells which)."""

    def __init__(self, app: web.Application, host: str = "127.0.0.1", port: int = 8080) -> None:
        self.app = app
        self.host = host
        self._port = port
        self._runner: web.AppRunner | None = None

    @property
    def port(self) -> int:
        """The port listened on (the one chosen when 0 was asked for)."""
        if self._runner is not None:
            for address in self._runner.addresses:
                if isinstance(address, tuple):
                    return int(address[1])
        return self._port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Listen; raises OSError when the address is taken or not ours."""
        runner = web.AppRunner(self.app, handle_signals=False, **RUNNER_OPTIONS)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self._port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        log.info("serving the web pages at %s", self.url)

    async def close(self) -> None:
        """Stop listening and finish (idempotent)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


@contextlib.asynccontextmanager
async def serving(
    config: Web, service: CardService, views: ViewStore | None, *, published: Published | None = None
) -> AsyncIterator[WebServer]:
    """Serve the pages while the block runs (the bot's run path: the same service and view log as the bot)."""
    app = create_app(service, views=views, base_url=config.base_url, published=published)
    async with WebServer(app, config.host, config.port) as server:
        yield server


def beside_the_bot(
    config: Web,
) -> Callable[[CardService, Storage], contextlib.AbstractAsyncContextManager[object]] | None:
    """What ``factdeck run`` serves beside the bot (:func:`bot.discord.app.run`'s ``beside``): the pages, on the
    bot's own card service and view log, when ``web.enabled`` is set; otherwise None."""
    if not config.enabled:
        return None
    return lambda service, storage: serving(config, service, storage.views)


async def run_alone(
    settings: Settings, service: CardService, *, host: str | None = None, port: int | None = None
) -> None:
    """``factdeck web``: serve ``service``'s cards, with storage open (views kept in memory if it cannot be used),
    until SIGINT or SIGTERM; SIGHUP re-reads the card folder."""
    config = settings.web
    if host is not None or port is not None:
        config = Web(config.enabled, host or config.host, config.port if port is None else port, config.public_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    reloads: set[asyncio.Task[object]] = set()

    def reload() -> None:
        task = asyncio.create_task(asyncio.to_thread(service.reload), name="factdeck-web-reload")
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    handled = []
    for sig, action in ((signal.SIGINT, stop.set), (signal.SIGTERM, stop.set), (signal.SIGHUP, reload)):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, action)
            handled.append(sig)
    try:
        async with (
            Storage.open(
                settings.database, flush_interval=settings.view_flush_interval, in_memory_fallback=True
            ) as storage,
            serving(config, service, storage.views) as server,
        ):
            if storage.unavailable is not None:
                log.error("%s; serving the pages, views kept in memory until it is back", storage.unavailable)
            print(f"Serving {len(service.library.cards)} cards at {server.url} (Ctrl+C stops)", flush=True)
            await stop.wait()
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
