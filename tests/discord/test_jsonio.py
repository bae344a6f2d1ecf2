"""discord.py's JSON through orjson (bot.discord.jsonio): every value the standard library encodes or parses,
unpaired surrogates included, comes out the same, so no reply and no gateway event is lost to orjson's refusals."""

from __future__ import annotations

import json
from typing import Any

import discord.utils
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.discord import jsonio

# Text as a broken client or a card file can carry it: any code point, lone surrogates included.
texts = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()))


def _values(integers: st.SearchStrategy[int]) -> st.SearchStrategy[Any]:
    return st.recursive(
        st.none() | st.booleans() | integers | texts,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
        max_leaves=12,
    )


values = _values(st.integers(-(2**70), 2**70))  # what the bot sends: beyond 64 bits goes to the standard library
# What Discord sends: its integers fit in 64 bits (ids are strings); orjson reads larger ones as floats.
received = _values(st.integers(-(2**63), 2**64 - 1))


@given(values)
def test_a_payload_encodes_to_json_that_reads_back_as_itself(value: Any) -> None:
    assert json.loads(jsonio.dumps(value)) == value


@given(received)
def test_json_discord_sends_parses_as_the_standard_library_parses_it(value: Any) -> None:
    text = json.dumps(value)
    assert jsonio.loads(text) == json.loads(text)
    assert jsonio.loads(text.encode()) == json.loads(text)


def test_an_unpaired_surrogate_in_a_gateway_event_or_a_reply_is_kept_escaped() -> None:
    event = '{"t":"INTERACTION_CREATE","d":{"data":{"options":[{"value":"alliance \\ud800 x \\udcff"}]}}}'
    assert jsonio.loads(event)["d"]["data"]["options"][0]["value"] == "alliance \ud800 x \udcff"
    reply = {"embeds": [{"description": "card text \ud800 with a lone surrogate"}]}
    assert jsonio.dumps(reply) == json.dumps(reply, separators=(",", ":"), ensure_ascii=True)


def test_invalid_json_still_raises_the_standard_error() -> None:
    with pytest.raises(json.JSONDecodeError):
        jsonio.loads('{"unfinished": ')


def test_the_bot_makes_discord_py_use_them() -> None:
    jsonio.install()
    assert discord.utils._to_json({"a": "\ud800"}) == '{"a":"\\ud800"}'
    assert discord.utils._from_json('{"a":"\\ud800"}') == {"a": "\ud800"}
