"""The terminal's text wrapping ends on any input and keeps every character (issue 14.1: every splitter)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cli import render
from tests.discord.freeze import no_freeze

TEXT = st.text(alphabet=st.sampled_from("\\\\\\ -*_\n\tab") | st.characters(), max_size=3000)


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_wrap_ends_fits_the_terminal_and_keeps_every_word(text: str) -> None:
    with no_freeze(10):
        wrapped = render._wrap(text)
    width = render._width()
    assert all(len(line) <= width for line in wrapped.split("\n"))
    assert "".join(wrapped.split()) == "".join(text.split())
