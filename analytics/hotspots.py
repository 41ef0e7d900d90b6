"""Hotspots (热点分析, 第十八条, 第十九条; SPEC R7.2): topic × place counts over a sliding window,
spikes against the same-length windows before it, concentrated demands (集中诉求) and persistent
demands (持续性诉求) — the content of the quick report (热点舆情诉求快报, 第十九条).

* **Windows.** The current window is ``[end − w, end)``; the baseline is the ``N`` windows of the
  same length just before it, ``[end − (k+1)·w, end − k·w)`` for k = 1..N. ``end`` is now (the
  work-order service's clock) unless the query names one. Instants are shown in Asia/Shanghai.
* **Spike** (突增热点): :mod:`analytics.hotspots_rules`.
* **Concentrated** (集中诉求): at least ``burst_min`` orders of one topic at one known place,
  registered within ``burst_hours`` of each other (first to last), inside the current window;
  each topic × place reports its densest such run.
* **Persistent** (持续性诉求): one topic at one known place with at least ``week_min`` orders in
  each of at least ``min_weeks`` of the last ``weeks`` weeks (7-day periods ending at ``end``),
  whatever the window.

Topic and place of an order: :mod:`analytics.hotspots_store`.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from typing import Any

import asyncpg
from aiohttp import web

from analytics import hotspots_store as store
from analytics.hotspots_params import LEVELS, HotspotQuery, bad
from analytics.hotspots_rules import Assessment, assess, baseline_stats
from workflow.clock import TZ

MAX_ITEMS = 200  # per list of the JSON answer (spikes, concentrated, persistent)
MAX_NUMBERS = 50  # order numbers listed per concentrated demand
UNKNOWN_PLACE, CITY_PLACE = "地点未明", "全市"


def utcnow() -> dt.datetime:
    """The current instant (aware, UTC)."""
    return dt.datetime.now(dt.UTC)


def _local(at: dt.datetime) -> str:
    return at.astimezone(TZ).isoformat()


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 2)


class HotspotService:
    """Builds the hotspot report from the work-order store."""

    def __init__(self, pool: asyncpg.Pool, now: Callable[[], dt.datetime] = utcnow) -> None:
        self.pool = pool
        self.now = now

    async def report(self, q: HotspotQuery) -> dict[str, Any]:
        """The whole report as a JSON-ready dict (see ``docs/analytics.md``)."""
        now = self.now()
        end = q.end or now
        if now < end <= now + dt.timedelta(days=1) and end.astimezone(TZ).time() == dt.time():
            end = now  # end=<today's date> ("that whole day"): today so far
        if end > now:
            raise bad("end", "参数 end 晚于当前时间;统计到当前请省略 end",
                      "end is in the future; omit it to end now")  # fmt: skip
        start = end - q.window
        base_start = end - q.window * (q.baseline + 1)
        weeks_start = end - dt.timedelta(days=7 * q.persist.weeks)
        await store.resolve(self.pool, min(base_start, weeks_start))

        # 第十八条 聚焦热点事件、集中事件、持续性事件: counts (for the spikes), bursts, recurrences.
        cells = await store.cells(self.pool, end, q.window, q.baseline, q.by)
        totals = await store.totals(self.pool, end, q.window, q.baseline)
        bursts = await store.bursts(self.pool, start, end, q.by, q.burst.hours,
                                    q.burst.min_orders)  # fmt: skip
        recurring = await store.recurring(self.pool, end, q.by, q.persist.weeks,
                                          q.persist.week_min, q.persist.min_weeks)  # fmt: skip
        codes = {c.place for c in cells} | {b.place for b in bursts} | {r.place for r in recurring}
        names = await store.place_names(self.pool, codes - {store.UNKNOWN, store.CITY})

        def place(key: str) -> dict[str, Any]:
            return place_view(key, names)

        assessed = [(c, assess(c.counts[0], c.counts[:0:-1], q.spike)) for c in cells]
        spikes = sorted(
            (x for x in assessed if x[1].spike),
            key=lambda x: (-x[1].change, -x[1].current, x[0].topic, x[0].place),
        )
        top = sorted(assessed, key=lambda x: (-x[1].current, -x[1].change, x[0].topic,
                                              x[0].place))[: q.top]  # fmt: skip
        total_mean, _ = baseline_stats(totals[:0:-1])
        return {
            "generated_at": _local(now), "timezone": "Asia/Shanghai",
            "window": q.window_label, "window_hours": q.window / dt.timedelta(hours=1),
            "from": _local(start), "to": _local(end),
            "by": q.by, "by_label": LEVELS[q.by],
            "baseline": {"windows": q.baseline, "from": _local(base_start), "to": _local(start)},
            "rules": {
                "spike": {"min_count": q.spike.min_count, "sigma": q.spike.sigma,
                          "ratio": q.spike.ratio},
                "concentrated": {"hours": q.burst.hours, "min_orders": q.burst.min_orders},
                "persistent": {"weeks": q.persist.weeks, "min_weeks": q.persist.min_weeks,
                               "week_min": q.persist.week_min,
                               "from": _local(weeks_start), "to": _local(end)},
            },
            "total": {"count": totals[0], "baseline": list(totals[:0:-1]),
                      "baseline_mean": _r(total_mean)},
            "summary": {"spikes": len(spikes), "concentrated": len(bursts),
                        "persistent": len(recurring)},
            "spikes": [_cell_view(c, a, place(c.place)) for c, a in spikes[:MAX_ITEMS]],
            "concentrated": [_burst_view(b, place(b.place), q.burst.hours)
                             for b in bursts[:MAX_ITEMS]],
            "persistent": [_recurrence_view(r, place(r.place), q.persist.week_min)
                           for r in recurring[:MAX_ITEMS]],
            "top": [_cell_view(c, a, place(c.place)) for c, a in top],
        }  # fmt: skip


def place_view(key: str, names: dict[str, store.PlaceName]) -> dict[str, Any]:
    """A place key as the answer shows it: code, level, short name, its district, a label."""
    if key == store.CITY:
        return {"code": None, "level": "city", "name": CITY_PLACE, "district": None,
                "label": CITY_PLACE}  # fmt: skip
    if key == store.UNKNOWN:
        return {"code": None, "level": "unknown", "name": UNKNOWN_PLACE, "district": None,
                "label": UNKNOWN_PLACE}  # fmt: skip
    n = names.get(key)
    if n is None:  # a unit deleted since (units are deactivated, not deleted; be safe)
        return {"code": key, "level": "unknown", "name": key, "district": None, "label": key}
    district = n.district if n.kind == "street" else None
    return {"code": key, "level": n.kind, "name": n.short, "district": district,
            "label": f"{district or ''}{n.short}"}  # fmt: skip


def _cell_view(c: store.Cell, a: Assessment, place: dict[str, Any]) -> dict[str, Any]:
    return {
        "topic": c.topic, "place": place, "count": a.current,
        "baseline": list(a.baseline), "baseline_mean": _r(a.mean), "baseline_sd": _r(a.sd),
        "threshold": _r(a.threshold), "change": _r(a.change), "ratio": _r(a.ratio),
        "z": _r(a.z), "spike": a.spike,
    }  # fmt: skip


def _burst_view(b: store.Burst, place: dict[str, Any], hours: int) -> dict[str, Any]:
    addresses = Counter(a for a in b.addresses if a)
    return {
        "topic": b.topic, "place": place, "count": len(b.numbers), "hours": hours,
        "first_at": _local(b.first_at), "last_at": _local(b.last_at),
        "span_hours": round((b.last_at - b.first_at) / dt.timedelta(hours=1), 2),
        "window_count": b.in_window,
        "orders": list(b.numbers[:MAX_NUMBERS]),
        "addresses": [{"address": a, "count": n} for a, n in
                      sorted(addresses.items(), key=lambda x: (-x[1], x[0]))[:3]],
    }  # fmt: skip


def _recurrence_view(r: store.Recurrence, place: dict[str, Any], week_min: int) -> dict[str, Any]:
    weeks = list(r.weeks[::-1])  # oldest first
    return {
        "topic": r.topic, "place": place, "weeks": weeks,
        "active_weeks": sum(1 for n in weeks if n >= week_min), "total": sum(weeks),
        "open": r.open, "first_at": _local(r.first_at), "last_at": _local(r.last_at),
    }  # fmt: skip


HOTSPOTS: web.AppKey[HotspotService] = web.AppKey("analytics.hotspots", HotspotService)
"""The application's :class:`HotspotService` (set by ``hotline/features/analytics.py``)."""
