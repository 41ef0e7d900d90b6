"""Call-centre statistics per queue and per Asia/Shanghai hour (SPEC R7.3).

Definitions (a call is counted in the local hour it joined the queue; one row of ``calls`` is
one call in the queue it was last in):

* ``offered`` 呼入量 — calls whose queue outcome is known: answered by an agent, abandoned
  (放弃), or left the queue for a callback (留号回拨, SPEC R2.3);
* ``service_level`` 服务水平 — answered within 15 s of joining the queue
  (``pbx.dialplan.SERVICE_LEVEL_SECONDS``, the national hotline target) over offered;
* ``asa_s`` 平均应答速度 — average queue wait of the answered calls whose wait is known (a call
  adopted by a resync after it was answered is answered, but its wait is unknown);
* ``abandon_rate`` 放弃率 — abandoned over offered;
* ``aht_s`` 平均处理时长 — average talk time plus after-call work (话后处理, the agent's wrap-up
  state that follows the call in the agent state log) of the answered calls that ended;
  ``avg_talk_s`` and ``avg_wrapup_s`` give the two parts;
* ``occupancy`` 坐席占用率 — agent time on a call or in wrap-up over agent time logged in and
  not paused (available, ringing, on a call, wrap-up), for the agents logged in to the queue;
  in the totals across queues every agent counts once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from analytics import call_stats_store as store
from analytics.call_stats_store import Sums
from kit.errors import BadRequest
from workflow.clock import TZ

MAX_RANGE = dt.timedelta(days=31)
MIN_YEAR, MAX_YEAR = 2000, 2100


def utcnow() -> dt.datetime:
    """The current instant (aware, UTC)."""
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class TimeRange:
    """``[start, end)``, aware instants."""

    start: dt.datetime
    end: dt.datetime


def _bad(field: str, message: str) -> BadRequest:
    return BadRequest(message, code="invalid_query", details={"field": field})


def parse_instant(field: str, raw: str | None, *, end: bool) -> dt.datetime:
    """A date ``2026-11-03`` (local midnight; as ``to`` the whole day is included, i.e. the next
    midnight) or an ISO date-time (without offset: Asia/Shanghai local time)."""
    text = (raw or "").strip()
    if not text:
        raise _bad(field, f"请提供参数 {field}(日期如 2026-11-03,或时间如 2026-11-03T08:00)")
    try:
        date_only = len(text) == 10
        at = (dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), TZ) if date_only
              else dt.datetime.fromisoformat(text))  # fmt: skip
    except ValueError:
        raise _bad(field, f"参数 {field} 不是合法的日期或时间: {text[:40]!r}") from None
    if not MIN_YEAR <= at.year <= MAX_YEAR:
        raise _bad(field, f"参数 {field} 的年份应在 {MIN_YEAR} 至 {MAX_YEAR} 之间")
    if date_only and end:
        at += dt.timedelta(days=1)
    return at.replace(tzinfo=TZ) if at.tzinfo is None else at


def parse_range(raw_from: str | None, raw_to: str | None) -> TimeRange:
    """The ``from`` / ``to`` query; ``to`` must follow ``from`` by at most 31 days."""
    start = parse_instant("from", raw_from, end=False)
    end = parse_instant("to", raw_to, end=True)
    if end <= start:
        raise _bad("to", "结束时间 to 应晚于开始时间 from")
    if end - start > MAX_RANGE:
        raise _bad("to", f"统计区间最长 {MAX_RANGE.days} 天")
    return TimeRange(start, end)


def _div(num: float, den: float, digits: int) -> float | None:
    return round(num / den, digits) if den else None


def figures(s: Sums) -> dict[str, Any]:
    """The counts and derived rates of one bucket (rates 0..1 to 4 decimals, seconds to 2)."""
    return {
        "offered": s.offered, "answered": s.answered, "answered_in_sl": s.answered_in_sl,
        "abandoned": s.abandoned, "callback_requested": s.callback_requested,
        "service_level": _div(s.answered_in_sl, s.offered, 4),
        "asa_s": _div(s.wait_answered_s, s.answered_waits, 2),
        "abandon_rate": _div(s.abandoned, s.offered, 4),
        "handled": s.handled,
        "aht_s": _div(s.talk_s + s.wrapup_s, s.handled, 2),
        "avg_talk_s": _div(s.talk_s, s.handled, 2),
        "avg_wrapup_s": _div(s.wrapup_s, s.handled, 2),
        "agent_busy_s": round(s.busy_s, 2), "agent_staffed_s": round(s.staffed_s, 2),
        "occupancy": _div(s.busy_s, s.staffed_s, 4),
    }  # fmt: skip


def _hour(h: dt.datetime) -> str:
    return h.astimezone(TZ).isoformat()


class CallStatsService:
    """Statistics over the call store and the agent state log."""

    def __init__(self, pool: asyncpg.Pool, now: Callable[[], dt.datetime] = utcnow) -> None:
        self.pool = pool
        self.now = now

    async def stats(self, rng: TimeRange, queue: str | None = None) -> dict[str, Any]:
        """Rows per queue × hour (only hours with calls or staffed agents), then totals per
        queue, per hour (across queues) and overall."""
        calls = await store.call_sums(self.pool, rng.start, rng.end, queue)
        occ_q, occ_h = await store.occupancy_sums(self.pool, rng.start, rng.end, queue,
                                                  self.now())  # fmt: skip
        cells: dict[store.Key, Sums] = {}
        for part in (calls, occ_q):
            for key, s in part.items():
                cells.setdefault(key, Sums()).add(s)
        per_queue: dict[str, Sums] = {}
        per_hour: dict[dt.datetime, Sums] = {}
        total = Sums()
        for (_, h), s in calls.items():
            per_hour.setdefault(h, Sums()).add(s)
            total.add(s)
        for h, s in occ_h.items():  # agents once per hour, whatever their queues
            per_hour.setdefault(h, Sums()).add(s)
            total.add(s)
        for (q, _), s in cells.items():
            per_queue.setdefault(q, Sums()).add(s)
        return {
            "from": rng.start.astimezone(TZ).isoformat(),
            "to": rng.end.astimezone(TZ).isoformat(),
            "queue": queue, "timezone": "Asia/Shanghai",
            "service_level_seconds": store.SERVICE_LEVEL_SECONDS,
            "rows": [{"queue": q, "hour": _hour(h)} | figures(s)
                     for (q, h), s in sorted(cells.items())],
            "queues": [{"queue": q} | figures(s) for q, s in sorted(per_queue.items())],
            "hours": [{"hour": _hour(h)} | figures(s) for h, s in sorted(per_hour.items())],
            "total": figures(total),
        }  # fmt: skip
