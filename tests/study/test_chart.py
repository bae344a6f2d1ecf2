"""The /study progress picture as a member sees it in Discord, whose default theme is dark."""

from __future__ import annotations

import datetime as dt
import io

from PIL import Image

from bot.study.chart import draw_progress

DAY = dt.date(2026, 3, 2)


def _series(start: dt.date, values: list[int]) -> list[tuple[dt.date, int]]:
    return [(start + dt.timedelta(days=i), n) for i, n in enumerate(values)]


def _luminance(pixel: tuple[int, ...]) -> float:
    r, g, b = pixel[:3]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_the_chart_is_dark_with_light_text_so_it_reads_in_discords_dark_theme() -> None:
    png = draw_progress(_series(DAY - dt.timedelta(days=13), [0] * 13 + [2]), _series(DAY, [0, 0, 3] + [0] * 11))
    image = Image.open(io.BytesIO(png)).convert("RGBA")
    width, height = image.size
    corner = image.getpixel((2, 2))
    assert isinstance(corner, tuple)
    assert corner[3] == 255
    assert _luminance(corner) < 60
    light = sum(image.convert("L").histogram()[181:])
    assert light > width * height // 500  # titles, tick labels and axes drawn light on it


def test_an_empty_history_still_draws_both_panels() -> None:
    png = draw_progress(_series(DAY, [0] * 14), _series(DAY, [0] * 14))
    assert Image.open(io.BytesIO(png)).format == "PNG"
