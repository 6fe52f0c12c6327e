"""A short, safe HTML excerpt of a document's plain text around the query's matches.

Matches follow the search's own rule: each query term is found as a substring after NFKC and
casefolding, with runs of whitespace counted as one space and whitespace between two CJK
characters (a line break inside a Chinese sentence) counted as nothing; a term that starts or ends
with an ASCII letter or digit must not touch another one there. Everything is HTML-escaped; only
the ``<mark>`` tags around matches are markup. The snippet is HTML, escaped once: the API hands it
over as is, the search page escapes its text anew keeping only ``<mark>`` (never the whole string,
which showed ``&amp;amp;``), and `dossier search` unescapes it to plain text.
"""

from __future__ import annotations

import html
import re
import unicodedata
from bisect import bisect_right
from functools import lru_cache

from indexer.analyzer import CJK_CLASS, is_cjk
from indexer.query import ParsedQuery

ELLIPSIS = "…"
MAX_SCAN = 100_000  # characters searched for matches; a later match leaves the excerpt at the start
_MAX_MATCHES = 500  # enough to choose a window; stops a pathological text from costing more
_SPACES = re.compile(r"\s+")
_CJK_GAP = re.compile(rf"(?<=[{CJK_CLASS}])\s+(?=[{CJK_CLASS}])")
_CJK_CHAR = re.compile(f"[{CJK_CLASS}]")
_MAY_FOLD = re.compile(r"[^\sa-z0-9\u3400-\u4dbf\u4e00-\u9fff]")


def make_snippet(text: str, query: ParsedQuery, *, width: int = 160) -> str:
    """About ``width`` characters of ``text`` where most query terms match, matches in ``<mark>``."""
    folded, origin = _fold(text[:MAX_SCAN])
    spans: list[tuple[int, int, int]] = []  # (start, end) in ``text``, index of the term
    for n, term in enumerate(query.terms):
        needle, _ = _fold(term.text)
        needle = needle.strip()
        if needle:
            spans.extend((origin[s], origin[e - 1] + 1, n) for s, e in _find(folded, needle))
    spans.sort()
    start, end = _window(spans, len(text), width)
    marks = _merge([(s, e) for s, e, _ in spans if start <= s and e <= end])
    out = [ELLIPSIS] if start > 0 else []
    pos = start
    for s, e in marks:
        out.append(_escape(text[pos:s]))
        out.append(f"<mark>{_escape(text[s:e])}</mark>")
        pos = e
    out.append(_escape(text[pos:end]))
    if end < len(text):
        out.append(ELLIPSIS)
    return "".join(out).strip()


@lru_cache(maxsize=8192)
def _fold_char(ch: str) -> str:
    return unicodedata.normalize("NFKC", ch).casefold()


def _fold(text: str) -> tuple[str, _Origin | list[int]]:
    """The matching form of ``text`` and, for each of its characters, the index it came from."""
    table: dict[str, str] = {}
    for ch in set(_MAY_FOLD.findall(text)):  # common ideographs, a-z and digits fold to themselves
        folded = _fold_char(ch)
        if len(folded) != 1:  # expands (ﬁ -> fi, ㍿ -> 株式会社) or vanishes: the careful way
            return _fold_per_char(text)
        table[ch] = folded
    # (str.translate looks every character up in a dict: slower here than a callback per foldable one)
    mapped = _MAY_FOLD.sub(lambda m: table[m.group()], text) if table else text
    # every character folded to one: only whitespace moves things
    pieces: list[str] = []
    starts: list[int] = []  # where each piece starts in the folded text ...
    sources: list[int] = []  # ... and where it comes from in `text`
    size = pos = 0
    cjk = _CJK_CHAR.match
    end_of_text = len(mapped)
    for gap in _SPACES.finditer(mapped):
        start, end = gap.span()
        if start > pos:
            pieces.append(mapped[pos:start])
            starts.append(size)
            sources.append(pos)
            size += start - pos
        pos = end
        if start > 0 and end < end_of_text and not (cjk(mapped, start - 1) and cjk(mapped, end)):
            pieces.append(" ")
            starts.append(size)
            sources.append(start)
            size += 1
    if pos < end_of_text:
        pieces.append(mapped[pos:])
        starts.append(size)
        sources.append(pos)
    return "".join(pieces), _Origin(starts, sources)


class _Origin:
    """For each character of a folded text, the index in the original it came from: the folded text is
    runs copied one for one, so a run's start is enough."""

    __slots__ = ("_starts", "_sources")

    def __init__(self, starts: list[int], sources: list[int]) -> None:
        self._starts, self._sources = starts, sources

    def __getitem__(self, i: int) -> int:
        k = bisect_right(self._starts, i) - 1
        return self._sources[k] + i - self._starts[k]


def _fold_per_char(text: str) -> tuple[str, list[int]]:
    """`_fold` one character at a time, for text where some character folds into several or none."""
    chars: list[str] = []
    origin: list[int] = []
    space_at: int | None = None
    for i, ch in enumerate(text):
        if ch.isspace():
            if space_at is None:
                space_at = i
            continue
        folded = _fold_char(ch)
        if not folded:
            continue
        if space_at is not None:
            if chars and not (is_cjk(chars[-1]) and is_cjk(folded[0])):
                chars.append(" ")
                origin.append(space_at)
            space_at = None
        for c in folded:
            chars.append(c)
            origin.append(i)
    return "".join(chars), origin


def _is_ascii_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _find(haystack: str, needle: str) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    check_start = _is_ascii_alnum(needle[0])
    check_end = _is_ascii_alnum(needle[-1])
    i = haystack.find(needle)
    while i >= 0 and len(found) < _MAX_MATCHES:
        j = i + len(needle)
        if not (check_start and i > 0 and _is_ascii_alnum(haystack[i - 1])) and not (
            check_end and j < len(haystack) and _is_ascii_alnum(haystack[j])
        ):
            found.append((i, j))
        i = haystack.find(needle, i + 1)
    return found


def _window(spans: list[tuple[int, int, int]], length: int, width: int) -> tuple[int, int]:
    """The ``width``-character window holding the most distinct terms, then the most matches."""
    if length <= width:
        return 0, length
    if not spans:
        return 0, width
    best = (0, 0)
    best_first, best_last = 0, 0
    last = 0
    for first in range(len(spans)):
        last = max(last, first)
        while last + 1 < len(spans) and spans[last + 1][1] - spans[first][0] <= width:
            last += 1
        inside = spans[first : last + 1]
        score = (len({n for _, _, n in inside}), len(inside))
        if score > best:
            best, best_first, best_last = score, first, last
    covered_start = spans[best_first][0]
    covered_end = max(e for _, e, _ in spans[best_first : best_last + 1])
    # centre the matches in the window, within the text
    start = max(0, covered_start - max(0, width - (covered_end - covered_start)) // 2)
    start = min(start, length - width)
    start = min(start, covered_start)
    return start, max(start + width, covered_end)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def _escape(fragment: str) -> str:
    # an excerpt reads as one line: a line break inside a Chinese sentence is nothing, others a space
    return html.escape(_SPACES.sub(" ", _CJK_GAP.sub("", fragment)))
