"""Synthetic card libraries for benchmarks: academic-sounding facts with citations, from a fixed seed."""

from __future__ import annotations

import random
from pathlib import Path

import yaml

_WORDS = [
    "alliance",
    "therapeutic",
    "outcome",
    "client",
    "therapist",
    "relationship",
    "treatment",
    "engagement",
    "adolescent",
    "couple",
    "family",
    "psychotherapy",
    "empathy",
    "regard",
    "congruence",
    "bond",
    "goal",
    "task",
    "rupture",
    "repair",
    "session",
    "measure",
    "predictor",
    "variance",
    "meta-analysis",
    "cohort",
    "trial",
    "randomized",
    "clinical",
    "practice",
    "research",
    "evidence",
    "model",
    "construct",
    "validity",
    "scale",
    "reliability",
    "effect",
    "size",
    "moderation",
    "mediation",
    "change",
    "process",
    "early",
    "late",
    "phase",
    "dropout",
    "adherence",
    "compliance",
    "provider",
    "patient",
    "health",
    "care",
    "service",
    "delivery",
    "mental",
    "substance",
    "abuse",
    "youth",
    "child",
    "parent",
    "caregiver",
    "referral",
    "school",
    "community",
    "intervention",
    "cognitive",
    "behavioral",
    "psychodynamic",
    "humanistic",
    "systemic",
    "integrative",
    "brief",
    "long",
    "term",
    "follow-up",
    "assessment",
    "questionnaire",
    "interview",
    "observer",
    "rating",
    "perspective",
    "agreement",
    "collaboration",
    "negotiation",
    "partnership",
    "trust",
    "warmth",
    "genuineness",
    "feedback",
    "supervision",
    "training",
    "competence",
    "fidelity",
]
_AUTHORS = [
    "Horvath",
    "Symonds",
    "Bordin",
    "Luborsky",
    "Martin",
    "Garske",
    "Davis",
    "Safran",
    "Muran",
    "Rogers",
    "Beck",
    "Orlinsky",
    "Howard",
    "Greenson",
    "Simpson",
    "Barber",
    "Joe",
    "Bell",
    "Connors",
    "Johnson",
    "Quinn",
    "Raytek",
    "Bourgeois",
    "Brown",
    "Clarkson",
    "Salvio",
    "Beutler",
    "Wood",
    "Engle",
]
_TOPICS = [f"{a} {b}" for a, b in zip(_WORDS[::2], _WORDS[1::2], strict=False)]


def _surnames(count: int = 3000, seed: int = 11) -> list[str]:
    """Real names first (most cited), then invented ones: a Zipf-like pool, as a field's literature has."""
    rng = random.Random(seed)
    onsets = ["b", "br", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "st", "t", "v", "w", "z"]
    vowels, codas = ["a", "e", "i", "o", "u", "ei", "ou"], ["n", "r", "s", "t", "l", "m"]
    names = dict.fromkeys(_AUTHORS)
    while len(names) < count:
        parts = [rng.choice(onsets) + rng.choice(vowels) + rng.choice(codas) for _ in range(rng.randint(1, 3))]
        names["".join(parts).capitalize()] = None
    return list(names)


_SURNAMES = _surnames()
_SURNAME_WEIGHTS = [1 / (rank + 1) for rank in range(len(_SURNAMES))]


def _sentence(rng: random.Random) -> str:
    words = rng.choices(_WORDS, weights=[1 / (i + 1) for i in range(len(_WORDS))], k=rng.randint(12, 22))
    words[0] = words[0].capitalize()
    return " ".join(words)


def _citation(rng: random.Random) -> str:
    authors = list(dict.fromkeys(rng.choices(_SURNAMES, _SURNAME_WEIGHTS, k=rng.randint(1, 3))))
    year = rng.randint(1950, 2020)
    if len(authors) == 1:
        return f"({authors[0]}, {year})"
    return f"({', '.join(authors[:-1])} & {authors[-1]}, {year})"


def card_text(rng: random.Random, target: int = 1000) -> str:
    """A paragraph of about ``target`` characters citing two or three works."""
    parts: list[str] = []
    while sum(len(p) + 1 for p in parts) < target:
        sentence = _sentence(rng)
        if rng.random() < 0.35:
            sentence += " " + _citation(rng)
        parts.append(sentence + ".")
    return " ".join(parts)[:4000]


def write_library(folder: Path, cards: int, files: int, *, seed: int = 7) -> int:
    """Write ``cards`` cards over ``files`` files; returns the bytes written."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    per_file = cards // files
    total = 0
    for number in range(files):
        collection = f"bench-{number:04d}"
        data = {
            "collection": {"id": collection, "title": f"Bench collection {number}", "curator": "Benchmark"},
            "cards": [
                {
                    "id": f"{collection}-{n:05d}",
                    "text": card_text(rng),
                    "topics": rng.sample(_TOPICS, 3),
                    "source": {"article": f"Article {n}…", "type": "Offline Book/Journal"},
                }
                for n in range(per_file)
            ],
        }
        text = yaml.dump(data, Dumper=yaml.CSafeDumper, sort_keys=False, allow_unicode=True, width=100)
        (folder / f"{collection}.yml").write_text(text, encoding="utf-8")
        total += len(text.encode())
    return total
