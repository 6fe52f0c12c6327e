"""The extractors, run inside the sandbox's child: DOCX here; PDF (text layer, OCR for pages without one)
and scanned images in `indexer.page_extractors`, imported only for those. `extract_here` is the child's
entry; the parent calls `indexer.extract.extract`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

from indexer.docx_text import docx_text
from indexer.extraction import PAGE_BREAK, Extraction, ExtractionFailed
from vault import filetypes
from vault.errors import Invalid, phrase
from vault.filetypes.docx import check_docx_zip

MAX_TEXT_CHARS = 20_000_000  # beyond this the rest of a document is not indexed (with a warning)


class _Notes(logging.Handler):
    """Keeps the first few distinct warnings the libraries log, for Extraction.warnings."""

    def __init__(self, limit: int = 10) -> None:
        super().__init__(logging.WARNING)
        self.limit = limit
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = f"{record.name}: {record.getMessage()}"[:200]
        except Exception:  # a broken log call must not break the extraction
            return
        if len(self.messages) < self.limit and message not in self.messages:
            self.messages.append(message)


def collect_library_warnings(root: logging.Logger) -> _Notes:
    notes = _Notes()
    root.handlers[:] = [notes]
    root.setLevel(logging.WARNING)
    return notes


def extract_here(job: dict[str, Any], notes: _Notes | None = None) -> dict[str, Any]:
    """Do the extraction in this process (the sandbox child); a JSON-able Extraction."""
    path = Path(job["path"])
    mime = job["mime"]
    if mime == filetypes.DOCX:
        result = _extract_docx(path)
    elif mime in (filetypes.PDF, filetypes.PNG, filetypes.JPEG, filetypes.TIFF):
        # pypdf, pdfium, PIL and OpenCV: imported by the zygote for these types, not by the one for DOCX
        from indexer import page_extractors

        result = page_extractors.extract(path, mime, job)
    else:
        raise ExtractionFailed(phrase("files of type {mime} are not extracted", mime=mime))
    text, warnings = _finish_text(result.text)
    if not has_text(text):
        raise ExtractionFailed(_no_text_reason(result))
    lib_warnings = tuple(notes.messages) if notes else ()
    return asdict(
        Extraction(
            text=text,
            pages=result.pages,
            method=result.method,
            ocr_pages=result.ocr_pages,
            warnings=result.warnings + warnings + lib_warnings,
        )
    )


_WORDISH = re.compile(r"\w{2,}")


def has_text(text: str) -> bool:
    """Whether the text holds anything worth indexing (not only whitespace, symbols or stray letters)."""
    return sum(len(m) for m in _WORDISH.findall(text)) >= 3


def _no_text_reason(result: Extraction) -> str:
    if result.ocr_pages:
        return str(phrase("no text found: the text layer is empty and OCR recognised nothing readable"))
    return str(phrase("no text found in the document"))


_LIGATURES = str.maketrans({"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl"})


def _finish_text(text: str) -> tuple[str, tuple[str, ...]]:
    text = text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
    text = PAGE_BREAK.join(page.strip() for page in text.translate(_LIGATURES).split(PAGE_BREAK))
    if len(text) > MAX_TEXT_CHARS:
        return text[:MAX_TEXT_CHARS], (f"text truncated to the first {MAX_TEXT_CHARS} characters",)
    return text, ()


# -- DOCX ---------------------------------------------------------------------------------------


def _extract_docx(path: Path) -> Extraction:
    try:
        if path.stat().st_size > filetypes.WHOLE_DOCX_BYTES:  # the upload saw its directory alone: all parts now
            with path.open("rb") as fh:
                check_docx_zip(fh)
        text = docx_text(path)  # the directory's checks, and a DTD refused in every part it reads
    except Invalid as exc:
        raise ExtractionFailed(exc.message) from None
    except (RecursionError, MemoryError):
        raise
    except Exception as exc:
        raise ExtractionFailed(
            str(phrase("DOCX is damaged and cannot be read ({error})", error=f"{type(exc).__name__}: {exc}"))[:300]
        ) from None
    return Extraction(text, None, "text", 0, ())
