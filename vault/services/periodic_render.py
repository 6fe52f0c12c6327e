"""The periodic report's files: a PDF with bar charts (reportlab graphics) and an XLSX workbook.

Both are built from `periodic_reports.figures` only and carry no time of generation, so the same
figures give the same bytes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO, Any
from xml.sax.saxutils import escape

from vault.services.exports import Column, write_xlsx

_LABELS = {
    "new": ("新增客户", "New customers"), "lost": ("流失客户（关闭）", "Lost customers (closed)"),
    "grades": ("等级变动", "Grade changes"), "completeness": ("档案完整率", "Completeness rate"),
    "checkouts": ("借阅次数", "Checkouts"), "overdue": ("逾期借阅", "Overdue checkouts"),
    "received": ("接收文件", "Documents received"), "destroyed": ("销毁文件", "Documents destroyed"),
    "reviews_due": ("到期复审", "Reviews due"), "reviews_done": ("已完成复审", "Reviews done"),
    "complaints_received": ("收到投诉", "Complaints received"),
    "complaints_resolved": ("已解决投诉", "Complaints resolved"),
    "complaints_overdue": ("逾期投诉", "Complaints overdue"),
    "satisfaction": ("平均满意度（1-5）", "Mean satisfaction (1-5)"),
    "by_person": ("按人员借阅", "Checkouts by person"), "by_department": ("按部门（角色）借阅",
                                                                 "Checkouts by department (role)"),
    "docs_by_type": ("按类型接收 / 销毁文件", "Documents received / destroyed by type"),
    "title": ("统计报表", "Periodic report"), "figure": ("指标", "Figure"), "value": ("数值", "Value"),
}


def _t(key: str, lang: str) -> str:
    zh, en = _LABELS[key]
    return zh if lang.startswith("zh") else en


def summary_rows(data: dict[str, Any], lang: str) -> list[tuple[str, Any]]:
    """The headline figures, in order: (label, value)."""
    rate = data["completeness"]["rate"]
    return [(_t("new", lang), len(data["new_customers"])), (_t("lost", lang), len(data["lost_customers"])),
            (_t("grades", lang), len(data["grade_changes"])),
            (_t("completeness", lang), "—" if rate is None else f"{rate * 100:.1f}% "
             f"({data['completeness']['complete']}/{data['completeness']['dossiers']})"),
            (_t("checkouts", lang), data["checkouts"]["total"]), (_t("overdue", lang), len(data["overdue_checkouts"])),
            (_t("received", lang), data["documents"]["received"]),
            (_t("destroyed", lang), data["documents"]["destroyed"]),
            (_t("reviews_due", lang), len(data["reviews"]["due"])),
            (_t("reviews_done", lang), len(data["reviews"]["done"])),
            (_t("complaints_received", lang), data["complaints"]["received"]),
            (_t("complaints_resolved", lang), data["complaints"]["resolved"]),
            (_t("complaints_overdue", lang), len(data["complaints"]["overdue"])),
            (_t("satisfaction", lang), "—" if data["complaints"]["satisfaction"] is None else
             f"{data['complaints']['satisfaction']:.2f} (n={data['complaints']['satisfaction_count']})")]


def _C(key: str, zh: str, en: str, width: float = 1.0) -> Column:  # noqa: N802 - reads like a constructor
    return Column(key, zh, en, width)


_DETAILS: list[tuple[str, str, Sequence[Column]]] = [
    ("new", "new_customers", (_C("archive_no", "档案号", "Archive no"), _C("customer_name", "客户名称", "Customer", 2),
                              _C("grade", "等级", "Grade", 0.5), _C("created_at", "建档时间", "Created", 1.4))),
    ("lost", "lost_customers", (_C("archive_no", "档案号", "Archive no"),
                                _C("customer_name", "客户名称", "Customer", 2), _C("new", "状态", "Status", 0.7),
                                _C("at", "时间", "When", 1.4), _C("by", "操作人", "By"))),
    ("grades", "grade_changes", (_C("archive_no", "档案号", "Archive no"),
                                 _C("customer_name", "客户名称", "Customer", 2), _C("old", "原等级", "From", 0.5),
                                 _C("new", "新等级", "To", 0.5), _C("at", "时间", "When", 1.4),
                                 _C("by", "操作人", "By"))),
    ("overdue", "overdue_checkouts", (_C("checkout_id", "编号", "No.", 0.5), _C("archive_no", "档案号", "Archive no"),
                                      _C("requester", "借阅人", "Borrower"), _C("kind", "方式", "Kind", 0.6),
                                      _C("due_at", "应还", "Due", 1.4), _C("returned_at", "归还", "Returned", 1.4),
                                      _C("days_late", "逾期天数", "Days late", 0.6))),
]
_REVIEW_COLS = (_C("archive_no", "档案号", "Archive no"), _C("customer_name", "客户名称", "Customer", 2),
                _C("next_review_date", "复审日期", "Review date"))
_DONE_COLS = (_C("archive_no", "档案号", "Archive no"), _C("customer_name", "客户名称", "Customer", 2),
              _C("reviewed_on", "审查日期", "Reviewed"), _C("result", "结论", "Result", 0.7),
              _C("grade", "等级", "Grade", 0.5), _C("by", "审查人", "By"), _C("next_review_on", "下次", "Next"))
_COMPLAINT_COLS = (_C("record_id", "记录号", "Record", 0.5), _C("archive_no", "档案号", "Archive no"),
                   _C("deadline", "期限", "Deadline"), _C("handler", "处理人", "Handler"),
                   _C("resolved_at", "解决", "Resolved", 1.4), _C("days_late", "逾期天数", "Days late", 0.6))


def _detail_tables(data: dict[str, Any]) -> list[tuple[str, Sequence[Column], list[dict[str, Any]]]]:
    out = [(key, cols, data[field]) for key, field, cols in _DETAILS]
    out.append(("reviews_due", _REVIEW_COLS, data["reviews"]["due"]))
    out.append(("reviews_done", _DONE_COLS, data["reviews"]["done"]))
    out.append(("complaints_overdue", _COMPLAINT_COLS, data["complaints"]["overdue"]))
    return out


def render_xlsx(data: dict[str, Any], out: IO[bytes], lang: str = "zh") -> None:
    """The workbook: a summary sheet, the counts by person, department and type, then one sheet per list."""
    fig, val = Column("figure", "指标", "Figure", 2), Column("value", "数值", "Value")
    summary = [{"figure": k, "value": v} for k, v in summary_rows(data, lang)]
    counts = [{"figure": f"{_t('by_person', lang)}: {k}", "value": n}
              for k, n in data["checkouts"]["by_person"].items()]
    counts += [{"figure": f"{_t('by_department', lang)}: {k}", "value": n}
               for k, n in data["checkouts"]["by_department"].items()]
    counts += [{"figure": f"{_t('received', lang)}: {k}", "value": n}
               for k, n in data["documents"]["received_by_type"].items()]
    counts += [{"figure": f"{_t('destroyed', lang)}: {k}", "value": n}
               for k, n in data["documents"]["destroyed_by_type"].items()]
    sheets: list[tuple[str, Sequence[Column], Any]] = [
        (f"{_t('title', lang)} {data['period']}", (fig, val), summary),
        (_t("checkouts", lang), (fig, val), counts)]
    sheets += [(_t(key, lang), cols, rows) for key, cols, rows in _detail_tables(data)]
    write_xlsx(out, sheets, lang)


def _bar_chart(title: str, rows: list[tuple[str, float]], font: str, width: float, series: int = 1,
               values2: list[float] | None = None) -> Any:
    """A horizontal bar chart drawing with a title; one or two series."""
    from reportlab.graphics.charts.barcharts import HorizontalBarChart
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.lib import colors

    rows = rows[:12] or [("—", 0)]
    if values2 is not None:
        values2 = (list(values2[:12]) + [0.0] * len(rows))[:len(rows)]
    height = 40 + 18 * len(rows) * series
    d = Drawing(width, height)
    d.add(String(0, height - 12, title, fontName=font, fontSize=10))
    chart = HorizontalBarChart()
    chart.x, chart.y, chart.width, chart.height = 110, 10, width - 140, height - 34
    chart.data = [[float(v) for _, v in reversed(rows)]]
    if values2 is not None:
        chart.data.append([float(v) for v in reversed(values2)])
        chart.bars[1].fillColor = colors.HexColor("#c0504d")
    chart.bars[0].fillColor = colors.HexColor("#4f81bd")
    chart.categoryAxis.categoryNames = [name[:18] for name, _ in reversed(rows)]
    chart.categoryAxis.labels.fontName = font
    chart.categoryAxis.labels.fontSize = 7
    chart.valueAxis.labels.fontName = font
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.valueMin = 0
    top = max([max(s) for s in chart.data] + [1])
    chart.valueAxis.valueMax = top
    chart.valueAxis.valueStep = max(1, round(top / 5))
    chart.barLabelFormat = "%d"
    chart.barLabels.fontName = font
    chart.barLabels.fontSize = 6
    chart.barLabels.boxAnchor = "w"
    chart.barLabels.dx = 2
    d.add(chart)
    return d


def render_pdf(data: dict[str, Any], out: IO[bytes], lang: str = "zh") -> None:
    """A4: title, the headline figures, three charts, then every list of the report."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from vault.services.stamping import cjk_font

    font = cjk_font()
    h1 = ParagraphStyle("h1", fontName=font, fontSize=16, leading=22, alignment=1)
    h2 = ParagraphStyle("h2", fontName=font, fontSize=11, leading=16, spaceBefore=6, spaceAfter=3)
    small = ParagraphStyle("small", fontName=font, fontSize=7.5, leading=10, wordWrap="CJK")

    def p(text: Any, style: ParagraphStyle = small) -> Paragraph:
        return Paragraph(escape("" if text is None else str(text)), style)

    grid = TableStyle([("GRID", (0, 0), (-1, -1), 0.3, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                       ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke)])
    width = A4[0] - 30 * mm
    title = f"{_t('title', lang)} {data['period']}"
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                            bottomMargin=15 * mm, title=title, author="Dossier Vault", invariant=1)
    story: list[Any] = [p(title, h1), p(f"{data['start']} — {data['end']}", ParagraphStyle(
        "c", parent=small, alignment=1)), Spacer(1, 4 * mm)]
    head = [[p(_t("figure", lang)), p(_t("value", lang))]]
    summary = Table(head + [[p(k), p(v)] for k, v in summary_rows(data, lang)],
                    colWidths=[width * 0.6, width * 0.4])
    summary.setStyle(grid)
    story += [summary, Spacer(1, 4 * mm)]
    co = data["checkouts"]
    story.append(_bar_chart(_t("by_person", lang), list(co["by_person"].items()), font, width))
    story.append(_bar_chart(_t("by_department", lang), list(co["by_department"].items()), font, width))
    docs = data["documents"]
    types = sorted(set(docs["received_by_type"]) | set(docs["destroyed_by_type"]))
    story.append(_bar_chart(_t("docs_by_type", lang), [(t, docs["received_by_type"].get(t, 0)) for t in types],
                            font, width, series=2, values2=[docs["destroyed_by_type"].get(t, 0) for t in types]))
    for key, cols, rows in _detail_tables(data):
        story.append(p(f"{_t(key, lang)} ({len(rows)})", h2))
        total = sum(c.width for c in cols)
        table = Table([[p(c.heading(lang)) for c in cols]] + ([[p(r.get(c.key)) for c in cols] for r in rows]
                                                              or [[p("—") for _ in cols]]),
                      colWidths=[width * c.width / total for c in cols], repeatRows=1)
        table.setStyle(grid)
        story.append(table)
    doc.build(story)
