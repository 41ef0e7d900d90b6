"""SQL of the call-centre statistics: sums per queue and local hour over the call store
(``calls``, migration 0200, written by :mod:`pbx.calls.store`) and the agent state log
(``agent_state_log``, migration 0250, written by the console's agent board).

Only sums and counts leave the database; the rates are computed from them by
:mod:`analytics.call_stats`, so that totals over several hours or queues are exact (a total
is a sum of sums, never an average of averages).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields

import asyncpg

from pbx.dialplan import SERVICE_LEVEL_SECONDS

LOCAL_HOUR = "date_trunc('hour', {ts} AT TIME ZONE 'Asia/Shanghai') AT TIME ZONE 'Asia/Shanghai'"
"""The start of the Asia/Shanghai hour holding ``{ts}``, independent of the session time zone."""

SPAN = "tstzrange(l.started_at, coalesce(l.ended_at, 'infinity'), '[]')"
"""The time an ``agent_state_log l`` row covers (still open: until further notice), closed so that
a zero-length row is a point. Exactly the expression of the GiST index ``agent_state_log_span``
(migration 0530): the rows overlapping a range are found as ``SPAN && tstzrange(from, to, '()')``
through the index, bounded on both sides, instead of every row that ended after ``from``."""


@dataclass(slots=True)
class Sums:
    """Additive figures of one bucket (a queue × hour, a queue, an hour, or everything)."""

    offered: int = 0  # answered + abandoned + left for a callback
    answered: int = 0
    answered_in_sl: int = 0  # answered within SERVICE_LEVEL_SECONDS of joining the queue
    abandoned: int = 0
    callback_requested: int = 0
    answered_waits: int = 0  # answered calls whose queue wait is known
    wait_answered_s: float = 0.0  # total queue wait of those
    handled: int = 0  # answered calls that ended (their handling time is known)
    talk_s: float = 0.0
    wrapup_s: float = 0.0
    busy_s: float = 0.0  # agents on a call or in wrap-up (话后处理)
    staffed_s: float = 0.0  # agents logged in and not paused: available, ringing, busy

    def add(self, other: Sums) -> None:
        """Add ``other`` into this one."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


# $1, $2: [from, to). $3: one queue or NULL. Calls are counted in the hour they joined the queue.
# A call with no settled outcome yet (still waiting) or lost while the AMI link was down without
# an agent (ended_during_disconnect) is not offered: its outcome is unknown.
_CALLS = f"""
WITH wrap AS (             -- wrap-up rows of the agent state log, tied to the call before them
    SELECT x.prev_call AS call_id, sum(extract(epoch FROM x.ended_at - x.started_at)) AS wrap_s
    FROM (
        SELECT l.state, l.started_at, l.ended_at,
               lag(l.call_id) OVER w AS prev_call, lag(l.state) OVER w AS prev_state
        FROM agent_state_log l
        -- the rows overlapping [from, to + 1 day): ended after from, started before to + 1 day
        WHERE {SPAN} && tstzrange($1::timestamptz, $2::timestamptz + interval '1 day', '()')
        WINDOW w AS (PARTITION BY l.agent_id ORDER BY l.started_at, l.id)
    ) x
    WHERE x.state = 'wrap_up' AND x.prev_state = 'on_call' AND x.ended_at IS NOT NULL
    GROUP BY x.prev_call
),
c AS (
    SELECT c.server || ':' || c.linkedid AS call_id, c.queue,
           {LOCAL_HOUR.format(ts="c.queue_joined_at")} AS hour,
           -- answered by an agent, also one a resync could not name (disposition only)
           c.agent IS NOT NULL OR (c.direction = 'inbound' AND c.disposition = 'answered')
               AS answered,
           c.agent IS NULL AND c.disposition = 'abandoned' AS abandoned,
           c.agent IS NULL AND c.disposition = 'callback_requested' AS callback,
           coalesce(c.wait_seconds, c.hold_seconds) AS wait_s,
           CASE WHEN c.ended_at IS NOT NULL
                THEN coalesce(c.talk_seconds::double precision,
                              extract(epoch FROM c.ended_at - c.answered_at)) END AS talk_s
    FROM calls c
    -- citizens' calls only: a 留号回拨 callback we dial also waits in a queue for an agent,
    -- but it is not an offered call (its agent time still counts in occupancy below)
    WHERE c.queue IS NOT NULL AND c.direction = 'inbound'
      AND c.queue_joined_at >= $1::timestamptz AND c.queue_joined_at < $2::timestamptz
      AND c.started_at >= $1::timestamptz - interval '1 day' AND c.started_at < $2::timestamptz
      AND ($3::text IS NULL OR c.queue = $3::text)
)
SELECT c.queue, c.hour,
    count(*) FILTER (WHERE c.answered OR c.abandoned OR c.callback) AS offered,
    count(*) FILTER (WHERE c.answered) AS answered,
    count(*) FILTER (WHERE c.answered AND c.wait_s <= {SERVICE_LEVEL_SECONDS}) AS answered_in_sl,
    count(*) FILTER (WHERE c.abandoned) AS abandoned,
    count(*) FILTER (WHERE c.callback) AS callback_requested,
    count(*) FILTER (WHERE c.answered AND c.wait_s IS NOT NULL) AS answered_waits,
    coalesce(sum(c.wait_s) FILTER (WHERE c.answered), 0) AS wait_answered_s,
    count(*) FILTER (WHERE c.answered AND c.talk_s IS NOT NULL) AS handled,
    coalesce(sum(c.talk_s) FILTER (WHERE c.answered AND c.talk_s IS NOT NULL), 0) AS talk_s,
    coalesce(sum(w.wrap_s) FILTER (WHERE c.answered AND c.talk_s IS NOT NULL), 0) AS wrapup_s
FROM c LEFT JOIN wrap w ON w.call_id = c.call_id
GROUP BY c.queue, c.hour
"""

# $1, $2: [from, to). $3: one queue or NULL. $4: now (rows still open count up to it).
# Each state row is cut to [from, min(to, now)) and then at local hour boundaries: a row yields
# one part per hour it overlaps (a lateral series, not a join of every row with every hour).
_STAFFED_ROWS = f"""
    SELECT l.agent_id, l.state, l.queues, h.hour,
           extract(epoch FROM least(h.hour + interval '1 hour', x.e) - greatest(h.hour, x.s))
               AS secs
    FROM agent_state_log l
    CROSS JOIN LATERAL (SELECT greatest($1::timestamptz, l.started_at) AS s,
                               least($2::timestamptz, coalesce(l.ended_at, $4::timestamptz)) AS e
                       ) AS x
    CROSS JOIN LATERAL generate_series({LOCAL_HOUR.format(ts="x.s")},
                                       x.e - interval '1 microsecond', interval '1 hour') AS h(hour)
    WHERE l.state IN ('available', 'ringing', 'on_call', 'wrap_up')
      AND {SPAN} && tstzrange($1::timestamptz, $2::timestamptz, '()')  -- overlaps [from, to)
      AND cardinality(l.queues) > 0
      AND ($3::text IS NULL OR $3::text = ANY (l.queues))
"""

_OCCUPANCY_BY_QUEUE = f"""
SELECT q.queue, s.hour,
    coalesce(sum(s.secs) FILTER (WHERE s.state IN ('on_call', 'wrap_up')), 0) AS busy_s,
    sum(s.secs) AS staffed_s
FROM ({_STAFFED_ROWS}) s CROSS JOIN LATERAL unnest(s.queues) AS q(queue)
WHERE $3::text IS NULL OR q.queue = $3::text
GROUP BY q.queue, s.hour
"""

# Across queues every agent counts once (an agent in three queues is not three agents).
_OCCUPANCY_BY_HOUR = f"""
SELECT s.hour,
    coalesce(sum(s.secs) FILTER (WHERE s.state IN ('on_call', 'wrap_up')), 0) AS busy_s,
    sum(s.secs) AS staffed_s
FROM ({_STAFFED_ROWS}) s
GROUP BY s.hour
"""

Key = tuple[str, dt.datetime]


async def call_sums(
    pool: asyncpg.Pool, start: dt.datetime, end: dt.datetime, queue: str | None,
) -> dict[Key, Sums]:  # fmt: skip
    """Call figures per ``(queue, local hour start)``."""
    out: dict[Key, Sums] = {}
    for r in await pool.fetch(_CALLS, start, end, queue):
        out[(r["queue"], r["hour"])] = Sums(
            offered=r["offered"], answered=r["answered"], answered_in_sl=r["answered_in_sl"],
            abandoned=r["abandoned"], callback_requested=r["callback_requested"],
            answered_waits=r["answered_waits"], wait_answered_s=float(r["wait_answered_s"]),
            handled=r["handled"],
            talk_s=float(r["talk_s"]), wrapup_s=float(r["wrapup_s"]),
        )  # fmt: skip
    return out


async def occupancy_sums(
    pool: asyncpg.Pool, start: dt.datetime, end: dt.datetime, queue: str | None,
    now: dt.datetime,
) -> tuple[dict[Key, Sums], dict[dt.datetime, Sums]]:  # fmt: skip
    """Agent seconds busy / staffed per ``(queue, hour)`` and per hour across queues."""
    args = (start, end, queue, now)
    by_queue = {
        (r["queue"], r["hour"]): Sums(busy_s=float(r["busy_s"]), staffed_s=float(r["staffed_s"]))
        for r in await pool.fetch(_OCCUPANCY_BY_QUEUE, *args)
    }
    by_hour = {
        r["hour"]: Sums(busy_s=float(r["busy_s"]), staffed_s=float(r["staffed_s"]))
        for r in await pool.fetch(_OCCUPANCY_BY_HOUR, *args)
    }
    return by_queue, by_hour
