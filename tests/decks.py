"""A card file written by a test: one collection (curated by "C") around its cards' YAML."""

from __future__ import annotations

from pathlib import Path


def deck_text(cid: str, title: str, cards: str) -> str:
    """The YAML of collection ``cid`` titled ``title`` holding ``cards`` (its cards' YAML, each indented by two)."""
    return f"collection:\n  id: {cid}\n  title: {title}\n  curator: C\ncards:\n{cards}"


def write_deck(path: Path, cid: str, title: str, cards: str) -> bytes:
    """Write :func:`deck_text` to ``path`` (its folder made); its bytes."""
    raw = deck_text(cid, title, cards).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw)
    return raw
