"""A user's search box text, parsed into our own small query model (never Whoosh's query language).

Grammar: whitespace separates terms, which are ANDed; a ``"double-quoted"`` part is one term that
may contain spaces. Each term must occur in the document as a contiguous substring (after
NFKC + casefolding), so ``HYGL-CG-20220309-062`` or ``94,813.62`` typed without quotes is still
matched as a whole. There are no operators: outside quotes ``* ? ~ ^`` separate terms like spaces
do (``合同*`` is ``合同``), and ``AND``, ``OR``, ``NOT``, ``field:value``, ``+``/``-`` prefixes,
brackets and slashes are just characters of the text to find. Inside quotes ``* ? ~ ^`` are
characters of the text too, analysed as a document's text is, so a phrase copied from a document
finds it: ``"330782********4099"`` (a masked ID number) matches that text and not ``330782 4099``.
Control characters and zero-width spaces separate words everywhere.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from vault.errors import Invalid

MAX_TERMS = 20

# “…” (how a Chinese IME types quotes) and NFKC's ＂ count as the ASCII double quote.
_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"'})
# Characters that cannot be meant literally (control characters, zero-width spaces): spaces everywhere.
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f\u200b-\u200f\u2028\u2029\ufeff]")
# Characters other query languages read as operators (wildcards, fuzzy, boost): outside quotes they
# separate terms, so nobody's habit of typing ``合同*`` finds nothing; inside quotes they are text.
_OPERATORS = re.compile(r"[*?~^]")
_PARTS = re.compile(r'"([^"]*)"?|([^\s"]+)')


@dataclass(frozen=True)
class QueryTerm:
    """One ANDed term: text that must occur contiguously; ``quoted`` when the user quoted it."""

    text: str
    quoted: bool = False


@dataclass(frozen=True)
class ParsedQuery:
    """A validated query: at least one and at most :data:`MAX_TERMS` distinct terms, all required."""

    terms: tuple[QueryTerm, ...]

    def __str__(self) -> str:
        return " ".join(f'"{t.text}"' if t.quoted else t.text for t in self.terms)


def parse_query(text: str, *, max_length: int = 200) -> ParsedQuery:
    """Parse the search box text; raises ``Invalid("q", ...)`` when it is empty, too long or too big."""
    if len(text) > max_length:
        raise Invalid("q", "the search text is longer than {max_length} characters",
                      params={"max_length": max_length}, code="query_too_long")
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    if len(text) > max_length:  # NFKC expands some characters (㍿ -> 株式会社)
        raise Invalid("q", "the search text is longer than {max_length} characters",
                      params={"max_length": max_length}, code="query_too_long")
    text = _INVISIBLE.sub(" ", text)
    terms: dict[str, QueryTerm] = {}
    for m in _PARTS.finditer(text):
        quoted, bare = m.group(1), m.group(2)
        if quoted is not None:
            found = [QueryTerm(" ".join(quoted.split()), quoted=True)]
        else:
            found = [QueryTerm(word) for word in _OPERATORS.sub(" ", bare).split()]
        for term in found:
            if _searchable(term.text):
                terms.setdefault(term.text.casefold(), term)
    if not terms:
        raise Invalid("q", "enter a word, name or number to search for", code="query_empty")
    if len(terms) > MAX_TERMS:
        raise Invalid("q", "use at most {max_terms} search terms",
                      params={"max_terms": MAX_TERMS}, code="query_too_many_terms")
    return ParsedQuery(tuple(terms.values()))


def _searchable(term: str) -> bool:
    # A term of punctuation alone would match nearly every document and mean nothing.
    return any(ch.isalnum() for ch in term)
