"""A4 PDFs of a dossier's printed sheets (reportlab, the CJK font of the stamps), in Chinese or English.

Layouts follow the common Chinese archive forms (GB/T 9705): the contents list is a ruled table with
running page numbers, the cover and the record sheet are framed forms. Every sheet carries a QR code
whose text is `vault.paper_codes.encode(...)`; scanning intake reads only that text, not the layout."""

from __future__ import annotations

import io
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from vault import paper_codes
from vault.services.stamping import cjk_font

if TYPE_CHECKING:
    from reportlab.pdfgen.canvas import Canvas

    from vault.services.paper_sheets import DossierSheet

LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "contents": "卷内文件目录", "cover": "客户档案案卷", "record": "卷内备考表", "separator": "分隔页",
        "archive_no": "档号", "item_no": "件号", "responsible": "责任者", "title": "题名", "date": "日期",
        "pages": "页号", "remarks": "备注", "customer": "案卷题名", "date_range": "起止日期",
        "retention": "保管期限", "secrecy": "密级", "items": "件数", "page_total": "页数",
        "permanent": "永久", "years": "{n} 年", "situation": "本卷情况说明",
        "summary": "本卷共有文件 {items} 件，共 {pages} 页。", "filed_by": "立卷人", "checked_by": "检查人",
        "filed_at": "立卷时间", "checked_at": "检查时间", "no_notes": "无缺损、修改、补充、移出情况。",
        "whole_dossier": "全卷", "doc_type": "文件类型", "copy": "复印件", "destroyed": "已销毁",
        "scan_hint": "扫描时请将本页放在对应文件之前", "page_of": "第 {n} 页",
        "suffix": "客户档案",
    },
    "en": {
        "contents": "Contents list", "cover": "Customer dossier", "record": "Record sheet",
        "separator": "Separator sheet",
        "archive_no": "Archive no.", "item_no": "Item", "responsible": "Responsible party", "title": "Title",
        "date": "Date", "pages": "Pages", "remarks": "Remarks", "customer": "Title of file",
        "date_range": "Date range", "retention": "Retention", "secrecy": "Secrecy", "items": "Items",
        "page_total": "Pages", "permanent": "permanent", "years": "{n} years", "situation": "Notes on this file",
        "summary": "This file holds {items} item(s), {pages} page(s) in all.", "filed_by": "Filed by",
        "checked_by": "Checked by", "filed_at": "Filed on", "checked_at": "Checked on",
        "no_notes": "Nothing missing, changed, added or removed.", "whole_dossier": "whole dossier",
        "doc_type": "Document type", "copy": "copy", "destroyed": "destroyed",
        "scan_hint": "Place this sheet in front of its papers when scanning", "page_of": "page {n}",
        "suffix": "customer dossier",
    },
}
SECRECY = {"zh": {"public": "公开", "internal": "内部", "confidential": "秘密", "secret": "机密"},
           "en": {"public": "public", "internal": "internal", "confidential": "confidential", "secret": "secret"}}
ITEM_STATES = {"zh": {"missing": "缺失", "differs": "不符"}, "en": {"missing": "missing", "differs": "differs"}}
DOC_TYPES = {
    "zh": {"contract": "合同", "license": "证照", "credit_report": "信用报告", "correspondence": "往来函件",
           "id_proof": "身份证明", "invoice": "发票", "other": "其他"},
    "en": {"contract": "contract", "license": "license", "credit_report": "credit report",
           "correspondence": "correspondence", "id_proof": "ID proof", "invoice": "invoice", "other": "other"},
}


def _day(value: date | datetime | None) -> str:
    if value is None:
        return ""
    return (value.date() if isinstance(value, datetime) else value).isoformat()


def page_range(first: int | None, last: int | None) -> str:
    """The running page numbers of one document: `4-6`, `7` for one page, empty for none."""
    if first is None or last is None:
        return ""
    return str(first) if first == last else f"{first}-{last}"


def draw_qr(canvas: Canvas, text: str, x: float, y: float, size: float) -> None:
    """A QR code of `text` (error correction M, quiet zone included) with its lower-left corner at x, y."""
    from reportlab.graphics import renderPDF
    from reportlab.graphics.barcode.qr import QrCodeWidget
    from reportlab.graphics.shapes import Drawing

    widget = QrCodeWidget(text, barLevel="M")
    x1, y1, x2, y2 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x2 - x1), 0, 0, size / (y2 - y1), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, canvas, x, y)


def _retention(sheet: DossierSheet, lang: str) -> str:
    if sheet.retention_years is None:
        return LABELS[lang]["permanent"]
    return LABELS[lang]["years"].format(n=sheet.retention_years)


def _remarks(text: str, lang: str) -> str:
    words = {"copy": LABELS[lang]["copy"], "destroyed": LABELS[lang]["destroyed"]}
    return "; ".join(words.get(part, part) for part in text.split("; ")) if text else ""


def contents_pdf(sheet: DossierSheet, lang: str) -> bytes:
    """The contents list (卷内文件目录): item, responsible party, title, date, page range, remarks."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

    t = LABELS[lang]
    font = cjk_font()
    cell = ParagraphStyle("cell", fontName=font, fontSize=9, leading=12, wordWrap="CJK")
    width, height = A4

    def header(canvas: Canvas, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 18)
        canvas.drawCentredString(width / 2, height - 22 * mm, t["contents"])
        canvas.setFont(font, 10)
        canvas.drawString(18 * mm, height - 32 * mm, f"{t['archive_no']}: {sheet.archive_no}")
        canvas.drawString(18 * mm, height - 38 * mm, sheet.customer_name[:60])
        canvas.drawRightString(width - 18 * mm, 10 * mm, t["page_of"].format(n=doc.page))
        draw_qr(canvas, paper_codes.encode(sheet.archive_no), width - 42 * mm, height - 44 * mm, 26 * mm)
        canvas.restoreState()

    def p(text: str) -> Paragraph:
        return Paragraph(escape(text), cell)

    data: list[list[Any]] = [[p(t["item_no"]), p(t["responsible"]), p(t["title"]), p(t["date"]), p(t["pages"]),
                              p(t["remarks"])]]
    for row in sheet.rows:
        data.append([p(str(row.item_no or "")), p(row.responsible), p(row.title), p(_day(row.doc_date)),
                     p(page_range(row.first_page, row.last_page)), p(_remarks(row.remarks, lang))])
    table = Table(data, colWidths=[14 * mm, 32 * mm, 70 * mm, 22 * mm, 18 * mm, 18 * mm], repeatRows=1)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.6, colors.black),
                               ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke)]))
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=48 * mm,
                            bottomMargin=18 * mm, title=f"{t['contents']} {sheet.archive_no}",
                            author="Dossier Vault", invariant=1)
    doc.build([table], onFirstPage=header, onLaterPages=header)
    return buf.getvalue()


def _form(title: str, lang: str, sheet: DossierSheet, rows: list[tuple[str, str]], qr_text: str,
          extra: list[str] | None = None, qr_size_mm: float = 40) -> bytes:
    """A framed one-page form: a title, label/value rows, free lines, and the QR code at the bottom right."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfgen.canvas import Canvas

    font = cjk_font()
    width, height = A4
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=A4, invariant=1)
    c.setTitle(f"{title} {sheet.archive_no}")
    c.setAuthor("Dossier Vault")
    c.setLineWidth(1.2)
    c.rect(20 * mm, 20 * mm, width - 40 * mm, height - 40 * mm)
    c.setFont(font, 24)
    c.drawCentredString(width / 2, height - 50 * mm, title)
    y = height - 75 * mm
    for label, value in rows:
        c.setFont(font, 13)
        c.drawString(32 * mm, y, f"{label}:")
        c.drawString(72 * mm, y, value[:48])
        c.setLineWidth(0.5)
        c.line(70 * mm, y - 2 * mm, width - 32 * mm, y - 2 * mm)
        y -= 14 * mm
    c.setFont(font, 11)
    for line in extra or []:
        for start in range(0, len(line), 52 if lang == "zh" else 90):
            if y < 70 * mm:
                break
            c.drawString(32 * mm, y, line[start:start + (52 if lang == "zh" else 90)])
            y -= 7 * mm
    draw_qr(c, qr_text, width - 32 * mm - qr_size_mm * mm, 28 * mm, qr_size_mm * mm)
    c.setFont(font, 9)
    c.drawString(32 * mm, 30 * mm, qr_text)
    c.showPage()
    c.save()
    return buf.getvalue()


def cover_pdf(sheet: DossierSheet, lang: str) -> bytes:
    """The cover (案卷封面): archive number, customer, date range, retention, secrecy, items and pages."""
    t = LABELS[lang]
    span = f"{_day(sheet.date_from)} — {_day(sheet.date_to)}" if sheet.date_from else "—"
    sep = "" if lang == "zh" else ", "
    rows = [(t["archive_no"], sheet.archive_no), (t["customer"], f"{sheet.customer_name}{sep}{t['suffix']}"),
            (t["date_range"], span), (t["retention"], _retention(sheet, lang)),
            (t["secrecy"], SECRECY[lang].get(sheet.secrecy, sheet.secrecy)), (t["items"], str(sheet.items)),
            (t["page_total"], str(sheet.total_pages))]
    return _form(t["cover"], lang, sheet, rows, paper_codes.encode(sheet.archive_no))


def record_sheet_pdf(sheet: DossierSheet, lang: str) -> bytes:
    """The record sheet (备考表): items and pages, what was missing or differed, filed and checked by whom."""
    t = LABELS[lang]
    rows = [(t["archive_no"], sheet.archive_no), (t["filed_by"], sheet.filed_by or ""),
            (t["filed_at"], _day(sheet.filed_at)), (t["checked_by"], sheet.checked_by or ""),
            (t["checked_at"], _day(sheet.checked_at))]
    extra = [t["situation"] + ":", t["summary"].format(items=sheet.items, pages=sheet.total_pages)]
    states = ITEM_STATES[lang]
    extra += [f"{n.receipt_no} #{n.position} {n.title}: {states.get(n.state, n.state)}"
              + (f" ({n.note})" if n.note else "") for n in sheet.notes] or [t["no_notes"]]
    return _form(t["record"], lang, sheet, rows, paper_codes.encode(sheet.archive_no), extra)


def separator_pdf(sheet: DossierSheet, lang: str, doc_type: str | None) -> bytes:
    """A separator sheet for the dossier, or for one document type of it, with a large QR code."""
    t = LABELS[lang]
    kind = DOC_TYPES[lang].get(doc_type, doc_type) if doc_type else t["whole_dossier"]
    rows = [(t["archive_no"], sheet.archive_no), (t["customer"], sheet.customer_name), (t["doc_type"], kind)]
    return _form(t["separator"], lang, sheet, rows, paper_codes.encode(sheet.archive_no, doc_type),
                 [t["scan_hint"]], qr_size_mm=80)
