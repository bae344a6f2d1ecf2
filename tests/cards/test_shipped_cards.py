"""Every shipped card file validates, and the seed collection is the seed page, complete and verbatim."""

from __future__ import annotations

import json

from bot.cards import model
from bot.cards.library import discover, load_library, parse_bytes
from tests.conftest import SEED_PAGE, SHIPPED_CARDS


def _seed_facts() -> list[tuple[str, str, str]]:
    """(fact, article, source) read straight off the seed page, independently of the importer."""
    lines = SEED_PAGE.read_text(encoding="utf-8").splitlines()
    facts = []
    for index, line in enumerate(lines):
        if line.startswith("Article:"):
            back = index - 1
            while not lines[back].strip():
                back -= 1
            source = next(ln for ln in lines[index + 1 :] if ln.startswith("Source:"))
            facts.append((lines[back], line.split(":", 1)[1].strip(), source.split(":", 1)[1].strip()))
    return facts


def test_every_shipped_file_validates_without_errors() -> None:
    files = discover(SHIPPED_CARDS)
    assert files, "cards/ ships no card files"
    for path in files:
        result = parse_bytes(path.read_bytes(), str(path))
        assert result.ok, "\n".join(map(str, result.problems))
        assert not result.problems, "\n".join(map(str, result.problems))


def test_seed_collection_ships_every_fact_verbatim_with_article_and_source() -> None:
    library = load_library(SHIPPED_CARDS)
    collection = library.collections["therapeutic-alliance"]
    assert collection.title == "Therapeutic Alliance"
    assert collection.curator == "Mee Young Jeong"
    assert collection.description.startswith("The therapeutic relationship, also called the helping alliance")
    cards = library.cards_of("therapeutic-alliance")
    facts = _seed_facts()
    assert len(facts) == 10
    assert [(c.text, c.source.article, c.source.type) for c in cards] == facts
    assert cards[0].source.article == "'The vehicle of success':…"  # truncated titles kept as the page has them
    assert all(card.topics for card in cards)


def test_card_ids_are_unique_and_stable_slugs() -> None:
    library = load_library(SHIPPED_CARDS)
    assert list(library.cards)[:2] == ["therapeutic-alliance-001", "therapeutic-alliance-002"]
    assert len(library.cards) == sum(len(f.card_file.cards) for f in library.files)


def test_shipped_json_schema_is_generated_from_the_model() -> None:
    shipped = (SHIPPED_CARDS / "card-file.schema.json").read_text(encoding="utf-8")
    assert shipped == model.schema_text(), "regenerate cards/card-file.schema.json from bot.cards.model.schema_text()"
    schema = json.loads(shipped)
    card = schema["$defs"]["Card"]
    assert card["required"] == ["id", "text"]
    assert card["additionalProperties"] is False
    assert card["properties"]["text"]["maxLength"] == model.MAX_TEXT
    assert set(card["properties"]) == {"id", "text", "topics", "source", "citations", "added_by", "added_at", "study"}
    assert set(schema["$defs"]["Source"]["properties"]) == {
        "article",
        "type",
        "authors",
        "year",
        "title",
        "container",
        "pages",
        "doi",
        "url",
    }


def test_shipped_files_point_editors_at_the_schema() -> None:
    for path in discover(SHIPPED_CARDS):
        assert path.read_text(encoding="utf-8").startswith("# yaml-language-server: $schema=card-file.schema.json")
