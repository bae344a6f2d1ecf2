"""A multiple-choice question never offers another server's terms as distractors (issue 15): a shared card's
question is the same in every server, so it draws only on shared cards; a server's card on the shared ones and
its own."""

from __future__ import annotations

from pathlib import Path

from bot.cards.library import load_library
from bot.study.questions import questions_for

CARD = """\
  - id: {id}
    text: As {author} (2001) showed, the working alliance predicts the outcome of therapy in many settings.
    topics: [alliance]
"""


def _file(path: Path, collection: str, authors: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cards = "".join(CARD.format(id=f"{collection}-{n:03d}", author=a) for n, a in enumerate(authors, 1))
    path.write_text(f"collection:\n  id: {collection}\n  title: T\n  curator: C\ncards:\n{cards}", encoding="utf-8")


def test_distractors_come_only_from_cards_the_questions_readers_see(tmp_path: Path) -> None:
    _file(tmp_path / "shared.yml", "shared", ["Horvath", "Bordin", "Luborsky"])
    _file(tmp_path / "servers" / "7" / "own.yml", "own", ["Quokkason", "Wallabyson"])
    library = load_library(tmp_path)
    shared_choices = {
        option
        for card_id in ("shared-001", "shared-002", "shared-003")
        for q in questions_for(library.cards[card_id], library)
        for option in q.choices
    }
    assert not any(name in option for option in shared_choices for name in ("Quokkason", "Wallabyson"))
    own = [q for q in questions_for(library.cards["own-001@7"], library) if q.kind == "choice"]
    assert own, "a server's card draws on the shared cards and its own"
    assert any("Horvath" in o or "Bordin" in o or "Luborsky" in o for q in own for o in q.choices)
