"""A generated card library for the end-to-end tests: the shipped cards plus cards that exercise the edges."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

SHIPPED_CARDS = Path(__file__).resolve().parents[2] / "cards"

#: Every "lab-" card mentions this word, so a search for it has several pages.
PAGED_WORD = "mitochondria"
#: Every "lab-" card cites this work, so /fact cite has several pages.
PAGED_REFERENCE = "Quillfeather & Dunmore 2004"
HOSTILE_CARD = "lab-hostile"
LONG_CARD = "lab-long"
LAB_CARDS = 12


def _name(i: int) -> str:
    first = ["Bal", "Cor", "Dun", "Fen", "Gar", "Hol", "Jor", "Kel", "Lom", "Mar"]
    last = ["ton", "wick", "by", "ford", "ley", "mere", "well", "stone"]
    return first[i % 10] + last[(i // 10) % 8]


def _long_text() -> str:
    sentence = "The mitochondria of study groups keep every session going with small facts and steady effort. "
    text = ""
    while len(text) + len(sentence) < 2800:
        text += sentence
    return text.strip()


def build_library(target: Path) -> Path:
    """Copy the shipped cards into ``target`` and add a ``lab`` collection; return ``target``."""
    shutil.copytree(SHIPPED_CARDS, target, ignore=shutil.ignore_patterns(".*"))
    cards = []
    for i in range(LAB_CARDS):
        cards.append(
            {
                "id": f"lab-{i:03d}",
                "text": f"Fact {i} about {PAGED_WORD}: cells in room {i} use energy (Quillfeather & Dunmore, 2004).",
                "topics": ["cell biology", f"room {i}"],
                "source": {"article": f"Lab notes {i}", "type": "Offline Book/Journal"},
            }
        )
    cards.append(
        {
            "id": HOSTILE_CARD,
            "text": "Ping @everyone and <@123456789012345678> and @here: **bold** _it_ mitochondria "
            "(Quillfeather & Dunmore, 2004).",
            "topics": ["cell biology"],
            "source": {"article": "@everyone *shouting*", "type": "Website"},
        }
    )
    cards.append(
        {
            "id": LONG_CARD,
            "text": _long_text()
            + " ("
            + "; ".join(f"{_name(i)} & {_name(i + 40)}, {1900 + i}" for i in range(40))
            + ")",
            "topics": ["cell biology", "long reads"],
            "source": {"article": "A very long chapter", "type": "Offline Book/Journal"},
        }
    )
    data = {
        "collection": {
            "id": "lab",
            "title": "Lab Notebook",
            "description": "Generated cards for the end-to-end tests.",
            "curator": "Test Curator",
            "topics": ["cell biology"],
        },
        "cards": cards,
    }
    (target / "lab.yml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return target
