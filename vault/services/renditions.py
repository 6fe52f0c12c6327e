"""Pages for reading in the browser: one page of a PDF, an image or a DOCX (from its text) as a PNG.

A reader who reads through a checkout gets every page with a visible watermark naming the reader, the
checkout and the time: a band at the top and the bottom and a faint diagonal line across the page, drawn
into the pixels (the same text goes into the PNG's metadata as well, for machines).
"""

from __future__ import annotations

import io
from functools import lru_cache
from typing import TYPE_CHECKING

from vault.errors import NotFound
from vault.filetypes import DOCX, PDF
from vault.services.stamping import CJK_FONT_FILE, text_pdf

if TYPE_CHECKING:
    from PIL import Image, ImageFont

IMAGES = ("image/png", "image/jpeg", "image/tiff", "image/gif", "image/webp", "image/bmp")
VIEWABLE = (PDF, *IMAGES)  # rendered from the file itself; a DOCX is rendered from its extracted text
PAGE_WIDTH = 1200  # pages are rendered this wide at most
MIN_STAMPED_WIDTH = 900  # narrower pages are enlarged so that the watermark stays legible
WATERMARK_COLOUR = (150, 0, 0)


def has_pages(mime: str) -> bool:
    """Whether the viewer can show this type (a DOCX once its text has been extracted)."""
    return mime in VIEWABLE or mime == DOCX


def _no_page(page_no: int) -> NotFound:
    return NotFound("this document has no page {page_no}", params={"page_no": page_no}, code="page_not_found")


def _render_pdf(data: bytes, page_no: int) -> Image.Image:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        if not 1 <= page_no <= len(pdf):
            raise _no_page(page_no)
        page = pdf[page_no - 1]
        scale = min(3.0, PAGE_WIDTH / max(1.0, page.get_width()))
        image = page.render(scale=scale).to_pil()
        page.close()
        return image
    finally:
        pdf.close()


def render_page(data: bytes, mime: str, page_no: int) -> Image.Image:
    """Page `page_no` (from 1) of a PDF or of an image (a frame of a multi-page TIFF); NotFound past the end."""
    from PIL import Image as PILImage

    if mime == PDF:
        return _render_pdf(data, page_no)
    source = PILImage.open(io.BytesIO(data))
    if not 1 <= page_no <= getattr(source, "n_frames", 1):
        raise _no_page(page_no)
    source.seek(page_no - 1)
    source.load()
    image: Image.Image = source
    if image.width > PAGE_WIDTH:
        image = image.resize((PAGE_WIDTH, max(1, round(image.height * PAGE_WIDTH / image.width))))
    if image.mode not in ("RGB", "L", "RGBA"):
        image = image.convert("RGB")
    return image


def page_total(data: bytes, mime: str) -> int:
    """How many pages a PDF or frames an image has (1 when that cannot be told: the first page is tried)."""
    import pypdfium2 as pdfium
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    if mime != PDF:
        try:
            return max(1, getattr(PILImage.open(io.BytesIO(data)), "n_frames", 1))
        except (UnidentifiedImageError, OSError, ValueError):
            return 1
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError:
        return 1
    try:
        return max(1, len(pdf))
    finally:
        pdf.close()


def text_page_count(text: str, title: str) -> int:
    """How many pages the text rendition of a DOCX has."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(text_pdf(text, title, None))
    try:
        return len(pdf)
    finally:
        pdf.close()


def render_text_page(text: str, title: str, page_no: int) -> Image.Image:
    """Page `page_no` of a DOCX's text rendition (A4, the text as extracted, no layout or images)."""
    return _render_pdf(text_pdf(text, title, None), page_no)


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    from PIL import ImageFont

    if CJK_FONT_FILE.exists():
        return ImageFont.truetype(str(CJK_FONT_FILE), size, index=0)
    return ImageFont.load_default(size)


def _fitting_font(label: str, width: int, largest: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    size = largest
    while size > 10 and _font(size).getlength(label) > width:
        size -= 1
    return _font(size)


def watermark(image: Image.Image, label: str) -> Image.Image:
    """The page with `label` in a band at the top and at the bottom and faintly across it, in its pixels."""
    from PIL import Image as PILImage
    from PIL import ImageDraw

    page = image.convert("RGB")
    if page.width < MIN_STAMPED_WIDTH:
        page = page.resize((MIN_STAMPED_WIDTH, max(1, round(page.height * MIN_STAMPED_WIDTH / page.width))))
    margin = 16
    font = _fitting_font(label, page.width - 2 * margin, 22)
    band = int(font.size * 1.8) if hasattr(font, "size") else 40
    out = PILImage.new("RGBA", (page.width, page.height + 2 * band), (255, 255, 255, 255))
    out.paste(page, (0, band))
    big = _fitting_font(label, int(out.width * 0.9), max(24, out.width // 30))
    layer = PILImage.new("RGBA", (int(big.getlength(label)) + 20, int(getattr(big, "size", 24) * 1.6)), (0, 0, 0, 0))
    ImageDraw.Draw(layer).text((10, 0), label, font=big, fill=(*WATERMARK_COLOUR, 70))
    layer = layer.rotate(30, expand=True)
    step = max(layer.height + 40, out.height // 3)
    for y in range(band, out.height - band, step):
        out.alpha_composite(layer, ((out.width - layer.width) // 2 if layer.width < out.width else 0, y))
    draw = ImageDraw.Draw(out)  # the bands last: nothing covers the line a reader (or OCR) reads
    for top in (0, out.height - band):
        draw.rectangle((0, top, out.width, top + band - 1), fill=(255, 240, 240, 255))
        draw.text((margin, top + band // 2), label, font=font, fill=(*WATERMARK_COLOUR, 255), anchor="lm")
    return out.convert("RGB")


def png(image: Image.Image, label: str | None) -> bytes:
    """The page as PNG: watermarked with `label` when given (and the label kept in its metadata too)."""
    from PIL.PngImagePlugin import PngInfo

    info = None
    if label is not None:
        image = watermark(image, label)
        info = PngInfo()
        info.add_itxt("Watermark", label)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=False, pnginfo=info)
    return out.getvalue()
