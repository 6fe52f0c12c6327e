"""Copy stamping: every page of a downloaded copy names its reader, checkout and time (pypdf + reportlab).

A PDF gets an overlay on each page; an image becomes a PDF (a page per TIFF frame) with the same stamp;
a DOCX becomes a PDF of its extracted text, stamped likewise. A copy that cannot be stamped is refused
rather than handed out unmarked.
"""

from __future__ import annotations

import io
import logging
from functools import lru_cache
from pathlib import Path

from vault.errors import Conflict
from vault.filetypes import DOCX

log = logging.getLogger("dossier.stamping")

CJK_FONT_FILE = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
STAMPABLE_IMAGES = ("image/png", "image/jpeg", "image/tiff", "image/gif", "image/bmp", "image/webp")


@lru_cache(maxsize=1)
def cjk_font() -> str:
    """Register WenQuanYi Zen Hei once (Chinese and Latin); Helvetica when the font is not installed."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if not CJK_FONT_FILE.exists():
        log.warning("%s is missing (scripts/install-system-deps.sh installs it); stamps fall back to Helvetica",
                    CJK_FONT_FILE)
        return "Helvetica"
    pdfmetrics.registerFont(TTFont("WQYZenHei", str(CJK_FONT_FILE), subfontIndex=0))
    return "WQYZenHei"


def can_stamp(mime: str) -> bool:
    """Whether a stamped copy can be made of this type (a DOCX needs its extracted text as well)."""
    return mime in ("application/pdf", DOCX) or mime in STAMPABLE_IMAGES


def _draw_stamp(canvas: object, width: float, height: float, label: str) -> None:
    from reportlab.pdfgen.canvas import Canvas

    assert isinstance(canvas, Canvas)
    font = cjk_font()
    size = max(6.0, min(9.0, width / 90))
    canvas.saveState()
    canvas.setFillColorRGB(0.75, 0.0, 0.0)
    canvas.setFont(font, size)
    canvas.drawString(18, 10, label)  # footer: a straight line of text, readable by machines too
    canvas.drawString(18, height - 10 - size, label)
    canvas.setFillAlpha(0.18)
    canvas.setFont(font, max(12.0, width / 30))
    canvas.translate(width / 2, height / 2)
    canvas.rotate(35)
    canvas.drawCentredString(0, 0, label)
    canvas.restoreState()


def _overlay(width: float, height: float, label: str) -> bytes:
    from reportlab.pdfgen.canvas import Canvas

    buf = io.BytesIO()
    c = Canvas(buf, pagesize=(width, height), invariant=True)
    _draw_stamp(c, width, height, label)
    c.showPage()
    c.save()
    return buf.getvalue()


def stamp_pdf(data: bytes, label: str) -> bytes:
    """The PDF with `label` over every page; Conflict when it cannot be read (no unmarked copy leaves)."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise Conflict("this PDF is password-protected and cannot be stamped; ask for a view checkout",
                           code="stamping_failed")
        writer = PdfWriter()
        overlays: dict[tuple[float, float], object] = {}
        for page in reader.pages:
            writer.add_page(page)
            out_page = writer.pages[-1]
            out_page.transfer_rotation_to_content()
            box = out_page.mediabox
            size = (float(box.width), float(box.height))
            if size not in overlays:
                overlays[size] = PdfReader(io.BytesIO(_overlay(size[0], size[1], label))).pages[0]
            out_page.merge_translated_page(overlays[size], float(box.left), float(box.bottom))  # type: ignore[arg-type]
        writer.add_metadata({"/Subject": label})
        out = io.BytesIO()
        writer.write(out)
        return out.getvalue()
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise Conflict("this PDF cannot be stamped ({error}); ask for a view checkout",
                       params={"error": type(exc).__name__},
                       code="stamping_failed") from None


def image_to_stamped_pdf(data: bytes, label: str) -> bytes:
    """A PDF showing the image (fitted to A4), a page per frame of a multi-page TIFF, `label` over each."""
    from PIL import Image, ImageSequence, UnidentifiedImageError
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen.canvas import Canvas

    try:
        img: Image.Image = Image.open(io.BytesIO(data))
        img.load()
        frames = [frame.copy() for frame in ImageSequence.Iterator(img)]
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise Conflict("this image cannot be stamped ({error})",
                       params={"error": type(exc).__name__}, code="stamping_failed") from None
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=A4, invariant=True)
    c.setTitle(label)
    for frame in frames:
        if frame.mode not in ("RGB", "L"):
            frame = frame.convert("RGB")
        page = landscape(A4) if frame.width > frame.height else A4
        c.setPageSize(page)
        margin = 28.0
        scale = min((page[0] - 2 * margin) / frame.width, (page[1] - 2 * margin) / frame.height)
        w, h = frame.width * scale, frame.height * scale
        # a baseline RGB/grey JPEG goes in as it is (no re-encoding); anything else is drawn from pixels
        plain_jpeg = img.format == "JPEG" and img.mode in ("RGB", "L")
        source = ImageReader(io.BytesIO(data)) if plain_jpeg else ImageReader(frame)
        c.drawImage(source, (page[0] - w) / 2, (page[1] - h) / 2, w, h)
        _draw_stamp(c, page[0], page[1], label)
        c.showPage()
    c.save()
    return buf.getvalue()


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Lines of at most `width` points: at a space where there is one, anywhere in CJK text."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for ch in paragraph.expandtabs(4):
            if stringWidth(line + ch, font, size) <= width:
                line += ch
                continue
            cut = line.rfind(" ")
            if ch != " " and cut > len(line) // 2:
                lines.append(line[:cut])
                line = line[cut + 1:] + ch
            else:
                lines.append(line)
                line = "" if ch == " " else ch
        lines.append(line)
    return lines


def text_pdf(text: str, title: str, label: str | None) -> bytes:
    """A4 pages of `text` under a heading; with `label`, stamped on every page like a copy."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen.canvas import Canvas

    font, size, leading, margin = cjk_font(), 10.5, 15.0, 56.0
    width, height = A4
    heading = f"{title} · 文字版 text rendition (layout and images are not reproduced)"
    lines = _wrap(heading, font, size, width - 2 * margin) + [""] + _wrap(text, font, size, width - 2 * margin)
    per_page = int((height - 2 * margin) // leading)
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=A4, invariant=True)
    c.setTitle(label or title)
    for start in range(0, len(lines), per_page):
        c.setFont(font, size)
        y = height - margin - size
        for line in lines[start:start + per_page]:
            c.drawString(margin, y, line)
            y -= leading
        if label:
            _draw_stamp(c, width, height, label)
        c.showPage()
    c.save()
    return buf.getvalue()


def stamped_copy(data: bytes, mime: str, label: str, *, text: str | None = None, title: str = "") -> bytes:
    """A stamped PDF of a PDF, an image, or a DOCX (from its extracted `text`); Conflict for anything else."""
    if mime == "application/pdf":
        return stamp_pdf(data, label)
    if mime in STAMPABLE_IMAGES:
        return image_to_stamped_pdf(data, label)
    if mime == DOCX:
        if text is None:
            raise Conflict("a stamped copy of this DOCX is made from its extracted text, which is not ready yet "
                           "(the document is still being indexed, or indexing failed); try again later or ask "
                           "an archivist", code="copy_not_ready")
        return text_pdf(text, title, label)
    raise Conflict("{mime} files cannot be stamped, so no copy is handed out; ask for a view checkout",
                   params={"mime": mime}, code="stamping_failed")
