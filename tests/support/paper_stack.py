"""Scanning stacks for the intake tests and the benchmark: separator sheets with a real QR code drawn by
reportlab, content pages with text, and a "scanner" that rasterises the PDF, adds noise and a slight
rotation and puts the images back into a PDF, as a real scan would arrive."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from vault import paper_codes


@dataclass(frozen=True)
class Sheet:
    """One sheet of a stack: a separator carrying `code` (any text) or a content page with `text`."""

    code: str | None = None
    text: str = ""


def separator(archive_no: str, doc_type: str | None = None) -> Sheet:
    return Sheet(code=paper_codes.encode(archive_no, doc_type))


def content(text: str) -> Sheet:
    return Sheet(text=text)


def _draw_qr(c: canvas.Canvas, text: str, size: float = 170) -> None:
    widget = QrCodeWidget(text, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, c, (A4[0] - size) / 2, A4[1] - size - 120)


def stack_pdf(sheets: list[Sheet]) -> bytes:
    """A PDF with one page per sheet, as printed (vector QR codes, text pages)."""
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=1)
    for sheet in sheets:
        if sheet.code is not None:
            c.setFont("Helvetica-Bold", 20)
            c.drawCentredString(A4[0] / 2, A4[1] - 80, "SEPARATOR")
            _draw_qr(c, sheet.code)
            c.setFont("Helvetica", 12)
            c.drawCentredString(A4[0] / 2, A4[1] - 330, sheet.code)
        else:
            c.setFont("Helvetica", 14)
            for n, line in enumerate(sheet.text.splitlines() or [""]):
                c.drawString(72, A4[1] - 100 - 20 * n, line)
        c.showPage()
    c.save()
    return buf.getvalue()


def scanned(pdf: bytes, *, noise: float = 0.0, max_angle: float = 0.0, dpi: int = 100, seed: int = 7) -> bytes:
    """The pages as a scanner returns them: greyscale images with salt-and-pepper noise (share of
    pixels flipped) and a small random rotation (degrees), in a new PDF."""
    import pypdfium2
    from PIL import Image

    rng = random.Random(seed)
    images: list[Image.Image] = []
    doc = pypdfium2.PdfDocument(pdf)
    for page in doc:
        image = page.render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
        if max_angle:
            image = image.rotate(rng.uniform(-max_angle, max_angle), expand=True, fillcolor=255)
        if noise:
            pixels = image.load()
            w, h = image.size
            for _ in range(int(w * h * noise)):
                x, y = rng.randrange(w), rng.randrange(h)
                pixels[x, y] = 0 if rng.random() < 0.5 else 255
        images.append(image)
    doc.close()
    out = io.BytesIO()
    images[0].save(out, format="PDF", save_all=True, append_images=images[1:], resolution=dpi)
    return out.getvalue()


def damage_qr(pdf: bytes, page_index: int, dpi: int = 100) -> bytes:
    """The stack with the QR code on one page torn: a white band across the code's middle third."""
    import pypdfium2
    from PIL import ImageDraw

    doc = pypdfium2.PdfDocument(pdf)
    images = [p.render(scale=dpi / 72, grayscale=True).to_pil().convert("L") for p in doc]
    doc.close()
    image = images[page_index]
    scale = dpi / 72
    left, top, size = (A4[0] - 170) / 2 * scale, 120 * scale, 170 * scale
    ImageDraw.Draw(image).rectangle([left, top + size * 0.45, left + size, top + size * 0.62], fill=255)
    out = io.BytesIO()
    images[0].save(out, format="PDF", save_all=True, append_images=images[1:], resolution=dpi)
    return out.getvalue()
