"""The extractors, run inside the sandbox's child: PDF (text layer, OCR for pages without one), DOCX,
and scanned images. `extract_here` is the child's entry; the parent calls `indexer.extract.extract`.
"""

from __future__ import annotations

import logging
import math
import re
import time
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pypdf
import pypdfium2
from PIL import Image
from pypdfium2.raw import FPDF_PAGEOBJ_IMAGE

from indexer import ocr
from indexer.docx_text import docx_text
from indexer.extraction import Extraction, ExtractionFailed, memory_reason, time_reason
from vault import filetypes
from vault.errors import Invalid, phrase
from vault.filetypes.docx import check_docx_zip
from vault.filetypes.images import MAX_IMAGE_PIXELS

MAX_TEXT_CHARS = 20_000_000  # beyond this the rest of a document is not indexed (with a warning)
MAX_RENDER_PIXELS = 40_000_000  # a page is rendered at 300 dpi or less, never above this size
NEAR_EMPTY_CHARS = 20  # a PDF page with fewer non-space characters in its text layer is OCR'd


@dataclass(frozen=True)
class _Budget:
    """What an OCR call may use: languages, and the job's deadline and time limit."""

    languages: str
    cleanup: bool  # the image clean-up and second looks before and after Tesseract (off: the bare passes)
    deadline: float
    timeout_s: float
    memory_mb: int


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
    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    path = Path(job["path"])
    mime = job["mime"]
    timeout_s = float(job.get("timeout_s", 120))
    budget = _Budget(
        languages=str(job.get("ocr_languages") or "chi_sim+eng"),
        cleanup=bool(job.get("ocr_cleanup", True)),
        deadline=float(job.get("deadline") or time.monotonic() + timeout_s),
        timeout_s=timeout_s,
        memory_mb=int(job.get("memory_mb", 1024)),
    )
    if mime == filetypes.PDF:
        result = _extract_pdf(path, budget)
    elif mime == filetypes.DOCX:
        result = _extract_docx(path)
    elif mime in (filetypes.PNG, filetypes.JPEG, filetypes.TIFF):
        result = _extract_image(path, budget)
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


PAGE_BREAK = "\f"  # between the pages of a PDF or a multi-page scan: whitespace to the analyzer and snippets


def join_pages(texts: Sequence[str | None]) -> str:
    """One text of a document's pages, page by page, `PAGE_BREAK` between them (an empty page stays a page)."""
    return PAGE_BREAK.join((t or "").replace(PAGE_BREAK, "\n").strip() for t in texts)


def _finish_text(text: str) -> tuple[str, tuple[str, ...]]:
    text = text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
    text = PAGE_BREAK.join(page.strip() for page in text.translate(_LIGATURES).split(PAGE_BREAK))
    if len(text) > MAX_TEXT_CHARS:
        return text[:MAX_TEXT_CHARS], (f"text truncated to the first {MAX_TEXT_CHARS} characters",)
    return text, ()


def _method(pages: int, ocr_pages: int) -> str:
    if ocr_pages == 0:
        return "text"
    return "ocr" if ocr_pages == pages else "mixed"


# -- PDF ----------------------------------------------------------------------------------------


def _open_pdf(path: Path) -> pypdf.PdfReader:
    try:
        reader = pypdf.PdfReader(path, strict=False)
        if reader.is_encrypted and reader.decrypt("") == pypdf.PasswordType.NOT_DECRYPTED:
            raise ExtractionFailed(
                phrase("PDF is password-protected; text cannot be extracted. Upload a copy without a password.")
            )
        len(reader.pages)  # forces the page tree to be read now
    except ExtractionFailed:
        raise
    except (RecursionError, MemoryError):
        raise
    except (pypdf.errors.DependencyError, NotImplementedError) as exc:
        raise ExtractionFailed(phrase("PDF uses an encryption this server cannot open ({exc})", exc=exc)) from None
    except Exception as exc:
        raise ExtractionFailed(
            str(phrase("PDF is damaged and cannot be read ({error})", error=f"{type(exc).__name__}: {exc}"))[:300]
        ) from None
    return reader


def _extract_pdf(path: Path, budget: _Budget) -> Extraction:
    reader = _open_pdf(path)
    count = len(reader.pages)
    texts: list[str] = []
    warnings: list[str] = []
    for number in range(count):
        try:
            texts.append(reader.pages[number].extract_text() or "")
        except (RecursionError, MemoryError):
            raise
        except Exception as exc:
            warnings.append(f"page {number + 1}: text layer unreadable ({type(exc).__name__})")
            texts.append("")
    texts = _repair_garbled(path, texts, warnings)
    to_ocr = [i for i, t in enumerate(texts) if len(re.sub(r"\s", "", t)) < NEAR_EMPTY_CHARS]
    ocr_done = 0
    if to_ocr:
        _require_tesseract()
        rendered = _render_pages(path, [(i, bool(texts[i].strip())) for i in to_ocr], warnings)
        for index, text in zip(to_ocr, _ocr_all(rendered, budget), strict=True):
            if text is not None:
                texts[index] = (texts[index] + "\n" + text).strip()
                ocr_done += 1
    return Extraction(join_pages(texts), count, _method(count, ocr_done), ocr_done, tuple(warnings))


def _garbled(text: str) -> bool:
    """Text whose letters scatter over unrelated scripts: a font without a usable ToUnicode map."""
    letters = [c for c in text if c.isalpha() or unicodedata.category(c) == "Mn"]
    if len(letters) < 20:
        return False
    odd = sum(1 for c in letters if not _plausible(c))
    return odd / len(letters) > 0.3


def _plausible(ch: str) -> bool:
    code = ord(ch)
    return (
        code < 0x250  # Latin
        or 0x370 <= code < 0x530  # Greek, Cyrillic
        or 0x590 <= code < 0x700  # Hebrew, Arabic
        or 0x1E00 <= code < 0x2000  # Latin/Greek extended
        or 0x2E80 <= code < 0xA000  # CJK, kana, Hangul Jamo compatibility
        or 0xAC00 <= code < 0xD7B0  # Hangul
        or 0xF900 <= code < 0xFB00
        or 0xFF00 <= code < 0xFFF0
    )


def _repair_garbled(path: Path, texts: list[str], warnings: list[str]) -> list[str]:
    """Re-read pages that pypdf garbles (mojibake) with pdfium, which maps such fonts better."""
    bad = [i for i, t in enumerate(texts) if _garbled(t)]
    if not bad:
        return texts
    try:
        doc = pypdfium2.PdfDocument(path)
    except Exception:
        return texts
    try:
        for i in bad:
            page = doc[i]
            text = page.get_textpage().get_text_bounded()
            if text and not _garbled(text):
                texts[i] = text
                warnings.append(f"page {i + 1}: pypdf text was garbled; used pdfium's text")
    finally:
        doc.close()
    return texts


def _render_pages(
    path: Path, pages: list[tuple[int, bool]], warnings: list[str]
) -> Iterator[ocr.OcrPage | None]:
    """Page images for OCR at ~300 dpi, for (index, has some text) pairs; None for a page skipped.

    A page with a little text and no image (a short cover letter) is not OCR'd: nothing to gain.
    """
    try:
        doc = pypdfium2.PdfDocument(path, password="")
    except Exception as exc:
        warnings.append(f"pages could not be rendered for OCR ({type(exc).__name__})")
        yield from (None for _ in pages)
        return
    try:
        for i, has_text in pages:
            try:
                page = doc[i]
                if has_text and not any(page.get_objects(filter=[FPDF_PAGEOBJ_IMAGE], max_depth=3)):
                    yield None
                    continue
                width, height = page.get_size()
                scale = min(ocr.OCR_DPI / 72, math.sqrt(MAX_RENDER_PIXELS / max(width * height, 1.0)))
                image = page.render(scale=scale, grayscale=True).to_pil()
            except Exception as exc:
                warnings.append(f"page {i + 1}: could not be rendered for OCR ({type(exc).__name__})")
                yield None
                continue
            yield ocr.OcrPage(image, max(1, round(scale * 72)))
    finally:
        doc.close()


def _require_tesseract() -> None:
    if not ocr.tesseract_available():
        raise ExtractionFailed(phrase("OCR is needed but Tesseract is not installed on this server"))


def _ocr_all(pages: Iterator[ocr.OcrPage | None], budget: _Budget) -> Iterator[str | None]:
    """OCR each page (two at a time); a Tesseract failure becomes a readable ExtractionFailed."""
    try:
        yield from ocr.ocr_pages(pages, budget.languages, budget.deadline, cleanup=budget.cleanup)
    except ocr.OcrOutOfMemory:
        raise ExtractionFailed(memory_reason(budget.memory_mb)) from None
    except ocr.OcrError as exc:
        if time.monotonic() >= budget.deadline - 1:
            raise ExtractionFailed(time_reason(budget.timeout_s)) from None
        raise ExtractionFailed(phrase("OCR failed: {exc}", exc=exc)) from None


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


# -- images -------------------------------------------------------------------------------------


def _extract_image(path: Path, budget: _Budget) -> Extraction:
    _require_tesseract()
    warnings: list[str] = []
    try:
        image = Image.open(path)
        width, height = image.size
    except (RecursionError, MemoryError):
        raise
    except Image.DecompressionBombError:
        raise ExtractionFailed(_too_many_pixels(None)) from None
    except Exception as exc:
        raise ExtractionFailed(phrase("image is damaged and cannot be read ({error})",
                                      error=type(exc).__name__)) from None
    with image:
        frames = getattr(image, "n_frames", 1)
        texts = list(_ocr_all(_image_pages(image, frames, warnings), budget))
    return Extraction(join_pages(texts), frames, "ocr", sum(t is not None for t in texts), tuple(warnings))


def _too_many_pixels(size: tuple[int, int] | None) -> str:
    limit = MAX_IMAGE_PIXELS // 1_000_000
    if size:
        return str(phrase("image is too large to process ({width} x {height}): over {limit} megapixels",
                          width=size[0], height=size[1], limit=limit))
    return str(phrase("image is too large to process: over {limit} megapixels", limit=limit))


def _image_pages(image: Image.Image, frames: int, warnings: list[str]) -> Iterator[ocr.OcrPage | None]:
    for index in range(frames):
        try:
            image.seek(index)
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise ExtractionFailed(_too_many_pixels(image.size))
            dpi = image.info.get("dpi")
            image.load()
            yield ocr.prepare(image.copy(), round(float(dpi[0])) if dpi else None)
        except (ExtractionFailed, RecursionError, MemoryError):
            raise
        except Exception as exc:
            if index == 0:
                raise ExtractionFailed(
                    phrase("image is damaged and cannot be read ({error})", error=type(exc).__name__)
                ) from None
            warnings.append(f"image page {index + 1}: unreadable ({type(exc).__name__})")
            yield None
