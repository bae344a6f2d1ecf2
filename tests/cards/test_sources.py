"""Tests for bot.cards.sources: plain, APA 7, MLA (citeproc-py) and BibTeX renderings."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from bot.cards import sources
from bot.cards.model import Source
from bot.cards.sources import SourceFields, bibtex_escape, render_source

JOURNAL = {
    "article": "Relation between working all…",
    "type": "Offline Book/Journal",
    "authors": ["Horvath, Adam O.", "Symonds, B. Dianne"],
    "year": 1991,
    "title": "Relation between working alliance and outcome in psychotherapy: A meta-analysis",
    "container": "Journal of Counseling Psychology",
    "volume": "38",
    "issue": "2",
    "pages": "139-149",
    "doi": "10.1037/0022-0167.38.2.139",
}
CHAPTER = {
    "article": "Fifty years of psychothera…",
    "type": "Offline Book",
    "authors": ["Orlinsky, David E.", "Rønnestad, Michael Helge", "Willutzki, Ulrike"],
    "year": 2004,
    "title": "Fifty years of psychotherapy process-outcome research",
    "container": "Bergin and Garfield's handbook of psychotherapy and behavior change",
    "pages": "307–389",
}
WEB = {
    "article": "Treating Teens",
    "type": "Website",
    "authors": ["Drug Strategies"],
    "year": 2003,
    "title": "Treating teens: A guide to adolescent drug programs",
    "url": "https://www.example.org/teens_guide",
}
BARE = {"article": "'The vehicle of success':…", "type": "Offline Book/Journal"}
SPECIAL = {
    "article": "Costs & benefits",
    "type": "Online Journal",
    "authors": ["Smith, Jo", "O'Brien, Pat"],
    "year": 2020,
    "title": "Costs & benefits: 50% of $5 for #1 {draft} a_b",
    "container": "Journal of Stuff & Things",
}


@dataclass
class SourceObject:
    """Shaped like the project's msgspec Source struct: attributes, defaults None / empty."""

    article: str
    type: str
    authors: tuple[str, ...] = ()
    year: int | None = None
    title: str | None = None
    container: str | None = None
    pages: str | None = None
    doi: str | None = None
    url: str | None = None
    volume: str | None = None
    issue: str | None = None


class MinimalSource:
    """Only the two fields every card has; the structured ones are simply absent."""

    def __init__(self, article: str, type: str) -> None:
        self.article = article
        self.type = type


# --------------------------------------------------------------------------- plain


def test_plain_is_the_page_text() -> None:
    assert render_source(BARE, "plain", key="k") == "Article: 'The vehicle of success':…\nSource: Offline Book/Journal"


def test_plain_ignores_structured_fields() -> None:
    assert render_source(JOURNAL, "plain", key="k") == (
        "Article: Relation between working all…\nSource: Offline Book/Journal"
    )


# --------------------------------------------------------------------------- APA / MLA


def test_apa_journal_article() -> None:
    assert render_source(JOURNAL, "apa", key="k") == (
        "Horvath, A. O., & Symonds, B. D. (1991). Relation between working alliance and outcome in "
        "psychotherapy: A meta-analysis. Journal of Counseling Psychology, 38(2), 139–149. "
        "https://doi.org/10.1037/0022-0167.38.2.139"
    )


def test_apa_doi_given_as_url_is_not_doubled() -> None:
    source = dict(JOURNAL, doi="https://doi.org/10.1037/0022-0167.38.2.139")
    assert render_source(source, "apa", key="k").endswith(" https://doi.org/10.1037/0022-0167.38.2.139")


def test_apa_book_chapter_with_unicode_author() -> None:
    assert render_source(CHAPTER, "apa", key="k") == (
        "Orlinsky, D. E., Rønnestad, M. H., & Willutzki, U. (2004). Fifty years of psychotherapy "
        "process-outcome research. In Bergin and Garfield's handbook of psychotherapy and behavior change "
        "(pp. 307–389)."
    )


def test_apa_web_page_with_organisation_author() -> None:
    assert render_source(WEB, "apa", key="k") == (
        "Drug Strategies. (2003). Treating teens: A guide to adolescent drug programs. "
        "https://www.example.org/teens_guide"
    )


def test_mla_journal_article() -> None:
    text = render_source(JOURNAL, "mla", key="k")
    assert text.startswith("Horvath, A. O., and B. D. Symonds.")
    assert "“Relation Between Working Alliance and Outcome in Psychotherapy: A Meta-analysis”" in text
    assert "Journal of Counseling Psychology, vol. 38, no. 2, 1991, pp. 139–49" in text
    assert text.endswith("https://doi.org/10.1037/0022-0167.38.2.139.")


def test_mla_three_authors_is_et_al() -> None:
    text = render_source(CHAPTER, "mla", key="k")
    assert text.startswith("Orlinsky, D. E., et al. “Fifty Years of Psychotherapy Process-outcome Research”.")
    assert "2004, pp. 307–89." in text


@pytest.mark.parametrize("style", ["apa", "mla"])
@pytest.mark.parametrize("source", [JOURNAL, CHAPTER, WEB, SPECIAL], ids=["journal", "chapter", "web", "special"])
def test_csl_output_is_plain_text(style: str, source: dict) -> None:
    text = render_source(source, style, key="k")  # type: ignore[arg-type]
    assert str(source["year"]) in text
    assert not re.search(r"</?[a-z]+[^>]*>", text), text
    assert "&amp;" not in text
    assert "\n" not in text


def test_special_characters_survive_csl() -> None:
    assert render_source(SPECIAL, "apa", key="k") == (
        "Smith, J., & O'Brien, P. (2020). Costs & benefits: 50% of $5 for #1 {draft} a_b. Journal of Stuff & Things."
    )


@pytest.mark.parametrize("style", ["apa", "mla"])
def test_no_structured_fields_falls_back_cleanly(style: str) -> None:
    label = style.upper()
    expected = (
        f"'The vehicle of success':… (Offline Book/Journal). "
        f"[No {label} reference: structured citation fields are missing for this source.]"
    )
    assert render_source(BARE, style, key="k") == expected  # type: ignore[arg-type]
    assert render_source(MinimalSource(**BARE), style, key="k") == expected  # type: ignore[arg-type]
    assert render_source(SourceObject(**BARE), style, key="k") == expected  # type: ignore[arg-type]


def test_title_without_author_is_not_repeated() -> None:
    source = {"article": "The Therapeutic Alliance …", "type": "Offline Book/Journal"}
    source |= {"title": "The therapeutic alliance in couple therapy", "year": 2008}
    assert render_source(source, "apa", key="k") == "The therapeutic alliance in couple therapy. (2008)."


def test_object_sources_render_like_mappings() -> None:
    obj = SourceObject(**{**JOURNAL, "authors": tuple(JOURNAL["authors"])})
    assert isinstance(obj, SourceFields)
    for style in ("plain", "apa", "mla", "bibtex"):
        assert render_source(obj, style, key="hs1991") == render_source(JOURNAL, style, key="hs1991")  # type: ignore[arg-type]


def test_a_cards_own_source_is_source_fields_and_renders_like_its_mapping() -> None:
    fields = {k: v for k, v in JOURNAL.items() if k not in ("volume", "issue")}
    source = Source(**{**fields, "authors": tuple(JOURNAL["authors"])})
    assert isinstance(source, SourceFields)
    for style in ("plain", "apa", "mla", "bibtex"):
        assert render_source(source, style, key="hs1991") == render_source(fields, style, key="hs1991")  # type: ignore[arg-type]


def test_csl_styles_are_parsed_once() -> None:
    sources._csl_style.cache_clear()
    render_source(JOURNAL, "apa", key="k")
    render_source(CHAPTER, "apa", key="k")
    render_source(JOURNAL, "mla", key="k")
    info = sources._csl_style.cache_info()
    assert (info.misses, info.hits) == (2, 1)
    for _ in range(20):
        render_source(JOURNAL, "apa", key="k")
    assert sources._csl_style.cache_info().misses == 2  # the time this saves: benchmarks/bench_guards.py


def test_unknown_style_raises() -> None:
    with pytest.raises(ValueError, match="unknown citation style"):
        render_source(JOURNAL, "chicago", key="k")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- BibTeX


def test_bibtex_journal_article() -> None:
    assert render_source(JOURNAL, "bibtex", key="horvath1991") == (
        "@article{horvath1991,\n"
        "  author = {Horvath, Adam O. and Symonds, B. Dianne},\n"
        "  title = {{Relation between working alliance and outcome in psychotherapy: A meta-analysis}},\n"
        "  journal = {Journal of Counseling Psychology},\n"
        "  year = {1991},\n"
        "  volume = {38},\n"
        "  number = {2},\n"
        "  pages = {139--149},\n"
        "  doi = {10.1037/0022-0167.38.2.139},\n"
        "  note = {Source: Offline Book/Journal}\n"
        "}"
    )


def test_bibtex_unicode_authors_joined_with_and() -> None:
    text = render_source(CHAPTER, "bibtex", key="orlinsky2004")
    assert text.startswith("@article{orlinsky2004,\n")
    assert "  author = {Orlinsky, David E. and Rønnestad, Michael Helge and Willutzki, Ulrike},\n" in text
    assert "  pages = {307--389},\n" in text


def test_bibtex_web_page_is_misc_with_braced_organisation() -> None:
    assert render_source(WEB, "bibtex", key="drugstrategies2003") == (
        "@misc{drugstrategies2003,\n"
        "  author = {{Drug Strategies}},\n"
        "  title = {{Treating teens: A guide to adolescent drug programs}},\n"
        "  year = {2003},\n"
        "  url = {https://www.example.org/teens\\_guide},\n"
        "  note = {Source: Website}\n"
        "}"
    )


def test_bibtex_escapes_special_characters() -> None:
    text = render_source(SPECIAL, "bibtex", key="smith2020")
    assert "  title = {{Costs \\& benefits: 50\\% of \\$5 for \\#1 \\{draft\\} a\\_b}},\n" in text
    assert "  journal = {Journal of Stuff \\& Things},\n" in text
    assert "  author = {Smith, Jo and O'Brien, Pat},\n" in text


def test_bibtex_without_structured_fields() -> None:
    assert render_source(BARE, "bibtex", key="card-12") == (
        "@misc{card-12,\n  title = {{'The vehicle of success':…}},\n  howpublished = {Offline Book/Journal}\n}"
    )


def test_bibtex_key_is_sanitised() -> None:
    assert render_source(BARE, "bibtex", key="a b,{c}%").startswith("@misc{abc,\n")
    assert render_source(BARE, "bibtex", key="").startswith("@misc{source,\n")


def test_bibtex_escape_backslash_tilde_caret() -> None:
    assert bibtex_escape("a\\b ~c^d") == r"a\textbackslash{}b \textasciitilde{}c\textasciicircum{}d"
