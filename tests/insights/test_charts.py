"""bot.insights.charts: the views chart's data (every day, most viewed collections first, the rest added up),
the PNG it draws, and the text it becomes when it cannot be drawn."""

from __future__ import annotations

import datetime as dt
import io

from PIL import Image

from bot.insights import CHART_SIZE, chart_text, draw_views, views_chart
from bot.insights.charts import MAX_SERIES, OTHERS, REMOVED

TODAY = dt.date(2026, 3, 30)
OWNER = {f"c{i}-001": f"c{i}" for i in range(9)} | {"a-001": "a", "a-002": "a", "b-001": "b"}
TITLES = {f"c{i}": f"Collection {i}" for i in range(9)} | {"a": "Alpha", "b": "Beta"}


def test_every_day_is_on_the_axis_and_views_are_added_up_per_collection() -> None:
    rows = [
        ("a-001", TODAY, 2),
        ("a-002", TODAY, 1),
        ("b-001", TODAY - dt.timedelta(days=2), 5),
        ("a-001", TODAY - dt.timedelta(days=30), 9),  # before the window
        ("gone-001", TODAY, 1),  # a card no longer in the deck
    ]
    chart = views_chart(rows, OWNER, TITLES, days=7, today=TODAY)
    assert chart.days[0] == TODAY - dt.timedelta(days=6)
    assert chart.days[-1] == TODAY
    assert dict(chart.series) == {
        "Beta": (0, 0, 0, 0, 5, 0, 0),
        "Alpha": (0, 0, 0, 0, 0, 0, 3),
        REMOVED: (0, 0, 0, 0, 0, 0, 1),
    }
    assert [name for name, _ in chart.series] == ["Beta", "Alpha", REMOVED]
    assert chart.totals == (0, 0, 0, 0, 5, 0, 4)
    only = views_chart(rows, OWNER, TITLES, days=7, today=TODAY, only="a")
    assert [name for name, _ in only.series] == ["Alpha"]


def test_beyond_the_lines_it_can_show_the_least_viewed_collections_are_one_line() -> None:
    rows = [(f"c{i}-001", TODAY, 10 - i) for i in range(9)]
    chart = views_chart(rows, OWNER, TITLES, days=3, today=TODAY)
    names = [name for name, _ in chart.series]
    assert len(names) == MAX_SERIES
    assert names[:-1] == [f"Collection {i}" for i in range(MAX_SERIES - 1)]
    assert chart.series[-1] == (OTHERS, (0, 0, sum(10 - i for i in range(MAX_SERIES - 1, 9))))
    assert sum(chart.totals) == sum(10 - i for i in range(9))


def test_the_chart_is_a_png_of_the_documented_size_even_with_no_views() -> None:
    for rows in ([("a-001", TODAY, 3), ("b-001", TODAY - dt.timedelta(days=1), 1)], []):
        png = draw_views(views_chart(rows, OWNER, TITLES, days=30, today=TODAY))
        image = Image.open(io.BytesIO(png))
        image.load()
        assert image.format == "PNG"
        assert image.size == CHART_SIZE
        corner = image.convert("RGB").getpixel((2, 2))
        assert isinstance(corner, tuple)
        assert sum(corner) < 3 * 60  # its own dark background: it reads the same in Discord's light theme


def test_the_text_form_is_a_sparkline_of_the_daily_totals() -> None:
    chart = views_chart([("a-001", TODAY, 4), ("a-001", TODAY - dt.timedelta(days=1), 2)], OWNER, TITLES, days=4,
                        today=TODAY)  # fmt: skip
    assert chart_text(chart) == "27 Mar ▁▁▄█ 30 Mar · 6 views, at most 4 a day"
    assert chart_text(views_chart([], OWNER, TITLES, days=4, today=TODAY)) == "No views in the last 4 days."
