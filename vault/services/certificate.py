"""The destruction certificate (销毁证明): a bilingual PDF built from the batch's stored rows only.

It names every document of the batch; users reach it only through `destruction.certificate`, which
is 404 for a batch holding anything above their clearance (never a partial certificate)."""

from __future__ import annotations

import io
from datetime import datetime
from xml.sax.saxutils import escape

from vault.models import DestructionBatch
from vault.services.stamping import cjk_font


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else "—"


def _who(user: object | None) -> str:
    if user is None:
        return "—"
    name = getattr(user, "display_name", "") or ""
    username = getattr(user, "username", "")
    return f"{name} ({username})" if name and name != username else str(username)


def render_certificate(batch: DestructionBatch) -> bytes:
    """The certificate of an executed batch: documents, reason, people, times and the audit-chain head."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = cjk_font()
    title = ParagraphStyle("title", fontName=font, fontSize=16, leading=22, alignment=1, spaceAfter=6)
    body = ParagraphStyle("body", fontName=font, fontSize=9.5, leading=14)
    small = ParagraphStyle("small", fontName=font, fontSize=7.5, leading=10, wordWrap="CJK")
    mono = ParagraphStyle("mono", fontName=font, fontSize=6.5, leading=8.5, wordWrap="CJK")

    def p(text: str, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(escape(text).replace("\n", "<br/>"), style)

    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                            bottomMargin=15 * mm, title=f"Destruction certificate, batch {batch.id}",
                            author="Dossier Vault", invariant=1)
    people = [
        ("销毁批次 / Batch", f"#{batch.id}"),
        ("销毁理由 / Reason", batch.reason),
        ("提议人 / Proposed by", f"{_who(batch.proposed_by)} — {_when(batch.proposed_at)}"),
        ("管理层审批 / Approved (manager)",
         f"{_who(batch.manager_approver)} — {_when(batch.manager_approved_at)}"
         + (f" — {batch.manager_comment}" if batch.manager_comment else "")),
        ("法务审批 / Approved (legal)",
         f"{_who(batch.legal_approver)} — {_when(batch.legal_approved_at)}"
         + (f" — {batch.legal_comment}" if batch.legal_comment else "")),
        ("执行人 / Executed by", f"{_who(batch.executed_by)} — {_when(batch.executed_at)}"),
        ("审计链头 / Audit-chain head after execution", f"event {batch.audit_head_seq}: {batch.audit_head_hash}"),
        ("销毁方式 / Method",
         "数据密钥擦除（加密粉碎）、密文与提取文本删除、索引清除；保留档案号、标题、类型、日期与密文 SHA-256。\n"
         "Data keys erased (crypto-shredding), ciphertext blobs and extracted text deleted, search postings "
         "purged; archive no, title, type, dates and ciphertext SHA-256 are kept as a tombstone."),
    ]
    head_table = Table([[p(k), p(val)] for k, val in people], colWidths=[52 * mm, 128 * mm])
    head_table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                                    ("GRID", (0, 0), (-1, -1), 0.3, colors.grey)]))
    rows = [[p("档案号\nArchive no", small), p("标题\nTitle", small), p("类型\nType", small),
             p("保管期限依据\nRetention basis", small), p("密文 SHA-256\nCiphertext SHA-256", small)]]
    for item in batch.items:
        rows.append([p(item.archive_no, small), p(item.title, small), p(item.doc_type.value, small),
                     p(item.retention_basis + (f"\ndue {item.due_on.isoformat()}" if item.due_on else ""), small),
                     p(item.ciphertext_sha256, mono)])
    docs_table = Table(rows, colWidths=[26 * mm, 42 * mm, 20 * mm, 40 * mm, 52 * mm], repeatRows=1)
    docs_table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                                    ("GRID", (0, 0), (-1, -1), 0.3, colors.grey),
                                    ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke)]))
    story = [
        p("档案销毁证明", title), p("Certificate of Destruction", title), Spacer(1, 4 * mm), head_table,
        Spacer(1, 5 * mm), p(f"销毁清单 / Documents destroyed ({len(batch.items)})"), Spacer(1, 2 * mm), docs_table,
        Spacer(1, 5 * mm),
        p("本证明由系统在执行销毁的同一事务中生成并永久保存。\n"
          "This certificate was generated in the transaction that executed the destruction and is kept "
          "permanently.", small),
    ]
    doc.build(story)
    return buf.getvalue()
