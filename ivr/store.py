"""Persistence interface of the IVR, its records, and an in-memory implementation.

`ivr.pg_store.PgIvrStore` implements the same `IvrStore` on PostgreSQL (migrations 03NN).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from ivr.records import IvrCallRecord


class CallbackStatus(StrEnum):
    """Life of a callback request."""

    PENDING = "pending"
    DIALLING = "dialling"
    DONE = "done"          # citizen answered and was put through to the queue
    FAILED = "failed"      # out of attempts


@dataclass(frozen=True)
class CallbackRequest:
    """A caller who chose to be called back instead of waiting (SPEC R2.3)."""

    id: int
    call_id: str
    caller: str
    number: str
    """Number to dial back (the caller's own or one they keyed)."""
    queue: str
    choice: str | None
    place_at: datetime
    """When the caller joined the queue: requests are dialled back in this order."""
    status: CallbackStatus = CallbackStatus.PENDING
    attempts: int = 0
    not_before: datetime | None = None
    last_outcome: str | None = None
    updated_at: datetime | None = None
    """Last change (the store's clock): how long a ``dialling`` row has been in flight."""


class SurveyStatus(StrEnum):
    """Life of an outbound satisfaction survey (办结回访)."""

    SCHEDULED = "scheduled"
    DIALLING = "dialling"
    ANSWERED = "answered"        # the survey AGI flow is running
    RATED = "rated"
    NO_RATING = "no-rating"      # answered, no valid key after the repeats → 无有效评价
    UNREACHABLE = "unreachable"  # out of attempts (no answer / busy / hang-up before rating)

    @property
    def final(self) -> bool:
        """No further dialling."""
        return self in (SurveyStatus.RATED, SurveyStatus.NO_RATING, SurveyStatus.UNREACHABLE)


@dataclass(frozen=True)
class SurveyJob:
    """One closed order to be surveyed by phone."""

    id: int
    order_number: str
    phone: str
    status: SurveyStatus = SurveyStatus.SCHEDULED
    attempts: int = 0
    max_attempts: int = 3
    next_attempt_at: datetime | None = None
    rating: int | None = None
    last_outcome: str | None = None
    call_id: str | None = None
    updated_at: datetime | None = None
    """Last change (the store's clock)."""


class IvrStore(Protocol):
    """Where IVR sessions, callback requests, call ratings and survey jobs live."""

    async def save_session(self, record: IvrCallRecord) -> None:
        """Insert or replace the record of ``record.call_id`` + ``record.flow``."""

    async def add_callback(self, request: CallbackRequest) -> CallbackRequest:
        """Store a request (``id`` ignored). A caller with a pending request keeps it (and its
        earlier place): that one is returned."""

    async def next_callback(self, now: datetime) -> CallbackRequest | None:
        """The pending request with the earliest place that may be dialled at ``now``."""

    async def claim_callback(self, request_id: int) -> CallbackRequest | None:
        """Pending → dialling, attempts + 1; None if someone else took it."""

    async def settle_callback(self, request_id: int, status: CallbackStatus, outcome: str,
                              not_before: datetime | None = None) -> bool:
        """Record the result of a dial attempt on a ``dialling`` request; False (nothing
        written) if it is no longer dialling (reclaimed as abandoned meanwhile)."""

    async def release_callback(self, request_id: int) -> bool:
        """Dialling → pending without counting the attempt (the dial was cancelled)."""

    async def reclaim_callbacks(self, stale_after: timedelta, max_attempts: int,
                                retry_at: datetime) -> list[CallbackRequest]:
        """Settle requests left ``dialling`` longer than ``stale_after`` (their worker died) as
        a failed attempt ``lost``: back to pending at ``retry_at`` while ``attempts <
        max_attempts``, else failed. Returns the settled requests."""

    async def get_callback(self, request_id: int) -> CallbackRequest | None:
        """One request."""

    async def rate_call(self, call_id: str, rating: int, caller: str) -> bool:
        """Store the 好差评 rating of a call; False if the call was already rated (一事一评)."""

    async def call_rating(self, call_id: str) -> int | None:
        """The stored rating of a call, if any."""

    async def create_survey(self, order_number: str, phone: str, max_attempts: int,
                            next_attempt_at: datetime) -> SurveyJob:
        """New survey job, or the order's existing unfinished one."""

    async def get_survey(self, survey_id: int) -> SurveyJob | None:
        """One survey job."""

    async def survey_for_order(self, order_number: str) -> SurveyJob | None:
        """The order's latest survey job."""

    async def update_survey(self, job: SurveyJob, *, expect: SurveyStatus | None = None,
                            idle_for: timedelta | None = None) -> bool:
        """Write the mutable fields of ``job``. With ``expect``, only if the stored status is
        ``expect`` (and with ``idle_for``, unchanged for at least that long); False if not."""


class JobSink(Protocol):
    """The part of `kit.jobs.JobQueue` the IVR uses to schedule durable dialling."""

    async def enqueue(self, kind: str, payload: dict[str, Any], *, dedupe_key: str | None = None,
                      run_at: datetime | None = None, max_attempts: int = 5) -> int:
        """Add a job (idempotent per ``dedupe_key``)."""


def _now() -> datetime:
    return datetime.now(UTC)


class InMemoryIvrStore:
    """`IvrStore` in dicts, for flow tests."""

    def __init__(self) -> None:
        self.sessions: dict[tuple[str, str], IvrCallRecord] = {}
        self.callbacks: dict[int, CallbackRequest] = {}
        self.ratings: dict[str, tuple[int, str]] = {}
        self.surveys: dict[int, SurveyJob] = {}
        self._ids = itertools.count(1)

    async def save_session(self, record: IvrCallRecord) -> None:
        """Keep the record object."""
        self.sessions[(record.call_id, record.flow)] = record

    async def add_callback(self, request: CallbackRequest) -> CallbackRequest:
        """Store, or return the caller's pending request."""
        for existing in self.callbacks.values():
            if existing.number == request.number and existing.status in (
                    CallbackStatus.PENDING, CallbackStatus.DIALLING):
                return existing
        stored = replace(request, id=next(self._ids), updated_at=_now())
        self.callbacks[stored.id] = stored
        return stored

    async def next_callback(self, now: datetime) -> CallbackRequest | None:
        """Earliest place first."""
        due = [r for r in self.callbacks.values() if r.status == CallbackStatus.PENDING
               and (r.not_before is None or r.not_before <= now)]
        return min(due, key=lambda r: (r.place_at, r.id), default=None)

    async def claim_callback(self, request_id: int) -> CallbackRequest | None:
        """Pending → dialling."""
        r = self.callbacks.get(request_id)
        if r is None or r.status != CallbackStatus.PENDING:
            return None
        r = replace(r, status=CallbackStatus.DIALLING, attempts=r.attempts + 1,
                    updated_at=_now())
        self.callbacks[request_id] = r
        return r

    async def settle_callback(self, request_id: int, status: CallbackStatus, outcome: str,
                              not_before: datetime | None = None) -> bool:
        """Update status and outcome of a dialling request."""
        r = self.callbacks[request_id]
        if r.status != CallbackStatus.DIALLING:
            return False
        self.callbacks[request_id] = replace(r, status=status, last_outcome=outcome,
                                             not_before=not_before, updated_at=_now())
        return True

    async def release_callback(self, request_id: int) -> bool:
        """Dialling → pending, attempt not counted."""
        r = self.callbacks.get(request_id)
        if r is None or r.status != CallbackStatus.DIALLING:
            return False
        self.callbacks[request_id] = replace(r, status=CallbackStatus.PENDING,
                                             attempts=max(r.attempts - 1, 0), updated_at=_now())
        return True

    async def reclaim_callbacks(self, stale_after: timedelta, max_attempts: int,
                                retry_at: datetime) -> list[CallbackRequest]:
        """Abandoned dialling requests → pending at ``retry_at`` or failed."""
        cutoff, out = _now() - stale_after, []
        for r in list(self.callbacks.values()):
            if r.status == CallbackStatus.DIALLING and r.updated_at and r.updated_at < cutoff:
                again = r.attempts < max_attempts
                r = replace(r, status=CallbackStatus.PENDING if again else CallbackStatus.FAILED,
                            not_before=retry_at if again else None, last_outcome="lost",
                            updated_at=_now())
                self.callbacks[r.id] = r
                out.append(r)
        return out

    async def get_callback(self, request_id: int) -> CallbackRequest | None:
        """One request."""
        return self.callbacks.get(request_id)

    async def rate_call(self, call_id: str, rating: int, caller: str) -> bool:
        """First rating wins."""
        if call_id in self.ratings:
            return False
        self.ratings[call_id] = (rating, caller)
        return True

    async def call_rating(self, call_id: str) -> int | None:
        """Stored rating."""
        entry = self.ratings.get(call_id)
        return entry[0] if entry else None

    async def create_survey(self, order_number: str, phone: str, max_attempts: int,
                            next_attempt_at: datetime) -> SurveyJob:
        """One open survey per order."""
        current = await self.survey_for_order(order_number)
        if current and not current.status.final:
            return current
        job = SurveyJob(next(self._ids), order_number, phone, max_attempts=max_attempts,
                        next_attempt_at=next_attempt_at, updated_at=_now())
        self.surveys[job.id] = job
        return job

    async def get_survey(self, survey_id: int) -> SurveyJob | None:
        """One job."""
        return self.surveys.get(survey_id)

    async def survey_for_order(self, order_number: str) -> SurveyJob | None:
        """Latest job of the order."""
        jobs = [j for j in self.surveys.values() if j.order_number == order_number]
        return max(jobs, key=lambda j: j.id, default=None)

    async def update_survey(self, job: SurveyJob, *, expect: SurveyStatus | None = None,
                            idle_for: timedelta | None = None) -> bool:
        """Replace (conditionally, see `IvrStore.update_survey`)."""
        current = self.surveys.get(job.id)
        if expect is not None and (current is None or current.status != expect):
            return False
        if idle_for is not None and (current is None or current.updated_at is None
                                     or current.updated_at > _now() - idle_for):
            return False
        self.surveys[job.id] = replace(job, updated_at=_now())
        return True


class ListJobSink:
    """`JobSink` that only remembers what was enqueued (tests; dedupe honoured)."""

    def __init__(self) -> None:
        self.jobs: list[tuple[str, dict[str, Any], str | None, datetime | None]] = []

    async def enqueue(self, kind: str, payload: dict[str, Any], *, dedupe_key: str | None = None,
                      run_at: datetime | None = None, max_attempts: int = 5) -> int:
        """Append unless ``dedupe_key`` was seen."""
        for i, job in enumerate(self.jobs):
            if dedupe_key is not None and job[2] == dedupe_key:
                return i + 1
        self.jobs.append((kind, payload, dedupe_key, run_at))
        return len(self.jobs)
