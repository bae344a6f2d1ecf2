"""User text made valid Unicode where it enters the Discord surface (issue 14.5)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.discord.inputs import clean_payload, clean_text


def test_unpaired_surrogates_become_the_replacement_character_and_pairs_their_character() -> None:
    assert clean_text("a\ud800b\udcff") == "a\ufffdb\ufffd"
    assert clean_text("\ud83d\ude00") == "\N{GRINNING FACE}"  # a pair sent as two halves is the emoji
    assert clean_text("plain text") == "plain text"


@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())))
def test_any_text_comes_out_encodable(text: str) -> None:
    cleaned = clean_text(text)
    cleaned.encode("utf-8")  # never raises
    assert len(cleaned) <= len(text)


def test_every_string_of_an_interaction_payload_is_cleaned() -> None:
    data = {"name": "fact", "options": [{"name": "search", "options": [{"name": "query", "value": "x\ud800"}]}]}
    assert clean_payload(data) == {
        "name": "fact",
        "options": [{"name": "search", "options": [{"name": "query", "value": "x\ufffd"}]}],
    }
    assert clean_payload({"values": [], "n": 3}) == {"values": [], "n": 3}


def test_a_payload_with_nothing_to_clean_is_not_copied() -> None:
    """Every interaction goes through the command tree's check: a valid payload is passed on as it is."""
    data = {"name": "fact", "options": [{"name": "search", "options": [{"name": "query", "value": "élan vital"}]}]}
    assert clean_payload(data) is data
    dirty = {"name": "fact", "options": [{"name": "query", "value": "ok"}, {"name": "topic", "value": "\udc80"}]}
    cleaned = clean_payload(dirty)
    assert cleaned == {
        "name": "fact",
        "options": [{"name": "query", "value": "ok"}, {"name": "topic", "value": "\ufffd"}],
    }
    assert dirty["options"][1]["value"] == "\udc80"  # the payload it was given is left as it was
