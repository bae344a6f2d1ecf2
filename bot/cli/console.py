"""The offline console: the bot's commands in a terminal, on the same card service, with no Discord at all.

On a terminal it offers history and tab completion of commands, topics, card ids and references; with piped
input it reads one command per line, which is how the tests drive it.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot.cli import render
from bot.cli.questions import derive, questions_text
from bot.cli.text import valid_text
from bot.service import STYLES, CardService

if TYPE_CHECKING:
    from prompt_toolkit.completion import CompleteEvent, Completer, Completion
    from prompt_toolkit.document import Document

    from bot.insights import SearchMisses

HELP = """Commands (the same as /fact on Discord):
  random [topic]          a random card, optionally on a topic
  search QUERY            ranked search over text, topics and articles ("search couple therapy")
  next / prev             the next or previous page of the last search
  cite REFERENCE          the cards that cite a work ("cite Horvath & Symonds 1991", "cite Simpson")
  show CARD               one card by id
  source CARD [STYLE]     where a card comes from; STYLE is plain, apa, mla or bibtex
  topics [PREFIX]         topics to search by
  questions CARD          the study questions a card yields (clozes and choices)
  collections             the collections and their curators
  help                    this list
  quit                    leave (Ctrl-D works too)"""

COMMANDS = (
    "random",
    "search",
    "next",
    "prev",
    "cite",
    "show",
    "source",
    "topics",
    "questions",
    "collections",
    "help",
    "quit",
)
PAGE = 5


class Console:
    """Runs console commands against a card service and writes what they show."""

    def __init__(
        self,
        service: CardService,
        out: TextIO,
        *,
        color: bool = False,
        misses: SearchMisses | None = None,
        viewer: int | None = None,
    ) -> None:
        """``misses`` counts the searches that found nothing (curator insights); None: not counted."""
        self.service = service
        #: The server whose view of the cards this console shows (``--server``); None: the shared library only.
        self.viewer = viewer
        self.out = out
        self.color = color
        self.misses = misses
        self._last_query: str | None = None
        self._offset = 0

    def write(self, text: str) -> None:
        """Print a block of output followed by a blank line."""
        self.out.write(text.rstrip() + "\n\n")
        self.out.flush()

    def handle(self, line: str) -> bool:
        """Run one command line; False when the user asked to quit."""
        line = valid_text(line).strip()
        if not line:
            return True
        command, _, rest = line.partition(" ")
        command, rest = command.lower(), rest.strip()
        action: dict[str, Callable[[str], None]] = {
            "random": self._random,
            "search": self._search,
            "next": lambda _: self._page(+PAGE),
            "prev": lambda _: self._page(-PAGE),
            "cite": self._cite,
            "show": self._show,
            "source": self._source,
            "topics": self._topics,
            "questions": self._questions,
            "collections": lambda _: self.write(render.collections_text(self.service.collections(self.viewer))),
            "help": lambda _: self.write(HELP),
            "?": lambda _: self.write(HELP),
        }
        if command in ("quit", "exit", "q"):
            return False
        if command not in action:
            self.write(f"Unknown command “{command}”. Type help for the list.")
            return True
        action[command](rest)
        return True

    def _random(self, topic: str) -> None:
        pick = self.service.random(topic=topic or None, viewer=self.viewer)
        self.write(render.card_text(pick.detail, color=self.color) if pick.detail else pick.message or "No cards.")

    def _search(self, query: str) -> None:
        self._last_query, self._offset = query, 0
        self._page(0)

    def _page(self, step: int) -> None:
        if self._last_query is None:
            self.write("Search first, e.g. “search couple therapy”.")
            return
        result = self.service.search(
            self._last_query, limit=PAGE, offset=max(0, self._offset + step), viewer=self.viewer
        )
        if step and not result.page.hits:
            self.write("No more results in that direction.")
            return
        self._offset = result.page.offset
        if not step and self.misses is not None:  # a new search, not a page turn
            self.misses.search(self._last_query, [hit.score for hit in result.page.hits], None)
        self.write(render.search_text(result, color=self.color))

    def _cite(self, reference: str) -> None:
        result = self.service.cite(reference, self.viewer)
        if self.misses is not None:
            self.misses.cite(reference, len(result.hits), self.viewer)
        self.write(render.cite_text(result))

    def _show(self, card_id: str) -> None:
        detail = self.service.detail(card_id, self.viewer)
        if detail is None:
            close = self.service.card_choices(card_id, limit=3, viewer=self.viewer) if card_id else []
            hint = f" Did you mean {', '.join(c for c, _ in close)}?" if close else ""
            self.write(f"No card has the id “{card_id}”.{hint}" if card_id else "Usage: show CARD")
            return
        self.write(render.card_text(detail, color=self.color))

    def _source(self, rest: str) -> None:
        try:
            parts = shlex.split(rest)
        except ValueError:
            parts = rest.split()
        if not parts:
            self.write("Usage: source CARD [plain|apa|mla|bibtex]")
            return
        style = parts[1].lower() if len(parts) > 1 else "plain"
        if style not in STYLES:
            self.write(f"Unknown style “{style}”: use {', '.join(STYLES)}.")
            return
        text = self.service.source(parts[0], style, viewer=self.viewer)
        self.write(text if text is not None else f"No card has the id “{parts[0]}”.")

    def _topics(self, prefix: str) -> None:
        topics = self.service.topics(prefix, limit=40, viewer=self.viewer)
        self.write(", ".join(topics) if topics else f"No topic starts with “{prefix}”.")

    def _questions(self, card_id: str) -> None:
        key = self.service.resolve(card_id, self.viewer)
        derived = derive(key, self.service.library) if key is not None else None
        if derived is None:
            self.write(f"No card has the id “{card_id}”." if card_id else "Usage: questions CARD")
            return
        self.write(questions_text(card_id, *derived))


def _options(service: CardService, command: str, arg: str, viewer: int | None = None) -> list[str]:
    """What the argument ``arg`` of ``command`` may become: topics, card ids or references ``viewer`` sees."""
    if command in ("random", "search"):
        return service.topics(arg, limit=20, viewer=viewer)
    if command in ("show", "source", "questions"):
        return [card_id for card_id, _ in service.card_choices(arg, limit=20, viewer=viewer)]
    if command == "cite":
        return [display for display, _ in service.references(arg, limit=20, viewer=viewer)]
    return []


def _completer(service: CardService, viewer: int | None = None) -> Completer:
    from prompt_toolkit.completion import Completer, Completion

    class _Complete(Completer):
        def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterable[Completion]:
            text = document.text_before_cursor
            if " " not in text:
                commands = [command for command in COMMANDS if command.startswith(text.lower())]
                return [Completion(command, start_position=-len(text)) for command in commands]
            command, _, arg = text.partition(" ")
            return [
                Completion(option, start_position=-len(arg))
                for option in _options(service, command.lower(), arg, viewer)
            ]

    return _Complete()


def run_console(
    service: CardService,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    misses: SearchMisses | None = None,
    viewer: int | None = None,
) -> int:
    """Run the console until the user quits; returns an exit code. ``misses`` counts failed searches."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    interactive = stdin.isatty() and stdout.isatty()
    console = Console(service, stdout, color=interactive and "NO_COLOR" not in os.environ, misses=misses, viewer=viewer)
    cards, collections = len(service.pool(viewer=viewer)), len(service.collections(viewer))
    seen = f" as server {viewer} sees them" if viewer is not None else ""
    console.write(
        f"Factdeck console: {cards} cards in {collections} collection(s){seen}, no Discord needed.\n"
        "Type help for the commands, quit to leave."
    )
    if interactive:
        _prompt(console, service)
        return 0
    for line in stdin:
        if not console.handle(line):
            break
    return 0


def _prompt(console: Console, service: CardService) -> None:
    """Read commands at a prompt with history and tab completion until the user quits (Ctrl-D or quit)."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory

    history = Path(os.environ.get("FACTDECK_HISTORY") or Path.home() / ".factdeck_history")
    session: PromptSession[str] = PromptSession(
        history=FileHistory(str(history)),
        completer=_completer(service, console.viewer),
        complete_while_typing=False,
    )
    while True:
        try:
            line = session.prompt("factdeck> ")
        except KeyboardInterrupt:
            continue
        except EOFError:
            return
        if not console.handle(line):
            return
