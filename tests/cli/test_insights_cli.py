"""``factdeck reports``, ``factdeck insights --json`` and ``factdeck stats --chart``, read from the bot's database."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from bot.cli.main import main as cli_main
from bot.insights import CHART_SIZE
from bot.storage import Storage, ViewEvent

CARD = "therapeutic-alliance-001"


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "config.yml"
    config.write_text(f"database: {tmp_path / 'factdeck.db'}\ncache_dir: {tmp_path / 'cache'}\n", encoding="utf-8")
    return config


def _seed(tmp_path: Path) -> None:
    async def seed() -> None:
        async with Storage.open(tmp_path / "factdeck.db") as storage:
            now = dt.datetime.now(dt.UTC)
            for card in (CARD, CARD, "therapeutic-alliance-002"):
                storage.views.record(ViewEvent(card, 7, 8, 9, "show", at=now))
            for card, collection, reporter, kind, text in (
                (CARD, "therapeutic-alliance", 42, "typo", "@everyone teh"),
                ("gone-001", "gone", 42, "other", ""),
                ("course-001@7", "course@7", 43, "typo", "our own card"),  # server 7's own card
            ):
                await storage.reports.submit(
                    card_id=card,
                    collection_id=collection,
                    guild_id=7,
                    reporter_id=reporter,
                    reporter_name="bob",
                    kind=kind,
                    text=text,
                    card_digest="old" if card == CARD else "x",
                )
            for _ in range(3):
                storage.searches.record("zebra", 7)

    asyncio.run(seed())


def test_reports_lists_the_queue_as_json_and_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _seed(tmp_path)
    assert cli_main(["reports", "--config", str(_config(tmp_path)), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(c["card"], c["exists"]) for c in data] == [("gone-001", False), (CARD, True)]  # the latest first
    (report,) = data[1]["reports"]
    assert (report["kind"], report["text"], report["possibly_stale"], report["status"]) == (
        "typo",
        "@everyone teh",
        True,  # reported on another version of the card
        "open",
    )
    assert cli_main(["reports", "--config", str(_config(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "gone-001: 1 report  (no longer in the deck)" in out
    assert "#1 open typo by bob" in out
    assert "[possibly stale]: @everyone teh" in out


def test_insights_json_answers_what_readers_look_for(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _seed(tmp_path)
    assert cli_main(["insights", "--config", str(_config(tmp_path)), "--guild", "7", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["missed"][0] | {"last": None} == {
        "query": "zebra",
        "kind": "search",
        "count": 3,
        "days": 1,
        "last": None,
    }
    assert data["most_viewed"][0] == {"card": CARD, "views": 2}
    assert data["least_viewed"][0]["views"] == 0
    assert {"card": CARD, "open_reports": 1} in data["most_reported"]


def test_stats_writes_the_chart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _seed(tmp_path)
    chart = tmp_path / "out" / "views.png"
    chart.parent.mkdir()
    assert cli_main(["stats", "--config", str(_config(tmp_path)), "--chart", str(chart)]) == 0
    image = Image.open(io.BytesIO(chart.read_bytes()))
    image.load()
    assert (image.format, image.size) == ("PNG", CHART_SIZE)
    assert "3 views" in capsys.readouterr().out
    blocked = tmp_path / "config.yml" / "x.png"  # a file where its folder should be
    assert cli_main(["stats", "--config", str(_config(tmp_path)), "--chart", str(blocked)]) == 1
    assert "could not write" in capsys.readouterr().err


def test_no_database_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["reports", "--config", str(_config(tmp_path))]) == 1
    assert "no database" in capsys.readouterr().err


def test_the_consoles_failed_searches_are_counted_in_the_bots_database(tmp_path: Path) -> None:
    from bot.cli.console import run_console
    from bot.cli.insights import counted_misses
    from bot.service import CardService
    from bot.settings import load_settings

    settings = load_settings(_config(tmp_path), env={})
    service = CardService.load(settings.cards_dir)
    lines = "search zebra unicorn\nnext\nsearch alliance\ncite Nobody 1899\ncite Simpson\nquit\n"
    with counted_misses(settings) as misses:
        run_console(service, stdin=io.StringIO(lines), stdout=io.StringIO(), misses=misses)

    async def counted() -> list[tuple[object, ...]]:
        async with Storage.open(tmp_path / "factdeck.db") as storage:
            rows = await storage.db.fetchall("SELECT guild_id, query, kind, count FROM failed_searches ORDER BY 2")
            return [tuple(r) for r in rows]

    assert asyncio.run(counted()) == [(0, "nobody 1899", "cite", 1), (0, "zebra unicorn", "search", 1)]


def test_reports_and_insights_see_what_one_server_sees(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _seed(tmp_path)

    config = str(_config(tmp_path))

    def cards(*args: str) -> list[str]:
        assert cli_main(["reports", "--config", config, "--json", *args]) == 0
        return sorted(c["card"] for c in json.loads(capsys.readouterr().out))

    assert cards() == ["gone-001", CARD]  # the shared library's reports: a server's own card is not shared
    assert cards("--server", "7") == ["course-001@7", "gone-001", CARD]
    assert cards("--server", "8") == []  # made in another server, on cards server 8 does not own
    assert cli_main(["insights", "--config", config, "--server", "8", "--json"]) == 0
    elsewhere = json.loads(capsys.readouterr().out)
    assert (elsewhere["missed"], elsewhere["most_viewed"], elsewhere["most_reported"]) == ([], [], [])


def test_stats_takes_server_like_every_other_reading_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _seed(tmp_path)
    assert cli_main(["stats", "--config", str(_config(tmp_path)), "--server", "7"]) == 0
    assert "3 views" in capsys.readouterr().out
    assert cli_main(["stats", "--config", str(_config(tmp_path)), "--server", "8"]) == 0  # another server: none
    assert "3 views" not in capsys.readouterr().out
    assert cli_main(["stats", "--config", str(_config(tmp_path)), "--guild", "7"]) == 0  # the old spelling still works
    assert "3 views" in capsys.readouterr().out
