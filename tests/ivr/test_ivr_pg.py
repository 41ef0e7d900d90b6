"""The IVR's PostgreSQL store and its durable dialling jobs (kit.jobs), on a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from ivr.app import job_handlers
from ivr.call import IvrDeps
from ivr.callback import CALLBACK_JOB, CallbackService
from ivr.config import IvrConfig
from ivr.pg_store import PgIvrStore
from ivr.ports import DialOutcome, InMemoryOrderDirectory, ScriptedOriginator, SurveyRating
from ivr.records import IvrCallRecord, Outcome
from ivr.store import CallbackRequest, CallbackStatus, SurveyStatus
from ivr.survey_dialer import SURVEY_JOB, SurveyService
from kit.jobs import JobQueue

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)  # 10:00 Asia/Shanghai


def deps_for(pool: asyncpg.Pool, outcomes: list[DialOutcome] | None = None,
             now: datetime = NOW) -> IvrDeps:
    return IvrDeps(store=PgIvrStore(pool), orders=InMemoryOrderDirectory(),
                   jobs=JobQueue(pool), config=IvrConfig(),
                   originator=ScriptedOriginator(outcomes), clock=lambda: now)


async def test_session_upsert_keeps_events_and_left_step(pool: asyncpg.Pool) -> None:
    store = PgIvrStore(pool)
    rec = IvrCallRecord(call_id="pbx1-1.1", flow="ivr", caller="13800138000")
    rec.enter("menu")
    rec.note_input("2")
    await store.save_session(rec)
    rec.enter("transfer")
    rec.hung_up = True
    rec.finish(Outcome.HANGUP)
    rec.choice, rec.queue = "2", "hotline-general"
    await store.save_session(rec)
    row = await store.session("pbx1-1.1")
    assert row is not None
    assert (row["outcome"], row["hung_up"], row["left_at"], row["choice"]) == (
        "hangup", True, "transfer", "2")
    assert [e["step"] for e in row["events"]] == ["menu", "menu", "transfer"]
    assert await pool.fetchval("SELECT count(*) FROM ivr_sessions") == 1


async def test_callback_requests_keep_place_and_order(pool: asyncpg.Pool) -> None:
    store = PgIvrStore(pool)

    def req(number: str, minutes: int) -> CallbackRequest:
        return CallbackRequest(0, f"c{number}", number, number, "hotline-general", "2",
                               NOW + timedelta(minutes=minutes))

    late = await store.add_callback(req("13900000002", 5))
    early = await store.add_callback(req("13900000001", 1))
    again = await store.add_callback(req("13900000002", 9))  # asks again: same request
    assert again.id == late.id and again.place_at == late.place_at
    nxt = await store.next_callback(NOW)
    assert nxt is not None and nxt.id == early.id
    claimed = await store.claim_callback(early.id)
    assert claimed is not None and claimed.attempts == 1
    assert await store.claim_callback(early.id) is None  # only one worker wins
    await store.settle_callback(early.id, CallbackStatus.PENDING, "no-answer",
                                NOW + timedelta(minutes=5))
    nxt = await store.next_callback(NOW)
    assert nxt is not None and nxt.id == late.id  # early one waits for its retry time
    with pytest.raises(asyncpg.CheckViolationError):
        await store.add_callback(req("12ab", 0))


async def test_one_rating_per_call(pool: asyncpg.Pool) -> None:
    store = PgIvrStore(pool)
    assert await store.rate_call("pbx1-9.9", 3, "13800138000") is True
    assert await store.rate_call("pbx1-9.9", 1, "13800138000") is False
    assert await store.call_rating("pbx1-9.9") == 3
    with pytest.raises(asyncpg.CheckViolationError):
        await store.rate_call("pbx1-9.10", 4, "")
    assert await store.call_rating("pbx1-9.10") is None


async def run_due_job(queue: JobQueue, deps: IvrDeps) -> object:
    job = await queue.claim([SURVEY_JOB, CALLBACK_JOB], "test-worker")
    assert job is not None
    result = await job_handlers(deps)[job.kind](job)
    await queue.complete(job.id, "test-worker", result)
    return result


async def test_survey_retry_rules_with_real_jobs(pool: asyncpg.Pool) -> None:
    outcomes = [DialOutcome.NO_ANSWER, DialOutcome.BUSY, DialOutcome.NO_ANSWER]
    deps = deps_for(pool, outcomes)
    svc = SurveyService(deps)
    survey = await svc.schedule("WO20251101007", "13900000000")
    assert (await svc.schedule("WO20251101007", "13900000000")).id == survey.id  # idempotent
    queue = deps.jobs
    assert isinstance(queue, JobQueue)
    assert await pool.fetchval("SELECT count(*) FROM jobs WHERE kind = $1", SURVEY_JOB) == 1
    first = await run_due_job(queue, deps)
    assert first == {"survey": survey.id, "attempt": 1, "outcome": "no-answer"}
    job = await deps.store.get_survey(survey.id)
    assert job is not None and job.status == SurveyStatus.SCHEDULED and job.attempts == 1
    # Retry 2 h later (12:00 local) falls outside the windows → moved to 14:00 local.
    assert job.next_attempt_at == datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
    runs = await pool.fetch("SELECT run_at FROM jobs WHERE kind = $1 AND state = 'queued'",
                            SURVEY_JOB)
    assert [r["run_at"] for r in runs] == [job.next_attempt_at]
    # Make the retries due now and run them: busy, then no answer → out of attempts.
    for _ in range(2):
        await pool.execute("UPDATE jobs SET run_at = now() WHERE state = 'queued'")
        await run_due_job(queue, deps)
    job = await deps.store.get_survey(survey.id)
    assert job is not None and job.status == SurveyStatus.UNREACHABLE and job.attempts == 3
    orders = deps.orders
    assert isinstance(orders, InMemoryOrderDirectory)
    assert orders.survey_results["WO20251101007"] == [(None, None)]
    assert await queue.claim([SURVEY_JOB], "w") is None
    originator = deps.originator
    assert isinstance(originator, ScriptedOriginator)
    req = originator.requests[0]
    assert (req.channel, req.context, req.exten) == (
        "PJSIP/13900000000@carrier-trunk", "hotline-outbound", "survey")
    assert req.variables == {"SURVEY_ORDER": "WO20251101007", "SURVEY_ID": str(survey.id)}


async def test_survey_outside_hours_defers_without_attempt(pool: asyncpg.Pool) -> None:
    night = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)  # 23:00 local
    deps = deps_for(pool, now=night)
    svc = SurveyService(deps)
    survey = await svc.schedule("WO1", "13900000000")
    tomorrow_9 = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
    assert survey.next_attempt_at == tomorrow_9
    result = await svc.dial(survey.id)
    assert result == {"survey": survey.id, "deferred_to": tomorrow_9.isoformat()}
    job = await deps.store.get_survey(survey.id)
    assert job is not None and job.attempts == 0 and job.status == SurveyStatus.SCHEDULED
    assert deps.originator.requests == []  # type: ignore[union-attr]


async def test_survey_answered_then_rated(pool: asyncpg.Pool) -> None:
    deps = deps_for(pool, [DialOutcome.ANSWERED])
    svc = SurveyService(deps)
    survey = await svc.schedule("WO2", "13900000000")
    await svc.dial(survey.id)
    job = await deps.store.get_survey(survey.id)
    assert job is not None and job.status == SurveyStatus.ANSWERED
    await svc.rated("WO2", SurveyRating.SATISFIED, "uuid-1")
    job = await deps.store.get_survey(survey.id)
    assert job is not None and (job.status, job.rating, job.call_id) == (
        SurveyStatus.RATED, 1, "uuid-1")
    assert await svc.dial(survey.id) == {"survey": survey.id, "skipped": "rated"}
    with pytest.raises(ValueError):
        await svc.schedule("WO3", "not a phone")


class Probe:
    def __init__(self, free: bool) -> None:
        self.free = free

    async def has_free_agent(self, queue: str) -> bool:
        return self.free


async def test_callbacks_dialled_in_place_order_with_retries(pool: asyncpg.Pool) -> None:
    deps = deps_for(pool, [DialOutcome.ANSWERED, DialOutcome.NO_ANSWER, DialOutcome.ANSWERED])
    svc = CallbackService(deps)
    second = await svc.request(call_id="c2", caller="13900000002", number="13900000002",
                               queue="hotline-general", choice="2",
                               place_at=NOW - timedelta(minutes=3))
    first = await svc.request(call_id="c1", caller="13900000001", number="13900000001",
                              queue="hotline-bizenv", choice="6",
                              place_at=NOW - timedelta(minutes=9))
    deps.queue_probe = Probe(False)
    assert await svc.dial_next() == {"dialled": None, "waiting_for_agent": first.id}
    deps.queue_probe = Probe(True)
    assert (await svc.dial_next())["dialled"] == first.id      # earliest place first
    assert (await svc.dial_next())["dialled"] == second.id     # no answer → retry later
    again = await deps.store.get_callback(second.id)
    assert again is not None and again.status == CallbackStatus.PENDING
    assert again.not_before == NOW + deps.config.callback_retry_delay
    assert await svc.dial_next() == {"dialled": None}          # not due yet
    done = await deps.store.get_callback(first.id)
    assert done is not None and done.status == CallbackStatus.DONE
    req = deps.originator.requests[0]  # type: ignore[union-attr]
    assert (req.channel, req.context, req.exten, req.variables["HOTLINE_QUEUE"]) == (
        "PJSIP/13900000001@carrier-trunk", "hotline-outbound", "callback", "hotline-bizenv")
    assert req.variables["HOTLINE_CALLBACK_FOR"] == "c1"
    kinds = await pool.fetch("SELECT dedupe_key FROM jobs WHERE kind = $1 ORDER BY id",
                             CALLBACK_JOB)
    assert len(kinds) == 4  # two requests, one wait-for-agent, one retry
    with pytest.raises(ValueError):
        await svc.request(call_id="c", caller="", number="12", queue="q", choice=None,
                          place_at=NOW)
