"""A card's study block (curator overrides for quizzes): decoded, written back, and checked like every other key."""

from __future__ import annotations

import json
import textwrap

from bot.cards import model
from bot.cards.validate import validate_card, validate_text
from bot.cards.yamlio import dump

FILE = """\
collection:
  id: demo
  title: Demo
  curator: Ada
cards:
  - id: demo-1
    text: Bordin (1979) described the working alliance as goals, tasks and a bond, and Rønnestad agreed.
    topics: [working alliance]
    study:
      cloze: [working alliance, Ronnestad]
      answers: [helping alliance]
"""


def problems(text: str) -> list[str]:
    return [str(p) for p in validate_text(textwrap.dedent(text), "f.yml").problems]


def test_a_study_block_is_decoded_and_written_back() -> None:
    result = validate_text(FILE, "f.yml")
    assert result.ok, result.problems
    assert result.card_file is not None
    study = result.card_file.cards[0].study
    assert study == model.Study(cloze=("working alliance", "Ronnestad"), answers=("helping alliance",))
    written = dump(result.card_file)
    again = validate_text(written, "f.yml")
    assert again.card_file == result.card_file
    assert "study:" in written


def test_a_card_without_a_study_block_writes_none() -> None:
    text = FILE.split("    study:")[0]
    result = validate_text(text, "f.yml")
    assert result.card_file is not None
    assert result.card_file.cards[0].study == model.NO_STUDY
    assert "study" not in dump(result.card_file)


def test_a_cloze_term_not_in_the_text_is_an_error_at_its_line_and_column() -> None:
    found = problems(FILE.replace("cloze: [working alliance, Ronnestad]", "cloze: [working alliance, Luborsky]"))
    assert found == [
        "f.yml:10:33: cards[0].study.cloze[1] 'Luborsky' does not occur in the card's text (whole words, any case)"
    ]


def test_a_cloze_term_must_be_whole_words() -> None:
    found = problems(FILE.replace("cloze: [working alliance, Ronnestad]", "cloze: [allian]"))
    assert found == [
        "f.yml:10:15: cards[0].study.cloze[0] 'allian' does not occur in the card's text (whole words, any case)"
    ]


def test_answers_without_cloze_skip_with_cloze_and_a_repeated_term() -> None:
    assert problems(FILE.replace("      cloze: [working alliance, Ronnestad]\n", "")) == [
        "f.yml:10:16: cards[0].study.answers needs study.cloze: the terms these answers stand for"
    ]
    assert problems(FILE + "      skip: true\n") == [
        "f.yml:12:13: warning: cards[0].study.skip is true, so study.cloze is never used"
    ]
    assert problems(FILE.replace("Ronnestad]", "Working  Alliance]")) == [
        "f.yml:10:33: warning: cards[0].study.cloze[1] 'Working  Alliance' is study.cloze[0] again"
    ]


def test_unknown_keys_wrong_types_and_empty_terms_are_named() -> None:
    found = problems(
        FILE.replace(
            "      answers: [helping alliance]\n", "      answer: [helping alliance]\n      skip: yes\n"
        ).replace("Ronnestad]", "'']")
    )
    assert found == [
        "f.yml:10:33: cards[0].study.cloze[1] is empty",
        "f.yml:11:7: unknown key 'answer' in cards[0].study; did you mean 'answers'?",
        "f.yml:12:13: cards[0].study.skip should be true or false, not text",
    ]
    assert problems(FILE.replace("cloze: [working alliance, Ronnestad]", "cloze: working alliance")) == [
        "f.yml:10:14: cards[0].study.cloze should be a list, not text"
    ]


def test_a_moderators_edit_is_checked_the_same_way() -> None:
    data = {"id": "demo-1", "text": "The working alliance predicts outcome in therapy.", "study": {"cloze": ["bond"]}}
    card, found = validate_card(data)
    assert card is None
    assert [p.message for p in found] == [
        "study.cloze[0] 'bond' does not occur in the card's text (whole words, any case)"
    ]
    data["study"] = {"cloze": ["Working Alliance"], "answers": ["helping alliance"]}
    card, found = validate_card(data)
    assert card is not None
    assert found == []
    assert card.study.cloze == ("Working Alliance",)


def test_the_json_schema_describes_the_study_block() -> None:
    schema = json.loads(model.schema_text())
    assert schema["$defs"]["Card"]["properties"]["study"] == {"$ref": "#/$defs/Study", "default": {}}
    study = schema["$defs"]["Study"]
    assert set(study["properties"]) == {"cloze", "answers", "skip"}
    assert study["properties"]["cloze"]["maxItems"] == 10
    assert study["additionalProperties"] is False


def test_too_many_terms_and_too_long_answers_are_named() -> None:
    eleven = ", ".join(["alliance"] * 11)
    found = problems(
        FILE.replace("cloze: [working alliance, Ronnestad]", f"cloze: [{eleven}]").replace(
            "[helping alliance]", "[" + "x" * 101 + "]"
        )
    )
    assert found == [
        "f.yml:10:14: cards[0].study.cloze has 11 entries; at most 10 are allowed",
        "f.yml:11:17: cards[0].study.answers[0] is 101 characters; at most 100 are allowed",
    ]
