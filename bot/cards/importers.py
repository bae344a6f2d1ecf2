"""Turning other formats into card files: a curator's page in the seed's format, and CSV.

Every imported card goes through the same validator as shipped files (``validate.validate_card``), and the
finished file is validated again as a whole before anyone writes it. Problems name the row (CSV) or line
(page) they come from.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.cards.model import MAX_TEXT, CardFile
from bot.cards.validate import Problem, echo, validate_card, validate_data
from bot.cards.worker import in_worker_process

Format = Literal["seed", "csv"]
#: Imports at least this large get a progress bar on a terminal.
PROGRESS_FROM = 1000


@dataclass(slots=True)
class ImportResult:
    """What an import produced: the collection file (if it is valid) and every problem found."""

    card_file: CardFile | None
    problems: list[Problem] = field(default_factory=list)
    skipped: int = 0

    @property
    def errors(self) -> list[Problem]:
        """Problems that stop the import."""
        return [p for p in self.problems if p.is_error]


def slugify(text: str, *, limit: int = 60) -> str:
    """A collection or card id made from a title: lowercase ASCII words joined by hyphens."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")
    return slug[:limit].rstrip("-") or "collection"


def card_id(collection_id: str, number: int) -> str:
    """The id of the n-th imported card of a collection."""
    return f"{collection_id}-{number:03d}"


# ------------------------------------------------------------------------------------------ seed pages
@dataclass(slots=True)
class _Fact:
    text: str
    line: int
    article: str | None = None
    source: str | None = None


_SITE_HEADER = "Curated Collections of the Most Useful Facts."
_NOISE = re.compile(r"^(What's This\?|Share\b.*|Views\s+\d+|\d[\d,]*\s+Knowledge Cards|Curated Facts|Player|feedback)$")


def _page_lines(text: str) -> list[tuple[int, str]]:
    return [(n, line.strip().replace("\u00a0", " ").strip()) for n, line in enumerate(text.splitlines(), 1)]


def parse_seed_page(text: str, path: str, *, collection_id: str | None = None) -> ImportResult:
    """Read a curator's page: title, description, "Curated by", then facts each followed by Article and Source."""
    lines = _page_lines(text)
    problems: list[Problem] = []
    try:
        facts_from = next(i for i, (_, line) in enumerate(lines) if line == "Curated Facts")
    except StopIteration:
        facts_from = next((i for i, (_, line) in enumerate(lines) if line.startswith("Article:")), len(lines))
        # Without the marker, facts start at the paragraph just before the first Article line.
        while facts_from > 0 and lines[facts_from - 1][1]:
            facts_from -= 1
        facts_from -= 1
    header = [(n, line) for n, line in lines[: max(facts_from, 0)] if line and line != _SITE_HEADER]
    title, description, curator = _page_header(header)
    if not title:
        problems.append(Problem(path, 1, 1, "the page has no title before its facts"))
    if not curator:
        problems.append(Problem(path, 1, 1, "the page has no 'Curated by' line naming its curator"))
    facts = list(_page_facts(lines[facts_from + 1 :], path, problems))
    if not facts and not problems:
        problems.append(Problem(path, 1, 1, "the page has no facts (a fact is a paragraph followed by 'Article:')"))
    collection_id = collection_id or slugify(title or "collection")
    cards: list[dict[str, Any]] = []
    for number, fact in enumerate(facts, 1):
        source = {k: v for k, v in (("article", fact.article), ("type", fact.source)) if v}
        cards.append({"id": card_id(collection_id, number), "text": fact.text, "source": source, "_line": fact.line})
    info = {"id": collection_id, "title": title or collection_id, "description": description, "curator": curator}
    return _finish(info, cards, path, problems, where="line")


def _page_header(header: list[tuple[int, str]]) -> tuple[str, str, str]:
    curator = ""
    body: list[str] = []
    for index, (_, line) in enumerate(header):
        if line == "Curated by":
            curator = next((text for _, text in header[index + 1 :] if text and not _NOISE.match(text)), "")
            break
        if not _NOISE.match(line) and (not body or body[-1] != line):
            body.append(line)
    title = body[0] if body else ""
    description = " ".join(body[1:])
    return title, description, curator


def _page_facts(lines: list[tuple[int, str]], path: str, problems: list[Problem]) -> Iterator[_Fact]:
    paragraph: list[str] = []
    start = 0
    fact: _Fact | None = None
    for number, line in lines:
        if line.startswith("Article:"):
            if not paragraph:
                problems.append(Problem(path, number, 1, "an 'Article:' line with no fact before it"))
                continue
            fact = _Fact(" ".join(paragraph), start, article=line.removeprefix("Article:").strip() or None)
            paragraph = []
        elif line.startswith("Source:"):
            if fact is None:
                problems.append(Problem(path, number, 1, "a 'Source:' line with no 'Article:' line before it"))
                continue
            fact.source = line.removeprefix("Source:").strip() or None
            yield fact
            fact = None
        elif not line:
            if fact is not None:  # an Article with no Source: keep it, the source type is optional
                yield fact
                fact = None
        else:
            if fact is not None:
                yield fact
                fact = None
            if not paragraph:
                start = number
            paragraph.append(line)
    if fact is not None:
        yield fact
    if paragraph and not all(_NOISE.match(p) for p in paragraph):
        problems.append(Problem(path, start, 1, "a paragraph at the end of the page has no 'Article:' line after it"))


# ------------------------------------------------------------------------------------------------- CSV
CSV_COLUMNS = ("text", "topics", "article", "source")


def parse_csv(
    text: str,
    path: str,
    *,
    collection_id: str,
    title: str | None = None,
    curator: str = "unknown",
    progress: Callable[[Iterable[Any], int], Iterable[Any]] | None = None,
) -> ImportResult:
    """Read a CSV file with a header row naming the columns text, topics, article and source.

    Topics are separated by semicolons. Each row becomes one card; rows are numbered as in a spreadsheet
    (the header is row 1).
    """
    problems: list[Problem] = []
    # strict: a quote that is never closed is an error, not every following row swallowed into one card.
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [h.strip().lower() for h in reader.fieldnames or []]
    except csv.Error as exc:
        return ImportResult(None, [Problem(path, 1, 1, f"row 1 (the header): {_csv_error(exc)}")])
    if "text" not in header:
        found = ", ".join(echo(h) for h in header[:10]) or "nothing"
        problems.append(Problem(path, 1, 1, f"the header row must name a 'text' column (found: {found})"))
        return ImportResult(None, problems)
    unknown = [h for h in header if h not in CSV_COLUMNS]
    if unknown:
        named = ", ".join(echo(h) for h in unknown[:10])
        problems.append(Problem(path, 1, 1, f"unknown column(s) {named}; expected {', '.join(CSV_COLUMNS)}"))
    reader.fieldnames = header
    read = _Rows(reader, path, problems)
    rows: Iterable[dict[str, str | None]] = read
    lines = text.count("\n")
    if progress is not None and lines >= PROGRESS_FROM:
        rows = progress(rows, lines)
    cards: list[dict[str, Any]] = []
    line = reader.line_num + 1  # where the next row starts
    for row_number, row in enumerate(rows, 2):
        row_line, line = line, reader.line_num + 1
        if None in row:
            problems.append(
                Problem(path, row_line, 1, f"row {row_number}: this row has more cells than the header has columns")
            )
            continue
        body = (row.get("text") or "").strip()
        topics = [t.strip() for t in (row.get("topics") or "").split(";") if t.strip()]
        source = {k: v for k, v in (("article", row.get("article")), ("type", row.get("source"))) if v and v.strip()}
        card: dict[str, Any] = {"id": card_id(collection_id, len(cards) + 1), "text": body}
        if topics:
            card["topics"] = topics
        if source:
            card["source"] = {k: v.strip() for k, v in source.items()}
        card["_line"] = row_line
        card["_where"] = f"row {row_number}"
        cards.append(card)
    if read.broken:
        return ImportResult(None, problems)  # the rows after a malformed one are unknown: nothing to import
    info = {"id": collection_id, "title": title or collection_id, "description": "", "curator": curator}
    return _finish(info, cards, path, problems, where="row")


class _Rows:
    """The rows of a CSV file, stopping at the first one the csv module cannot read, which becomes a problem.

    After a malformed row nothing that follows can be trusted (a stray quote shifts every later cell), so the
    rest is not read, the problem says so, and ``broken`` is set.
    """

    def __init__(self, reader: csv.DictReader[str], path: str, problems: list[Problem]) -> None:
        self.reader, self.path, self.problems = reader, path, problems
        self.broken = False

    def __iter__(self) -> Iterator[dict[str, str | None]]:
        row_number = 1
        while True:
            start = self.reader.line_num + 1
            try:
                row = next(self.reader)
            except StopIteration:
                return
            except csv.Error as exc:
                message = f"row {row_number + 1}: {_csv_error(exc)}; the rows after it were not read"
                self.problems.append(Problem(self.path, start, 1, message))
                self.broken = True
                return
            row_number += 1
            yield row


def _csv_error(exc: csv.Error) -> str:
    text = str(exc)
    if "unexpected end of data" in text:
        return (
            "a quoted cell opened on this row is never closed, so every row after it would become part of it; "
            'close the quote (write "" for a quote inside a quoted cell)'
        )
    if "expected after" in text:
        return 'a quoted cell goes on after its closing quote; write "" for a quote inside a quoted cell'
    if "field larger than field limit" in text:
        return (
            f"a cell is longer than {csv.field_size_limit():,} characters (a card's text may have at most "
            f"{MAX_TEXT:,}), so the file cannot be imported as it is"
        )
    return f"this row is not valid CSV ({text})"


# ----------------------------------------------------------------------------------------------- both
def _finish(
    info: dict[str, Any], cards: list[dict[str, Any]], path: str, problems: list[Problem], *, where: str
) -> ImportResult:
    built: list[dict[str, Any]] = []
    skipped = 0
    for data in cards:
        line = data.pop("_line")
        label = data.pop("_where", f"{where} {line}")
        card, found = validate_card(data, path)  # the model's structs at once; a bad row is walked for messages
        if card is None:
            skipped += 1
            for problem in found:
                problems.append(Problem(path, line, 1, f"{label}: {problem.message}"))
        else:
            built.append(data)
    collection = {k: v for k, v in info.items() if v or k in ("description",)}
    # The assembled file, once, through the rules every card file goes through (writers validate the text again).
    final = validate_data({"collection": collection, "cards": built}, path)
    problems.extend(p for p in final.problems if p.is_error)
    return ImportResult(final.card_file if final.ok else None, problems, skipped)


#: Imports of at least this many characters are read and validated in a worker process (unless a progress bar is
#: shown, as on a terminal where nothing else waits): the bot's other commands then never wait on the import.
ISOLATE_FROM = 2 << 20


def import_text(
    text: str,
    path: str,
    fmt: Format,
    *,
    collection_id: str | None = None,
    progress: Callable[[Iterable[Any], int], Iterable[Any]] | None = None,
) -> ImportResult:
    """Import a page or CSV file given as text (a large one in a worker process, see :data:`ISOLATE_FROM`)."""
    if progress is None and len(text) >= ISOLATE_FROM:
        return in_worker_process(_import_in_worker, text, path, fmt, collection_id)
    return _import(text, path, fmt, collection_id, progress)


def _import(
    text: str,
    path: str,
    fmt: Format,
    collection_id: str | None,
    progress: Callable[[Iterable[Any], int], Iterable[Any]] | None = None,
) -> ImportResult:
    if fmt == "seed":
        return parse_seed_page(text, path, collection_id=collection_id)
    stem = slugify(path.rsplit("/", 1)[-1].rsplit(".", 1)[0])
    return parse_csv(text, path, collection_id=collection_id or stem, title=None, progress=progress)


def _import_in_worker(text: str, path: str, fmt: Format, collection_id: str | None) -> ImportResult:
    return _import(text, path, fmt, collection_id)


def guess_format(filename: str, text: str) -> Format | Literal["yaml"]:
    """The format of an uploaded or named file, from its name and, failing that, its content."""
    lower = filename.lower()
    if lower.endswith((".yml", ".yaml")):
        return "yaml"
    if lower.endswith(".csv"):
        return "csv"
    if lower.endswith(".txt") or re.search(r"^Article:", text, re.MULTILINE):
        return "seed"
    return "yaml" if text.lstrip().startswith(("collection:", "#", "cards:")) else "csv"
