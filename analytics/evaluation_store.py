"""SQL of the member-unit evaluation: per-unit counts over the work-order store, and the weights.

Reads ``work_orders`` / ``work_order_events`` (migration 0100) and ``member_units``; the counting
happens in PostgreSQL (one statement, one row per unit), never by loading orders into Python.

The unit of account is the **stint** (一次交办): one (re-)dispatch of an order to one unit, from
its ``dispatched`` / ``coordinated`` event up to the order's next such event. A re-dispatch after
an approved return opens a new stint (for the new lead unit, or again for the same one). Every
event of the order between the two belongs to the stint; events that name a unit
(``signed``, ``sign_overdue``) count only for that unit.

Deadlines recomputed after a calendar year is confirmed (``deadlines_recomputed``,
:mod:`workflow.recompute`) are honoured: a unit's sign-for is judged against the latest limit
recomputed for it in the stint, and an overdue mark (``sign_overdue``, ``reply_overdue``) that a
later recomputation withdrew (its ``cleared`` list) does not count — unless the sweep marked the
stint overdue again afterwards, against the new limit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import asyncpg

from analytics.scoring import WEIGHT_FIELDS, Weights


@dataclass(frozen=True, slots=True)
class UnitCounts:
    """What one unit did on the orders of a period (see :data:`_COUNTS` for each definition)."""

    unit: str
    name: str
    short: str
    orders: int  # distinct orders the unit led at some stint
    dispatched: int  # lead stints (交办量)
    co_dispatched: int  # co-handling stints (协办)
    sign_counted: int  # stints whose sign-for was due (signed, or limit passed unsigned)
    sign_on_time: int  # of which signed within the limit
    returned: int  # lead stints ended by an approved return (退回)
    extended: int  # lead stints with an approved extension (延时)
    reply_counted: int  # lead stints (not returned) that replied or went overdue
    reply_on_time: int  # of which every reply was within the limit and none overdue
    satisfied: int  # callback results (办结回访) in the unit's lead stints
    basically_satisfied: int
    dissatisfied: int


# $1, $2: the period [start, end).
_COUNTS = """
WITH scope AS (            -- 第二十一条: the orders 办结 (closed) within the period
    SELECT id, closed_at FROM work_orders
    WHERE state = 'closed' AND closed_at >= $1::timestamptz AND closed_at < $2::timestamptz
),
starts AS (                -- every (re-)dispatch of those orders
    SELECT e.order_id, e.id AS start_id, e.data ->> 'lead' AS lead,
           e.data -> 'sign_due' AS sign_due, s.closed_at,
           lead(e.id) OVER w AS next_id, lead(e.at) OVER w AS next_at
    FROM work_order_events e JOIN scope s ON s.id = e.order_id
    WHERE e.kind IN ('dispatched', 'coordinated')
    WINDOW w AS (PARTITION BY e.order_id ORDER BY e.id)
),
stints AS (                -- one per unit named by the dispatch (lead and co-handling units)
    SELECT st.order_id, st.start_id, st.next_id, st.next_at, st.closed_at, d.key AS unit,
           d.key = st.lead AS is_lead, (d.value #>> '{}')::timestamptz AS sign_due
    FROM starts st CROSS JOIN LATERAL jsonb_each(st.sign_due) AS d
),
facts AS (
    SELECT t.order_id, t.unit, t.is_lead, t.sign_due AS dispatch_sign_due,
        -- the unit's sign-for limit: the dispatch's, or the latest one a calendar-year
        -- confirmation recomputed for it (deadlines_recomputed, workflow.recompute)
        coalesce((array_agg((e.data #>> ARRAY['changes', 'sign_due', t.unit, 'to'])::timestamptz
                            ORDER BY e.id DESC)
                  FILTER (WHERE e.kind = 'deadlines_recomputed'
                          AND e.data -> 'changes' -> 'sign_due' ? t.unit))[1],
                 t.sign_due) AS sign_due,
        min(e.at) FILTER (WHERE e.kind = 'signed' AND e.data ->> 'unit' = t.unit) AS signed_at,
        -- an overdue mark counts unless a later recomputation withdrew it (its "cleared" list)
        max(e.id) FILTER (WHERE e.kind = 'sign_overdue' AND e.data ->> 'unit' = t.unit)
            AS sign_overdue_id,
        max(e.id) FILTER (WHERE e.kind = 'deadlines_recomputed'
                          AND e.data -> 'cleared' ? ('sign_overdue:' || t.unit)) AS sign_cleared_id,
        min(e.at) FILTER (WHERE e.kind = 'return_approved') AS returned_at,
        coalesce(bool_or(e.kind = 'extension_approved'), false) AS extended,
        count(*) FILTER (WHERE e.kind = 'replied') AS replies,
        count(*) FILTER (WHERE e.kind = 'replied'
                         AND NOT coalesce((e.data ->> 'on_time')::boolean, true)) AS late_replies,
        max(e.id) FILTER (WHERE e.kind = 'reply_overdue') AS reply_overdue_id,
        max(e.id) FILTER (WHERE e.kind = 'deadlines_recomputed'
                          AND e.data -> 'cleared' ? 'reply_overdue') AS reply_cleared_id,
        count(*) FILTER (WHERE e.kind IN ('closed', 'reopened')
                         AND e.data ->> 'result' = 'satisfied') AS satisfied,
        count(*) FILTER (WHERE e.kind IN ('closed', 'reopened')
                         AND e.data ->> 'result' = 'basically_satisfied') AS basically,
        count(*) FILTER (WHERE e.kind IN ('closed', 'reopened')
                         AND e.data ->> 'result' = 'dissatisfied') AS dissatisfied,
        coalesce(t.next_at, t.closed_at) AS next_or_close_at
    FROM stints t
    LEFT JOIN work_order_events e
        ON e.order_id = t.order_id AND e.id > t.start_id
       AND (t.next_id IS NULL OR e.id < t.next_id)
    GROUP BY t.order_id, t.start_id, t.unit, t.is_lead, t.sign_due, t.next_at, t.closed_at
),
marks AS (
    SELECT f.*,
        coalesce(f.sign_overdue_id > coalesce(f.sign_cleared_id, 0), false) AS sign_overdue,
        coalesce(f.reply_overdue_id > coalesce(f.reply_cleared_id, 0), false) AS reply_overdue
    FROM facts f
),
judged AS (
    SELECT m.*,
        -- the sign-for limit was due: signed, or the stint ended (return, re-dispatch, close)
        -- after the limit without a signature
        m.signed_at IS NOT NULL OR m.sign_overdue
            OR coalesce(m.returned_at, m.next_or_close_at) > m.sign_due AS sign_counted,
        -- 第十一条(三) 1 working hour, against the limit as last recomputed (not the "late" flag
        -- of the signed event, which used the limit in force at signing); a recomputation that
        -- moved the limit earlier (a 调休 working weekend) never makes a signature late that
        -- met the limit the unit was given
        coalesce(m.signed_at <= greatest(m.sign_due, m.dispatch_sign_due), false)
            AS sign_on_time,
        m.is_lead AND m.returned_at IS NULL AND (m.replies > 0 OR m.reply_overdue)
            AS reply_counted,
        m.is_lead AND m.returned_at IS NULL AND m.replies > 0 AND m.late_replies = 0
            AND NOT m.reply_overdue AS reply_on_time
    FROM marks m
)
SELECT j.unit, coalesce(u.name, j.unit) AS name, coalesce(u.short, j.unit) AS short,
    count(DISTINCT j.order_id) FILTER (WHERE j.is_lead) AS orders,
    count(*) FILTER (WHERE j.is_lead) AS dispatched,
    count(*) FILTER (WHERE NOT j.is_lead) AS co_dispatched,
    count(*) FILTER (WHERE j.sign_counted) AS sign_counted,
    count(*) FILTER (WHERE j.sign_on_time) AS sign_on_time,
    count(*) FILTER (WHERE j.is_lead AND j.returned_at IS NOT NULL) AS returned,
    count(*) FILTER (WHERE j.is_lead AND j.extended) AS extended,
    count(*) FILTER (WHERE j.reply_counted) AS reply_counted,
    count(*) FILTER (WHERE j.reply_on_time) AS reply_on_time,
    coalesce(sum(j.satisfied) FILTER (WHERE j.is_lead), 0) AS satisfied,
    coalesce(sum(j.basically) FILTER (WHERE j.is_lead), 0) AS basically_satisfied,
    coalesce(sum(j.dissatisfied) FILTER (WHERE j.is_lead), 0) AS dissatisfied
FROM judged j LEFT JOIN member_units u ON u.code = j.unit
GROUP BY j.unit, u.name, u.short
ORDER BY j.unit
"""


async def unit_counts(
    pool: asyncpg.Pool | asyncpg.Connection, start: dt.datetime, end: dt.datetime
) -> list[UnitCounts]:
    """Per-unit counts over the orders closed in ``[start, end)``, by unit code."""
    rows = await pool.fetch(_COUNTS, start, end)
    return [
        UnitCounts(
            unit=r["unit"], name=r["name"], short=r["short"], orders=r["orders"],
            dispatched=r["dispatched"], co_dispatched=r["co_dispatched"],
            sign_counted=r["sign_counted"], sign_on_time=r["sign_on_time"],
            returned=r["returned"], extended=r["extended"], reply_counted=r["reply_counted"],
            reply_on_time=r["reply_on_time"], satisfied=int(r["satisfied"]),
            basically_satisfied=int(r["basically_satisfied"]),
            dissatisfied=int(r["dissatisfied"]),
        )
        for r in rows
    ]  # fmt: skip


# --- weights ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredWeights:
    """Weights in force and who set them (``set_by`` None: the defaults, never changed)."""

    weights: Weights
    set_by: str | None = None
    set_at: dt.datetime | None = None
    note: str = ""


async def current_weights(
    pool: asyncpg.Pool | asyncpg.Connection, default: Weights
) -> StoredWeights:
    """The newest stored weights, or ``default`` when none were ever set."""
    r = await pool.fetchrow(
        "SELECT " + ", ".join(WEIGHT_FIELDS) + ", note, set_by, set_at"
        " FROM evaluation_weights ORDER BY id DESC LIMIT 1"
    )
    if r is None:
        return StoredWeights(default)
    return StoredWeights(Weights(**{k: r[k] for k in WEIGHT_FIELDS}), r["set_by"], r["set_at"],
                         r["note"])  # fmt: skip


async def add_weights(
    pool: asyncpg.Pool | asyncpg.Connection, weights: Weights, set_by: str, note: str,
    at: dt.datetime,
) -> StoredWeights:  # fmt: skip
    """Store new weights (a new row; earlier ones stay as history)."""
    cols = ", ".join(WEIGHT_FIELDS)
    params = ", ".join(f"${i}::integer" for i in range(1, len(WEIGHT_FIELDS) + 1))
    n = len(WEIGHT_FIELDS)
    await pool.execute(
        f"INSERT INTO evaluation_weights ({cols}, note, set_by, set_at)"
        f" VALUES ({params}, ${n + 1}::text, ${n + 2}::text, ${n + 3}::timestamptz)",
        *weights.as_dict().values(), note, set_by, at,
    )  # fmt: skip
    return StoredWeights(weights, set_by, at, note)


async def weights_history(pool: asyncpg.Pool, limit: int = 50) -> list[StoredWeights]:
    """Stored weights, newest first."""
    rows = await pool.fetch(
        "SELECT " + ", ".join(WEIGHT_FIELDS) + ", note, set_by, set_at"
        " FROM evaluation_weights ORDER BY id DESC LIMIT $1", limit,
    )  # fmt: skip
    return [StoredWeights(Weights(**{k: r[k] for k in WEIGHT_FIELDS}), r["set_by"], r["set_at"],
                          r["note"]) for r in rows]  # fmt: skip
