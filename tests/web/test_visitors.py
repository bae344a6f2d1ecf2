"""Who counts as a reader, and the view totals the pages show (read from the view log at most every ttl)."""

from __future__ import annotations

import asyncio

import pytest

from bot.storage import ViewEvent
from bot.web.visitors import ViewTotals, is_crawler


@pytest.mark.parametrize(
    "agent",
    [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
        "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.5 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile",
    ],
)
def test_a_persons_browser_is_a_reader(agent: str) -> None:
    assert not is_crawler(agent)


@pytest.mark.parametrize(
    "agent",
    [
        "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
        "Twitterbot/1.0",
        "facebookexternalhit/1.1",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "TelegramBot (like TwitterBot)",
        "WhatsApp/2.23.20.0",
        "Mozilla/5.0 (Macintosh) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0 Safari/537.36",
        "Wget/1.21",
        "",
        "   ",
        None,
    ],
)
def test_bots_unfurlers_and_tools_are_not(agent: str | None) -> None:
    assert is_crawler(agent)


class _Log:
    def __init__(self) -> None:
        self.reads = 0
        self.fail = False
        self.stored: dict[str, int] = {"a": 3}
        self.recorded: list[ViewEvent] = []

    def record(self, view: ViewEvent, /) -> None:
        self.recorded.append(view)

    async def views_by_card(self, guild_id: int | None = None) -> dict[str, int]:
        self.reads += 1
        if self.fail:
            raise OSError("disk gone")
        return dict(self.stored)


async def test_totals_are_read_once_then_refreshed_in_the_background_after_ttl() -> None:
    now = [0.0]
    log = _Log()
    totals = ViewTotals(log, ttl=30, clock=lambda: now[0])
    assert await totals.by_card() == {"a": 3}
    now[0] = 10
    log.stored = {"a": 4}
    assert await totals.by_card() == {"a": 3}  # within ttl: no read
    assert log.reads == 1
    now[0] = 31
    assert await totals.by_card() == {"a": 3}  # stale is shown while the refresh runs
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert await totals.by_card() == {"a": 4}
    assert log.reads == 2
    await totals.close()


async def test_a_view_counts_at_once_and_a_failed_read_keeps_the_last_figures() -> None:
    now = [0.0]
    log = _Log()
    totals = ViewTotals(log, ttl=30, clock=lambda: now[0])
    await totals.by_card()
    totals.record("a")
    assert (await totals.by_card())["a"] == 4
    assert [(v.card_id, v.command, v.guild_id, v.user_id) for v in log.recorded] == [("a", "web", None, None)]
    log.fail = True
    now[0] = 100
    await totals.by_card()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert (await totals.by_card())["a"] == 4
    await totals.close()


async def test_without_a_view_log_nothing_is_recorded_or_read() -> None:
    totals = ViewTotals(None)
    totals.record("a")
    assert await totals.by_card() == {}


async def test_views_per_collection_are_added_up_once_and_kept_current() -> None:
    log = _Log()
    log.stored = {"a": 3, "b": 2, "gone": 7}
    totals = ViewTotals(log, ttl=30, clock=lambda: 0.0)
    owner = {"a": "one", "b": "two", "c": "one"}
    first = await totals.by_collection(owner)
    assert first == {"one": 3, "two": 2}  # a card no longer served is left out
    totals.record("c")
    again = await totals.by_collection(owner)
    assert again is first  # not added up again
    assert again == {"one": 4, "two": 2}
    assert await totals.by_collection({"a": "two"}) == {"two": 3}  # another library: added up anew


def test_factdeck_stats_shows_web_views_apart(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli.main import main as cli_main
    from bot.storage import Storage

    async def seed() -> None:
        async with Storage.open(tmp_path / "factdeck.db") as storage:
            storage.views.record(ViewEvent("therapeutic-alliance-001", 7, 8, 9, "show"))
            for _ in range(2):
                storage.views.record(ViewEvent("therapeutic-alliance-002", None, None, None, "web"))

    asyncio.run(seed())
    config = tmp_path / "config.yml"
    config.write_text(f"cache_dir: {tmp_path / 'cache'}\n", encoding="utf-8")
    assert cli_main(["stats", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "3 views (all servers)" in out
    shown = out.split("Views per command")[1].splitlines()
    assert [line.split() for line in shown[1:3]] == [["2", "web"], ["1", "show"]]
