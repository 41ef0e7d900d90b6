"""The query of a hotspot report (热点分析, 第十八条, 第十九条; SPEC R7.2): the sliding window, the
baseline, the place level and every threshold, parsed from URL parameters with their defaults.

Pure: no I/O. A bad parameter raises :class:`kit.errors.BadRequest` (``code: invalid_query``,
``details.field``) with a Chinese message followed by its English gist.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from kit.errors import BadRequest
from workflow.clock import TZ

T = TypeVar("T")

LEVELS: dict[str, str] = {"street": "街道（镇）", "district": "辖市（区）", "city": "全市"}
"""Place levels (``by=``): the most precise place known (street, else district), the district,
or the whole city (topics only)."""

FORMATS = ("md", "txt")
MAX_LOOKBACK = dt.timedelta(days=400)  # current window + baseline windows
MIN_YEAR, MAX_YEAR = 2000, 2100
_WINDOW = re.compile(r"([0-9]{1,3})([hd])")  # ASCII digits only (\d also matches ２４)
_MAX_HOURS, _MAX_DAYS = 168, 90


@dataclass(frozen=True, slots=True)
class SpikeRule:
    """When a topic × place count is a spike (突增热点) against its baseline (see
    :mod:`analytics.hotspots_rules`)."""

    min_count: int = 5  # never a spike below this many orders in the window
    sigma: float = 3.0  # k: how many (noise-floored) standard deviations above the mean
    ratio: float = 1.5  # and at least this multiple of the baseline mean


@dataclass(frozen=True, slots=True)
class BurstRule:
    """集中诉求: at least ``min_orders`` orders of one topic at one place within ``hours``."""

    hours: int = 6
    min_orders: int = 5


@dataclass(frozen=True, slots=True)
class PersistRule:
    """持续性诉求: one topic at one place with at least ``week_min`` orders in each of at least
    ``min_weeks`` of the last ``weeks`` weeks (7-day periods ending at the report's end)."""

    weeks: int = 4
    min_weeks: int = 3
    week_min: int = 2


@dataclass(frozen=True, slots=True)
class HotspotQuery:
    """A parsed, validated hotspot query. ``end`` None means "now" (the service clock)."""

    window_label: str = "7d"
    window: dt.timedelta = dt.timedelta(days=7)
    end: dt.datetime | None = None
    by: str = "street"
    baseline: int = 4  # previous windows of the same length
    top: int = 20
    spike: SpikeRule = SpikeRule()
    burst: BurstRule = BurstRule()
    persist: PersistRule = PersistRule()


QUERY_SCHEMA: dict[str, Any] = {  # query parameter → schema (for /api/openapi.json)
    "window": {"type": "string", "description": "sliding window: 1h..168h or 1d..90d (default 7d)"},
    "end": {"type": "string", "description": "end of the window: 2026-11-16 (that whole day) or "
            "2026-11-16T08:00 (Asia/Shanghai); default now"},
    "by": {"type": "string", "enum": list(LEVELS), "description": "place level (default street)"},
    "baseline": {"type": "integer", "minimum": 1, "maximum": 12,
                 "description": "previous windows forming the baseline (default 4)"},
    "min_count": {"type": "integer", "minimum": 1, "maximum": 10000,
                  "description": "spike: minimum count (5)"},
    "sigma": {"type": "number", "minimum": 0, "maximum": 10,
              "description": "spike: standard deviations above the baseline mean (3)"},
    "ratio": {"type": "number", "minimum": 1, "maximum": 100,
              "description": "spike: minimum multiple of the baseline mean (1.5)"},
    "burst_hours": {"type": "integer", "minimum": 1, "maximum": 168,
                    "description": "集中诉求: within this many hours (6)"},
    "burst_min": {"type": "integer", "minimum": 2, "maximum": 10000,
                  "description": "集中诉求: at least (5)"},
    "weeks": {"type": "integer", "minimum": 2, "maximum": 26,
              "description": "持续性诉求: weeks looked at (4)"},
    "min_weeks": {"type": "integer", "minimum": 1, "maximum": 26,
                  "description": "持续性诉求: weeks that must have orders (3; at most weeks)"},
    "week_min": {"type": "integer", "minimum": 1, "maximum": 10000,
                 "description": "持续性诉求: orders that make a week count (2)"},
    "top": {"type": "integer", "minimum": 1, "maximum": 100,
            "description": "top topic × place rows (20)"},
}  # fmt: skip
REPORT_SCHEMA: dict[str, Any] = {
    **QUERY_SCHEMA,
    "format": {"type": "string", "enum": list(FORMATS), "description": "md (default) or txt"},
}


def bad(field: str, zh: str, en: str) -> BadRequest:
    """The 400 of one bad parameter: Chinese message, then the English gist in parentheses."""
    return BadRequest(f"{zh} ({en})", code="invalid_query", details={"field": field})


def parse_window(raw: str | None) -> tuple[str, dt.timedelta]:
    """``24h`` / ``7d`` / ``30d`` → (label, length): 1–168 hours or 1–90 days."""
    text = (raw or "7d").strip().lower()
    m = _WINDOW.fullmatch(text)
    if not m:
        raise bad("window", f"参数 window 不正确: {text[:20]!r},应为如 24h、7d、30d 的时长",
                  "window must look like 24h, 7d or 30d")  # fmt: skip
    n, unit = int(m[1]), m[2]
    if unit == "h" and not 1 <= n <= _MAX_HOURS:
        raise bad("window", f"参数 window 的小时数应在 1 至 {_MAX_HOURS} 之间",
                  f"window hours must be 1..{_MAX_HOURS}")  # fmt: skip
    if unit == "d" and not 1 <= n <= _MAX_DAYS:
        raise bad("window", f"参数 window 的天数应在 1 至 {_MAX_DAYS} 之间",
                  f"window days must be 1..{_MAX_DAYS}")  # fmt: skip
    return f"{n}{unit}", dt.timedelta(hours=n) if unit == "h" else dt.timedelta(days=n)


def parse_end(raw: str | None) -> dt.datetime | None:
    """``2026-11-16`` → the next local midnight (the whole day is in the window);
    ``2026-11-16T08:00`` (no offset: Asia/Shanghai) → that instant; empty → None (now)."""
    text = (raw or "").strip()
    if not text:
        return None
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            at = dt.datetime.combine(day, dt.time(), TZ) + dt.timedelta(days=1)
        else:
            at = dt.datetime.fromisoformat(text)
    except ValueError:
        raise bad(
            "end",
            f"参数 end 不是合法的日期或时间: {text[:40]!r}",
            "end must be a date 2026-11-16 or a time 2026-11-16T08:00",
        ) from None
    if not MIN_YEAR <= at.year <= MAX_YEAR:
        raise bad("end", f"参数 end 的年份应在 {MIN_YEAR} 至 {MAX_YEAR} 之间",
                  f"end year must be {MIN_YEAR}..{MAX_YEAR}")  # fmt: skip
    return at.replace(tzinfo=TZ) if at.tzinfo is None else at


def _number(q: Mapping[str, str], name: str, default: T, lo: float, hi: float,
            conv: Callable[[str], T]) -> T:  # fmt: skip
    raw = q.get(name)
    if raw is None or raw.strip() == "":
        return default
    kind_zh, kind_en = ("整数", "an integer") if conv is int else ("数字", "a number")
    try:
        value = conv(raw.strip())
    except ValueError:
        raise bad(
            name, f"参数 {name} 必须是{kind_zh}: {raw[:20]!r}", f"{name} must be {kind_en}"
        ) from None
    if not (isinstance(value, (int, float)) and math.isfinite(value) and lo <= value <= hi):
        a, b = f"{lo:g}", f"{hi:g}"
        raise bad(name, f"参数 {name} 应在 {a} 至 {b} 之间", f"{name} must be within {a}..{b}")
    return value


def parse_query(q: Mapping[str, str], *, allow_format: bool = False) -> HotspotQuery:
    """Every parameter of ``GET /api/hotspots`` (and ``format`` for the report); unknown
    parameters are refused, so that a misspelt threshold is not silently ignored."""
    allowed = REPORT_SCHEMA if allow_format else QUERY_SCHEMA
    unknown = sorted(k for k in q if k not in allowed)
    if unknown:
        raise bad(unknown[0][:40], f"未知参数: {', '.join(unknown)[:80]}",
                  f"unknown parameter(s); allowed: {', '.join(allowed)}")  # fmt: skip
    label, window = parse_window(q.get("window"))
    by = (q.get("by") or "street").strip().lower()
    if by not in LEVELS:
        raise bad("by", "参数 by 应为 street(街道)、district(辖市区)或 city(全市)",
                  "by must be street, district or city")  # fmt: skip
    baseline = _number(q, "baseline", 4, 1, 12, int)
    if window * (baseline + 1) > MAX_LOOKBACK:
        raise bad(
            "baseline",
            f"统计窗口×(基线周期数+1) 不能超过 {MAX_LOOKBACK.days} 天",
            f"window x (baseline + 1) must not exceed {MAX_LOOKBACK.days} days",
        )
    weeks = _number(q, "weeks", 4, 2, 26, int)
    persist = PersistRule(weeks, _number(q, "min_weeks", min(3, weeks), 1, weeks, int),
                          _number(q, "week_min", 2, 1, 10_000, int))  # fmt: skip
    spike = SpikeRule(_number(q, "min_count", 5, 1, 10_000, int),
                      _number(q, "sigma", 3.0, 0, 10, float),
                      _number(q, "ratio", 1.5, 1, 100, float))  # fmt: skip
    burst = BurstRule(_number(q, "burst_hours", 6, 1, 168, int),
                      _number(q, "burst_min", 5, 2, 10_000, int))  # fmt: skip
    return HotspotQuery(label, window, parse_end(q.get("end")), by, baseline,
                        _number(q, "top", 20, 1, 100, int), spike, burst, persist)  # fmt: skip


def parse_format(raw: str | None) -> str:
    """``md`` (default) or ``txt``."""
    fmt = (raw or "md").strip().lower()
    if fmt not in FORMATS:
        raise bad("format", "参数 format 应为 md 或 txt", "format must be md or txt")
    return fmt
