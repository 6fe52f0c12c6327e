"""Bytes -> text, safely: the parent's side of extraction.

`extract()` is what callers use: it runs the work in a resource-limited child process
(`indexer.sandbox`) and returns an `Extraction` or raises `ExtractionFailed` with a reason a
person can read. What runs inside that child is `indexer.extractors`.
"""

from __future__ import annotations

from pathlib import Path

from indexer import sandbox
from indexer.extraction import Extraction, ExtractionFailed
from vault import filetypes
from vault.errors import phrase

__all__ = ["Extraction", "ExtractionFailed", "extract"]


def extract(
    path: Path,
    mime: str,
    *,
    timeout_s: int = 120,
    memory_mb: int = 1024,
    ocr_languages: str = "chi_sim+eng",
    ocr_cleanup: bool = True,
) -> Extraction:
    """Extract the text of the file at `path` (of sniffed type `mime`) in a limited child process.

    `ocr_cleanup=False` gives Tesseract the pages as they are (the benchmark's baseline).
    """
    if mime not in filetypes.ALLOWED:
        raise ExtractionFailed(phrase("files of type {mime} are not extracted", mime=mime))
    job = {"path": str(Path(path).resolve()), "mime": mime, "ocr_languages": ocr_languages,
           "ocr_cleanup": ocr_cleanup}
    try:
        answer = sandbox.run_extraction(job, timeout_s=timeout_s, memory_mb=memory_mb)
    except sandbox.SandboxFailure as exc:
        raise ExtractionFailed(exc.reason) from None
    if not answer.get("ok"):
        raise ExtractionFailed(str(answer.get("reason") or phrase("extraction failed")))
    data = answer["extraction"]
    return Extraction(
        text=data["text"],
        pages=data["pages"],
        method=data["method"],
        ocr_pages=data["ocr_pages"],
        warnings=tuple(data["warnings"]),
    )
