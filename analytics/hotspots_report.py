"""The quick report (热点舆情诉求快报, 第十九条) as short Chinese text a supervisor pastes into a
briefing: Markdown (``md``) or plain text (``txt``), rendered from the JSON answer of
:meth:`analytics.hotspots.HotspotService.report` (the two never disagree). Pure."""

from __future__ import annotations

import datetime as dt
from typing import Any

from analytics.hotspots_rules import change_text

TITLE = "热点舆情诉求快报"
MAX_LINES = 10  # items per section; the rest is summed up in one line
CONTENT_TYPES = {"md": "text/markdown; charset=utf-8", "txt": "text/plain; charset=utf-8"}


def _t(iso: str) -> str:
    return dt.datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M")


def _short_t(iso: str) -> str:
    at = dt.datetime.fromisoformat(iso)
    return f"{at.month}月{at.day}日 {at:%H:%M}"


def window_text(label: str) -> str:
    """``24h`` → ``24小时``, ``7d`` → ``7天``."""
    return label[:-1] + ("小时" if label.endswith("h") else "天")


def _what(item: dict[str, Any]) -> str:
    return f"{item['place']['label']}「{item['topic']}」"


def _counts(values: list[int]) -> str:
    return "、".join(str(v) for v in values)


def _spike_line(s: dict[str, Any]) -> str:
    return (
        f"{_what(s)}：{s['count']} 件，{change_text(s['count'], s['baseline_mean'])}"
        f"（基线各周期 {_counts(s['baseline'])}）"
    )


def _top_line(s: dict[str, Any]) -> str:
    return f"{_what(s)}：{s['count']} 件，{change_text(s['count'], s['baseline_mean'])}"


def _burst_line(b: dict[str, Any]) -> str:
    line = f"{_what(b)}：{b['count']} 件，{_short_t(b['first_at'])} 至 {_short_t(b['last_at'])}"
    if b["addresses"]:
        line += "，主要地址：" + "、".join(
            f"{a['address']}（{a['count']}件）" for a in b["addresses"]
        )
    return line


def _persist_line(p: dict[str, Any], weeks: int) -> str:
    line = (
        f"{_what(p)}：近{weeks}周中 {p['active_weeks']} 周，共 {p['total']} 件"
        f"（各周 {_counts(p['weeks'])}）"
    )
    return line + (f"，未办结 {p['open']} 件" if p["open"] else "，均已办结")


def render(data: dict[str, Any], fmt: str) -> str:
    """The report text; ``fmt`` is ``md`` or ``txt``."""
    md = fmt == "md"
    rules = data["rules"]
    total = data["total"]
    out: list[str] = [f"# {TITLE}" if md else TITLE, ""]
    facts = [
        f"时间范围：{_t(data['from'])} 至 {_t(data['to'])}（近{window_text(data['window'])}，"
        "北京时间）",
        f"对比基线：前{data['baseline']['windows']}个同长周期（{_t(data['baseline']['from'])} 至 "
        f"{_t(data['baseline']['to'])}）",
        f"诉求总量：{total['count']} 件，{change_text(total['count'], total['baseline_mean'])}",
        f"地点口径：{data['by_label']}",
    ]
    out += [f"- {f}" if md else f for f in facts]

    def section(title: str, items: list[str], none: str, total_items: int) -> None:
        out.extend(["", f"## {title}" if md else title])
        if not items:
            out.append(none)
            return
        out.extend(f"{i}. {line}" for i, line in enumerate(items[:MAX_LINES], start=1))
        if total_items > MAX_LINES:
            out.append(f"（另有 {total_items - MAX_LINES} 项，详见系统）")

    sp = rules["spike"]
    section(
        f"一、热点诉求（突增，本期≥{sp['min_count']}件且显著高于基线）",
        [_spike_line(s) for s in data["spikes"]],
        "本期未发现突增热点。",
        data["summary"]["spikes"],
    )
    cr = rules["concentrated"]
    section(
        f"二、集中诉求（{cr['hours']}小时内同一地点同一主题≥{cr['min_orders']}件）",
        [_burst_line(b) for b in data["concentrated"]],
        "本期未发现集中诉求。",
        data["summary"]["concentrated"],
    )
    pr = rules["persistent"]
    section(
        f"三、持续性诉求（近{pr['weeks']}周中至少{pr['min_weeks']}周、每周≥{pr['week_min']}件）",
        [_persist_line(p, pr["weeks"]) for p in data["persistent"]],
        "本期未发现持续性诉求。",
        data["summary"]["persistent"],
    )
    section(
        "四、诉求量居前的主题与地点",
        [_top_line(s) for s in data["top"]],
        "本期无诉求。",
        len(data["top"]),
    )
    out += ["", f"生成时间：{_t(data['generated_at'])}（12345平台）"]
    return "\n".join(out) + "\n"
