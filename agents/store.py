"""PostgreSQL side of agents: the agent registry, the intended queue logins and pause, the
state log (time in state) and per-queue call outcomes (migration 0250)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import asyncpg

from kit.errors import Conflict, NotFound, Unprocessable

TZ = dt.timezone(dt.timedelta(hours=8))  # Asia/Shanghai, no DST: "today" for the wallboard


@dataclass(frozen=True, slots=True)
class AgentRow:
    """An agent as stored, with the queues the backend intends it to be logged in to."""

    id: int
    user_id: int
    username: str
    server: str
    interface: str
    extension: str
    member_name: str
    paused: bool
    pause_reason: str
    queues: tuple[str, ...]


def _ts(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC)


def today_start(now: float) -> float:
    """Epoch of local (UTC+8) midnight of the day containing ``now``."""
    local = dt.datetime.fromtimestamp(now, TZ)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


_SELECT = """
SELECT a.*, u.username,
       coalesce(array_agg(l.queue ORDER BY l.queue) FILTER (WHERE l.queue IS NOT NULL), '{}')
           AS queues
  FROM agents a JOIN users u ON u.id = a.user_id
  LEFT JOIN agent_queue_logins l ON l.agent_id = a.id
"""


def _row(r: asyncpg.Record) -> AgentRow:
    return AgentRow(
        r["id"], r["user_id"], r["username"], r["server"], r["interface"], r["extension"],
        r["member_name"], r["paused"], r["pause_reason"], tuple(r["queues"]),
    )


class AgentStore:
    """Agents in PostgreSQL."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def all(self) -> list[AgentRow]:
        """Every agent."""
        rows = await self.pool.fetch(_SELECT + " GROUP BY a.id, u.username ORDER BY a.id")
        return [_row(r) for r in rows]

    async def get(self, agent_id: int) -> AgentRow:
        """One agent; 404 when unknown."""
        r = await self.pool.fetchrow(_SELECT + " WHERE a.id = $1 GROUP BY a.id, u.username",
                                     agent_id)
        if r is None:
            raise NotFound(f"坐席 {agent_id} 不存在", code="unknown_agent")
        return _row(r)

    async def by_user(self, user_id: int) -> AgentRow | None:
        """The agent linked to a user, if any."""
        r = await self.pool.fetchrow(
            _SELECT + " WHERE a.user_id = $1 GROUP BY a.id, u.username", user_id
        )
        return _row(r) if r is not None else None

    async def create(
        self, user_id: int, server: str, interface: str, extension: str, member_name: str
    ) -> AgentRow:
        """Link a user to a phone. 404 unknown user, 409 user or interface already an agent,
        422 when the user is not platform staff."""
        async with self.pool.acquire() as conn, conn.transaction():
            user = await conn.fetchrow("SELECT role, active FROM users WHERE id = $1", user_id)
            if user is None:
                raise NotFound(f"用户 {user_id} 不存在", code="unknown_user")
            if user["role"] not in ("agent", "supervisor", "admin"):
                raise Unprocessable("只有平台话务人员可以成为坐席 (agent, supervisor, admin)",
                                    code="not_platform_staff")
            try:
                agent_id = await conn.fetchval(
                    """INSERT INTO agents (user_id, server, interface, extension, member_name)
                       VALUES ($1, $2, $3, $4, $5) RETURNING id""",
                    user_id, server, interface, extension, member_name,
                )
            except asyncpg.UniqueViolationError:
                raise Conflict("该用户或话机已登记为坐席", code="agent_exists") from None
            except asyncpg.CheckViolationError:
                raise Unprocessable(f"话机接口格式错误: {interface!r} (如 PJSIP/agent1001)",
                                    code="bad_interface") from None
        return await self.get(agent_id)

    async def set_queue(self, agent_id: int, queue: str, logged_in: bool, penalty: int = 0) -> None:
        """Record the intent to be (or not be) logged in to ``queue``."""
        if logged_in:
            await self.pool.execute(
                """INSERT INTO agent_queue_logins (agent_id, queue, penalty) VALUES ($1, $2, $3)
                   ON CONFLICT (agent_id, queue) DO UPDATE SET penalty = excluded.penalty""",
                agent_id, queue, penalty,
            )
        else:
            await self.pool.execute(
                "DELETE FROM agent_queue_logins WHERE agent_id = $1 AND queue = $2",
                agent_id, queue,
            )

    async def set_pause(self, agent_id: int, paused: bool, reason: str) -> None:
        """Record the intended pause state."""
        await self.pool.execute(
            "UPDATE agents SET paused = $2, pause_reason = $3, updated_at = now() WHERE id = $1",
            agent_id, paused, reason if paused else "",
        )

    # ------------------------------------------------------------------ state log
    async def log_states(
        self, rows: list[tuple[int, str, str, str | None, list[str], float]]
    ) -> None:
        """Several state changes ``(agent_id, state, reason, call_id, queues, at)`` in order, in
        one transaction (a burst of 200 rings is 200 changes: one round trip, not 400)."""
        if not rows:
            return
        args = [(aid, st, reason, cid, queues, _ts(at))
                for aid, st, reason, cid, queues, at in rows]
        async with self.pool.acquire() as conn, conn.transaction():
            # Close the open row and open the new one in one statement per change; rows of one
            # agent are applied in order (executemany runs them sequentially).
            await conn.executemany(
                """WITH closed AS (
                       UPDATE agent_state_log SET ended_at = greatest($6, started_at)
                        WHERE agent_id = $1 AND ended_at IS NULL RETURNING id)
                   INSERT INTO agent_state_log (agent_id, state, reason, call_id, queues,
                                                started_at)
                   SELECT $1, $2, $3, $4, $5, $6 FROM (SELECT count(*) FROM closed) AS c""",
                args,
            )

    async def state_log(self, agent_id: int, limit: int = 200) -> list[dict[str, Any]]:
        """The latest state rows of an agent, newest first, with ``seconds`` in state."""
        rows = await self.pool.fetch(
            """SELECT state, reason, call_id, queues, started_at, ended_at,
                      extract(epoch FROM coalesce(ended_at, now()) - started_at) AS seconds
                 FROM agent_state_log WHERE agent_id = $1
                ORDER BY started_at DESC, id DESC LIMIT $2""",
            agent_id, limit,
        )
        return [dict(r) for r in rows]

    async def time_in_state(self, agent_id: int, since: float) -> dict[str, float]:
        """Seconds spent in each state since ``since`` (epoch), open row counted up to now."""
        rows = await self.pool.fetch(
            """SELECT state, sum(extract(epoch FROM coalesce(ended_at, now())
                                        - greatest(started_at, $2))) AS s
                 FROM agent_state_log
                WHERE agent_id = $1 AND coalesce(ended_at, now()) > $2
                GROUP BY state""",
            agent_id, _ts(since),
        )
        return {r["state"]: round(float(r["s"]), 3) for r in rows}

    # ------------------------------------------------------------------ queue outcomes
    async def record_outcome(
        self, server: str, linkedid: str, queue: str, outcome: str, wait_s: float | None,
        at: float,
    ) -> None:
        """Answered / abandoned, once per call and queue (duplicates ignored)."""
        await self.pool.execute(
            """INSERT INTO queue_call_outcomes (server, linkedid, queue, outcome, wait_s, at)
               VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING""",
            server, linkedid, queue, outcome, wait_s, _ts(at),
        )

    async def outcomes_since(self, since: float) -> list[tuple[str, str, str, str, float | None]]:
        """(server, linkedid, queue, outcome, wait_s) rows since ``since`` (epoch)."""
        rows = await self.pool.fetch(
            """SELECT server, linkedid, queue, outcome, wait_s FROM queue_call_outcomes
                WHERE at >= $1""",
            _ts(since),
        )
        return [(r["server"], r["linkedid"], r["queue"], r["outcome"], r["wait_s"]) for r in rows]
