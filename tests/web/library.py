"""A card folder for the web tests: the shipped cards, a collection full of hostile strings, and a server's own
collection (under ``servers/``) that must never be served."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from tests.index.test_search import HOSTILE as HOSTILE_QUERIES
from tests.storage.test_storage import HOSTILE as HOSTILE_STRINGS

SHIPPED = Path(__file__).resolve().parents[2] / "cards"
SEED = "therapeutic-alliance"
HOSTILE_COLLECTION = "hostile"
HOSTILE_CARD = "hostile-001"
PRIVATE_COLLECTION = "study-group-notes"
PRIVATE_CARD = "study-group-notes-001"
#: A collection of three pages (20 cards a page).
MANY = "many"
MANY_CARDS = 45
#: Markup that would run or change a page if it were not escaped.
SCRIPT = '<script>alert("x")</script>'
ATTRIBUTE = '"><img src=x onerror=alert(1)>'
TEMPLATE = "{{ 7*7 }} {% raw %}"
#: The hostile strings the storage and search tests already use (NUL and control characters are not allowed in
#: card YAML, so they go in queries), plus HTML's own.
HTML_HOSTILE = [SCRIPT, ATTRIBUTE, TEMPLATE, "</title><style>*{display:none}</style>", "javascript:alert(1)"]
QUERIES = [*HOSTILE_QUERIES, *HOSTILE_STRINGS, *HTML_HOSTILE]


def build(target: Path) -> Path:
    """Copy the shipped cards into ``target`` with the hostile and the private collections; return ``target``."""
    shutil.copytree(SHIPPED, target, ignore=shutil.ignore_patterns(".*"))
    hostile = {
        "collection": {
            "id": HOSTILE_COLLECTION,
            "title": f"Hostile {SCRIPT}",
            "description": f"{ATTRIBUTE} {TEMPLATE} it's x'; DROP TABLE views; --",
            "curator": ATTRIBUTE,
        },
        "cards": [
            {
                "id": HOSTILE_CARD,
                "text": f"{SCRIPT} and {ATTRIBUTE} and {TEMPLATE}, as Horvath & Symonds (1991) found.",
                "topics": ["<b>bold</b>", "therapeutic alliance"],
                "source": {"article": "javascript:alert(1)", "type": ATTRIBUTE, "title": SCRIPT, "year": 1991},
            },
            {
                "id": "hostile-002",
                "text": 'emoji 🃏🧠✨ and ünïcödé, quote " and back\\slash ' + "z" * 3000,
                "topics": ["therapeutic alliance"],
            },
        ],
    }
    (target / f"{HOSTILE_COLLECTION}.yml").write_text(yaml.safe_dump(hostile, allow_unicode=True), encoding="utf-8")
    private = {
        "collection": {"id": PRIVATE_COLLECTION, "title": "Our course notes", "curator": "A study group"},
        "cards": [
            {
                "id": PRIVATE_CARD,
                "text": "Private note: the therapeutic alliance, as Horvath & Symonds (1991) say, predicts outcome.",
                "topics": ["therapeutic alliance", "private topic"],
            }
        ],
    }
    many = {
        "collection": {"id": MANY, "title": "Many facts", "curator": "Pager"},
        "cards": [{"id": f"{MANY}-{i:03d}", "text": f"Numbered fact {i} about paging."} for i in range(MANY_CARDS)],
    }
    (target / f"{MANY}.yml").write_text(yaml.safe_dump(many), encoding="utf-8")
    folder = target / "servers" / "123456789012345678"
    folder.mkdir(parents=True)
    (folder / f"{PRIVATE_COLLECTION}.yml").write_text(yaml.safe_dump(private), encoding="utf-8")
    return target
