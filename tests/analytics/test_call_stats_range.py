"""Call-centre statistics over a year of agent state history (real PostgreSQL): the state rows
overlapping the requested range are found through the span index of migration 0530, bounded on
both sides (not every row that ended after ``from``), and long states still count — an agent
left logged in over a weekend, an agent whose state is still open."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import asyncpg

from agents.store import AgentStore
from analytics import call_stats_store as store
from workflow.clock import TZ

Q1, Q2 = "hotline-general", "hotline-complaint"
HISTORY_FROM = dt.datetime(2025, 11, 1, tzinfo=TZ)
HISTORY_TO = dt.datetime(2026, 11, 1, tzinfo=TZ)
STEP = dt.timedelta(minutes=10)
# Sunday 2025-11-09, a year before the end of the history
SUNDAY = dt.datetime(2025, 11, 9, tzinfo=TZ)


def local(y: int, mo: int, d: int, h: int = 0) -> float:
    return dt.datetime(y, mo, d, h, tzinfo=TZ).timestamp()


async def seed_year(pool: asyncpg.Pool, users: Any) -> dict[str, int]:
    """Two agents of Q2 with a year of contiguous 10-minute states (available, on a call,
    wrap-up), and one agent of Q1, written through the real state-log writer, who logged in on
    Friday evening, stayed logged in (available) until Monday morning, and is logged in again
    since 2026-10-30 (its row still open)."""
    agents = AgentStore(pool)
    ids: dict[str, int] = {}
    for name in ("bulk1", "bulk2", "weekend"):
        user = await users.create(name, "agent")
        iface = f"PJSIP/{name}"
        ids[name] = (await agents.create(user["id"], "pbx1", iface, name, name)).id
    await pool.execute(
        """INSERT INTO agent_state_log (agent_id, state, call_id, queues, started_at, ended_at)
           SELECT a.id, (ARRAY['available', 'on_call', 'wrap_up'])[1 + i % 3],
                  CASE WHEN i % 3 = 1 THEN 'pbx1:' || a.id || '-' || i END, ARRAY[$4::text],
                  $2::timestamptz + i * $3::interval, $2::timestamptz + (i + 1) * $3::interval
           FROM unnest($1::bigint[]) AS a(id)
           CROSS JOIN generate_series(0, (extract(epoch FROM $5::timestamptz - $2::timestamptz)
                                          / extract(epoch FROM $3::interval))::int - 1) AS i""",
        [ids["bulk1"], ids["bulk2"]], HISTORY_FROM, STEP, Q2, HISTORY_TO,
    )  # fmt: skip
    await agents.log_states([
        (ids["weekend"], "logged_out", "", None, [], local(2025, 11, 1)),
        (ids["weekend"], "available", "", None, [Q1], local(2025, 11, 7, 18)),  # Friday
        (ids["weekend"], "logged_out", "", None, [], local(2025, 11, 10, 9)),  # Monday
        (ids["weekend"], "available", "", None, [Q1], local(2026, 10, 30, 8)),  # still open
    ])  # fmt: skip
    await pool.execute("ANALYZE agent_state_log")
    return ids


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    out = [plan]
    for child in plan.get("Plans", []):
        out += _nodes(child)
    return out


async def _state_log_scans(pool: asyncpg.Pool, sql: str, *args: Any) -> list[dict[str, Any]]:
    """The plan nodes (with their child index scans) that read ``agent_state_log`` when ``sql``
    runs with ``args`` (EXPLAIN ANALYZE: the rows are the rows actually read)."""
    raw = await pool.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, *args)
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    scans = []
    for node in _nodes(plan):
        if node.get("Relation Name") == "agent_state_log":
            indexes = {n["Index Name"] for n in _nodes(node) if "Index Name" in n}
            scans.append({"type": node["Node Type"], "indexes": indexes,
                          "read": (node["Actual Rows"] + node.get("Rows Removed by Filter", 0))
                                  * node["Actual Loops"]})  # fmt: skip
    return scans


async def test_a_range_a_year_ago_reads_only_the_overlapping_state_rows(
    pool: asyncpg.Pool, users: Any,
) -> None:  # fmt: skip
    await seed_year(pool, users)
    total = await pool.fetchval("SELECT count(*) FROM agent_state_log")
    assert total > 100_000
    start, end = SUNDAY, SUNDAY + dt.timedelta(days=1)
    now = dt.datetime(2026, 11, 1, 12, tzinfo=TZ)
    # What an exact overlap reads: the rows of [start, end) (the wrap-up attribution looks one
    # day further, for wrap-ups after a call of the last hour).
    overlap = await pool.fetchval(
        """SELECT count(*) FROM agent_state_log
           WHERE started_at < $2 AND coalesce(ended_at, $3) > $1""",
        start, end + dt.timedelta(days=1), now,
    )  # fmt: skip
    assert overlap < 700  # two agents × 2 days of 10-minute rows, and the weekend
    for sql, args in ((store._CALLS, (start, end, None)),
                      (store._OCCUPANCY_BY_QUEUE, (start, end, None, now)),
                      (store._OCCUPANCY_BY_HOUR, (start, end, None, now))):  # fmt: skip
        scans = await _state_log_scans(pool, sql, *args)
        assert scans, sql
        for scan in scans:
            # through the span index, never a sequential scan of the year
            assert scan["indexes"] == {"agent_state_log_span"}, scan
            assert scan["read"] <= overlap, (scan, overlap, total)


async def test_long_and_open_states_still_count(pool: asyncpg.Pool, users: Any) -> None:
    await seed_year(pool, users)
    sup = await users.create_client("sup1", "supervisor")
    # Sunday: the Q1 agent logged in since Friday evening is staffed every hour of the day.
    r = await sup.get(f"/api/stats/calls?from=2025-11-09&to=2025-11-09&queue={Q1}")
    rep = await r.json()
    assert r.status == 200, rep
    assert [row["hour"][11:16] for row in rep["rows"]] == [f"{h:02d}:00" for h in range(24)]
    assert {row["agent_staffed_s"] for row in rep["rows"]} == {3600.0}
    assert rep["total"]["agent_staffed_s"] == 86400.0 and rep["total"]["occupancy"] == 0.0
    # Friday: from 18:00 on; Monday: until 09:00.
    r = await sup.get(f"/api/stats/calls?from=2025-11-07&to=2025-11-10&queue={Q1}")
    rep = await r.json()
    assert rep["total"]["agent_staffed_s"] == (6 + 48 + 9) * 3600.0
    # A week later, nothing: the agent was logged out.
    r = await sup.get(f"/api/stats/calls?from=2025-11-16&to=2025-11-16&queue={Q1}")
    assert (await r.json())["rows"] == []
    # The row still open (logged in since 2026-10-30 08:00) counts up to the range's end.
    r = await sup.get(f"/api/stats/calls?from=2026-10-31&to=2026-10-31&queue={Q1}")
    rep = await r.json()
    assert rep["total"]["agent_staffed_s"] == 86400.0
    # Q2 over that Sunday: two agents every hour, one state in three on a call, one in wrap-up.
    r = await sup.get(f"/api/stats/calls?from=2025-11-09&to=2025-11-09&queue={Q2}")
    rep = await r.json()
    assert rep["total"]["agent_staffed_s"] == 2 * 86400.0
    assert rep["total"]["agent_busy_s"] == round(2 * 86400.0 * 2 / 3, 2)
