"""Outbound 办结回访 dialling (第十一条(五)): a durable job per attempt with retry rules.

* :meth:`SurveyService.schedule` when an order is closed → a survey row plus a
  :data:`SURVEY_JOB` job at the next allowed calling time.
* The job (:meth:`SurveyService.dial`) originates ``PJSIP/<phone>@trunk`` into
  ``hotline-outbound,survey`` with ``SURVEY_ORDER`` and ``SURVEY_ID`` set (the dialplan passes
  ``SURVEY_ORDER`` to ``agi://…/survey``). Outside the allowed hours it only reschedules.
* No answer / busy / failure / hang-up before rating → another attempt after
  ``survey_retry_delay``, moved into the allowed hours, at most ``survey_max_attempts`` dials;
  then the order gets "no answer" (rating ``None``).
* A claimed survey is always settled: a dial cancelled by shutdown goes back to ``scheduled``
  without counting the attempt; a survey left ``dialling`` by a worker that died mid-Originate
  (its job comes back when the lease runs out), or ``answered`` with no result from the survey
  AGI (a check job follows every answered call), is a failed attempt under the retry rules.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ivr.call import IvrDeps
from ivr.hours import next_allowed
from ivr.ports import DialOutcome, OriginateRequest, SurveyRating
from ivr.store import SurveyJob, SurveyStatus

log = logging.getLogger(__name__)

SURVEY_JOB = "ivr.survey.dial"


class SurveyService:
    """Schedules, dials and settles outbound satisfaction surveys."""

    def __init__(self, deps: IvrDeps) -> None:
        self.deps = deps
        self.config = deps.config

    async def _allowed(self, when: datetime) -> datetime:
        """The first instant from ``when`` inside the calling hours and, unless configured
        otherwise, not on a statutory holiday (a whole holiday period is skipped)."""
        cfg = self.config
        at = next_allowed(when, cfg.survey_hours, cfg.timezone)
        if cfg.survey_on_holidays or self.deps.holiday is None:
            return at
        zone = ZoneInfo(cfg.timezone)
        for _ in range(60):  # the longest holiday period is 8-9 days; bounded all the same
            local = at.astimezone(zone)
            if not await self.deps.holiday(local.date()):
                return at
            next_day = datetime.combine(local.date() + timedelta(days=1), time(0), zone)
            at = next_allowed(next_day.astimezone(when.tzinfo), cfg.survey_hours, cfg.timezone)
        return at

    async def _enqueue(self, job: SurveyJob) -> None:
        await self.deps.jobs.enqueue(SURVEY_JOB, {"survey_id": job.id},
                                     run_at=job.next_attempt_at,
                                     dedupe_key=f"{SURVEY_JOB}:{job.id}:{job.attempts}")

    async def schedule(self, order_number: str, phone: str) -> SurveyJob:
        """Plan the survey of a closed order (idempotent while one is unfinished)."""
        order_number, phone = order_number.strip(), phone.strip()
        if not order_number or not phone.isdigit():
            raise ValueError("a survey needs an order number and a digits-only phone number")
        job = await self.deps.store.create_survey(
            order_number, phone, self.config.survey_max_attempts,
            await self._allowed(self.deps.clock()))
        if job.status == SurveyStatus.SCHEDULED:
            await self._enqueue(job)
        return job

    async def dial(self, survey_id: int) -> dict[str, Any]:
        """One dialling attempt (the job handler). Idempotent: a settled survey is left alone."""
        store, now = self.deps.store, self.deps.clock()
        job = await store.get_survey(survey_id)
        if job is not None and job.status in (SurveyStatus.DIALLING, SurveyStatus.ANSWERED):
            return await self._reclaim(job, now)
        if job is None or job.status != SurveyStatus.SCHEDULED:
            return {"survey": survey_id, "skipped": job.status.value if job else "missing"}
        allowed = await self._allowed(now)
        if allowed != now:
            # Outside calling hours: move, do not count an attempt.
            job = replace(job, next_attempt_at=allowed)
            await store.update_survey(job)
            await self.deps.jobs.enqueue(SURVEY_JOB, {"survey_id": job.id}, run_at=allowed,
                                         dedupe_key=f"{SURVEY_JOB}:{job.id}:{job.attempts}:"
                                                    f"{int(allowed.timestamp())}")
            return {"survey": survey_id, "deferred_to": allowed.isoformat()}
        if self.deps.originator is None:
            raise RuntimeError("no AMI originator configured for surveys")
        scheduled = job
        job = replace(job, status=SurveyStatus.DIALLING, attempts=job.attempts + 1)
        if not await store.update_survey(job, expect=SurveyStatus.SCHEDULED):
            return {"survey": survey_id, "skipped": "taken"}  # another worker claimed it
        try:
            outcome = await self.deps.originator.originate(OriginateRequest(
                channel=self.config.callback_trunk.format(number=job.phone),
                context=self.config.survey_context, exten=self.config.survey_exten,
                timeout_s=self.config.originate_timeout_s,
                variables={"SURVEY_ORDER": job.order_number, "SURVEY_ID": str(job.id)}))
        except asyncio.CancelledError:
            # Shutdown mid-Originate: back to scheduled, the attempt not counted; the runner
            # releases this job and the next worker dials again.
            await asyncio.shield(store.update_survey(scheduled, expect=SurveyStatus.DIALLING))
            raise
        except Exception:
            log.exception("survey %s: Originate raised; counted as a failed dial", job.id)
            outcome = DialOutcome.FAILED
        # Shielded: a cancellation now must not lose the outcome of a dial that took place.
        await asyncio.shield(self._settle(job, outcome, now))
        return {"survey": survey_id, "attempt": job.attempts, "outcome": outcome.value}

    async def _settle(self, job: SurveyJob, outcome: DialOutcome, now: datetime) -> None:
        if outcome != DialOutcome.ANSWERED:
            await self._retry_or_give_up(replace(job, last_outcome=outcome.value),
                                         expect=SurveyStatus.DIALLING)
            return
        # The survey AGI flow settles it; only move on if it has not already. A check job
        # follows, in case the flow never runs (dialplan error, AGI server down, crash).
        await self._enqueue_check(job, now + self.config.survey_answered_stale_after, "check")
        await self.deps.store.update_survey(
            replace(job, status=SurveyStatus.ANSWERED, last_outcome=outcome.value),
            expect=SurveyStatus.DIALLING)

    async def _enqueue_check(self, job: SurveyJob, when: datetime, tag: str) -> None:
        # A few seconds late, so the row is surely stale by the database clock as well.
        when = when + timedelta(seconds=5)
        await self.deps.jobs.enqueue(SURVEY_JOB, {"survey_id": job.id}, run_at=when,
                                     dedupe_key=f"{SURVEY_JOB}:{job.id}:{job.attempts}:{tag}:"
                                                f"{int(when.timestamp())}")

    async def _reclaim(self, job: SurveyJob, now: datetime) -> dict[str, Any]:
        """A survey found ``dialling`` / ``answered`` by a job: if it has been so too long, its
        dialler died or the survey AGI never settled it — a failed attempt (retry rules)."""
        stale = (self.config.dial_stale_after if job.status == SurveyStatus.DIALLING
                 else self.config.survey_answered_stale_after)
        lost = "lost" if job.status == SurveyStatus.DIALLING else "no-result"
        if await self._retry_or_give_up(replace(job, last_outcome=lost), expect=job.status,
                                        idle_for=stale):
            log.warning("survey %s of %s was left %s (attempt %d): counted as failed", job.id,
                        job.order_number, job.status.value, job.attempts)
            return {"survey": job.id, "attempt": job.attempts, "outcome": lost,
                    "reclaimed": job.status.value}
        # Still in progress (or changed meanwhile): look again once it would be stale.
        await self._enqueue_check(job, now + stale, "watch")
        return {"survey": job.id, "skipped": job.status.value}

    async def _retry_or_give_up(self, job: SurveyJob, *, expect: SurveyStatus | None = None,
                                idle_for: timedelta | None = None) -> bool:
        """Another attempt later, or unreachable when out of attempts. With ``expect`` /
        ``idle_for`` only if the stored survey still matches (see `IvrStore.update_survey`);
        returns whether it was written."""
        now = self.deps.clock()
        store = self.deps.store
        if job.attempts < job.max_attempts:
            job = replace(job, status=SurveyStatus.SCHEDULED,
                          next_attempt_at=await self._allowed(
                              now + self.config.survey_retry_delay))
            if not await store.update_survey(job, expect=expect, idle_for=idle_for):
                return False
            await self._enqueue(job)
            return True
        if not await store.update_survey(replace(job, status=SurveyStatus.UNREACHABLE),
                                         expect=expect, idle_for=idle_for):
            return False
        await self.deps.orders.record_survey_result(job.order_number, None, call_id=job.call_id)
        log.info("survey of %s: unreachable after %d attempts", job.order_number, job.attempts)
        return True

    async def rated(self, order_number: str, rating: SurveyRating, call_id: str) -> None:
        """The citizen keyed 1/2/3: store it on the order and close the survey."""
        await self.deps.orders.record_survey_result(order_number, rating, call_id=call_id)
        job = await self.deps.store.survey_for_order(order_number)
        if job is not None and not job.status.final:
            await self.deps.store.update_survey(replace(
                job, status=SurveyStatus.RATED, rating=int(rating), call_id=call_id))

    async def no_rating(self, order_number: str, call_id: str) -> None:
        """Answered but no valid key after the repeats: recorded as no answer."""
        await self.deps.orders.record_survey_result(order_number, None, call_id=call_id)
        job = await self.deps.store.survey_for_order(order_number)
        if job is not None and not job.status.final:
            await self.deps.store.update_survey(replace(
                job, status=SurveyStatus.NO_RATING, call_id=call_id))

    async def hung_up_before_rating(self, order_number: str, call_id: str) -> None:
        """The citizen hung up before a valid key: a failed attempt under the retry rules."""
        job = await self.deps.store.survey_for_order(order_number)
        if job is None or job.status.final:
            return
        await self._retry_or_give_up(replace(job, call_id=call_id, last_outcome="hangup"),
                                     expect=job.status)
