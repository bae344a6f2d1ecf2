"""Tests for bot.index.citations: extraction, parsing, the citation index.

Run as a script for the 100k-card benchmark: ``.venv/bin/python -m tests.test_citations 100000``.
"""

from __future__ import annotations

import random
import re
import sys
import time
from pathlib import Path

import pytest

from bot.index.citations import CitationHit, CitationIndex, Reference, ReferenceQuery, extract, fold, parse_reference

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "therapeutic-alliance.txt"


def seed_facts() -> list[str]:
    """The facts of the seed page: the paragraph before each "Article:" line."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", FIXTURE.read_text(encoding="utf-8"))]
    return [paragraphs[i - 1] for i, p in enumerate(paragraphs) if p.startswith("Article:")]


def seed_index() -> CitationIndex:
    return CitationIndex.build((f"fact{i}", text, ()) for i, text in enumerate(seed_facts(), 1))


def ay(authors: tuple[str, ...], year: str, written: str, et_al: bool = False) -> tuple:
    return ("author-year", authors, et_al, year, None, written)


def num(n: int, written: str, authors: tuple[str, ...] = ()) -> tuple:
    return ("numbered", authors, False, None, n, written)


def as_tuple(ref: Reference) -> tuple:
    return (ref.kind, ref.authors, ref.et_al, ref.year, ref.number, ref.written)


# --------------------------------------------------------------------------- every form

FORMS = [
    ("which Rogers (1951) proposed", [ay(("Rogers",), "1951", "Rogers (1951)")]),
    ("the client' (Clarkson, 1990): what", [ay(("Clarkson",), "1990", "Clarkson, 1990")]),
    ("(Horvath & Symonds, 1991)", [ay(("Horvath", "Symonds"), "1991", "Horvath & Symonds, 1991")]),
    ("consistent, (Horvath and Symonds, 1991) the", [ay(("Horvath", "Symonds"), "1991", "Horvath and Symonds, 1991")]),
    (
        "(Horvath & Luborsky, 1993; Salvio, Beutler, Wood, & Engle, 1992)",
        [
            ay(("Horvath", "Luborsky"), "1993", "Horvath & Luborsky, 1993"),
            ay(("Salvio", "Beutler", "Wood", "Engle"), "1992", "Salvio, Beutler, Wood, & Engle, 1992"),
        ],
    ),
    (
        '"the collaborative bond" (Martin, Garske & Davis 2000: 438) is',
        [ay(("Martin", "Garske", "Davis"), "2000", "Martin, Garske & Davis 2000: 438")],
    ),
    (
        "others (e.g., Bordin, 1979, 1994; Safran & Muran, 2000) believe",
        [
            ay(("Bordin",), "1979", "Bordin, 1979"),
            ay(("Bordin",), "1994", "Bordin, 1994"),
            ay(("Safran", "Muran"), "2000", "Safran & Muran, 2000"),
        ],
    ),
    (
        "(Simpson 2004, 2001; Barber et al. 2001; Joe et. al. 2001)",
        [
            ay(("Simpson",), "2004", "Simpson 2004"),
            ay(("Simpson",), "2001", "Simpson 2001"),
            ay(("Barber",), "2001", "Barber et al. 2001", et_al=True),
            ay(("Joe",), "2001", "Joe et. al. 2001", et_al=True),
        ],
    ),
    ("treatment (Drug Strategies 2003).", [ay(("Drug Strategies",), "2003", "Drug Strategies 2003")]),
    (
        "(Orlinsky, Rønnestad & Willutzki 2004; Horvath & Symonds 1991)",
        [
            ay(("Orlinsky", "Rønnestad", "Willutzki"), "2004", "Orlinsky, Rønnestad & Willutzki 2004"),
            ay(("Horvath", "Symonds"), "1991", "Horvath & Symonds 1991"),
        ],
    ),
    (
        "Our research (Bartle-Haring et al., 2007) suggested",
        [ay(("Bartle-Haring",), "2007", "Bartle-Haring et al., 2007", et_al=True)],
    ),
    (
        "some (e.g., Raue & Goldfried, 1994; Beck, 1995) believe",
        [ay(("Raue", "Goldfried"), "1994", "Raue & Goldfried, 1994"), ay(("Beck",), "1995", "Beck, 1995")],
    ),
    (
        "(Brown & O'Leary, 2000; Holtzworth-Munroe, Jacobson, DeKlyen, & Whisman, 1989)",
        [
            ay(("Brown", "O'Leary"), "2000", "Brown & O'Leary, 2000"),
            ay(
                ("Holtzworth-Munroe", "Jacobson", "DeKlyen", "Whisman"),
                "1989",
                "Holtzworth-Munroe, Jacobson, DeKlyen, & Whisman, 1989",
            ),
        ],
    ),
    (
        "as Smith (1991a) and Smith (1991b) showed",
        [ay(("Smith",), "1991a", "Smith (1991a)"), ay(("Smith",), "1991b", "Smith (1991b)")],
    ),
    (
        "Bordin's (1979, 1994) model",
        [ay(("Bordin",), "1979", "Bordin's (1979)"), ay(("Bordin",), "1994", "Bordin's (1994)")],
    ),
    ("the work of van der Berg (2010) shows", [ay(("van der Berg",), "2010", "van der Berg (2010)")]),
    (
        "(as Rogers (1951) argued; Beck, 1995)",
        [ay(("Rogers",), "1951", "Rogers (1951)"), ay(("Beck",), "1995", "Beck, 1995")],
    ),
    # numbered
    (
        "apply it more generally, Bordin (5) identified",
        [num(5, "Bordin (5)", ("Bordin",)), ("author-year", ("Bordin",), False, None, None, "Bordin (5)")],
    ),
    ("by psychoanalysts (7, 8), whose", [num(7, "(7, 8)"), num(8, "(7, 8)")]),
    (
        "continuum of compliance, adherence, and therapeutic alliance.10,11 In this continuum",
        [num(10, "10,11"), num(11, "10,11")],
    ),
    (
        "in a shared partnership.12-15",
        [num(12, "12-15"), num(13, "12-15"), num(14, "12-15"), num(15, "12-15")],
    ),
    ("outcomes for troubled youth.13", [num(13, "13")]),
    ("as shown [3, 4]", [num(3, "[3, 4]"), num(4, "[3, 4]")]),
]


@pytest.mark.parametrize(("text", "expected"), FORMS, ids=[f[0][:40] for f in FORMS])
def test_extract_forms(text: str, expected: list[tuple]) -> None:
    assert [as_tuple(r) for r in extract(text)] == expected


FALSE_POSITIVES = [
    "Empirical evidence has accumulated over the last several decades suggesting",
    "prioritization of marital distress (versus individual symptoms) as the primary focus",
    "Engagement has been identified as one of the nine principles of effective treatment",
    "three components of the therapeutic alliance-goal, task, and bond",
    "between the Adult of the psychotherapist and the Adult of the client",
    "a healthcare professional and a client (or patient).",
    "In 1990, 25 people out of 2.5 million, see p.12 and pp.14 and Vol.3, in the 2000s.",
    "The 1950s (1951) and the study (2000) were cited in Paris, 2000 times.",
    "version 2.0, ratio 3:1, COVID-19, H2O, 1,000 patients, (n = 45), (p < .05)",
]


@pytest.mark.parametrize("text", FALSE_POSITIVES)
def test_extract_false_positives(text: str) -> None:
    assert extract(text) == []


def test_page_number_is_not_a_numbered_reference() -> None:
    refs = extract("bond (Martin, Garske & Davis 2000: 438) is one construct")
    assert [r.key for r in refs] == ["martin&garske&davis|2000"]
    assert all(r.kind == "author-year" for r in refs)


# --------------------------------------------------------------------------- normalisation


def test_same_work_written_three_ways_is_one_key() -> None:
    keys = {
        extract("(Horvath & Symonds, 1991)")[0].key,
        extract("(Horvath and Symonds 1991)")[0].key,
        extract("as Horvath and Symonds (1991) found")[0].key,
    }
    assert keys == {"horvath&symonds|1991"}


def test_keys_and_display() -> None:
    (orl,) = extract("(Orlinsky, Rønnestad & Willutzki 2004)")
    assert orl.key == "orlinsky&ronnestad&willutzki|2004"
    assert extract("(Orlinsky, Ronnestad & Willutzki 2004)")[0].key == orl.key
    assert orl.display() == "Orlinsky, Rønnestad, & Willutzki (2004)"
    (barber,) = extract("(Barber et al. 2001)")
    assert (barber.key, barber.display()) == ("barber et al.|2001", "Barber et al. (2001)")
    (hs,) = extract("(Horvath & Symonds, 1991)")
    assert hs.display() == "Horvath & Symonds (1991)"
    assert extract("(7)")[0].key == "#7"
    assert extract("(7)")[0].display() == "[7]"
    assert extract("(Smith, 1991a)")[0].key == "smith|1991a"


def test_extract_dedupes_by_key_in_order() -> None:
    text = "Rogers (1951) said so (Horvath & Symonds, 1991; Rogers, 1951), and later (Horvath and Symonds 1991)."
    assert [r.written for r in extract(text)] == ["Rogers (1951)", "Horvath & Symonds, 1991"]


@pytest.mark.parametrize(
    ("raw", "folded"),
    [("Rønnestad", "ronnestad"), ("Æbelø", "aebelo"), ("Straße", "strasse"), ("Łukasz", "lukasz"), ("ÉCOLE", "ecole")],
)
def test_fold(raw: str, folded: str) -> None:
    assert fold(raw) == folded


# --------------------------------------------------------------------------- the seed

SEED_KEYS = [
    {"rogers|1951", "horvath&luborsky|1993", "salvio&beutler&wood&engle|1992", "clarkson|1990"},
    {"#5", "bordin|"},
    {"#7", "#8"},
    {"bartle haring et al.|2007"},
    {"#10", "#11", "#12", "#13", "#14", "#15"},
    {"#13"},
    {
        "horvath&symonds|1991",
        "martin&garske&davis|2000",
        "raue&goldfried|1994",
        "beck|1995",
        "bordin|1979",
        "bordin|1994",
        "safran&muran|2000",
    },
    set(),
    {
        "horvath&bedi|2002",
        "horvath&symonds|1991",
        "martin&garske&davis|2000",
        "bourgeois&sabourin&wright|1990",
        "brown&oleary|2000",
        "holtzworth munroe&jacobson&deklyen&whisman|1989",
        "johnson&talitman|1997",
        "quinn&dotson&jordan|1997",
        "raytek&mcgrady&epstein&hirsch|1999",
    },
    {
        "drug strategies|2003",
        "martin&garske&davis|2000",
        "orlinsky&ronnestad&willutzki|2004",
        "horvath&symonds|1991",
        "orlinsky&howard|1986",
        "gomes schwartz|1978",
        "greenson|1965",
        "freud|1913",
        "simpson|2004",
        "simpson|2001",
        "barber et al.|2001",
        "joe et al.|2001",
        "bell&montoya&atkinson|1997",
        "connors et al.|1997",
    },
]


def test_seed_has_ten_facts() -> None:
    assert len(seed_facts()) == 10


@pytest.mark.parametrize("n", range(1, 11))
def test_seed_fact_keys(n: int) -> None:
    refs = extract(seed_facts()[n - 1])
    assert {r.key for r in refs} == SEED_KEYS[n - 1]
    assert len(refs) == len(SEED_KEYS[n - 1])


def test_seed_index_size_and_references_of() -> None:
    index = seed_index()
    assert len(index) == len(set().union(*SEED_KEYS))
    assert [r.key for r in index.references_of("fact2")] == ["#5", "bordin|"]
    assert index.references_of("fact8") == []
    assert index.references_of("nope") == []


# --------------------------------------------------------------------------- lookup


def hits(index: CitationIndex, query: str) -> list[tuple[str, str]]:
    return [(h.card_id, h.reference.written) for h in index.lookup(query)]


def test_lookup_horvath_symonds_three_facts_with_their_written_forms() -> None:
    assert hits(seed_index(), "Horvath & Symonds 1991") == [
        ("fact7", "Horvath and Symonds, 1991"),
        ("fact9", "Horvath & Symonds, 1991"),
        ("fact10", "Horvath & Symonds 1991"),
    ]


@pytest.mark.parametrize(
    "query",
    ["Horvath & Symonds, 1991", "(Horvath & Symonds, 1991)", "horvath and symonds 1991", "Horvath & Symonds (1991)"],
)
def test_lookup_same_work_any_spelling(query: str) -> None:
    assert [h.card_id for h in seed_index().lookup(query)] == ["fact7", "fact9", "fact10"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Simpson", [("fact10", "Simpson 2004"), ("fact10", "Simpson 2001")]),
        ("Orlinsky et al. 2004", [("fact10", "Orlinsky, Rønnestad & Willutzki 2004")]),
        ("Orlinsky et al.", [("fact10", "Orlinsky, Rønnestad & Willutzki 2004")]),
        ("Orlinsky", [("fact10", "Orlinsky, Rønnestad & Willutzki 2004"), ("fact10", "Orlinsky & Howard 1986")]),
        ("Ronnestad", [("fact10", "Orlinsky, Rønnestad & Willutzki 2004")]),
        ("Rogers 1951", [("fact1", "Rogers (1951)")]),
        ("Rogers (1951)", [("fact1", "Rogers (1951)")]),
        ("Bordin 1994", [("fact7", "Bordin, 1994")]),
        # "Bordin (5) identified...": an author named before a numbered reference is cited too
        ("Bordin", [("fact2", "Bordin (5)"), ("fact7", "Bordin, 1979"), ("fact7", "Bordin, 1994")]),
        ("Barber et al. (2001)", [("fact10", "Barber et al. 2001")]),
        ("joe et al 2001", [("fact10", "Joe et. al. 2001")]),
        ("Drug Strategies", [("fact10", "Drug Strategies 2003")]),
        ("oleary", [("fact9", "Brown & O'Leary, 2000")]),
        (
            "Martin, Garske, & Davis 2000",
            [
                ("fact7", "Martin, Garske, & Davis, 2000"),
                ("fact9", "Martin, Garske, & Davis, 2000"),
                ("fact10", "Martin, Garske & Davis 2000: 438"),
            ],
        ),
        ("7", [("fact3", "(7, 8)")]),
        ("(7, 8)", [("fact3", "(7, 8)"), ("fact3", "(7, 8)")]),
        ("13", [("fact5", "12-15"), ("fact6", "13")]),
        ("[5]", [("fact2", "Bordin (5)")]),
    ],
)
def test_lookup(query: str, expected: list[tuple[str, str]]) -> None:
    assert hits(seed_index(), query) == expected


@pytest.mark.parametrize(
    "query",
    [
        "Nobody 1999",
        "Rogers 1952",
        "Horvath & Symonds 1992",
        "Symonds & Horvath 1991",  # a full list must match the full list, in order
        "Horvath 1991 1991a",
        "Orlinsky et al. 1986",  # Orlinsky & Howard has two authors: never "et al."
        "Horvath & Symonds & Bedi 1991",
        "Bordin 1994b",  # a suffix, when given, is respected
        "99",
        "1991",
        "",
        "   ",
    ],
)
def test_lookup_no_match(query: str) -> None:
    assert seed_index().lookup(query) == []


def test_lookup_year_suffixes() -> None:
    index = CitationIndex.build([("a", "(Smith, 1991a)", ()), ("b", "(Smith, 1991b)", ()), ("c", "(Smith, 1991)", ())])
    assert [h.card_id for h in index.lookup("Smith 1991")] == ["a", "b", "c"]
    assert [h.card_id for h in index.lookup("Smith 1991b")] == ["b"]


def test_lookup_full_list_matches_et_al_reference() -> None:
    index = CitationIndex.build([("a", "(Orlinsky et al., 2004)", ()), ("b", "(Orlinsky & Howard, 2004)", ())])
    assert [h.card_id for h in index.lookup("Orlinsky, Rønnestad & Willutzki 2004")] == ["a"]
    assert [h.card_id for h in index.lookup("Orlinsky & Howard 2004")] == ["b"]


def test_explicit_citations() -> None:
    index = CitationIndex.build(
        [
            ("a", "No citation in the text.", ["Horvath & Symonds, 1991", "Bordin, 1979, 1994", "(7, 8)"]),
            ("b", "Some text (Horvath and Symonds 1991).", ["Horvath & Symonds (1991)", "DSM-5 manual, p. x"]),
        ]
    )
    assert [r.key for r in index.references_of("a")] == [
        "horvath&symonds|1991",
        "bordin|1979",
        "bordin|1994",
        "#7",
        "#8",
    ]
    # the text reference and the explicit one are the same work: kept once, as written in the text
    assert [r.written for r in index.references_of("b")] == ["Horvath and Symonds 1991", "DSM-5 manual, p. x"]
    assert [h.card_id for h in index.lookup("Horvath & Symonds 1991")] == ["a", "b"]
    (opaque,) = index.lookup("dsm-5  MANUAL, p. x")
    assert opaque.card_id == "b"
    assert opaque.reference.kind == "opaque"
    assert index.lookup("Bordin 1979")[0].reference.written == "Bordin, 1979"


def test_citation_hit_type() -> None:
    (hit,) = seed_index().lookup("Rogers")
    assert isinstance(hit, CitationHit)
    assert (hit.card_id, hit.reference.written, hit.reference.display()) == ("fact1", "Rogers (1951)", "Rogers (1951)")


# --------------------------------------------------------------------------- parse_reference


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Simpson", ReferenceQuery(authors=("Simpson",))),
        ("Horvath & Symonds, 1991", ReferenceQuery(authors=("Horvath", "Symonds"), years=("1991",))),
        ("Orlinsky et al. 2004", ReferenceQuery(authors=("Orlinsky",), et_al=True, years=("2004",))),
        ("Bordin, 1979, 1994", ReferenceQuery(authors=("Bordin",), years=("1979", "1994"))),
        ("Rogers (1951)", ReferenceQuery(authors=("Rogers",), years=("1951",))),
        ("e.g., Raue & Goldfried, 1994", ReferenceQuery(authors=("Raue", "Goldfried"), years=("1994",))),
        ("Smith 1991A", ReferenceQuery(authors=("Smith",), years=("1991a",))),
        ("7", ReferenceQuery(numbers=(7,))),
        ("(7, 8)", ReferenceQuery(numbers=(7, 8))),
        ("[12-15]", ReferenceQuery(numbers=(12, 13, 14, 15))),
        ("", None),
        ("1991", None),
        ("Horvath & ", None),
        ("DROP TABLE cards; --", None),
    ],
)
def test_parse_reference(query: str, expected: ReferenceQuery | None) -> None:
    assert parse_reference(query) == expected


# --------------------------------------------------------------------------- autocomplete


def test_complete() -> None:
    index = seed_index()
    assert index.complete("Hor", 10) == [
        ("Horvath & Symonds (1991)", 3),
        ("Horvath & Bedi (2002)", 1),
        ("Horvath & Luborsky (1993)", 1),
    ]
    assert index.complete("horvath & s") == [("Horvath & Symonds (1991)", 3)]
    assert index.complete("ron") == [("Orlinsky, Rønnestad, & Willutzki (2004)", 1)]
    assert index.complete("Sym")[0] == ("Horvath & Symonds (1991)", 3)
    assert index.complete("", 2) == [("Horvath & Symonds (1991)", 3), ("Martin, Garske, & Davis (2000)", 3)]
    assert index.complete("1", 3) == [("[13]", 2), ("[10]", 1), ("[11]", 1)]
    assert index.complete("Hor", 1) == [("Horvath & Symonds (1991)", 3)]
    assert index.complete("zzzz") == []


def test_complete_is_typo_tolerant() -> None:
    index = seed_index()
    assert index.complete("Horvaht")[0] == ("Horvath & Symonds (1991)", 3)
    assert ("Horvath & Symonds (1991)", 3) in index.complete("Symmonds")
    assert {d for d, _ in index.complete("Orlinksy")} == {
        "Orlinsky & Howard (1986)",
        "Orlinsky, Rønnestad, & Willutzki (2004)",
    }


def test_completion_display_looks_up_that_reference() -> None:
    index = seed_index()
    for display, count in index.complete("", 100):
        found = index.lookup(display)
        assert len({h.card_id for h in found}) == count, display


# --------------------------------------------------------------------------- hostile input

HOSTILE = [
    "",
    " ",
    "x" * 5000,
    "(" * 5000,
    ")" * 2000 + "(" * 2000,
    "Smith, " * 800 + "1991",
    "(" + "Smith, " * 800 + "1991)",
    "(" + "Aa " * 2000 + "1991)",
    "A" * 5000 + " (1991)",
    "and " * 1000 + "(1991)",
    ".1" * 2500,
    "(1-999)",
    "[" + ", ".join(str(i) for i in range(1, 999)) + "]",
    "🙂🎉 (😀, 2001) 👍.12",
    "אלוהים (שלום, 1991) مرحبا (سلام 2001)",
    "\u202e(Smith, 1991)\u202c",
    r".*+?^$\{}[]|()\\1(?P<x>)(?=)",
    "'; DROP TABLE cards; --",
    "Robert'); DROP TABLE Students;-- (1991)",
    "\x00\x01\x02 (Smith,\x00 1991)",
    "(Smith\n\n,\t1991)",
    "et al. et al. (et al., 1991)",
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_inputs_do_not_raise(text: str) -> None:
    index = seed_index()  # the time each takes: benchmarks/bench_guards.py
    extract(text)
    parse_reference(text)
    index.lookup(text)
    index.complete(text)
    index2 = CitationIndex.build([("h", text, [text])])
    index2.lookup(text)


@pytest.mark.parametrize("query", ["x" * 5000, "'; DROP TABLE cards; --", "🙂", r"(.*)", "\u202e", "[]", "()"])
def test_hostile_lookups_return_empty(query: str) -> None:
    assert seed_index().lookup(query) == []


def test_non_string_inputs() -> None:
    index = seed_index()
    assert extract(None) == []  # type: ignore[arg-type]
    assert parse_reference(42) is None  # type: ignore[arg-type]
    assert index.lookup(None) == []  # type: ignore[arg-type]
    assert index.complete(None) == []  # type: ignore[arg-type]
    assert fold(None) == ""  # type: ignore[arg-type]


def test_random_fuzz_never_raises() -> None:
    """Deterministic fuzz (runs without hypothesis): random mixes of citation-ish pieces."""
    rng = random.Random(1234)
    pieces = ["(", ")", "[", "]", ";", ",", ".", "&", " and ", " et al.", " et. al.", "1991", "1991a", "12-15"]
    pieces += ["Horvath", "Rønnestad", "e.g., ", ": 438", "7", "🙂", "\u202e", "\\", "*", "'", "’", " ", "van der "]
    index = seed_index()
    for _ in range(2000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 40)))
        for ref in extract(text):
            assert ref.key
            ref.display()
        parse_reference(text)
        index.lookup(text)
        index.complete(text)


try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ImportError:  # hypothesis is optional here: the deterministic fuzz above always runs

    def test_fuzz_with_hypothesis() -> None:
        pytest.skip("hypothesis is not installed")

else:

    @settings(max_examples=300, deadline=None)
    @given(st.text(max_size=300))
    def test_fuzz_with_hypothesis(text: str) -> None:
        index = seed_index()
        for ref in extract(text):
            assert ref.key
        parse_reference(text)
        cards = {f"fact{i}" for i in range(1, len(seed_facts()) + 1)}
        assert {hit.card_id for hit in index.lookup(text)} <= cards
        assert all(count >= 1 for _display, count in index.complete(text))


# --------------------------------------------------------------------------- benchmark


def synthetic_cards(n: int, seed: int = 7) -> tuple[list[tuple[str, str, tuple[str, ...]]], list[str]]:
    """``n`` cards of ~650 characters with ~7 references each (varied forms, 6,000 surnames)."""
    rng = random.Random(seed)
    syllables = ["ha", "ro", "vat", "sy", "mon", "ber", "lin", "ska", "ne", "dor", "ø", "tz", "mar", "tin", "gra"]
    syllables += ["wel", "ko", "sch", "ul", "rie", "bé", "an"]
    names = sorted({"".join(rng.choice(syllables) for _ in range(3)).capitalize() for _ in range(6000)})
    words = ["the", "therapeutic", "alliance", "is", "a", "strong", "predictor", "of", "outcome", "in"]
    words += ["individual", "psychotherapy", "and", "couple", "therapy", "across", "diverse", "treatment"]
    words += ["orientations", "and", "modalities", "over", "several", "decades"]

    def cite() -> str:
        y = rng.randint(1950, 2024)
        f = rng.random()
        a = [rng.choice(names) for _ in range(rng.choice((1, 1, 2, 2, 3, 4)))]
        if f < 0.3:
            return f"({a[0]}, {y})"
        if f < 0.5 and len(a) > 1:
            return f"({', '.join(a[:-1])}, & {a[-1]}, {y})"
        if f < 0.6:
            return f"{a[0]} ({y})"
        if f < 0.7:
            return f"({a[0]} et al. {y}; {a[-1]} {y - 3})"
        if f < 0.8:
            return f"({rng.randint(1, 60)}, {rng.randint(1, 60)})"
        if f < 0.9:
            n0 = rng.randint(1, 60)
            return f"therapy.{n0}-{n0 + rng.randint(1, 3)}" if f < 0.85 else f"therapy.{n0}"
        return f"({' and '.join(a[:2])}, {y})"

    cards = []
    for i in range(n):
        parts: list[str] = []
        while sum(len(p) + 1 for p in parts) < 600:
            parts.append(" ".join(rng.choice(words) for _ in range(rng.randint(8, 20))))
            parts.append(cite() + ".")
        text = " ".join(parts)
        cards.append((f"c{i}", text[0].upper() + text[1:], ()))
    return cards, names


def test_at_2000_cards_every_written_reference_finds_its_card() -> None:
    """The timing at scale is benchmarks/bench_search.py's (citation index build and lookups, 10k and 100k cards)."""
    cards, _names = synthetic_cards(2000)
    index = CitationIndex.build(cards)
    assert len(index) > 5000
    for card_id, _text, _citations in random.Random(3).sample(cards, 100):
        references = index.references_of(card_id)
        assert references, card_id  # every synthetic card cites about seven works
        for reference in references:
            assert card_id in {hit.card_id for hit in index.lookup(reference.written)}, reference.written


def _percentiles(samples: list[float]) -> str:
    samples = sorted(samples)
    p50, p99 = samples[len(samples) // 2], samples[int(len(samples) * 0.99)]
    return f"p50 {p50 * 1e3:.3f} ms, p99 {p99 * 1e3:.3f} ms, max {samples[-1] * 1e3:.3f} ms"


def benchmark(n: int) -> None:
    cards, names = synthetic_cards(n)
    refs = 0
    start = time.perf_counter()
    index = CitationIndex.build(cards)
    build = time.perf_counter() - start
    refs = sum(len(index.references_of(c[0])) for c in cards)
    print(f"build: {n} cards ({refs / n:.1f} refs/card, {len(index)} distinct) in {build:.2f} s")
    rng = random.Random(1)
    lookups, completes = [], []
    for _ in range(2000):
        name, other, year = rng.choice(names), rng.choice(names), rng.randint(1950, 2024)
        query = rng.choice([name, f"{name} {year}", f"{name} et al. {year}", f"{name} & {other}, {year}", "Nobody"])
        start = time.perf_counter()
        index.lookup(query)
        lookups.append(time.perf_counter() - start)
        prefix = name[: rng.randint(1, 7)]
        if rng.random() < 0.2 and len(prefix) > 3:
            prefix = prefix[:2] + prefix[3] + prefix[2] + prefix[4:]
        start = time.perf_counter()
        index.complete(prefix)
        completes.append(time.perf_counter() - start)
    print(f"lookup:   {_percentiles(lookups)}")
    print(f"complete: {_percentiles(completes)}")


if __name__ == "__main__":
    benchmark(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)


@pytest.mark.parametrize(
    "query", ["Horvath", "Horvath & Symonds 1991", "Martin, Garske & Davis 2000", "(7, 8)", "Simpson", "Freud"]
)
def test_cards_citing_groups_lookup_by_card_in_order(query: str) -> None:
    index = seed_index()
    grouped: dict[str, list[Reference]] = {}
    for hit in index.lookup(query):
        grouped.setdefault(hit.card_id, []).append(hit.reference)
    assert index.cards_citing(query) == list(grouped.items())
