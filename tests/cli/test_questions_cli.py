"""`factdeck questions CARD` and the console's `questions`: what study mode asks about a card, for its curator."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest

from bot.cli.console import Console
from bot.cli.main import main
from bot.service import CardService
from tests.conftest import SHIPPED_CARDS

pytestmark = pytest.mark.usefixtures("cli_cache_outside_repo")


def test_questions_shows_the_blanks_choices_and_answers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["questions", "therapeutic-alliance-002", "--cards", str(SHIPPED_CARDS)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("therapeutic-alliance-002: ")
    assert "cloze (author)" in out
    assert "_____ (5) identified three components" in out
    assert "answer: Bordin" in out
    assert "choice (author)" in out
    assert "choices: " in out


def test_questions_json_lists_every_question(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["questions", "therapeutic-alliance-007", "--cards", str(SHIPPED_CARDS), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["id"] == "therapeutic-alliance-007"
    kinds = [(q["kind"], q["term_kind"]) for q in data["questions"]]
    assert ("cloze", "topic") in kinds
    choice = next(q for q in data["questions"] if q["kind"] == "choice")
    assert len(choice["choices"]) == 4
    assert choice["answer"] in choice["choices"]
    assert "none_because" not in data


def test_questions_says_why_a_card_is_not_quizzed(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "demo.yml").write_text(
        "collection: {id: demo, title: Demo, curator: Ada}\n"
        "cards:\n"
        "  - {id: demo-1, text: Too short to ask., topics: [short]}\n"
        "  - id: demo-2\n"
        "    text: The working alliance was described by Bordin (1979) as goals, tasks and a bond.\n"
        "    topics: [alliance]\n"
        "    study: {skip: true}\n",
        encoding="utf-8",
    )
    assert main(["questions", "demo-1", "--cards", str(tmp_path)]) == 0
    assert "demo-1 is not quizzed: it is too short to quiz" in capsys.readouterr().out
    assert main(["questions", "demo-2", "--cards", str(tmp_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data == {"id": "demo-2", "questions": [], "none_because": "its curator set study.skip"}


def test_questions_of_an_unknown_card_suggests_ids(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["questions", "therapeutic-alliance-02", "--cards", str(SHIPPED_CARDS)]) == 1
    err = capsys.readouterr().err
    assert "No card has the id 'therapeutic-alliance-02'. Did you mean therapeutic-alliance-0" in err


def test_the_console_shows_questions_too() -> None:
    out = io.StringIO()
    console = Console(CardService.load(SHIPPED_CARDS), out)
    console.handle("questions therapeutic-alliance-002")
    console.handle("questions nope")
    console.handle("help")
    text = out.getvalue()
    assert "answer: Bordin" in text
    assert "No card has the id “nope”." in text
    assert "questions CARD" in text


def test_every_process_derives_the_same_questions() -> None:
    """Questions are stored and compared across restarts: string hashing, which differs per process, never
    decides a blank, a distractor or the order of the choices."""
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        code = (
            "import json; from bot.cards.library import load_library; from bot.study import questions_for;"
            f"lib = load_library(__import__('pathlib').Path({str(SHIPPED_CARDS)!r}));"
            "print(json.dumps([[q.prompt, q.answer, q.choices] for c in lib.cards.values()"
            " for q in questions_for(c, lib)]))"
        )
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    assert json.loads(outputs[0])
