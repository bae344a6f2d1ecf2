"""Every text splitter of the Discord surface ends on any input and keeps Discord's limits (issue 14.1).

A long run of backslashes once made ``_chunks`` loop forever ("Read more" on such a card froze the whole bot).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.discord import embeds
from bot.discord.cogs.facts import _short
from bot.discord.embeds.cards import _chunks
from bot.discord.embeds.curation import fit_lines
from tests.discord.freeze import no_freeze

#: Text rich in what trips splitters: backslashes, spaces, markdown, newlines, and any other character.
TEXT = st.text(alphabet=st.sampled_from("\\\\\\ *_`|~>#-\n\tab") | st.characters(), max_size=3000)
LIMITS = st.integers(min_value=1, max_value=1100)


def _odd_tail(text: str) -> bool:
    return (len(text) - len(text.rstrip("\\"))) % 2 == 1


def _words(text: str) -> str:
    return "".join(text.split())


def test_a_run_of_backslashes_the_size_of_a_card_is_split() -> None:
    text = embeds.safe("\\" * 2100 + " the end")  # 4,200 escaped backslashes: more than one embed holds
    with no_freeze(10):
        pieces = _chunks(text, embeds.DESCRIPTION_MAX)
    assert len(pieces) == 2
    assert all(len(p) <= embeds.DESCRIPTION_MAX and not _odd_tail(p) for p in pieces)
    assert "".join(pieces).endswith("the end")


@settings(max_examples=300, deadline=None)
@given(TEXT, LIMITS)
def test_chunks_end_fit_and_keep_every_character(text: str, limit: int) -> None:
    with no_freeze(10):
        pieces = _chunks(text, limit)
    assert all(p and len(p) <= limit for p in pieces)
    assert _words("".join(pieces)) == _words(text)  # only whitespace at the cuts goes
    if limit >= 2:  # no cut leaves half an escape behind (unless all that fits is one lone backslash)
        assert all(p == "\\" or not _odd_tail(p) for p in pieces[:-1])


@settings(max_examples=300, deadline=None)
@given(TEXT, LIMITS)
def test_clip_ends_fits_and_says_whether_it_cut(text: str, limit: int) -> None:
    with no_freeze(10):
        out, cut = embeds.clip(text, limit)
    assert len(out) <= limit
    assert cut == (len(text) > limit)
    if cut:
        assert out.endswith(embeds.ELLIPSIS)
        assert text.startswith(out[: -len(embeds.ELLIPSIS)])
        assert not _odd_tail(out[: -len(embeds.ELLIPSIS)])
    else:
        assert out == text


@settings(max_examples=200, deadline=None)
@given(TEXT, st.integers(min_value=1, max_value=200))
def test_safe_with_a_limit_fits_and_never_pings(text: str, limit: int) -> None:
    with no_freeze(10):
        out = embeds.safe(text, limit)
    assert len(out) <= limit
    assert "@everyone" not in out
    assert "@here" not in out


@settings(max_examples=200, deadline=None)
@given(st.lists(TEXT, max_size=60), st.integers(min_value=120, max_value=4096))
def test_problem_lines_fit_the_embed_and_say_how_many_were_left_out(lines: list[str], limit: int) -> None:
    with no_freeze(10):
        body, cut = fit_lines(lines, limit)
    assert len(body) <= limit
    if cut:
        assert body.rsplit("… and ", 1)[1].split(" ", 1)[0].isdigit()


@settings(max_examples=200, deadline=None)
@given(TEXT, st.integers(min_value=1, max_value=200))
def test_a_short_label_is_one_line_that_fits(text: str, limit: int) -> None:
    with no_freeze(10):
        label = _short(text, limit)
    assert len(label) <= limit
    assert "\n" not in label
