"""What an extraction gives, on both sides of the sandbox: the text and how it was had, or why not.

Shared by the parent's API (`indexer.extract`), the sandbox (`indexer.sandbox`) and the extractors
that run inside its child (`indexer.extractors`), none of which imports another for these.
"""

from __future__ import annotations

from dataclasses import dataclass

from vault.errors import Phrase, phrase

PAGE_BREAK = "\f"  # between the pages of a PDF or a multi-page scan: whitespace to the analyzer and snippets


@dataclass(frozen=True)
class Extraction:
    """Text of a document and how it was obtained."""

    text: str
    pages: int | None
    method: str  # "text" | "ocr" | "mixed"
    ocr_pages: int
    warnings: tuple[str, ...]


class ExtractionFailed(Exception):
    """No usable text could be obtained; `reason` is stored with the document version."""

    def __init__(self, reason: str | Phrase) -> None:
        super().__init__(str(reason))
        self.reason = str(reason)  # stored in English; the pages translate it with the catalogue


def memory_reason(memory_mb: int) -> str:
    return str(phrase("extraction exceeded the {memory_mb} MiB memory limit", memory_mb=memory_mb))


def time_reason(timeout_s: float) -> str:
    return str(phrase("extraction took longer than {timeout_s:g} s (the time limit)", timeout_s=timeout_s))
