"""Copy stamping: every page of a downloaded copy names its reader, checkout and time (pypdf + reportlab).

A PDF gets an overlay on each page; an image becomes a one-page PDF with the same stamp. A copy that
cannot be stamped is refused rather than handed out unmarked.
"""

from __future__ import annotations

import io
import logging
from functools import lru_cache
from pathlib import Path

from vault.errors import Conflict

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
    return mime == "application/pdf" or mime in STAMPABLE_IMAGES


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
    """A one-page PDF showing the image (fitted to A4) with `label` over it."""
    from PIL import Image, UnidentifiedImageError
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen.canvas import Canvas

    try:
        img: Image.Image = Image.open(io.BytesIO(data))
        img.load()
    except (UnidentifiedImageError, OSError) as exc:
        raise Conflict("this image cannot be stamped ({error})",
                       params={"error": type(exc).__name__}, code="stamping_failed") from None
    if img.mode not in ("RGB", "L"):
        img = img.convert("RGB")
    page = landscape(A4) if img.width > img.height else A4
    margin = 28.0
    scale = min((page[0] - 2 * margin) / img.width, (page[1] - 2 * margin) / img.height)
    w, h = img.width * scale, img.height * scale
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=page, invariant=True)
    c.setTitle(label)
    # a baseline RGB/grey JPEG goes in as it is (no re-encoding); anything else is drawn from pixels
    source = ImageReader(io.BytesIO(data)) if img.format == "JPEG" and img.mode in ("RGB", "L") else ImageReader(img)
    c.drawImage(source, (page[0] - w) / 2, (page[1] - h) / 2, w, h)
    _draw_stamp(c, page[0], page[1], label)
    c.showPage()
    c.save()
    return buf.getvalue()


def stamped_copy(data: bytes, mime: str, label: str) -> bytes:
    """A stamped PDF of a PDF or an image."""
    if mime == "application/pdf":
        return stamp_pdf(data, label)
    if mime in STAMPABLE_IMAGES:
        return image_to_stamped_pdf(data, label)
    raise Conflict("{mime} files cannot be stamped", params={"mime": mime}, code="stamping_failed")
