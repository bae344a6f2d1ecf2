"""Query planning: what each query word is searched by, and the tantivy query built from those plans.

Per query word (``w`` as typed and folded, ``s`` its English stem):

* *exact*: ``s`` in the card text, topics, article title and collection title, as a disjunction-max of BM25
  scores. When the word also gets typo or prefix clauses, a constant bonus for an exact match in any field makes
  every exact match outrank them.
* *typo* (only for words in at most a few cards: a common word is no typo): a Levenshtein query for ``s`` with a
  small constant score, plus, when the word is in no card, the closest index stems sharing its first letters
  (found with rapidfuzz) searched with BM25.
* *prefix* (the last word, unless the query ends with a space, and unless it is itself a common word): up to
  :data:`MAX_PREFIX_TERMS` of the most frequent index stems starting with ``w``, BM25-scored and down-weighted;
  an unfinished word no stem starts with gets a typo-tolerant prefix query instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import tantivy
from rapidfuzz import process
from rapidfuzz.distance import OSA

from bot.index.search.analysis import FIELD_BOOSTS, SEARCH_FIELDS, Parsed, Word, valid_text
from bot.util.text import topic_key

#: Most index terms a prefix expands to (the most frequent ones).
MAX_PREFIX_TERMS = 24
#: Longest query word that gets a typo-tolerant (fuzzy) query.
MAX_FUZZY_CHARS = 24
#: Most index stems a misspelt word is corrected to.
MAX_CORRECTIONS = 4

# Constant scores that order match kinds (exact stem > typo) before BM25 orders within them.
_EXACT_BONUS = 1.0
_FUZZY_BONUS = 0.3
# BM25 weights of completions and corrections relative to exact matches.
_PREFIX_WEIGHT = 0.4
_CORRECTION_WEIGHT = 0.6
_FUZZY_MAX_DF = 3
_SHOULD = tantivy.Occur.Should


@dataclass(frozen=True, slots=True)
class TermCounts:
    """The stems of the card text in one searcher, counted over live cards.

    tantivy's own counts include deleted documents; ``live`` (a match-all query, set when the index has
    deleted documents) makes the counts skip them.
    """

    searcher: tantivy.Searcher
    schema: tantivy.Schema
    count: int
    live: tantivy.Query | None = None

    def df(self, term: str) -> int:
        """Number of live cards with ``term`` in their text."""
        if self.live is None:
            return self.searcher.doc_freq("text", term)
        query = tantivy.Query.term_query(self.schema, "text", term, index_option="basic")
        return result_count(self.searcher.search(query, 1, count=True))

    def prefixed(self, prefix: str, limit: int | None = None) -> list[tuple[str, int]]:
        """Index stems starting with ``prefix`` and their card counts, most used first (live cards only)."""
        return self.searcher.terms_with_prefix("text", prefix, filter_query=self.live, limit=limit)


def result_count(result: tantivy.SearchResult) -> int:
    """The number of matching documents a counted search found (tantivy's stubs lack ``SearchResult.count``)."""
    count: object = getattr(result, "count", None)
    return count if isinstance(count, int) else 0


@dataclass(frozen=True, slots=True)
class Plan:
    """The terms one query word is searched by."""

    word: Word
    exact: bool  # False for a stopword being typed: it only contributes its completions
    known: int  # number of cards with the stem
    fuzzy: int  # edit distance for the typo query (0: none)
    fuzzy_prefix: bool  # the typo query matches the starts of words (an unfinished last word)
    corrections: tuple[str, ...]  # index stems close to a word that is not in the index
    completions: tuple[str, ...]  # index stems the unfinished last word may become


# ---------------------------------------------------------------------------------------------------------
# Planning


def fuzzy_distance(word: str) -> int:
    """Edit distance allowed for a typed word: 1 for 4-7 characters, 2 from 8, none for others."""
    n = len(word)
    if n < 4 or n > MAX_FUZZY_CHARS or not word.isalpha():
        return 0
    return 1 if n < 8 else 2


def plans(parsed: Parsed, terms: TermCounts, *, typo: bool = True) -> list[Plan]:
    """What each query word is searched by; stopwords only when the query has nothing else."""
    words = parsed.words
    required = [w for w in words if not w.stopword] or list(words)
    last = words[-1] if parsed.prefix is not None else None
    rare = max(_FUZZY_MAX_DF, terms.count // 5000)
    found = [_plan(word, terms, last=word is last, typo=typo, rare=rare) for word in required]
    if last is not None and last not in required:  # a stopword being typed: "the" may become "theory"
        completions = _completions(last, terms.df(last.stem), terms)
        if completions:
            found.append(Plan(last, False, 0, 0, False, (), completions))
    return found


def _plan(word: Word, terms: TermCounts, *, last: bool, typo: bool, rare: int) -> Plan:
    known = terms.df(word.stem)
    completions = _completions(word, known, terms) if last else ()
    # Typo tolerance for words that are missing or rare (a common word is no typo) and for an unfinished last
    # word that no indexed word starts with.
    fuzzy = fuzzy_distance(word.folded) if typo and known <= rare and not completions else 0
    as_prefix = last and not known
    corrections: tuple[str, ...] = ()
    if fuzzy and not known:
        corrections = _corrections(word.stem, fuzzy, terms, prefix=as_prefix)
    return Plan(word, True, known, fuzzy, as_prefix, corrections, completions)


def _corrections(word: str, distance: int, terms: TermCounts, *, prefix: bool) -> tuple[str, ...]:
    """Index stems within ``distance`` edits of ``word`` (or starting so, for a ``prefix``) that share its first
    letters: the closest ones, most used first."""
    if len(word) < 3:
        return ()
    found = terms.prefixed(word[: 2 if len(word) < 7 else 3])
    if not found:
        return ()
    best: dict[int, int] = {}  # index in found -> distance
    # A prefix may match the start of a term of about its own length.
    for k in range(len(word) - distance, len(word) + distance + 1) if prefix else (0,):
        candidates = [t[:k] for t, _ in found] if prefix else [t for t, _ in found]
        for _term, dist, i in process.extract(
            word, candidates, scorer=OSA.distance, score_cutoff=distance, limit=None, processor=None
        ):
            best[i] = min(dist, best.get(i, dist))
    if not best:
        return ()
    nearest = min(best.values())
    ranked = sorted((-found[i][1], found[i][0]) for i, dist in best.items() if dist == nearest)
    return tuple(term for _count, term in ranked[:MAX_CORRECTIONS])


def _completions(word: Word, known: int, terms: TermCounts) -> tuple[str, ...]:
    """Index stems the unfinished ``word`` may become; none when it is itself a common word."""
    if known * 20 > terms.count:
        return ()
    prefix = word.folded
    found = [t for t, _ in terms.prefixed(prefix, limit=MAX_PREFIX_TERMS)]
    # The typed prefix may run past the stem of the word it begins ("engagem" -> "engag").
    if len(prefix) >= 5:
        for k in range(len(prefix) - 1, max(3, len(prefix) - 4), -1):
            if terms.df(prefix[:k]):
                found.append(prefix[:k])
                break
    return tuple(t for t in found if t != word.stem)


def snippet_terms(found: Iterable[Plan]) -> list[str]:
    """The index stems a result's snippet highlights: exact stems, corrections and completions."""
    terms: dict[str, None] = {}
    for p in found:
        if p.exact:
            terms[p.word.stem] = None
        terms.update(dict.fromkeys(p.corrections))
        terms.update(dict.fromkeys(p.completions))
    return list(terms)


# ---------------------------------------------------------------------------------------------------------
# Queries


def _terms(
    schema: tantivy.Schema,
    field_terms: Iterable[str],
    boost: float,
    fields: tuple[tuple[str, float], ...] = FIELD_BOOSTS,
) -> tantivy.Query:
    """BM25 for any of ``field_terms`` in ``fields`` (name, weight), the best field counting most."""
    Q = tantivy.Query
    per_term = []
    for term in field_terms:
        per_field = [
            Q.boost_query(Q.term_query(schema, name, term, index_option="freq"), weight) for name, weight in fields
        ]
        per_term.append(per_field[0] if len(per_field) == 1 else Q.disjunction_max_query(per_field, 0.2))
    query = per_term[0] if len(per_term) == 1 else Q.boolean_query([(_SHOULD, q) for q in per_term])
    return query if boost == 1.0 else Q.boost_query(query, boost)


def _exact_clauses(schema: tantivy.Schema, plan: Plan) -> list[tantivy.Query]:
    """BM25 for the word's stem, with a constant bonus when looser clauses come beside it."""
    Q, stem = tantivy.Query, plan.word.stem
    if not plan.exact:
        return []
    if not plan.known:  # in no card text: maybe in a topic, article or collection title
        return [_terms(schema, [stem], 1.0, fields=FIELD_BOOSTS[1:])]
    clauses = [_terms(schema, [stem], 1.0)]
    if plan.fuzzy or plan.completions:
        # A constant bonus for an exact (stemmed) match, so that it outranks typo and prefix matches even for a
        # word so common that its BM25 score is near zero.
        anywhere = [Q.term_query(schema, name, stem, index_option="basic") for name in SEARCH_FIELDS]
        union = Q.boolean_query([(_SHOULD, q) for q in anywhere])
        clauses.append(Q.const_score_query(union, _EXACT_BONUS))
    return clauses


def _loose_clauses(schema: tantivy.Schema, plan: Plan) -> list[tantivy.Query]:
    """The typo query, the corrections and the completions of the word, in the card text."""
    Q = tantivy.Query
    clauses = []
    if plan.fuzzy:
        fuzzy = Q.fuzzy_term_query(schema, "text", plan.word.stem, plan.fuzzy, True, plan.fuzzy_prefix)
        clauses.append(Q.const_score_query(fuzzy, _FUZZY_BONUS))
    if plan.corrections:
        clauses.append(_terms(schema, plan.corrections, _CORRECTION_WEIGHT, fields=FIELD_BOOSTS[:1]))
    if plan.completions:
        clauses.append(_terms(schema, plan.completions, _PREFIX_WEIGHT, fields=FIELD_BOOSTS[:1]))
    return clauses


def _word_query(schema: tantivy.Schema, plan: Plan) -> tantivy.Query:
    Q = tantivy.Query
    clauses = _exact_clauses(schema, plan) + _loose_clauses(schema, plan)
    if not clauses:
        return Q.empty_query()
    return clauses[0] if len(clauses) == 1 else Q.boolean_query([(_SHOULD, q) for q in clauses])


def search_query(
    schema: tantivy.Schema,
    found: list[Plan],
    *,
    topic: str | None,
    collection: str | None,
    relaxed: bool,
    audiences: tuple[str, ...] | None = None,
) -> tantivy.Query:
    """Every word required (any word when ``relaxed``), with the filters as required clauses that add no score."""
    Q, Occur = tantivy.Query, tantivy.Occur
    occur = Occur.Should if relaxed else Occur.Must
    clauses = [(occur if p.exact else Occur.Should, _word_query(schema, p)) for p in found]
    if topic is not None:
        key = topic_key(valid_text(topic))
        clauses.append((Occur.Must, Q.const_score_query(Q.term_query(schema, "topic_key", key), 0.0)))
    if collection is not None:
        term = Q.term_query(schema, "collection_id", valid_text(collection))
        clauses.append((Occur.Must, Q.const_score_query(term, 0.0)))
    query = Q.boolean_query(clauses)
    if audiences is None:
        return query
    # The query as it stands, then the reader's audiences required beside it (nested, so that a relaxed query's
    # optional words stay required to match at least one, and scores are the query's own).
    return Q.boolean_query(
        [(Occur.Must, query), (Occur.Must, Q.const_score_query(audience_filter(schema, audiences), 0.0))]
    )


def audience_filter(schema: tantivy.Schema, audiences: tuple[str, ...]) -> tantivy.Query:
    """The documents a reader may see: those whose ``audience`` is one of ``audiences`` (see ``SearchDoc``)."""
    Q = tantivy.Query
    terms = [Q.term_query(schema, "audience", a, index_option="basic") for a in audiences]
    return terms[0] if len(terms) == 1 else Q.boolean_query([(tantivy.Occur.Should, t) for t in terms])
