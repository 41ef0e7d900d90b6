"""办结回访 calls wait for the end of a statutory holiday (real calendar, real PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from ivr.call import IvrDeps
from ivr.config import IvrConfig
from ivr.pg_store import PgIvrStore
from ivr.ports import InMemoryOrderDirectory
from ivr.survey_dialer import SURVEY_JOB, SurveyService
from kit.jobs import JobQueue
from workflow.calendar import CalendarOverrides, StatutoryCalendar

SH = ZoneInfo("Asia/Shanghai")
CAL = StatutoryCalendar(CalendarOverrides.of([(date(2027, 2, 10), False)]))


async def is_holiday(day: date) -> bool:
    return CAL.is_public_holiday(day)


@pytest.mark.parametrize(("day", "expected"), [
    (date(2026, 10, 1), True),    # 国庆节, a Thursday
    (date(2026, 10, 3), True),    # the Saturday inside the National Day period
    (date(2026, 10, 8), False),   # back to work
    (date(2026, 10, 10), False),  # 调休: a Saturday worked for National Day
    (date(2026, 10, 17), False),  # an ordinary Saturday is not a holiday
    (date(2026, 2, 17), True),    # 春节
    (date(2027, 1, 1), True),     # a year chinesecalendar does not know: the fixed-date rule
    (date(2027, 2, 10), True),    # ... and a weekday off entered by an admin
    (date(2027, 2, 13), False),   # an ordinary Saturday of that year
])
def test_public_holidays(day: date, expected: bool) -> None:
    assert CAL.is_public_holiday(day) is expected


def deps(pool: asyncpg.Pool, now: datetime, **config: object) -> IvrDeps:
    return IvrDeps(store=PgIvrStore(pool), orders=InMemoryOrderDirectory(), jobs=JobQueue(pool),
                   config=replace(IvrConfig(), **config), clock=lambda: now,  # type: ignore[arg-type]
                   holiday=is_holiday)


async def test_survey_of_an_order_closed_on_national_day_waits_for_the_first_working_morning(
        pool: asyncpg.Pool) -> None:
    now = datetime(2026, 10, 2, 10, 30, tzinfo=SH).astimezone(UTC)
    job = await SurveyService(deps(pool, now)).schedule("CZ20261002-000001", "13900000021")
    assert job.next_attempt_at.astimezone(SH) == datetime(2026, 10, 8, 9, 0, tzinfo=SH)
    run_at = await pool.fetchval("SELECT run_at FROM jobs WHERE kind = $1 AND payload->>'survey_id'"
                                 " = $2", SURVEY_JOB, str(job.id))
    assert run_at == job.next_attempt_at


async def test_a_job_that_comes_due_on_a_holiday_is_moved_not_dialled(pool: asyncpg.Pool) -> None:
    # Scheduled before the holiday (e.g. by a retry), run on 2026-10-01: deferred, no attempt.
    before = datetime(2026, 9, 30, 19, 0, tzinfo=SH).astimezone(UTC)
    job = await SurveyService(deps(pool, before)).schedule("CZ20260930-000002", "13900000022")
    assert job.next_attempt_at == before
    on_holiday = datetime(2026, 10, 1, 9, 30, tzinfo=SH).astimezone(UTC)
    out = await SurveyService(deps(pool, on_holiday)).dial(job.id)
    assert datetime.fromisoformat(out["deferred_to"]) == datetime(2026, 10, 8, 9, 0, tzinfo=SH)
    stored = await PgIvrStore(pool).get_survey(job.id)
    assert stored is not None and stored.attempts == 0


async def test_holiday_calls_can_be_allowed(pool: asyncpg.Pool) -> None:
    now = datetime(2026, 10, 2, 10, 30, tzinfo=SH).astimezone(UTC)
    svc = SurveyService(deps(pool, now, survey_on_holidays=True))
    job = await svc.schedule("CZ20261002-000003", "13900000023")
    assert job.next_attempt_at == now
