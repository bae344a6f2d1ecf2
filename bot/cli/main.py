"""The ``factdeck`` command: check, import, browse and search cards, run the bot or the offline console."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from bot.cards.importers import guess_format, import_text
from bot.cards.library import UnreadableFile, load_library, read_card_file, scan
from bot.cards.yamlio import dump
from bot.cli import render
from bot.cli.text import valid_args
from bot.service.shapes import cite_hit_json, collection_json, search_json
from bot.settings import SHIPPED_CARDS

if TYPE_CHECKING:
    from bot.service import CardService

T = TypeVar("T")


def default_cards_dir() -> Path:
    """The shipped cards folder, or FACTDECK_CARDS_DIR (or FACTDECK_CARDS) when set, as for ``factdeck run``."""
    return Path(os.environ.get("FACTDECK_CARDS_DIR") or os.environ.get("FACTDECK_CARDS") or SHIPPED_CARDS)


def _cache_dir(cards: Path) -> Path | None:
    """Where parsed cards and indexes are cached: beside the cards (the file's folder for a single file), or
    FACTDECK_CACHE_DIR. None when that folder cannot be written (read-only, full, under a file): the cards are
    then read and indexed in memory, as they are when the cache fails at runtime."""
    folder = cards.parent if cards.is_file() else cards
    cache = Path(os.environ.get("FACTDECK_CACHE_DIR") or os.environ.get("FACTDECK_CACHE") or folder / ".factdeck-cache")
    try:
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=cache):
            pass
    except OSError as exc:
        print(f"cannot write the cache folder {cache} ({exc.strerror or exc}); working in memory", file=sys.stderr)
        return None
    return cache


def _print_json(data: object) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def _color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def _service(args: argparse.Namespace, *, meaning: bool = False) -> CardService:
    """The card service over ``args.cards``; with ``meaning``, search by meaning too unless FACTDECK_SEMANTIC=off
    (waiting for the cards to be embedded, with a progress bar, when the cache does not have them yet). Close it
    when done: that stops the embedding thread and frees the model."""
    from bot.service import CardService
    from bot.service.semantic import open_meaning
    from bot.settings import semantic_from_env

    cache = _cache_dir(args.cards)
    semantic = open_meaning(semantic_from_env(), cache, progress=True) if meaning else None
    service = CardService.load(args.cards, cache_dir=cache, meaning=semantic)
    if semantic is not None:
        semantic.wait()
    for problem in service.library.errors:
        print(problem, file=sys.stderr)
    return service


# ------------------------------------------------------------------------------------------------ check
def cmd_check(args: argparse.Namespace) -> int:
    """Validate files or folders with the loader's own checks; print every problem; exit 1 on any error."""
    targets = [Path(p) for p in args.paths] or [args.cards]
    files: list[Path] = []
    refused: dict[Path, str] = {}
    for target in targets:
        if not target.exists():
            print(f"{target}: no such file or folder", file=sys.stderr)
            return 2
        found = scan(target)  # a FIFO or device given by name is refused when read, never waited on
        files.extend(found.files)
        refused.update(found.refused)
    library = load_library(Path.cwd(), paths=files, refused=refused)
    # Report paths as the user wrote them.
    shown = {**{str(path.resolve()): str(path) for path in files}, **{str(path): str(path) for path in refused}}
    files += [path for path in refused if not path.is_dir()]
    problems = [dataclasses.replace(p, path=shown.get(p.path, p.path)) for p in library.problems]
    errors = sum(p.is_error for p in problems)
    warnings = len(problems) - errors
    collections, cards = len(library.collections), len(library.cards)
    summary = (
        f"{len(files)} file{'s' if len(files) != 1 else ''}, {collections} collection{'s' if collections != 1 else ''},"
        f" {cards} card{'s' if cards != 1 else ''}: {errors} error{'s' if errors != 1 else ''},"
        f" {warnings} warning{'s' if warnings != 1 else ''}"
    )
    if args.json:
        _print_json(
            {
                "files": len(files),
                "collections": collections,
                "cards": cards,
                "errors": errors,
                "warnings": warnings,
                "problems": [
                    {"path": p.path, "line": p.line, "column": p.column, "severity": p.severity, "message": p.message}
                    for p in problems
                ],
            }
        )
    else:
        for problem in problems:
            print(problem)
        print(summary)
    return 1 if errors else 0


# ----------------------------------------------------------------------------------------------- import
def _progress(rows: Iterable[T], total: int) -> Iterable[T]:
    from tqdm import tqdm

    return tqdm(rows, total=total, unit=" rows", file=sys.stderr, disable=None)


#: The largest page or CSV ``factdeck import`` reads (on a terminal, nothing else waits on it).
IMPORT_READ_BYTES = 1 << 30


def cmd_import(args: argparse.Namespace) -> int:
    """Convert a seed-format page or CSV file into a validated card file."""
    source = Path(args.file)
    try:
        text = read_card_file(source, IMPORT_READ_BYTES).decode("utf-8-sig")  # a FIFO or device is refused
    except UnreadableFile as exc:
        print(f"{source}: {exc}", file=sys.stderr)
        return 2
    except UnicodeDecodeError as exc:
        print(f"{source}: cannot read it as UTF-8 text: {exc}", file=sys.stderr)
        return 2
    fmt = args.format or guess_format(source.name, text)
    if fmt == "yaml":
        print(f"{source}: this is already a card file; check it with `factdeck check {source}`", file=sys.stderr)
        return 2
    result = import_text(text, str(source), fmt, collection_id=args.collection, progress=_progress)
    for problem in result.problems:
        print(problem, file=sys.stderr)
    if result.card_file is None or (result.errors and not args.skip_bad):
        print(
            f"nothing written: {len(result.errors)} error(s); fix them, or pass --skip-bad to import the good rows",
            file=sys.stderr,
        )
        return 1
    out = Path(args.out) if args.out else args.cards / f"{result.card_file.collection.id}.yml"
    if out.exists() and not args.force:
        print(f"{out} exists; pass --force to replace it, or --out to write elsewhere", file=sys.stderr)
        return 1
    from bot.util.files import atomic_write_text

    atomic_write_text(out, dump(result.card_file))
    skipped = f", skipped {result.skipped} bad row(s)" if result.skipped else ""
    print(f"wrote {out}: {len(result.card_file.cards)} cards in '{result.card_file.collection.id}'{skipped}")
    return 0


# ------------------------------------------------------------------------------------------- browsing
def _no_such_card(service: CardService, card_id: str, viewer: int | None = None) -> int:
    """Say that no card has this id, with the closest ids; the exit status of a command given a wrong id."""
    choices = service.card_choices(card_id, limit=3, viewer=viewer)
    hint = f" Did you mean {', '.join(c for c, _ in choices)}?" if choices else ""
    print(f"No card has the id '{card_id}'.{hint}", file=sys.stderr)
    return 1


def cmd_show(args: argparse.Namespace) -> int:
    """Show one card."""
    service = _service(args)
    detail = service.detail(args.id, viewer=args.server)
    if detail is None:
        return _no_such_card(service, args.id, args.server)
    if args.json:
        _print_json(render.card_json(detail))
    else:
        print(render.card_text(detail, color=_color()))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """List collections and their card counts."""
    service = _service(args)
    summaries = service.collections(viewer=args.server)
    if args.json:
        _print_json([collection_json(s) for s in summaries])
    else:
        print(render.collections_text(summaries))
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    """Ranked topic search."""
    service = _service(args, meaning=args.mode != "lexical")
    try:
        result = service.search(
            args.query,
            topic=args.topic,
            collection=args.collection,
            limit=args.limit,
            offset=args.offset,
            viewer=args.server,
            mode=args.mode,
        )
    finally:
        service.close()
    if args.json:
        _print_json(search_json(args.query, result))
    else:
        print(render.search_text(result, color=_color()))
    return 0 if result.page.total else 1


def cmd_cite(args: argparse.Namespace) -> int:
    """The cards that cite a reference."""
    service = _service(args)
    result = service.cite(args.reference, viewer=args.server)
    if args.json:
        _print_json(
            {
                "query": args.reference,
                "message": result.message,
                "cards": [cite_hit_json(h) for h in result.hits],
            }
        )
    else:
        print(render.cite_text(result))
    return 0 if result.hits else 1


def cmd_random(args: argparse.Namespace) -> int:
    """A random card."""
    service = _service(args)
    pick = service.random(topic=args.topic, collection=args.collection, viewer=args.server)
    if pick.detail is None:
        hint = " `factdeck list` shows them." if pick.reason == "collection" else ""
        print(f"{pick.message}{hint}", file=sys.stderr)
        return 1
    if args.json:
        _print_json(render.card_json(pick.detail))
    else:
        print(render.card_text(pick.detail, color=_color()))
    return 0


def cmd_source(args: argparse.Namespace) -> int:
    """Where a card comes from, formatted."""
    service = _service(args)
    detail = service.detail(args.id, viewer=args.server)
    text = service.source(detail.card.id, args.style) if detail is not None else None
    if text is None or detail is None:
        print(f"No card has the id '{args.id}'.", file=sys.stderr)
        return 1
    if args.json:
        _print_json({**render.card_json(detail), "style": args.style, "formatted": text})
    else:
        print(text)
    return 0


def cmd_questions(args: argparse.Namespace) -> int:
    """What study mode asks about a card: its clozes and choices, or why it is not quizzed."""
    from bot.cli.questions import derive, questions_json, questions_text

    service = _service(args)
    key = service.resolve(args.id, args.server)
    derived = derive(key, service.library) if key is not None else None
    if derived is None:
        return _no_such_card(service, args.id, args.server)
    if args.json:
        _print_json(questions_json(args.id, *derived))
    else:
        print(questions_text(args.id, *derived))
    return 0


def cmd_console(args: argparse.Namespace) -> int:
    """The interactive offline console."""
    from bot.cli.console import run_console

    service = _service(args, meaning=True)
    try:
        return run_console(service, viewer=args.server)
    finally:
        service.close()


# ------------------------------------------------------------------------------------------------ parser
def build_parser(
    extra: Sequence[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = (),
) -> argparse.ArgumentParser:
    """The argument parser for every ``factdeck`` command."""
    parser = argparse.ArgumentParser(prog="factdeck", description="Curated fact cards, on Discord and offline.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--cards", type=Path, default=default_cards_dir(), help="card folder (default: the shipped cards/)"
    )
    common.add_argument("--json", action="store_true", help="print machine-readable JSON")
    common.add_argument(
        "--server",
        type=int,
        metavar="ID",
        help="see what this Discord server sees: the shared library and its own collections (default: shared only)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("check", parents=[common], help="validate card files and report every problem")
    p.add_argument("paths", nargs="*", help="files or folders (default: the card folder)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("import", parents=[common], help="turn a seed-format page or a CSV file into a card file")
    p.add_argument("file")
    p.add_argument("--format", choices=["seed", "csv"], help="input format (default: guessed from the file)")
    p.add_argument("--collection", help="collection id (default: from the page title or file name)")
    p.add_argument("--out", help="where to write the card file (default: CARDS/<collection>.yml)")
    p.add_argument("--skip-bad", action="store_true", help="import the good rows even if some are bad")
    p.add_argument("--force", action="store_true", help="replace an existing file")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("show", parents=[common], help="show one card")
    p.add_argument("id")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("list", parents=[common], help="list collections and their card counts")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("search", parents=[common], help="search cards by topic")
    p.add_argument("query")
    p.add_argument("--topic")
    p.add_argument("--collection")
    p.add_argument("--limit", type=int, default=5)
    p.add_argument("--offset", type=int, default=0)
    p.add_argument(
        "--mode",
        choices=("lexical", "semantic", "hybrid"),
        default="hybrid",
        help="by words, by meaning, or both as the bot does (default)",
    )
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("cite", parents=[common], help="the cards that cite a reference")
    p.add_argument("reference")
    p.set_defaults(func=cmd_cite)

    p = sub.add_parser("random", parents=[common], help="a random card")
    p.add_argument("--topic")
    p.add_argument("--collection")
    p.set_defaults(func=cmd_random)

    p = sub.add_parser("source", parents=[common], help="where a card comes from")
    p.add_argument("id")
    p.add_argument("--style", choices=["plain", "apa", "mla", "bibtex"], default="plain")
    p.set_defaults(func=cmd_source)

    p = sub.add_parser("questions", parents=[common], help="the study questions a card yields")
    p.add_argument("id")
    p.set_defaults(func=cmd_questions)

    p = sub.add_parser("console", parents=[common], help="an interactive console on the cards (no Discord)")
    p.set_defaults(func=cmd_console)

    for add in extra:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``factdeck`` command."""
    from bot.cli.bot_commands import add_bot_commands  # the bot's commands, imported only when the CLI runs
    from bot.cli.db_commands import add_db_commands
    from bot.cli.servers import add_server_commands

    parser = build_parser([add_bot_commands, add_server_commands, add_db_commands])
    args = valid_args(parser.parse_args(argv))
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
