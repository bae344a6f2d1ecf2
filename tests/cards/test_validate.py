"""The validator: every problem in a file, each at the line and column of the YAML node at fault."""

from __future__ import annotations

import textwrap
import tracemalloc

import pytest

from bot.cards.library import parse_bytes
from bot.cards.validate import Problem, cross_file, validate_card, validate_text

GOOD = """\
collection:
  id: demo
  title: Demo
  curator: Ada
cards:
  - id: demo-1
    text: The alliance predicts outcome (Horvath & Symonds, 1991).
    topics: [outcome]
"""


def check(text: str) -> list[Problem]:
    return validate_text(textwrap.dedent(text), "f.yml").problems


def where(problems: list[Problem]) -> list[tuple[int, int]]:
    return [(p.line, p.column) for p in problems]


def test_a_good_file_has_no_problems() -> None:
    result = validate_text(GOOD, "f.yml")
    assert result.ok
    assert result.problems == []
    assert result.card_file is not None
    assert result.card_file.cards[0].topics == ("outcome",)


def test_every_error_in_a_file_is_reported_in_one_run() -> None:
    problems = check(
        """\
        collection:
          id: demo
          title: Demo
          curatr: Ada
        cards:
          - id: demo-1
            txt: hello
          - id: demo-2
            text: fine
            topics: [a, 5]
          - id: demo-3
            text: ""
        """
    )
    messages = [str(p) for p in problems]
    assert "f.yml:1:1: collection is missing the required key 'curator'" not in messages
    assert any(m.startswith("f.yml:2:3: collection is missing the required key 'curator'") for m in messages)
    assert "f.yml:4:3: unknown key 'curatr' in collection; did you mean 'curator'?" in messages
    assert "f.yml:6:5: cards[0] is missing the required key 'text'" in messages
    assert "f.yml:7:5: unknown key 'txt' in cards[0]; did you mean 'text'?" in messages
    assert "f.yml:10:17: cards[1].topics[1] should be text, not a whole number" in messages
    assert "f.yml:12:11: cards[2].text is empty" in messages
    assert len(problems) == 6


def test_yaml_syntax_error_names_line_and_column() -> None:
    problems = check("collection:\n  id: demo\n  title: [unclosed\ncards: []\n")
    assert len(problems) == 1
    assert problems[0].path == "f.yml"
    assert problems[0].message.startswith("YAML syntax:")
    assert problems[0].line == 4


def test_wrong_type_for_a_mapping_and_a_list() -> None:
    problems = check("collection: just text\ncards: {id: x}\n")
    assert where(problems) == [(1, 13), (2, 8)]
    assert "collection should be a mapping" in problems[0].message
    assert "cards should be a list" in problems[1].message


def test_missing_and_empty_text() -> None:
    problems = check(
        GOOD.replace("    text: The alliance predicts outcome (Horvath & Symonds, 1991).\n", "    text: '   '\n")
    )
    assert [(p.line, p.column, p.message) for p in problems] == [(7, 11, "text is empty")]


def test_over_long_text_says_it_must_fit_an_embed() -> None:
    problems = check(GOOD.replace("The alliance predicts outcome (Horvath & Symonds, 1991).", "word " * 1000))
    assert len(problems) == 1
    assert (problems[0].line, problems[0].column) == (7, 11)
    assert "4,999 characters; at most 4,096 are allowed so that it fits a Discord embed" in problems[0].message


def test_unknown_key_without_a_near_miss_lists_allowed_keys() -> None:
    problems = check(GOOD.replace("    topics: [outcome]\n", "    topics: [outcome]\n    flavour: x\n"))
    assert (problems[0].line, problems[0].column) == (9, 5)
    assert "allowed keys: id, text, topics, source, citations, added_by, added_at" in problems[0].message


def test_duplicate_card_ids_within_a_file() -> None:
    text = GOOD + "  - id: demo-1\n    text: Another fact.\n    topics: [x]\n"
    problems = check(text)
    assert [str(p) for p in problems] == ["f.yml:9:9: duplicate card id 'demo-1': card 1 has it too"]


def test_duplicate_key_in_a_mapping_is_an_error_not_a_silent_overwrite() -> None:
    problems = check(GOOD + "    text: second text\n")
    assert [(p.line, p.column) for p in problems] == [(9, 5)]
    assert "the key 'text' appears twice" in problems[0].message


def test_duplicates_across_files_name_the_other_file() -> None:
    one = validate_text(GOOD, "a.yml").card_file
    two = validate_text(GOOD.replace("title: Demo", "title: Other"), "b.yml").card_file
    assert one is not None
    assert two is not None
    found = cross_file([("a.yml", one, lambda: GOOD), ("b.yml", two, lambda: GOOD)])
    assert list(found) == ["b.yml"]
    messages = [str(p) for p in found["b.yml"]]
    assert "b.yml:2:7: duplicate collection id 'demo': a.yml has it too" in messages
    assert "b.yml:6:9: duplicate card id 'demo-1': a.yml has it too" in messages
    assert "b.yml:7:11: warning: this text is also card 'demo-1' in a.yml" not in messages  # same id: not a dup text


def test_duplicate_text_and_missing_topics_are_warnings() -> None:
    text = GOOD + "  - id: demo-2\n    text: The alliance predicts outcome (Horvath & Symonds, 1991).\n"
    result = validate_text(text, "f.yml")
    assert result.ok
    assert [str(p) for p in result.problems] == [
        "f.yml:9:9: warning: card 'demo-2' has no topics, so topic search cannot find it"
    ]
    assert result.card_file is not None
    found = cross_file([("f.yml", result.card_file, lambda: text)])
    assert [str(p) for p in found["f.yml"]] == ["f.yml:10:11: warning: this text is also card 'demo-1' in f.yml"]


def test_non_utf8_file_names_the_byte_position() -> None:
    raw = GOOD.replace("Ada", "Ad\xe9").encode("latin-1")
    result = parse_bytes(raw, "f.yml")
    assert not result.ok
    assert [(p.line, p.column) for p in result.problems] == [(4, 14)]
    assert "not UTF-8" in result.problems[0].message


@pytest.mark.parametrize("text", ["", "   \n\n", "# only a comment\n"])
def test_empty_files_are_errors(text: str) -> None:
    problems = check(text)
    assert [str(p) for p in problems] == ["f.yml:1:1: the file is empty: it needs a collection and cards"]


def test_python_object_tags_are_refused_and_never_constructed(tmp_path) -> None:
    marker = tmp_path / "pwned"
    text = GOOD.replace(
        "text: The alliance predicts outcome (Horvath & Symonds, 1991).",
        f'text: !!python/object/apply:os.system ["touch {marker}"]',
    )
    problems = check(text)
    assert not marker.exists()
    assert [(p.line, p.column) for p in problems] == [(7, 11)]
    assert "the tag '!!python/object/apply:os.system' is not allowed" in problems[0].message


def billion_laughs() -> str:
    """A document of 9**10 strings once its aliases are expanded (also timed in benchmarks/bench_guards.py)."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for n in range(1, 10):
        lines.append(f"a{n}: &a{n} [" + ",".join([f"*a{n - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_refused_before_expansion() -> None:
    tracemalloc.start()
    problems = validate_text(billion_laughs(), "laughs.yml").problems
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert [(p.line, p.column) for p in problems] == [(2, 10)]
    assert "aliases" in problems[0].message
    # Expanded, this document has 9**10 strings; refused before expansion it stays small.
    assert peak < 5_000_000


def test_text_with_ampersands_and_asterisks_is_not_mistaken_for_an_alias() -> None:
    result = validate_text(GOOD.replace("Horvath & Symonds", "Horvath & Symonds *see* R&D"), "f.yml")
    assert result.ok
    assert result.card_file is not None
    assert result.card_file.cards[0].text == "The alliance predicts outcome (Horvath & Symonds *see* R&D, 1991)."


def test_yaml_1_1_booleans_and_dates_stay_text() -> None:
    result = validate_text(GOOD.replace("[outcome]", "[no, on, 2020-01-01]"), "f.yml")
    assert result.card_file is not None
    assert result.card_file.cards[0].topics == ("no", "on", "2020-01-01")


def test_moderator_edits_use_the_same_rules() -> None:
    card, problems = validate_card({"id": "demo-9", "text": "", "topcs": ["x"]})
    assert card is None
    messages = sorted(p.message for p in problems)
    assert messages == ["text is empty", "unknown key 'topcs' in the card; did you mean 'topics'?"]
    card, problems = validate_card({"id": "demo-9", "text": "A fact.", "topics": ["x"]})
    assert problems == []
    assert card is not None
    assert card.id == "demo-9"
