"""Chinese + English analysis: one token stream for indexing, the matching one for queries.

What a document's text becomes, after NFKC (full-width -> half-width) and casefolding, with
whitespace between two CJK characters dropped (line wrapping):

* every CJK run (Han, kana, Hangul) of n characters takes n positions: position i holds the
  bigram of characters i and i+1, the last position holds the last character alone; the run's
  first character is also indexed alone at the first position. Any contiguous CJK phrase is then
  an exact phrase of bigrams, whatever jieba thinks the words are (names, 大写 amounts);
* every run of letters/digits (``hygl``, ``20220309``, ``8``) takes one position, and every other
  non-space character (``-``, ``,``, ``.``, ``¥``, ``。``) takes one position of its own, so
  ``HYGL-CG-20220309-062`` is the phrase ``hygl - cg - 20220309 - 062`` and ``FOB`` never
  matches inside ``FOBX``;
* extra tokens that take no position of their own: the whole identifier
  (``hygl-cg-20220309-062``, ``94,813.62``, ``2022-03-09``) at its first part, and jieba's
  search-mode words of three or more characters (``有限公司``) at their first character.
  They serve ranking, never phrase matching.

A query term is analysed by :func:`query_phrase` into the positional tokens that the same text
produces in a document, so a phrase query matches exactly where the text occurs contiguously.

An engine that holds one token per position (SQLite FTS5) gets :func:`phrase_tokens` instead: the
same pieces, a CJK run as its first character, its bigrams and its last character in a row, and
:func:`phrase_query` for the terms; they match exactly where the Whoosh tokens do.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from whoosh.analysis import Token, Tokenizer

# Han (incl. extension A, compatibility and the supplementary planes), 〇, kana and Hangul
# syllables: scripts written without spaces, so they are indexed as bigrams.
CJK_CLASS = "\u3007\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f"

_CJK_RUN = re.compile(f"[{CJK_CLASS}]+")
_WORD_RUN = re.compile(rf"[^\W_{CJK_CLASS}]+")
_PIECES = re.compile(rf"(?P<cjk>[{CJK_CLASS}]+)|(?P<word>[^\W_{CJK_CLASS}]+)|(?P<sym>\S)")
_CJK_GAP = re.compile(rf"(?<=[{CJK_CLASS}])\s+(?=[{CJK_CLASS}])")
# Letters/digits joined by punctuation without spaces: contract numbers, amounts, dates, e-mails.
_IDENTIFIER = re.compile(rf"[^\W_{CJK_CLASS}]+(?:[-_./:,@+#&']+[^\W_{CJK_CLASS}]+)+")
_MIN_WORD_CHARS = 3  # jieba words of 2 characters are already bigrams


def _jieba() -> Any:
    """rjieba, imported on first use.

    Its dictionary takes ~33 MB, which a server that has not indexed or searched yet (upload, download)
    should not hold.
    """
    import rjieba

    return rjieba


def normalize(text: str) -> str:
    """The form both documents and queries are matched in: NFKC, casefolded, CJK line breaks joined."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return _CJK_GAP.sub("", text)


def is_cjk(char: str) -> bool:
    """Whether a character belongs to the scripts indexed as bigrams."""
    return _CJK_RUN.fullmatch(char) is not None


@dataclass(frozen=True)
class AnalysedToken:
    """One token of a document: its text, position and character span in the normalised text."""

    text: str
    pos: int
    start: int
    end: int


def analyse(text: str, *, start_pos: int = 0) -> Iterator[AnalysedToken]:
    """Every token a document's text is indexed as; positional ones first, in position order.

    Offsets refer to :func:`normalize` (text), not to the original string.
    """
    for term, pos, start, end in _tokens(normalize(text), start_pos):
        yield AnalysedToken(term, pos, start, end)


def _tokens(norm: str, pos: int) -> Iterator[tuple[str, int, int, int]]:
    """(text, position, start, end) of each token of normalised text; the indexing hot path."""
    # (start char, end char, first position) of each CJK run, for placing jieba's words
    runs: list[tuple[int, int, int]] = []
    word_pos: dict[int, int] = {}
    for m in _PIECES.finditer(norm):
        kind = m.lastgroup
        start, end = m.span()
        if kind == "cjk":
            run = m.group()
            n = len(run)
            runs.append((start, end, pos))
            if n > 1:
                yield run[0], pos, start, start + 1
                for i in range(n - 1):
                    yield run[i : i + 2], pos + i, start + i, start + i + 2
            yield run[-1], pos + n - 1, end - 1, end
            pos += n
        else:
            if kind == "word":
                word_pos[start] = pos
            yield m.group(), pos, start, end
            pos += 1
    for m in _IDENTIFIER.finditer(norm):
        yield m.group(), word_pos[m.start()], m.start(), m.end()
    if runs:
        yield from _jieba_words(norm, runs)


def phrase_tokens(text: str) -> Iterator[str]:
    """A text's tokens for an engine that holds one token per position (SQLite FTS5), in order.

    Every letters/digits run and every other symbol is one token, as in :func:`analyse`; a CJK run
    of n > 1 characters is its first character alone, its n - 1 bigrams, then its last character
    alone (n + 1 tokens); a run of one character is that character. A single character next to a
    bigram therefore marks where a run starts or ends, and :func:`phrase_query` turns any
    contiguous substring into the tokens it takes here, consecutively. Identifiers and jieba words
    are left out: they take no position.
    """
    for m in _PIECES.finditer(normalize(text)):
        piece = m.group()
        if m.lastgroup == "cjk" and len(piece) > 1:
            yield piece[0]
            yield from (piece[i : i + 2] for i in range(len(piece) - 1))
            yield piece[-1]
        else:
            yield piece


def phrase_query(term: str) -> tuple[str, ...]:
    """The tokens :func:`phrase_tokens` gives, consecutively, wherever ``term`` occurs as a substring.

    A CJK run of the term after another piece starts where the document's run starts, so it keeps
    its first character alone; one before another piece ends where the document's run ends, so it
    keeps its last character alone; a run at the start or end of the term may go on in the
    document, so it gives only its bigrams on that side. A single CJK character after or before
    another piece is then the document run's first or last character: itself. The empty tuple
    means a lone CJK character, which a document may hold inside a bigram: look it up as a prefix.
    """
    pieces = [(m.lastgroup, m.group()) for m in _PIECES.finditer(normalize(term))]
    if len(pieces) == 1 and pieces[0][0] == "cjk" and len(pieces[0][1]) == 1:
        return ()
    tokens: list[str] = []
    for i, (kind, text) in enumerate(pieces):
        if kind != "cjk" or len(text) == 1:
            tokens.append(text)
            continue
        if i > 0:
            tokens.append(text[0])
        tokens.extend(text[j : j + 2] for j in range(len(text) - 1))
        if i < len(pieces) - 1:
            tokens.append(text[-1])
    return tuple(tokens)


def _jieba_words(norm: str, runs: list[tuple[int, int, int]]) -> Iterator[tuple[str, int, int, int]]:
    starts = [run[0] for run in runs]
    for word, start, end in _jieba().tokenize(norm, mode="search"):
        if end - start < _MIN_WORD_CHARS:
            continue
        i = bisect_right(starts, start) - 1
        if i < 0:
            continue
        run_start, run_end, run_pos = runs[i]
        if end <= run_end:  # jieba may join CJK with Latin; only words inside one CJK run count
            yield word, run_pos + start - run_start, start, end


@dataclass(frozen=True)
class QueryPhrase:
    """How one query term is looked up.

    ``tokens``: the positional tokens a document holds at consecutive positions where it contains
    the term. ``anchors``: the fewest of them, with their offsets from the first, that still prove
    the term is there (see :func:`query_phrase`); one anchor at offset 0 is a plain term.
    ``lone_char``: the term is a single CJK character with nothing around it, which a document
    holds inside a bigram: match any token that starts with it. ``extras``: whole identifiers and
    jieba words of the term, optional, for ranking.
    """

    tokens: tuple[str, ...]
    anchors: tuple[tuple[str, int], ...] = ()
    lone_char: str | None = None
    extras: tuple[str, ...] = ()


def query_phrase(term: str) -> QueryPhrase:
    """The tokens a document must hold, at consecutive positions, to contain ``term`` as a substring.

    A CJK run that is followed by another token ends where a document's run ends too, so it keeps
    its last-character token; a run at the end of the term may continue in the document, so it
    stops at its last bigram. A single CJK character next to a letter, digit or symbol is a whole
    run at that side, so its single-character token is there in the document.

    Anchors skip every other bigram of a CJK run: bigrams at offsets i and i+2 already pin four
    characters, because two CJK positions next to each other always lie in one run (anything
    between two runs in a document takes a position of its own), so the phrase stays exact with
    about half the posting lists to read.
    """
    norm = normalize(term)
    pieces = [(m.lastgroup, m.group()) for m in _PIECES.finditer(norm)]
    if len(pieces) == 1 and pieces[0][0] == "cjk" and len(pieces[0][1]) == 1:
        return QueryPhrase(tokens=(), lone_char=pieces[0][1])
    tokens: list[str] = []
    anchors: list[tuple[str, int]] = []
    for i, (kind, text) in enumerate(pieces):
        start = len(tokens)
        if kind != "cjk" or len(text) == 1:
            tokens.append(text)
            anchors.append((text, start))
            continue
        followed = i < len(pieces) - 1
        bigrams = [text[j : j + 2] for j in range(len(text) - 1)]
        tokens.extend(bigrams)
        picked = list(range(0, len(bigrams), 2))
        if picked[-1] != len(bigrams) - 1 and not followed:
            picked.append(len(bigrams) - 1)  # the last character, which no unigram will pin
        anchors.extend((bigrams[j], start + j) for j in picked)
        if followed:
            tokens.append(text[-1])
            anchors.append((text[-1], len(tokens) - 1))
    extras = [m.group() for m in _IDENTIFIER.finditer(norm)]
    for run in _CJK_RUN.findall(norm):
        extras.extend(w for w in _jieba().cut_for_search(run) if len(w) >= _MIN_WORD_CHARS)
    return QueryPhrase(tokens=tuple(tokens), anchors=tuple(anchors), extras=tuple(dict.fromkeys(extras)))


class DossierTokenizer(Tokenizer):
    """A Whoosh analyzer (a tokenizer needing no filters) that yields :func:`analyse`'s tokens.

    Its instance is pickled into the index's table of contents: keep the class name and module.
    """

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: Any,
    ) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            token.original = token.text = value
            token.boost = 1.0
            if positions:
                token.pos = start_pos
            if chars:
                token.startchar, token.endchar = start_char, start_char + len(value)
            yield token
            return
        for text, pos, start, end in _tokens(normalize(value), start_pos):
            token.text = text
            token.boost = 1.0
            if keeporiginal:
                token.original = text
            if positions:
                token.pos = pos
            if chars:
                token.startchar = start_char + start
                token.endchar = start_char + end
            yield token


def analyzer() -> DossierTokenizer:
    """The analyzer for Whoosh TEXT fields holding dossier text (content and titles)."""
    return DossierTokenizer()
