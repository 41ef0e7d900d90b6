"""Export of an evaluation (成员单位考核) as CSV or XLSX, with Chinese column headers; the XLSX
workbook carries a bar chart of the composite scores and a sheet with the period and weights."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from analytics.evaluation import EvaluationReport, UnitEvaluation
from analytics.scoring import WEIGHT_LABELS

FORMATS = ("csv", "xlsx")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
SHEET_TITLE = "成员单位考核"
NOTES_TITLE = "说明"


def _pct(v: float | None) -> float | None:
    return None if v is None else round(v * 100, 2)


Column = tuple[str, Callable[[UnitEvaluation], Any]]
COLUMNS: list[Column] = [
    ("排名", lambda r: r.rank),
    ("单位代码", lambda r: r.counts.unit),
    ("成员单位", lambda r: r.counts.name),
    ("单位简称", lambda r: r.counts.short),
    ("综合得分", lambda r: r.score),
    ("交办量", lambda r: r.counts.dispatched),
    ("涉及工单数", lambda r: r.counts.orders),
    ("协办量", lambda r: r.counts.co_dispatched),
    ("应签收数", lambda r: r.counts.sign_counted),
    ("及时签收数", lambda r: r.counts.sign_on_time),
    ("签收及时率(%)", lambda r: _pct(r.sign_on_time_rate)),
    ("应答复数", lambda r: r.counts.reply_counted),
    ("及时答复数", lambda r: r.counts.reply_on_time),
    ("答复及时率(%)", lambda r: _pct(r.reply_on_time_rate)),
    ("退回数", lambda r: r.counts.returned),
    ("退回率(%)", lambda r: _pct(r.return_rate)),
    ("延时数", lambda r: r.counts.extended),
    ("延时率(%)", lambda r: _pct(r.extension_rate)),
    ("回访数", lambda r: r.callbacks),
    ("满意", lambda r: r.counts.satisfied),
    ("基本满意", lambda r: r.counts.basically_satisfied),
    ("不满意", lambda r: r.counts.dissatisfied),
    ("满意率(%)", lambda r: _pct(r.satisfaction_rate)),
    ("超期件数", lambda r: r.overdue),
]
HEADERS = [h for h, _ in COLUMNS]
SCORE_COLUMN = HEADERS.index("综合得分") + 1  # 1-based, for the chart
SHORT_NAME_COLUMN = HEADERS.index("单位简称") + 1


def _rows(report: EvaluationReport) -> list[list[Any]]:
    return [[get(r) for _, get in COLUMNS] for r in report.rows]


def filename(report: EvaluationReport, fmt: str) -> str:
    """``evaluation-2026-11.xlsx`` (ASCII, safe in a Content-Disposition header)."""
    return f"evaluation-{report.period.label}.{fmt}"


def to_csv(report: EvaluationReport) -> bytes:
    """UTF-8 with a byte-order mark (so that spreadsheet programs read the Chinese headers);
    one header row, one row per unit, empty cells where a rate has no data."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(HEADERS)
    for row in _rows(report):
        w.writerow(["" if v is None else v for v in row])
    return buf.getvalue().encode("utf-8-sig")


def to_xlsx(report: EvaluationReport) -> bytes:
    """Sheet 成员单位考核 (header row 1, one row per unit, a bar chart of 综合得分 beside the
    table) and sheet 说明 (period, membership rule, weights)."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = SHEET_TITLE
    ws.append(HEADERS)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in _rows(report):
        ws.append(row)
    ws.freeze_panes = "A2"
    ws.column_dimensions[get_column_letter(HEADERS.index("成员单位") + 1)].width = 28
    n = len(report.rows)
    if n:
        chart = BarChart()
        chart.type = "col"
        chart.title = f"综合得分 {report.period.label}"
        chart.y_axis.title = "综合得分"
        chart.x_axis.title = "成员单位"
        chart.y_axis.scaling.min = 0
        chart.y_axis.scaling.max = 100
        data = Reference(ws, min_col=SCORE_COLUMN, min_row=1, max_row=n + 1)
        cats = Reference(ws, min_col=SHORT_NAME_COLUMN, min_row=2, max_row=n + 1)
        chart.add_data(data, titles_from_data=True)
        chart.set_categories(cats)
        chart.legend = None  # one series
        chart.width, chart.height = max(16.0, 2.0 * n), 9.0
        ws.add_chart(chart, f"{get_column_letter(len(HEADERS) + 2)}2")
    notes = wb.create_sheet(NOTES_TITLE)
    p = report.period
    notes.append(["评估期", p.label])
    notes.append(["类型", "月度监测" if p.kind == "month" else "年度评估"])
    notes.append(["起", p.start.strftime("%Y-%m-%d %H:%M")])
    notes.append(["止(不含)", p.end.strftime("%Y-%m-%d %H:%M")])
    notes.append(["结果状态", "已结束" if report.final else "评估期未结束,数据为临时结果"])
    notes.append(["计入规则",
                  "评估期内办结(closed_at)的工单计入本期,未办结的计入下一期(第二十一条)"])
    notes.append([])
    notes.append(["权重项", "分值"])
    for key, points in report.weights.weights.as_dict().items():
        notes.append([WEIGHT_LABELS[key], points])
    notes.column_dimensions["A"].width = 22
    notes.column_dimensions["B"].width = 60
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def render(report: EvaluationReport, fmt: str) -> bytes:
    """The report in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "csv":
        return to_csv(report)
    if fmt == "xlsx":
        return to_xlsx(report)
    raise ValueError(f"unknown export format {fmt!r}")
