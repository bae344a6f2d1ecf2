"""Questions derived from the cards themselves, offline and deterministically: no one has to write them.

A card yields, for each of its key terms (at most :data:`MAX_TERMS`), a *cloze* (the text with the term blanked)
and, when three good distractors exist, a *choice* of four. Key terms, by kind:

* ``topic``: one of the card's topics found in its text (the whole topic, else its longest word of 4+ letters
  that is; whole topics come first, then the card's order of topics);
* ``author``: a surname cited in the text, "(Horvath & Luborsky, 1993)" or "Rogers (1951)";
* ``name``: a capitalised word outside a citation that the collection cites as an author elsewhere;
* ``term``: any other capitalised word or run of them, not opening a sentence ("Transactional Analysis");
* ``year``: 1500 to 2099; ``number``: a number outside citations ("3.5", "40%", "three").

Questions come in that order of kinds (topic, name, term, author, year, number), one term per kind. A curator's
``study.cloze`` replaces the choice of terms, ``study.answers`` adds accepted answers to those, ``study.skip``
turns the card off; a card of fewer than :data:`MIN_WORDS` words is not quizzed.

Distractors are terms of the same kind from other cards of the same collection, then of cards sharing a topic:
each pool is in an order fixed by a digest of its terms, and a question looks at most :data:`_PROBES` of them from
a place given by a digest of the card id and the answer (so the same library gives the same questions in every
process, and deriving stays cheap whatever the pool's size). None occurs in the card's text, none is the answer
or an accepted answer in other words (the same folding, plural and typo rules as :func:`answer_matches`, or one's
words a part of the other's), and no two are alike. Terms are extracted once per card and pooled once per
collection and topic, cached per library.
"""

from __future__ import annotations

import hashlib
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Literal

from rapidfuzz.distance import OSA

from bot.cards.library import Library, audience_of_key, visible
from bot.cards.model import MAX_TEXT, Card, FoldedText, term_spans
from bot.index.search.query import fuzzy_distance
from bot.util.text import fold, topic_key

__all__ = [
    "BLANK",
    "MAX_ANSWER_CHARS",
    "MAX_TERMS",
    "MIN_WORDS",
    "TERM_KINDS",
    "Kind",
    "Question",
    "TermKind",
    "answer_matches",
    "no_questions_reason",
    "questions_for",
    "terms_of",
]

Kind = Literal["cloze", "choice"]
TermKind = Literal["topic", "number", "year", "name", "author", "term"]
#: The kinds of key terms, in the order a card's questions come in.
TERM_KINDS: tuple[TermKind, ...] = ("topic", "name", "term", "author", "year", "number")
#: What replaces the blanked term in a prompt.
BLANK = "_____"
#: A card of fewer words is too short to quiz: blanking a word of it gives the answer away or leaves nothing.
MIN_WORDS = 8
#: The most key terms one card is quizzed on (each gives a cloze and maybe a choice).
MAX_TERMS = 3
#: Options in a choice question, the answer included.
CHOICES = 4
#: A typed answer longer than this is never right (answers are words or short phrases).
MAX_ANSWER_CHARS = 200
#: Most terms of one kind kept per card (the first ones): enough for varied distractor pools, and a library of
#: 100,000 cards keeps a bounded number of terms in memory (names and words shared between cards are interned).
_PER_KIND = 4
#: Most candidates looked at per pool for one question's distractors: a bound on the work, whatever the pool size.
_PROBES = 48


@dataclass(frozen=True, slots=True)
class Question:
    """One recall prompt derived from a card."""

    card_id: str
    kind: Kind
    prompt: str  # cloze: the card text with the key term replaced by BLANK; choice: the same prompt
    answer: str  # the blanked term exactly as it appears in the card text
    choices: tuple[str, ...]  # choice: four distinct options including `answer`, in a deterministic order; cloze: ()
    accepted: tuple[str, ...]  # other accepted answers (from the curator's override), may be ()
    term_kind: str  # what was blanked: "topic", "number", "year", "name", "author", "term"


# ------------------------------------------------------------------------------------------------ words
_TOKEN = re.compile(r"[^\W_]+")


def _words(text: str) -> tuple[str, ...]:
    """Folded words, without punctuation, markdown or spacing: how answers and terms are compared."""
    return tuple(_TOKEN.findall(fold(text)))


def _stems(word: str) -> tuple[str, str]:
    """A word and its form without a plural ending (a crude stem, enough to forgive "goal" for "goals" and "diary"
    for "diaries")."""
    if len(word) > 4 and word.endswith("ies"):
        return word, word[:-3] + "y"
    if len(word) > 4 and word.endswith("es"):
        return word, word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word, word[:-1]
    return word, word


def _same_word(given: str, wanted: str) -> bool:
    if given == wanted or set(_stems(given)) & set(_stems(wanted)):
        return True
    allowed = fuzzy_distance(wanted)  # the typo rule of search: 1 edit for 4-7 letters, 2 from 8, none for others
    return allowed > 0 and OSA.distance(given, wanted, score_cutoff=allowed) <= allowed


def _same_words(given: Sequence[str], wanted: Sequence[str]) -> bool:
    """True when ``given`` would be accepted for ``wanted``: same words, forgiving plurals and small typos; numbers
    must be exact (digits only, so "1,000" is "1000")."""
    if not given or not wanted:
        return False
    if not ("".join(wanted).isalpha() and "".join(given).isalpha()):
        return "".join(given) == "".join(wanted)
    return len(given) == len(wanted) and all(_same_word(g, w) for g, w in zip(given, wanted, strict=True))


_MENTION = re.compile(r"<(?:@[!&]?|#|a?:\w+:)\d+>|@(?:everyone|here)\b")


def answer_matches(given: str, question: Question) -> bool:
    """A typed cloze answer matched forgivingly: case, accents, plurals, small typos (the same folding as search,
    bot/util/text.py fold, and rapidfuzz for typos); never matches an empty or over-long answer.

    Markdown and mentions around an answer are ignored ("**Rogers**" is "Rogers"; a mention alone is no answer).
    """
    if not given or len(given) > MAX_ANSWER_CHARS:
        return False
    words = _words(_MENTION.sub(" ", given))
    return any(_same_words(words, _words(wanted)) for wanted in (question.answer, *question.accepted))


#: The shortest word that counts as the tail of a compound ("therapy" in "psychotherapy"; not "ion" in "union").
_COMPOUND_MIN = 5


def _compound(word: str, tail: str) -> bool:
    """True when ``word`` is ``tail`` with something in front ("psychotherapy", "therapy")."""
    return len(tail) >= _COMPOUND_MIN and len(word) > len(tail) and word.endswith(_stems(tail)[1])


@lru_cache(maxsize=1 << 16)
def _alike(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Two terms a quiz must not offer side by side: one would be accepted for the other, one's words are all
    among the other's ("alliance" and "working alliance"), or one word ends in the other ("therapy" and
    "psychotherapy": either reads right in the blank)."""
    if _same_words(a, b) or _same_words(b, a):
        return True
    if any(_compound(x, y) or _compound(y, x) for x in a for y in b):
        return True
    stems_a = {s for w in a for s in _stems(w)}
    stems_b = {s for w in b for s in _stems(w)}
    return all(_stems(w)[1] in stems_b for w in a) or all(_stems(w)[1] in stems_a for w in b)


# ------------------------------------------------------------------------------------------- extraction
_RawKind = Literal["topic", "author", "year", "number", "capital"]


@dataclass(frozen=True, slots=True)
class _Term:
    kind: str
    surface: str  # as the text has it (its first occurrence)
    key: tuple[str, ...]  # folded words: the identity of the term


_PAREN = re.compile(r"\(([^()]*)\)")
# Each pattern starts with what it matches and looks behind only then: a leading look-behind would be tried at
# every character of every card (3 to 8 times slower).
_YEAR = re.compile(r"(?:1[5-9]|20)(?<![\w.,]..)\d\d(?![\d%]|[.,]\d)")
_NUMBER = re.compile(r"\d(?<![\w.,/-]\d)\d*(?:[.,]\d+)*%?(?![\w/-]|[.,]\d)")
_NUMBER_WORDS = [
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "sixty",
    "seventy",
    "eighty",
    "ninety",
    "hundred",
    "thousand",
    "million",
    "billion",
]
_NUMBER_WORD = re.compile(r"\b(?:" + "|".join(_NUMBER_WORDS) + r")\b(?!-)")
#: Upper-case letters of the Latin, Greek and Cyrillic scripts, as a regular expression class.
_UPPER = "".join(re.escape(chr(c)) for c in range(0x530) if chr(c).isupper())
_CAPITAL_WORD = rf"[{_UPPER}][\w'’-]*"
_CAPITAL_RUN = re.compile(rf"[{_UPPER}](?<![\w'’-].)[\w'’-]*(?: {_CAPITAL_WORD})*")
_NARRATIVE = re.compile(r"\s+(?:et\.? al\.?\s+)?\((?:1[5-9]\d\d|20\d\d|\d{1,3}(?:\s*,\s*\d{1,3})*)[a-z]?[),;:]")
_CITATION_INSIDE = re.compile(r"^\s*\d{1,3}(?:\s*[,–-]\s*\d{1,3})*\s*$")
#: Capitalised words that are not names or terms: sentence openers, citation words, pronouns.
_NOT_NAMES = frozenset(
    [
        "a",
        "an",
        "and",
        "as",
        "at",
        "but",
        "by",
        "cf",
        "eds",
        "ed",
        "et",
        "al",
        "also",
        "although",
        "because",
        "both",
        "for",
        "from",
        "however",
        "i",
        "if",
        "in",
        "it",
        "its",
        "many",
        "most",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "pp",
        "see",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "thus",
        "to",
        "vol",
        "we",
        "when",
        "where",
        "while",
        "with",
        "yet",
        "table",
        "figure",
        "fig",
        "chapter",
        "part",
        "section",
    ]
)
_TOPIC_STOPWORDS = frozenset(
    ["with", "from", "into", "their", "this", "that", "than", "them", "they", "have", "been", "were", "also"]
)


def _capitalised(word: str) -> bool:
    return len(word) > 1 and word.lower() not in _NOT_NAMES


def _sentence_start(text: str, at: int) -> bool:
    before = text[:at].rstrip().rstrip("\"'“‘([").rstrip()
    return not before or before[-1] in ".!?:"


def _runs(text: str, start: int, end: int) -> Iterator[tuple[int, int, list[str]]]:
    """Runs of capitalised words in ``text[start:end]``, split at words that are not names."""
    for match in _CAPITAL_RUN.finditer(text, start, end):
        run: list[str] = []
        run_start = match.start()
        position = match.start()
        for word in match.group(0).split(" "):
            if _capitalised(word):
                if not run:
                    run_start = position
                run.append(word)
            elif run:
                yield run_start, run_start + len(" ".join(run)), run
                run = []
            position += len(word) + 1
        if run:
            yield run_start, run_start + len(" ".join(run)), run


def _inside(spans: Sequence[tuple[int, int]], at: int) -> bool:
    return any(start <= at < end for start, end in spans)


def _extract(card: Card) -> tuple[_Term, ...]:
    """The card's candidate key terms in order (topics first, then the text's order), each once; capitalised runs
    are kind ``capital`` until the collection's authors tell names from other terms."""
    text = card.text
    folded = FoldedText(text)
    # key -> (order, term): whole topics first in the card's order, then topic words so, then the text's order
    found: dict[tuple[str, ...], tuple[tuple[int, int, int], _Term]] = {}
    priority = {"author": 0, "year": 1, "topic": 2, "capital": 3, "number": 4}

    def add(kind: _RawKind, surface: str, at: int, order: tuple[int, int, int] | None = None) -> None:
        key = _words(surface)
        if not key or len(surface) * 2 > len(text):
            return
        order = order or (2, at, 0)
        held = found.get(key)
        if held is None:
            found[key] = (order, _Term(kind, surface, key))
        elif priority[kind] < priority[held[1].kind]:
            found[key] = (min(order, held[0]), _Term(kind, held[1].surface, key))

    citations: list[tuple[int, int]] = []  # spans of "(..., 1993)" and "(7, 8)"
    for paren in _PAREN.finditer(text):
        inner = paren.group(1)
        if _YEAR.search(inner):
            citations.append(paren.span())
            for start, end, _ in _runs(text, paren.start(1), paren.end(1)):
                add("author", text[start:end], start)
        elif _CITATION_INSIDE.match(inner):
            citations.append(paren.span())
    for number, topic in enumerate(card.topics):
        spans = term_spans(folded, topic) if fold(topic).split()[0] in folded.folded else []
        if spans:
            add("topic", text[spans[0][0] : spans[0][1]], spans[0][0], (0, number, 0))
            continue
        words = sorted(
            (w for w in re.findall(r"[^\W\d_]{4,}", topic) if fold(w) not in _TOPIC_STOPWORDS), key=len, reverse=True
        )
        spans = next((s for s in (term_spans(folded, w) for w in words if fold(w) in folded.folded) if s), [])
        if spans:
            add("topic", text[spans[0][0] : spans[0][1]], spans[0][0], (1, number, 0))
    for start, end, run in _runs(text, 0, len(text)):
        if _inside(citations, start):
            continue
        if _NARRATIVE.match(text, end):
            add("author", run[-1], end - len(run[-1]))
            continue
        if _sentence_start(text, start):
            start, run = start + len(run[0]) + 1, run[1:]
        if run:
            add("capital", " ".join(run), start)
    for match in _YEAR.finditer(text):
        add("year", match.group(0), match.start())
    for match in _NUMBER.finditer(text):
        if not _inside(citations, match.start()) and not _YEAR.fullmatch(match.group(0)):
            add("number", match.group(0), match.start())
    lowered = text.lower()  # number words in any case, found without a (slow) case-insensitive pattern
    for match in _NUMBER_WORD.finditer(lowered if len(lowered) == len(text) else text):
        if not (match.start() and text[match.start() - 1] == "-"):
            add("number", text[match.start() : match.end()], match.start())
    kept: list[_Term] = []
    per_kind: dict[str, int] = {}
    for _, term in sorted(found.values(), key=lambda held: held[0]):
        per_kind[term.kind] = per_kind.get(term.kind, 0) + 1
        if per_kind[term.kind] <= _PER_KIND:
            kept.append(_Term(term.kind, sys.intern(term.surface), tuple(sys.intern(w) for w in term.key)))
    return tuple(kept)


@lru_cache(maxsize=8192)
def _blank_pattern(surface: str) -> re.Pattern[str]:
    """A term in folded text, whole words, with or without a plural ending on its last word."""
    words = fold(surface).split()
    escaped = [re.escape(w) for w in words]
    if words[-1].isalpha() and len(words[-1]) > 3:
        singular = _stems(words[-1])[1]
        escaped[-1] = (
            re.escape(singular[:-1]) + "(?:y|ies)" if singular.endswith("y") else re.escape(singular) + "(?:es|s)?"
        )
    return re.compile(r"(?<!\w)" + r"\s+".join(escaped) + r"(?!\w)")


def _blank(text: FoldedText, surface: str) -> str | None:
    """The text with every occurrence of the term blanked (a plural or singular too, so none gives it away)."""
    parts: list[str] = []
    done = 0
    for start, end in text.spans(_blank_pattern(surface)):
        parts += [text.text[done:start], BLANK]
        done = end
    if not parts:
        return None
    prompt = "".join([*parts, text.text[done:]])
    return prompt if len(prompt) <= MAX_TEXT else None


# ----------------------------------------------------------------------------------------- the library
class _Derivation:
    """Everything derived from one library, filled in as questions are asked for: terms per card, authors and
    term pools per collection, pools per topic."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self._raw: dict[str, tuple[Card, tuple[_Term, ...]]] = {}
        self._terms: dict[str, tuple[Card, tuple[_Term, ...]]] = {}
        self._authors: dict[str, frozenset[tuple[str, ...]]] = {}
        self._pools: dict[tuple[str, str], dict[str, tuple[_Term, ...]]] = {}
        self._topics: dict[str, tuple[str, ...]] | None = None

    def raw_terms(self, card: Card) -> tuple[_Term, ...]:
        held = self._raw.get(card.id)
        if held is not None and held[0] is card:
            return held[1]
        terms = _extract(card)
        if self.library.cards.get(card.id) is card:
            self._raw[card.id] = (card, terms)
        return terms

    def authors(self, collection: str | None) -> frozenset[tuple[str, ...]]:
        if collection is None:
            return frozenset()
        held = self._authors.get(collection)
        if held is None:
            keys: set[tuple[str, ...]] = set()
            for card in self.library.cards_of(collection):
                keys.update(t.key for t in self.raw_terms(card) if t.kind == "author")
                keys.update(_words(author.split(",")[0]) for author in card.source.authors)
            held = self._authors[collection] = frozenset(keys)
        return held

    def terms(self, card: Card) -> tuple[_Term, ...]:
        """The card's key terms with their final kinds: a capitalised run the collection cites is a name."""
        held = self._terms.get(card.id)
        if held is not None and held[0] is card:
            return held[1]
        authors = self.authors(self.library.card_collection.get(card.id))
        terms = tuple(
            _Term("name" if t.key in authors else "term", t.surface, t.key) if t.kind == "capital" else t
            for t in self.raw_terms(card)
        )
        if self.library.cards.get(card.id) is card:
            self._terms[card.id] = (card, terms)
        return terms

    def _pool(self, scope: str, name: str, kind: str, cards: Callable[[], Iterable[Card]]) -> tuple[_Term, ...]:
        held = self._pools.get((scope, name))
        if held is None:
            unique: dict[str, dict[tuple[str, ...], _Term]] = {}
            for card in cards():
                for term in self.terms(card):
                    unique.setdefault(term.kind, {}).setdefault(term.key, term)
            # Each in an order fixed by the terms alone (a digest of each), so that neighbours are unrelated.
            held = self._pools[(scope, name)] = {
                k: tuple(terms[key] for key in sorted(terms, key=lambda key: (_digest(*key), key)))
                for k, terms in unique.items()
            }
        return held.get(kind, ())

    def pools(self, card: Card, kind: str) -> Iterator[tuple[_Term, ...]]:
        """Terms of ``kind`` from the card's collection, then from each of its topics (library-wide)."""
        collection = self.library.card_collection.get(card.id)
        if collection is not None:
            yield self._pool("collection", collection, kind, lambda: self.library.cards_of(collection))
        # A topic's cards that the card's readers see: the shared ones for a shared card (its question is the same
        # in every server), and the server's own too for a server's card; never another server's terms.
        audience = audience_of_key(card.id)
        scope = "topic" if audience is None else f"topic@{audience}"
        for topic in dict.fromkeys(topic_key(t) for t in card.topics):
            yield self._pool(scope, topic, kind, partial(self._seen_cards, topic, audience))

    def _seen_cards(self, topic: str, audience: int | None) -> list[Card]:
        return self._cards(i for i in self.topic_cards().get(topic, ()) if visible(i, audience))

    def _cards(self, ids: Iterable[str]) -> list[Card]:
        return [self.library.cards[i] for i in ids]

    def topic_cards(self) -> dict[str, tuple[str, ...]]:
        if self._topics is None:
            found: dict[str, list[str]] = {}
            for card in self.library.cards.values():
                for topic in dict.fromkeys(topic_key(t) for t in card.topics):
                    found.setdefault(topic, []).append(card.id)
            self._topics = {topic: tuple(ids) for topic, ids in found.items()}
        return self._topics


_cache_lock = threading.Lock()
_cached: _Derivation | None = None


def _derivation(library: Library) -> _Derivation:
    """The derivation of this library, kept for the last library asked about (a reload replaces it)."""
    global _cached
    with _cache_lock:
        if _cached is None or _cached.library is not library:
            _cached = _Derivation(library)
        return _cached


# -------------------------------------------------------------------------------------------- questions
def _digest(*parts: str) -> int:
    return int.from_bytes(hashlib.blake2b("\x00".join(parts).encode(), digest_size=8).digest(), "big")


def _text_words(words: Iterable[str]) -> frozenset[str]:
    return frozenset(s for w in set(words) for s in _stems(w))


def _distractors(
    card: Card, term: _Term, accepted: Sequence[str], derivation: _Derivation, in_text: frozenset[str]
) -> tuple[str, ...]:
    """Three terms of the answer's kind for a choice question, or fewer when the pools have no more good ones."""
    start = _digest(card.id, *term.key)
    refused = [term.key, *(_words(a) for a in accepted)]
    chosen: list[_Term] = []
    seen: set[tuple[str, ...]] = set()
    for pool in derivation.pools(card, term.kind):
        for step in range(min(len(pool), _PROBES)):
            candidate = pool[(start + step) % len(pool)]
            if candidate.key in seen:
                continue
            seen.add(candidate.key)
            if all(_stems(w)[1] in in_text or w in in_text for w in candidate.key):
                continue  # in this card's text: not a distractor, maybe even a right answer
            if any(_alike(candidate.key, other) for other in [*refused, *(c.key for c in chosen)]):
                continue
            chosen.append(candidate)
            if len(chosen) == CHOICES - 1:
                return tuple(c.surface for c in chosen)
    return tuple(c.surface for c in chosen)


def _key_terms(card: Card, derivation: _Derivation) -> list[tuple[_Term, tuple[str, ...]]]:
    """The terms the card is quizzed on, each with its accepted answers: the curator's, or one per kind."""
    terms = derivation.terms(card)
    study = card.study
    if study.cloze:
        by_key = {t.key: t for t in terms}
        picked: list[tuple[_Term, tuple[str, ...]]] = []
        for wanted in study.cloze:
            spans = term_spans(card.text, wanted)
            if spans:
                surface = card.text[spans[0][0] : spans[0][1]]
                known = by_key.get(_words(surface))
                picked.append((_Term(known.kind if known else "term", surface, _words(surface)), study.answers))
        return picked
    first: dict[str, _Term] = {}
    for term in terms:
        first.setdefault(term.kind, term)
    none: tuple[str, ...] = ()
    return [(first[kind], none) for kind in TERM_KINDS if kind in first][:MAX_TERMS]


def terms_of(card: Card, library: Library) -> tuple[tuple[str, str], ...]:
    """Every key term found in a card, as (term kind, the term as the text has it), in the order they are picked:
    the candidates for its blanks and the terms other cards draw distractors from."""
    return tuple((t.kind, t.surface) for t in _derivation(library).terms(card))


def no_questions_reason(card: Card, words: Sequence[str] | None = None) -> str | None:
    """Why a card is never quizzed, before looking at its terms: its curator's skip, or too few words."""
    if card.study.skip:
        return "its curator set study.skip"
    if len(_words(card.text) if words is None else words) < MIN_WORDS:
        return f"it is too short to quiz (fewer than {MIN_WORDS} words)"
    return None


def questions_for(card: Card, library: Library) -> tuple[Question, ...]:
    """Every question a card yields (deterministic, offline); () when the card is too short, has nothing to blank,
    or its curator set study.skip."""
    words = _words(card.text)
    if no_questions_reason(card, words) is not None:
        return ()
    derivation = _derivation(library)
    in_text = _text_words(words)
    text = FoldedText(card.text)
    questions: list[Question] = []
    for term, accepted in _key_terms(card, derivation):
        prompt = _blank(text, term.surface)
        if prompt is None:
            continue
        questions.append(Question(card.id, "cloze", prompt, term.surface, (), accepted, term.kind))
        distractors = _distractors(card, term, accepted, derivation, in_text)
        if len(distractors) == CHOICES - 1:
            options = sorted((term.surface, *distractors), key=lambda o: _digest(card.id, *term.key, fold(o)))
            questions.append(Question(card.id, "choice", prompt, term.surface, tuple(options), accepted, term.kind))
    return tuple(questions)
