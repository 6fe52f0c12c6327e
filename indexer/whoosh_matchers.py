"""The Whoosh queries of a search: every term as a phrase in the content or the title, and the matchers
that make it exact and stoppable.

* `match_query` turns a parsed query into a Whoosh query: each term required (a prefix for a lone
  CJK character, a term for one token, an exact phrase for several), identifiers and jieba words
  as optional boosts.
* `_ExactPhrase` / `_PhraseMatcher` match the tokens of a phrase at consecutive positions.
* `Deadline` is checked by the term and phrase matchers every few postings, and `DeadlineCollector`
  between hits, so a search stops at its time limit and returns what it found.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from whoosh.collectors import TimeLimit, TimeLimitCollector
from whoosh.matching import Matcher, NullMatcher, WrappingMatcher
from whoosh.query import And, AndMaybe, Or, Prefix, Query, Term

from indexer.analyzer import query_phrase
from indexer.query import ParsedQuery, QueryTerm

_TEXT_FIELDS = ("content", "title")


def match_query(query: ParsedQuery, deadline: Deadline | None = None) -> Query:
    """Every term must occur (as a phrase, in the content or the title); identifiers and jieba
    words of the terms, when present as whole tokens, rank a document higher."""
    required: list[Query] = []
    extras: dict[str, None] = {}
    for term in query.terms:
        required.append(_term_query(term, deadline))
        extras.update(dict.fromkeys(query_phrase(term.text).extras))
    must = required[0] if len(required) == 1 else And(required)
    if not extras:
        return must
    return AndMaybe(must, Or([Term("content", e) for e in extras]))


def _term_query(term: QueryTerm, deadline: Deadline | None) -> Query:
    phrase = query_phrase(term.text)
    per_field: list[Query] = []
    for field in _TEXT_FIELDS:
        if phrase.lone_char:
            per_field.append(Prefix(field, phrase.lone_char))
        elif len(phrase.anchors) == 1:
            per_field.append(_TimedTerm(field, phrase.anchors[0][0], deadline))
        else:
            per_field.append(_ExactPhrase(field, phrase.anchors, deadline))
    return Or(per_field)


class Deadline:
    """When a search must stop; checked by term matchers every few postings."""

    __slots__ = ("at",)

    def __init__(self, at: float) -> None:
        self.at = at

    def check(self) -> None:
        if time.monotonic() > self.at:
            raise TimeLimit


class DeadlineCollector(TimeLimitCollector):
    """Whoosh's ``TimeLimitCollector``, checking the deadline between hits itself: no timer thread
    per search (starting one costs milliseconds on a busy machine), and no SIGALRM (that works in
    the main thread only and would interrupt whatever it runs)."""

    def __init__(self, child: Any, deadline: Deadline, time_limit_s: float) -> None:
        super().__init__(child, timelimit=time_limit_s, use_alarm=False)
        self._deadline = deadline

    def prepare(self, top_searcher: Any, q: Any, context: Any) -> None:
        self.child.prepare(top_searcher, q, context)
        self.timedout = False

    def collect_matches(self) -> None:
        child = self.child
        for sub_docnum in child.matches():
            child.collect(sub_docnum)
            self._deadline.check()


class _TimedMatcher(WrappingMatcher):
    """A term's posting matcher that raises ``TimeLimit`` once the deadline has passed."""

    _EVERY = 64

    def __init__(self, child: Any, deadline: Deadline) -> None:
        super().__init__(child)
        self._deadline = deadline
        self._steps = 0

    def copy(self) -> _TimedMatcher:
        return _TimedMatcher(self.child.copy(), self._deadline)

    def _replacement(self, newchild: Any) -> _TimedMatcher:
        return _TimedMatcher(newchild, self._deadline)

    def _tick(self) -> None:
        self._steps += 1
        if self._steps % self._EVERY == 0:
            self._deadline.check()

    def next(self) -> Any:
        self._tick()
        return self.child.next()

    def skip_to(self, id: int) -> Any:  # Whoosh names it so
        self._tick()
        return self.child.skip_to(id)


class _TimedTerm(Term):
    def __init__(self, fieldname: str, text: str, deadline: Deadline | None) -> None:
        super().__init__(fieldname, text)
        self.deadline = deadline

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        m = super().matcher(searcher, context)
        if self.deadline is None or not m.is_active():
            return m
        return _TimedMatcher(m, self.deadline)


class _ExactPhrase(Query):
    """Documents holding every ``(token, offset)`` anchor at one start position plus its offset.

    Whoosh's ``Phrase`` goes through ``SpanNear2``: span objects and a deep tree of intersection
    matchers for every candidate document, and no gaps between words. This checks sets of
    positions instead, reading the rarest posting list first, and allows the gaps that let a CJK
    phrase skip every other bigram (see ``analyzer.query_phrase``).
    """

    def __init__(
        self, fieldname: str, anchors: tuple[tuple[str, int], ...], deadline: Deadline | None
    ) -> None:
        self.fieldname = fieldname
        self.anchors = anchors
        self.deadline = deadline
        self.boost = 1.0

    def __repr__(self) -> str:
        return f"_ExactPhrase({self.fieldname!r}, {self.anchors!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _ExactPhrase) and (self.fieldname, self.anchors) == (
            other.fieldname,
            other.anchors,
        )

    def __hash__(self) -> int:
        return hash((self.fieldname, self.anchors))

    def field(self) -> str:
        return self.fieldname

    def has_terms(self) -> bool:
        return True

    def terms(self, phrases: bool = False) -> Iterator[tuple[str, str]]:
        if phrases:
            for token, _ in self.anchors:
                yield self.fieldname, token

    def normalize(self) -> Query:
        return self

    def estimate_size(self, ixreader: Any) -> int:
        return min(ixreader.doc_frequency(self.fieldname, token) for token, _ in self.anchors)

    def estimate_min_size(self, ixreader: Any) -> int:
        return 0

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        reader = searcher.reader()
        field = searcher.schema[self.fieldname]
        weighting = context.weighting if context is not None else searcher.weighting
        leaves = []
        for token, offset in self.anchors:
            btext = field.to_bytes(token)
            if (self.fieldname, btext) not in reader:
                return NullMatcher()  # a token absent from the index: no document has the phrase
            postings = searcher.postings(self.fieldname, btext, weighting=weighting)
            leaves.append((reader.doc_frequency(self.fieldname, btext), postings, offset))
        leaves.sort(key=lambda leaf: leaf[0])
        return _PhraseMatcher([(m, offset) for _, m, offset in leaves], self.deadline)


class _PhraseMatcher(Matcher):
    """Leapfrogs the posting matchers (rarest first) to common documents, then keeps those where
    the positions line up. Scores like Whoosh's phrases, as a sum of the tokens' BM25 scores, but
    of the rarest few only: they carry nearly all of it, and scoring costs per token and document."""

    _EVERY = 64  # candidate documents between two looks at the clock
    _SCORED = 3

    def __init__(self, leaves: list[tuple[Any, int]], deadline: Deadline | None) -> None:
        self._leaves = leaves
        self._deadline = deadline
        self._steps = 0
        self._active = all(m.is_active() for m, _ in leaves)
        self._find()

    def _tick(self) -> None:
        self._steps += 1
        if self._deadline is not None and self._steps % self._EVERY == 0:
            self._deadline.check()

    def _align(self) -> bool:
        """Move every leaf to the lead's document or the next one they all share."""
        matchers = [m for m, _ in self._leaves]
        target = matchers[0].id()
        while True:
            self._tick()
            for m in matchers:
                if m.id() < target:
                    m.skip_to(target)
                    if not m.is_active():
                        return False
                if m.id() > target:
                    target = m.id()
                    break
            else:
                return True

    def _lined_up(self) -> bool:
        (first, first_offset), *rest = self._leaves
        starts = {p - first_offset for p in first.value_as("positions")}
        for m, offset in rest:
            positions = set(m.value_as("positions"))
            starts = {s for s in starts if s + offset in positions}
            if not starts:
                return False
        return True

    def _find(self) -> None:
        lead = self._leaves[0][0]
        while self._active:
            if not self._align():
                self._active = False
            elif self._lined_up():
                return
            else:
                lead.next()
                self._active = lead.is_active()

    def is_active(self) -> bool:
        return self._active

    def id(self) -> int:
        return int(self._leaves[0][0].id())

    def next(self) -> bool:
        lead = self._leaves[0][0]
        lead.next()
        self._active = lead.is_active()
        self._find()
        return False

    def skip_to(self, id: int) -> bool:  # Whoosh names it so
        if self._active and id > self.id():
            lead = self._leaves[0][0]
            lead.skip_to(id)
            self._active = lead.is_active()
            self._find()
        return False

    def reset(self) -> None:
        for m, _ in self._leaves:
            m.reset()
        self._active = all(m.is_active() for m, _ in self._leaves)
        self._find()

    def copy(self) -> _PhraseMatcher:
        return _PhraseMatcher([(m.copy(), offset) for m, offset in self._leaves], self._deadline)

    def replace(self, minquality: float = 0) -> Any:
        return self if self._active else NullMatcher()

    def children(self) -> list[Any]:
        return [m for m, _ in self._leaves]

    def max_quality(self) -> float:
        # the score is a sum of leaves' scores, so their maxima bound it
        return float(sum(m.max_quality() for m, _ in self._leaves[: self._SCORED]))

    def weight(self) -> float:
        return float(sum(m.weight() for m, _ in self._leaves[: self._SCORED]))

    def score(self) -> float:
        return float(sum(m.score() for m, _ in self._leaves[: self._SCORED]))
