"""Evaluation periods (评估节点, 第二十一条): a calendar month ``2026-11`` or year ``2026``, as an
interval of instants in Asia/Shanghai local time."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from workflow.clock import TZ

_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")  # ASCII digits only (\d also matches ２０２６)
_YEAR = re.compile(r"([0-9]{4})")
MIN_YEAR, MAX_YEAR = 2000, 2100


class PeriodError(ValueError):
    """A period text that is not ``YYYY`` or ``YYYY-MM`` (message in Chinese, user-facing)."""


@dataclass(frozen=True, slots=True)
class Period:
    """``[start, end)`` in local time: a month (月度监测) or a year (年度评估), 第二十一条."""

    label: str  # "2026-11" | "2026"
    kind: str  # "month" | "year"
    start: dt.datetime  # aware, Asia/Shanghai midnight of the first day
    end: dt.datetime  # aware, Asia/Shanghai midnight of the first day of the next period

    def finished(self, now: dt.datetime) -> bool:
        """Whether the period is over at ``now`` (its results are final and published in the
        following month, 第二十一条 评估节点次月发布结果)."""
        return now >= self.end

    def started(self, now: dt.datetime) -> bool:
        """Whether ``now`` is at or after the period's first instant."""
        return now >= self.start


def parse_period(text: str | None) -> Period:
    """``"2026-11"`` → that month; ``"2026"`` → that year. Raises :class:`PeriodError`."""
    raw = (text or "").strip()
    if not raw:
        raise PeriodError("请提供评估期 period,如 2026-11(月度)或 2026(年度)")
    if m := _MONTH.fullmatch(raw):
        year, month = int(m[1]), int(m[2])
        if not 1 <= month <= 12:
            raise PeriodError(f"评估期 {raw} 的月份应为 01 至 12")
        _check_year(raw, year)
        start = dt.datetime(year, month, 1, tzinfo=TZ)
        nxt = (year + 1, 1) if month == 12 else (year, month + 1)
        return Period(raw, "month", start, dt.datetime(*nxt, 1, tzinfo=TZ))
    if m := _YEAR.fullmatch(raw):
        year = int(m[1])
        _check_year(raw, year)
        return Period(raw, "year", dt.datetime(year, 1, 1, tzinfo=TZ),
                      dt.datetime(year + 1, 1, 1, tzinfo=TZ))  # fmt: skip
    raise PeriodError(f"评估期格式不正确: {raw[:20]!r},应为 YYYY-MM(月度)或 YYYY(年度)")


def _check_year(raw: str, year: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise PeriodError(f"评估期 {raw} 的年份应在 {MIN_YEAR} 至 {MAX_YEAR} 之间")
