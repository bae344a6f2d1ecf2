"""``safe`` skips discord.py's escaping for text with nothing to escape; what a reader sees must not change."""

from __future__ import annotations

import discord
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.discord.embeds import clip, safe

#: Characters that matter to Discord's markdown and mentions, plus ordinary ones and line breaks.
ALPHABET = "_\\~|*`>[]()#-@ \n\t\r\x0b\u2028\xa0aZé0123456789:/.<"


def discord_escape(text: str) -> str:
    return discord.utils.escape_mentions(discord.utils.escape_markdown(text))


@settings(max_examples=600, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=60))
def test_safe_is_discords_escape(text: str) -> None:
    assert safe(text) == discord_escape(text)


def test_card_like_text_with_and_without_markdown() -> None:
    cases = [
        "The working alliance (Horvath & Symonds, 1991) predicts outcome in long-term therapy.",
        "- a line that starts with a dash\nand *stars*, _underscores_ and `code`",
        "  - indented dash",
        "# heading\n> quote\n[link](https://example.com/a_b) https://example.com/x_y",
        "ping @everyone and @here and <@123456789012345678>",
        "a\\b ~~strike~~ ||spoiler||",
    ]
    for text in cases:
        assert safe(text) == discord_escape(text)


@settings(max_examples=600, deadline=None)
@given(st.text(alphabet="ab cd\n\t.,", max_size=400), st.integers(min_value=1, max_value=120))
def test_a_menu_line_is_the_whole_text_on_one_line_cut(text: str, limit: int) -> None:
    """The "open a card" menu's descriptions look only at the head of a card's text, with the same result."""
    from bot.discord.cogs.facts import _short

    assert _short(text, limit) == clip(" ".join(text.split()), limit)[0]
