"""PDF and scanned images, run inside the sandbox's child: text layers, pages rendered and OCR'd.

The libraries (pypdf, pdfium, PIL, and OpenCV through `indexer.ocr`) weigh 40 MB in a process, which
every forked child's fork and exit pay for. `indexer.extractors` imports this module only for these
types, so the zygote that extracts DOCX files never loads them (`indexer.sandbox`).
"""

from __future__ import annotations

import math
import re
import time
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pypdf
import pypdfium2
from PIL import Image
from pypdfium2.raw import FPDF_PAGEOBJ_IMAGE

from indexer import ocr
from indexer.extraction import PAGE_BREAK, Extraction, ExtractionFailed, memory_reason, time_reason
from vault import filetypes
from vault.errors import phrase
from vault.filetypes.images import MAX_IMAGE_PIXELS

MAX_RENDER_PIXELS = 40_000_000  # a page is rendered at 300 dpi or less, never above this size
NEAR_EMPTY_CHARS = 20  # a PDF page with fewer non-space characters in its text layer is OCR'd


@dataclass(frozen=True)
class Budget:
    """What an OCR call may use: languages, and the job's deadline and time limit."""

    languages: str
    cleanup: bool  # the image clean-up and second looks before and after Tesseract (off: the bare passes)
    deadline: float
    timeout_s: float
    memory_mb: int


def extract(path: Path, mime: str, job: dict[str, Any]) -> Extraction:
    """A PDF's or a scanned image's text, within the job's time and memory."""
    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    timeout_s = float(job.get("timeout_s", 120))
    budget = Budget(
        languages=str(job.get("ocr_languages") or "chi_sim+eng"),
        cleanup=bool(job.get("ocr_cleanup", True)),
        deadline=float(job.get("deadline") or time.monotonic() + timeout_s),
        timeout_s=timeout_s,
        memory_mb=int(job.get("memory_mb", 1024)),
    )
    if mime == filetypes.PDF:
        return _extract_pdf(path, budget)
    return _extract_image(path, budget)


def join_pages(texts: Sequence[str | None]) -> str:
    """One text of a document's pages, page by page, `PAGE_BREAK` between them (an empty page stays a page)."""
    return PAGE_BREAK.join((t or "").replace(PAGE_BREAK, "\n").strip() for t in texts)


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


def _extract_pdf(path: Path, budget: Budget) -> Extraction:
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


def _ocr_all(pages: Iterator[ocr.OcrPage | None], budget: Budget) -> Iterator[str | None]:
    """OCR each page (two at a time); a Tesseract failure becomes a readable ExtractionFailed."""
    try:
        yield from ocr.ocr_pages(pages, budget.languages, budget.deadline, cleanup=budget.cleanup)
    except ocr.OcrOutOfMemory:
        raise ExtractionFailed(memory_reason(budget.memory_mb)) from None
    except ocr.OcrError as exc:
        if time.monotonic() >= budget.deadline - 1:
            raise ExtractionFailed(time_reason(budget.timeout_s)) from None
        raise ExtractionFailed(phrase("OCR failed: {exc}", exc=exc)) from None


# -- images -------------------------------------------------------------------------------------


def _extract_image(path: Path, budget: Budget) -> Extraction:
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
