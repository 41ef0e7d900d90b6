"""Outbound 办结回访 dialling (第十一条(五)): a durable job per attempt with retry rules.

* :meth:`SurveyService.schedule` when an order is closed → a survey row plus a
  :data:`SURVEY_JOB` job at the next allowed calling time.
* The job (:meth:`SurveyService.dial`) originates ``PJSIP/<phone>@trunk`` into
  ``hotline-outbound,survey`` with ``SURVEY_ORDER`` and ``SURVEY_ID`` set (the dialplan passes
  ``SURVEY_ORDER`` to ``agi://…/survey``). Outside the allowed hours it only reschedules.
* No answer / busy / failure / hang-up before rating → another attempt after
  ``survey_retry_delay``, moved into the allowed hours, at most ``survey_max_attempts`` dials;
  then the order gets "no answer" (rating ``None``).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

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

    def _allowed(self, when: Any) -> Any:
        return next_allowed(when, self.config.survey_hours, self.config.timezone)

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
            self._allowed(self.deps.clock()))
        if job.status == SurveyStatus.SCHEDULED:
            await self._enqueue(job)
        return job

    async def dial(self, survey_id: int) -> dict[str, Any]:
        """One dialling attempt (the job handler). Idempotent: a settled survey is left alone."""
        store, now = self.deps.store, self.deps.clock()
        job = await store.get_survey(survey_id)
        if job is None or job.status != SurveyStatus.SCHEDULED:
            return {"survey": survey_id, "skipped": job.status.value if job else "missing"}
        allowed = self._allowed(now)
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
        job = replace(job, status=SurveyStatus.DIALLING, attempts=job.attempts + 1)
        await store.update_survey(job)
        outcome = await self.deps.originator.originate(OriginateRequest(
            channel=self.config.callback_trunk.format(number=job.phone),
            context=self.config.survey_context, exten=self.config.survey_exten,
            timeout_s=self.config.originate_timeout_s,
            variables={"SURVEY_ORDER": job.order_number, "SURVEY_ID": str(job.id)}))
        if outcome == DialOutcome.ANSWERED:
            # The survey AGI flow settles it; only move on if it has not already.
            current = await store.get_survey(job.id)
            if current is not None and current.status == SurveyStatus.DIALLING:
                await store.update_survey(replace(current, status=SurveyStatus.ANSWERED,
                                                  last_outcome=outcome.value))
        else:
            await self._retry_or_give_up(replace(job, last_outcome=outcome.value))
        return {"survey": survey_id, "attempt": job.attempts, "outcome": outcome.value}

    async def _retry_or_give_up(self, job: SurveyJob) -> None:
        now = self.deps.clock()
        if job.attempts < job.max_attempts:
            job = replace(job, status=SurveyStatus.SCHEDULED,
                          next_attempt_at=self._allowed(now + self.config.survey_retry_delay))
            await self.deps.store.update_survey(job)
            await self._enqueue(job)
            return
        await self.deps.store.update_survey(replace(job, status=SurveyStatus.UNREACHABLE))
        await self.deps.orders.record_survey_result(job.order_number, None, call_id=job.call_id)
        log.info("survey of %s: unreachable after %d attempts", job.order_number, job.attempts)

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
        await self._retry_or_give_up(replace(job, call_id=call_id, last_outcome="hangup"))
