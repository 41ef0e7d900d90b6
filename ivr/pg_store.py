"""`IvrStore` on PostgreSQL (tables of ``hotline/migrations/0300_ivr.sql``)."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg

from ivr.records import IvrCallRecord
from ivr.store import CallbackRequest, CallbackStatus, SurveyJob, SurveyStatus

# Staleness is judged by the database clock (the one that writes updated_at), so workers with
# skewed clocks agree on when a `dialling` row has been abandoned.


def _callback(r: asyncpg.Record) -> CallbackRequest:
    return CallbackRequest(
        id=r["id"], call_id=r["call_id"], caller=r["caller"], number=r["number"],
        queue=r["queue"], choice=r["choice"], place_at=r["place_at"],
        status=CallbackStatus(r["status"]), attempts=r["attempts"], not_before=r["not_before"],
        last_outcome=r["last_outcome"], updated_at=r["updated_at"])


def _survey(r: asyncpg.Record) -> SurveyJob:
    return SurveyJob(
        id=r["id"], order_number=r["order_number"], phone=r["phone"],
        status=SurveyStatus(r["status"]), attempts=r["attempts"], max_attempts=r["max_attempts"],
        next_attempt_at=r["next_attempt_at"], rating=r["rating"], last_outcome=r["last_outcome"],
        call_id=r["call_id"], updated_at=r["updated_at"])


class PgIvrStore:
    """IVR persistence over an asyncpg pool (kit.db codecs: jsonb ↔ Python)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def save_session(self, record: IvrCallRecord) -> None:
        """Upsert by (call_id, flow)."""
        await self.pool.execute(
            """
            INSERT INTO ivr_sessions (call_id, flow, caller, channel, language, started_at,
                ended_at, outcome, hung_up, left_at, choice, category, queue, order_number,
                rating, error, events)
            VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17)
            ON CONFLICT (call_id, flow) DO UPDATE SET
                ended_at = EXCLUDED.ended_at, outcome = EXCLUDED.outcome,
                hung_up = EXCLUDED.hung_up, left_at = EXCLUDED.left_at,
                choice = EXCLUDED.choice, category = EXCLUDED.category, queue = EXCLUDED.queue,
                order_number = EXCLUDED.order_number, rating = EXCLUDED.rating,
                error = EXCLUDED.error, events = EXCLUDED.events""",
            record.call_id, record.flow, record.caller, record.channel, record.language,
            record.started_at, record.ended_at,
            (record.outcome.value if record.outcome else "error"), record.hung_up,
            record.left_at, record.choice, record.category, record.queue, record.order_number,
            record.rating, record.error, record.events,
        )

    async def session(self, call_id: str, flow: str = "ivr") -> dict[str, object] | None:
        """One stored session as a dict (for the console's screen-pop and for tests)."""
        row = await self.pool.fetchrow(
            "SELECT * FROM ivr_sessions WHERE call_id = $1 AND flow = $2", call_id, flow)
        return dict(row) if row else None

    async def add_callback(self, request: CallbackRequest) -> CallbackRequest:
        """Insert, or return the number's open request (it keeps its earlier place)."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """
                INSERT INTO ivr_callback_requests (call_id, caller, number, queue, choice,
                                                   place_at)
                VALUES ($1, $2, $3, $4, $5, $6)
                ON CONFLICT (number) WHERE status IN ('pending', 'dialling') DO NOTHING
                RETURNING *""",
                request.call_id, request.caller, request.number, request.queue, request.choice,
                request.place_at)
            if row is None:
                row = await conn.fetchrow(
                    """SELECT * FROM ivr_callback_requests
                       WHERE number = $1 AND status IN ('pending', 'dialling')""",
                    request.number)
        assert row is not None
        return _callback(row)

    async def next_callback(self, now: datetime) -> CallbackRequest | None:
        """Earliest place among due pending requests."""
        row = await self.pool.fetchrow(
            """SELECT * FROM ivr_callback_requests
               WHERE status = 'pending' AND (not_before IS NULL OR not_before <= $1)
               ORDER BY place_at, id LIMIT 1""", now)
        return _callback(row) if row else None

    async def claim_callback(self, request_id: int) -> CallbackRequest | None:
        """Pending → dialling (only one worker wins)."""
        row = await self.pool.fetchrow(
            """UPDATE ivr_callback_requests
               SET status = 'dialling', attempts = attempts + 1, updated_at = now()
               WHERE id = $1 AND status = 'pending' RETURNING *""", request_id)
        return _callback(row) if row else None

    async def settle_callback(self, request_id: int, status: CallbackStatus, outcome: str,
                              not_before: datetime | None = None) -> bool:
        """Record a dial attempt's result (only on a request still ``dialling``)."""
        done = await self.pool.execute(
            """UPDATE ivr_callback_requests
               SET status = $2, last_outcome = $3, not_before = $4, updated_at = now()
               WHERE id = $1 AND status = 'dialling'""",
            request_id, status.value, outcome, not_before)
        return done.endswith(" 1")

    async def release_callback(self, request_id: int) -> bool:
        """Dialling → pending, the attempt not counted (cancelled dial)."""
        done = await self.pool.execute(
            """UPDATE ivr_callback_requests
               SET status = 'pending', attempts = greatest(attempts - 1, 0), updated_at = now()
               WHERE id = $1 AND status = 'dialling'""", request_id)
        return done.endswith(" 1")

    async def reclaim_callbacks(self, stale_after: timedelta, max_attempts: int,
                                retry_at: datetime) -> list[CallbackRequest]:
        """Abandoned ``dialling`` requests → pending at ``retry_at`` or failed (one UPDATE, so
        two workers cannot both reclaim a request)."""
        rows = await self.pool.fetch(
            """UPDATE ivr_callback_requests
               SET status = CASE WHEN attempts < $2 THEN 'pending' ELSE 'failed' END,
                   not_before = CASE WHEN attempts < $2 THEN $3::timestamptz END,
                   last_outcome = 'lost', updated_at = now()
               WHERE status = 'dialling' AND updated_at < now() - $1::interval
               RETURNING *""", stale_after, max_attempts, retry_at)
        return [_callback(r) for r in rows]

    async def get_callback(self, request_id: int) -> CallbackRequest | None:
        """One request."""
        row = await self.pool.fetchrow(
            "SELECT * FROM ivr_callback_requests WHERE id = $1", request_id)
        return _callback(row) if row else None

    async def rate_call(self, call_id: str, rating: int, caller: str) -> bool:
        """First rating of a call wins (一事一评)."""
        status = await self.pool.execute(
            """INSERT INTO ivr_call_ratings (call_id, rating, caller) VALUES ($1, $2, $3)
               ON CONFLICT (call_id) DO NOTHING""", call_id, rating, caller)
        return status.endswith(" 1")

    async def call_rating(self, call_id: str) -> int | None:
        """Stored rating."""
        value = await self.pool.fetchval(
            "SELECT rating FROM ivr_call_ratings WHERE call_id = $1", call_id)
        return int(value) if value is not None else None

    async def create_survey(self, order_number: str, phone: str, max_attempts: int,
                            next_attempt_at: datetime) -> SurveyJob:
        """New survey, or the order's unfinished one."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """
                INSERT INTO ivr_surveys (order_number, phone, max_attempts, next_attempt_at)
                VALUES ($1, $2, $3, $4)
                ON CONFLICT (order_number) WHERE status IN ('scheduled', 'dialling', 'answered')
                DO NOTHING RETURNING *""", order_number, phone, max_attempts, next_attempt_at)
            if row is None:
                row = await conn.fetchrow(
                    """SELECT * FROM ivr_surveys WHERE order_number = $1
                       AND status IN ('scheduled', 'dialling', 'answered')""", order_number)
        assert row is not None
        return _survey(row)

    async def get_survey(self, survey_id: int) -> SurveyJob | None:
        """One survey."""
        row = await self.pool.fetchrow("SELECT * FROM ivr_surveys WHERE id = $1", survey_id)
        return _survey(row) if row else None

    async def survey_for_order(self, order_number: str) -> SurveyJob | None:
        """Latest survey of the order."""
        row = await self.pool.fetchrow(
            "SELECT * FROM ivr_surveys WHERE order_number = $1 ORDER BY id DESC LIMIT 1",
            order_number)
        return _survey(row) if row else None

    async def update_survey(self, job: SurveyJob, *, expect: SurveyStatus | None = None,
                            idle_for: timedelta | None = None) -> bool:
        """Write the mutable fields (conditionally on ``expect`` / ``idle_for``)."""
        done = await self.pool.execute(
            """UPDATE ivr_surveys SET status = $2, attempts = $3, next_attempt_at = $4,
                      rating = $5, last_outcome = $6, call_id = $7, updated_at = now()
               WHERE id = $1 AND ($8::text IS NULL OR status = $8)
                 AND ($9::interval IS NULL OR updated_at <= now() - $9::interval)""",
            job.id, job.status.value, job.attempts, job.next_attempt_at, job.rating,
            job.last_outcome, job.call_id, expect.value if expect else None, idle_for)
        return done.endswith(" 1")
