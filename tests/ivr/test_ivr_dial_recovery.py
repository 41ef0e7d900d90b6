"""Callbacks and surveys are never left stuck in ``dialling`` / ``answered`` (real PostgreSQL,
real `kit.jobs` runner): a dial cancelled by ``JobRunner.stop()`` is put back without counting
the attempt, and a row left behind by a worker that died mid-Originate is reclaimed by the next
run as a failed attempt under the retry rules."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import asyncpg

from ivr.app import job_handlers
from ivr.call import IvrDeps
from ivr.callback import CALLBACK_JOB, CallbackService
from ivr.config import IvrConfig
from ivr.pg_store import PgIvrStore
from ivr.ports import (
    DialOutcome,
    InMemoryOrderDirectory,
    OriginateRequest,
    ScriptedOriginator,
    SurveyRating,
)
from ivr.store import CallbackRequest, CallbackStatus, InMemoryIvrStore, SurveyStatus
from ivr.survey_dialer import SURVEY_JOB, SurveyService
from kit.jobs import JobQueue, JobRunner

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)  # 10:00 Asia/Shanghai
NUMBER = "13900000007"


class HangingOriginator:
    """An AMI Originate that never gets its OriginateResponse (until cancelled)."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.requests: list[OriginateRequest] = []

    async def originate(self, request: OriginateRequest) -> DialOutcome:
        self.requests.append(request)
        self.started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


def make_deps(pool: asyncpg.Pool, originator: object, config: IvrConfig | None = None,
              now: datetime = NOW) -> IvrDeps:
    return IvrDeps(store=PgIvrStore(pool), orders=InMemoryOrderDirectory(),
                   jobs=JobQueue(pool), config=config or IvrConfig(),
                   originator=originator, clock=lambda: now)  # type: ignore[arg-type]


async def run_due_job(deps: IvrDeps) -> object:
    """Run the one queued job now (the test clock is fixed, the database clock is not)."""
    queue = deps.jobs
    assert isinstance(queue, JobQueue)
    await queue.pool.execute("UPDATE jobs SET run_at = now() WHERE state = 'queued'")
    job = await queue.claim([SURVEY_JOB, CALLBACK_JOB], "test-worker")
    assert job is not None, "no due job"
    result = await job_handlers(deps)[job.kind](job)
    await queue.complete(job.id, "test-worker", result)
    return result


async def stop_mid_originate(deps: IvrDeps) -> None:
    """Run the jobs in a real runner, then stop it while the Originate hangs (grace runs out,
    the runner cancels the handler and releases the job)."""
    assert isinstance(deps.jobs, JobQueue) and isinstance(deps.originator, HangingOriginator)
    runner = JobRunner(deps.jobs, job_handlers(deps), poll_interval=0.02, grace=0.05)
    runner.start()
    await asyncio.wait_for(deps.originator.started.wait(), 10)
    await runner.stop()


async def make_stale(pool: asyncpg.Pool, table: str, row_id: int, age: timedelta) -> None:
    """What a worker killed mid-dial leaves: the row untouched for ``age``."""
    await pool.execute(f"UPDATE {table} SET updated_at = now() - $2::interval WHERE id = $1",
                       row_id, age)


async def request_callback(deps: IvrDeps, number: str = NUMBER) -> int:
    req = await CallbackService(deps).request(
        call_id="pbx1-1795837952.7", caller=number, number=number, queue="hotline-general",
        choice="2", place_at=NOW - timedelta(minutes=4))
    return req.id


async def test_callback_cancelled_mid_originate_is_pending_and_dialled_next(
        pool: asyncpg.Pool) -> None:
    deps = make_deps(pool, HangingOriginator())
    rid = await request_callback(deps)
    await stop_mid_originate(deps)
    req = await deps.store.get_callback(rid)
    assert req is not None
    assert (req.status, req.attempts) == (CallbackStatus.PENDING, 0)  # attempt not counted
    assert await pool.fetchval("SELECT state FROM jobs WHERE kind = $1", CALLBACK_JOB) == "queued"
    # The next worker takes the released job and dials the citizen.
    deps.originator = ScriptedOriginator([DialOutcome.ANSWERED])
    assert await run_due_job(deps) == {"dialled": rid, "outcome": "answered", "attempt": 1}
    req = await deps.store.get_callback(rid)
    assert req is not None and (req.status, req.attempts) == (CallbackStatus.DONE, 1)


async def test_callback_left_dialling_by_dead_worker_is_reclaimed(pool: asyncpg.Pool) -> None:
    deps = make_deps(pool, ScriptedOriginator([DialOutcome.ANSWERED]))
    store = deps.store
    rid = await request_callback(deps)
    assert await store.claim_callback(rid) is not None  # the worker then died (SIGKILL)
    svc = CallbackService(deps)
    # Still within the Originate timeout + margin: maybe alive, not touched.
    await make_stale(pool, "ivr_callback_requests", rid, timedelta(seconds=60))
    assert await svc.dial_next() == {"dialled": None}
    req = await store.get_callback(rid)
    assert req is not None and req.status == CallbackStatus.DIALLING
    # Its job comes back when the lease runs out: the row is reclaimed as a failed attempt.
    await make_stale(pool, "ivr_callback_requests", rid, timedelta(minutes=5))
    assert await svc.dial_next() == {"dialled": None}  # retry not due yet
    req = await store.get_callback(rid)
    assert req is not None
    assert (req.status, req.attempts, req.last_outcome) == (CallbackStatus.PENDING, 1, "lost")
    assert req.not_before == NOW + deps.config.callback_retry_delay
    run_at = await pool.fetchval("SELECT run_at FROM jobs WHERE dedupe_key = $1",
                                 f"{CALLBACK_JOB}:{rid}:1")
    assert run_at == req.not_before  # a retry job exists
    later = CallbackService(make_deps(pool, deps.originator, now=req.not_before))
    assert await later.dial_next() == {"dialled": rid, "outcome": "answered", "attempt": 2}


async def test_abandoned_last_callback_attempt_fails_and_frees_the_number(
        pool: asyncpg.Pool) -> None:
    config = IvrConfig(callback_max_attempts=1)
    deps = make_deps(pool, ScriptedOriginator(), config)
    rid = await request_callback(deps)
    assert await deps.store.claim_callback(rid) is not None
    await make_stale(pool, "ivr_callback_requests", rid, timedelta(minutes=5))
    assert await CallbackService(deps).dial_next() == {"dialled": None}
    req = await deps.store.get_callback(rid)
    assert req is not None and (req.status, req.last_outcome) == (CallbackStatus.FAILED, "lost")
    # The open-request index no longer blocks the citizen from asking again.
    assert await request_callback(deps) != rid


async def test_late_settle_after_reclaim_changes_nothing(pool: asyncpg.Pool) -> None:
    store = PgIvrStore(pool)
    deps = make_deps(pool, ScriptedOriginator())
    rid = await request_callback(deps)
    assert await store.claim_callback(rid) is not None
    await make_stale(pool, "ivr_callback_requests", rid, timedelta(minutes=5))
    (lost,) = await store.reclaim_callbacks(timedelta(seconds=90), 3, NOW)
    assert lost.id == rid and lost.status == CallbackStatus.PENDING
    assert await store.settle_callback(rid, CallbackStatus.DONE, "answered") is False
    req = await store.get_callback(rid)
    assert req is not None and req.status == CallbackStatus.PENDING


async def test_survey_cancelled_mid_originate_is_scheduled_and_dialled_next(
        pool: asyncpg.Pool) -> None:
    deps = make_deps(pool, HangingOriginator())
    survey = await SurveyService(deps).schedule("WO20251101009", "13900000009")
    await stop_mid_originate(deps)
    job = await deps.store.get_survey(survey.id)
    assert job is not None and (job.status, job.attempts) == (SurveyStatus.SCHEDULED, 0)
    deps.originator = ScriptedOriginator([DialOutcome.NO_ANSWER])
    assert await run_due_job(deps) == {"survey": survey.id, "attempt": 1,
                                       "outcome": "no-answer"}


async def test_survey_left_dialling_by_dead_worker_is_reclaimed(pool: asyncpg.Pool) -> None:
    deps = make_deps(pool, ScriptedOriginator([DialOutcome.ANSWERED]))
    survey = await SurveyService(deps).schedule("WO20251101010", "13900000010")
    # A worker claimed it and died mid-Originate.
    await pool.execute("UPDATE ivr_surveys SET status = 'dialling', attempts = 1 WHERE id = $1",
                       survey.id)
    await make_stale(pool, "ivr_surveys", survey.id, timedelta(minutes=5))
    # Its job comes back after the lease ran out.
    assert await run_due_job(deps) == {"survey": survey.id, "attempt": 1, "outcome": "lost",
                                       "reclaimed": "dialling"}
    job = await deps.store.get_survey(survey.id)
    assert job is not None
    assert (job.status, job.attempts, job.last_outcome) == (SurveyStatus.SCHEDULED, 1, "lost")
    # Retry 2 h later (12:00 local) is moved to 14:00 local, with its job.
    assert job.next_attempt_at == datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
    assert await run_due_job(deps) == {"survey": survey.id, "attempt": 2, "outcome": "answered"}


async def test_survey_answered_without_result_is_retried_then_unreachable(
        pool: asyncpg.Pool) -> None:
    config = IvrConfig(survey_max_attempts=2)
    deps = make_deps(pool, ScriptedOriginator([DialOutcome.ANSWERED, DialOutcome.ANSWERED]),
                     config)
    orders = deps.orders
    assert isinstance(orders, InMemoryOrderDirectory)
    survey = await SurveyService(deps).schedule("WO20251101011", "13900000011")
    for attempt in (1, 2):
        assert await run_due_job(deps) == {"survey": survey.id, "attempt": attempt,
                                           "outcome": "answered"}
        # The survey AGI never runs. The check job finds it too fresh first, and looks again.
        assert await run_due_job(deps) == {"survey": survey.id, "skipped": "answered"}
        await make_stale(pool, "ivr_surveys", survey.id, timedelta(minutes=11))
        assert await run_due_job(deps) == {"survey": survey.id, "attempt": attempt,
                                           "outcome": "no-result", "reclaimed": "answered"}
    job = await deps.store.get_survey(survey.id)
    assert job is not None and (job.status, job.attempts) == (SurveyStatus.UNREACHABLE, 2)
    assert orders.survey_results["WO20251101011"] == [(None, None)]  # "no answer" on the order
    assert await deps.jobs.claim([SURVEY_JOB], "w") is None  # type: ignore[attr-defined]
    # The order is free for a new survey.
    assert (await SurveyService(deps).schedule("WO20251101011", "13900000011")).id != survey.id


async def test_rated_survey_is_left_alone_by_its_check_job(pool: asyncpg.Pool) -> None:
    deps = make_deps(pool, ScriptedOriginator([DialOutcome.ANSWERED]))
    svc = SurveyService(deps)
    survey = await svc.schedule("WO20251101012", "13900000012")
    await run_due_job(deps)
    await svc.rated("WO20251101012", SurveyRating.SATISFIED, "pbx1-1795837999.3")
    await make_stale(pool, "ivr_surveys", survey.id, timedelta(minutes=11))
    assert await run_due_job(deps) == {"survey": survey.id, "skipped": "rated"}
    job = await deps.store.get_survey(survey.id)
    assert job is not None and (job.status, job.rating) == (SurveyStatus.RATED, 1)


async def test_in_memory_store_has_the_same_recovery_rules() -> None:
    store = InMemoryIvrStore()
    req = await store.add_callback(CallbackRequest(0, "c", NUMBER, NUMBER, "q", None, NOW))
    assert await store.claim_callback(req.id) is not None
    assert await store.release_callback(req.id) is True
    again = await store.get_callback(req.id)
    assert again is not None and (again.status, again.attempts) == (CallbackStatus.PENDING, 0)
    assert await store.settle_callback(req.id, CallbackStatus.DONE, "answered") is False
    await store.claim_callback(req.id)
    assert await store.reclaim_callbacks(timedelta(hours=1), 3, NOW) == []  # fresh: kept
    assert [r.status for r in await store.reclaim_callbacks(timedelta(0), 1, NOW)] == [
        CallbackStatus.FAILED]
    job = await store.create_survey("WO1", "13900000000", 3, NOW)
    dialling = replace(job, status=SurveyStatus.DIALLING, attempts=1)
    assert await store.update_survey(dialling, expect=SurveyStatus.ANSWERED) is False
    assert await store.update_survey(dialling, expect=SurveyStatus.SCHEDULED) is True
    assert await store.update_survey(job, expect=SurveyStatus.DIALLING,
                                     idle_for=timedelta(hours=1)) is False
    assert await store.update_survey(job, expect=SurveyStatus.DIALLING,
                                     idle_for=timedelta(0)) is True
