"""Callback offer when the queue wait is long (SPEC R2.3) and the dial-back job.

The dialplan calls ``agi://…/callback-offer,${CALLERID(num)},${HOTLINE_QUEUE}`` when ``Queue()``
returns on its timeout. The flow also reads ``HOTLINE_QUEUE``, ``HOTLINE_CHOICE``,
``HOTLINE_CALLID`` and, if the dialplan sets it, ``HOTLINE_QUEUE_JOINED`` (epoch seconds the
caller joined the queue); without it the caller's place is the call's start, taken from the
Uniqueid (``pbx1-1795837952.0`` → epoch 1795837952). It sets ``HOTLINE_CALLBACK`` (``1`` stored /
``0`` keeps waiting), ``HOTLINE_CALLBACK_NUMBER`` and ``HOTLINE_CALLBACK_ID``.

The dial-back job (kind :data:`CALLBACK_JOB`) always dials the *earliest-placed* pending
request, so requests are called back in queue order whichever job runs first; the answered
citizen enters ``callback@hotline-outbound`` with ``HOTLINE_QUEUE`` set, where the dialplan
queues them for the next free agent.

A claimed request is always settled: a cancelled dial (``JobRunner.stop()`` after its grace)
puts it back to pending without counting the attempt; a request left ``dialling`` by a worker
that died mid-Originate is reclaimed by the next run as a failed attempt (retry rules apply).
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from ivr.call import IvrCall, IvrDeps
from ivr.ports import DialOutcome, OriginateRequest
from ivr.prompts import P
from ivr.records import Outcome
from ivr.store import CallbackRequest, CallbackStatus

log = logging.getLogger(__name__)

CALLBACK_JOB = "ivr.callback.dial"
WAIT_FOR_AGENT = timedelta(seconds=30)

_PHONE = re.compile(r"1[3-9]\d{9}|0\d{9,11}|[2-9]\d{6,7}")


def valid_phone(digits: str) -> bool:
    """Mainland mobile (11 digits), landline with area code (0519…) or local 7–8 digits."""
    return bool(_PHONE.fullmatch(digits))


def _epoch(value: str | None) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(value), UTC) if value else None
    except (ValueError, OverflowError, OSError):
        return None


def call_started(uniqueid: str) -> datetime | None:
    """Channel creation time encoded in an Asterisk Uniqueid (``[system-]<epoch>.<seq>``)."""
    m = re.fullmatch(r"(?:.*-)?(\d{9,11})\.\d+", uniqueid)
    return _epoch(m.group(1)) if m else None


async def callback_offer_flow(call: IvrCall) -> None:
    """Offer a callback; on yes, confirm or key a number, store the request, hang up politely."""
    ch, rec, env = call.channel, call.record, call.channel.env
    call.enter("callback-context")
    # Arguments: caller number, queue (asterisk-config/extensions.conf [hotline-queue-exit]).
    if env.args and env.args[0].isdigit():
        rec.caller = env.args[0]
    queue = (env.args[1] if len(env.args) > 1 else "") \
        or await ch.get_variable("HOTLINE_QUEUE") or call.config.menu["0"].queue
    rec.queue = queue
    rec.choice = await ch.get_variable("HOTLINE_CHOICE")
    origin = await ch.get_variable("HOTLINE_CALLID") or env.uniqueid
    place = (_epoch(await ch.get_variable("HOTLINE_QUEUE_JOINED")) or call_started(origin)
             or call.deps.clock())
    call.enter("callback-offer")
    number: str | None = None
    if await call.ask(P.CALLBACK_OFFER, {"1", "2"}) == "1":
        number = await _choose_number(call, rec.caller)
    if number is None:
        await call.set_vars(HOTLINE_CALLBACK="0")
        call.enter("keep-waiting")
        await call.play(P.KEEP_WAITING)
        rec.finish(Outcome.KEEP_WAITING)
        return
    call.enter("callback-store")
    request = await CallbackService(call.deps).request(
        call_id=origin, caller=rec.caller, number=number, queue=queue, choice=rec.choice,
        place_at=place)
    rec.finish(Outcome.CALLBACK)
    rec.events.append({"step": "callback-store", "callback_id": request.id})
    await call.set_vars(HOTLINE_CALLBACK="1", HOTLINE_CALLBACK_NUMBER=number,
                        HOTLINE_CALLBACK_ID=str(request.id))
    call.enter("callback-goodbye")
    await call.play(P.CALLBACK_REGISTERED)
    await ch.hangup()


async def _choose_number(call: IvrCall, caller: str) -> str | None:
    """The caller's own number if they confirm it, else one they key in; None if they fail."""
    if caller and valid_phone(caller):
        call.enter("callback-confirm-number")
        await call.play(P.CALLBACK_NUMBER_IS)
        await call.channel.say_digits(caller)
        key = await call.ask(P.CALLBACK_CONFIRM, {"1", "2"})
        if key == "1":
            return caller
        if key is None:
            return None
    call.enter("callback-enter-number")
    typed = await call.ask_until(P.ENTER_PHONE_NUMBER, lambda d: valid_phone(d.rstrip("#")),
                                 max_digits=13, timeout_ms=call.config.number_timeout_ms)
    return typed.rstrip("#") if typed else None


class CallbackService:
    """Stores callback requests and dials them back in order (durable via `kit.jobs`)."""

    def __init__(self, deps: IvrDeps) -> None:
        self.deps = deps
        self.config = deps.config

    async def request(self, *, call_id: str, caller: str, number: str, queue: str,
                      choice: str | None, place_at: datetime) -> CallbackRequest:
        """Store a request (a caller's existing pending request is kept) and schedule a dial."""
        if not valid_phone(number):
            raise ValueError(f"not a dialable number: {number!r}")
        stored = await self.deps.store.add_callback(CallbackRequest(
            id=0, call_id=call_id, caller=caller, number=number, queue=queue, choice=choice,
            place_at=place_at))
        await self.deps.jobs.enqueue(CALLBACK_JOB, {"request_id": stored.id},
                                     dedupe_key=f"{CALLBACK_JOB}:{stored.id}:0")
        return stored

    async def dial_next(self) -> dict[str, Any]:
        """Dial the earliest-placed due request once; returns what happened (job result)."""
        store, now = self.deps.store, self.deps.clock()
        if self.deps.originator is None:
            raise RuntimeError("no AMI originator configured for callbacks")
        await self._reclaim_abandoned(now)
        nxt = await store.next_callback(now)
        if nxt is None:
            return {"dialled": None}
        probe = self.deps.queue_probe
        if probe is not None and not await probe.has_free_agent(nxt.queue):
            # Keep the place; look again shortly rather than ringing a citizen into a wait.
            later = now + WAIT_FOR_AGENT
            await self.deps.jobs.enqueue(
                CALLBACK_JOB, {"request_id": nxt.id}, run_at=later,
                dedupe_key=f"{CALLBACK_JOB}:{nxt.id}:wait:{int(later.timestamp())}")
            return {"dialled": None, "waiting_for_agent": nxt.id}
        req = await store.claim_callback(nxt.id)
        if req is None:
            return {"dialled": None}
        try:
            outcome = await self.deps.originator.originate(OriginateRequest(
                channel=self.config.callback_trunk.format(number=req.number),
                context=self.config.callback_context, exten=self.config.callback_exten,
                timeout_s=self.config.originate_timeout_s,
                variables={"HOTLINE_OUTBOUND": "callback", "HOTLINE_CALLBACK_FOR": req.call_id,
                           "HOTLINE_CALLBACK_ID": str(req.id), "HOTLINE_QUEUE": req.queue,
                           "HOTLINE_CHOICE": req.choice or ""}))
        except asyncio.CancelledError:
            # Shutdown mid-Originate: the citizen keeps their place and the job (released by
            # the runner) dials again. The Originate already sent may still ring them once.
            await asyncio.shield(store.release_callback(req.id))
            raise
        except Exception:
            log.exception("callback %s: Originate raised; counted as a failed dial", req.id)
            outcome = DialOutcome.FAILED
        # Shielded: a cancellation now must not lose the outcome of a dial that took place.
        await asyncio.shield(self._settle(req, outcome, now))
        return {"dialled": req.id, "outcome": outcome.value, "attempt": req.attempts}

    async def _settle(self, req: CallbackRequest, outcome: DialOutcome, now: datetime) -> None:
        store = self.deps.store
        if outcome == DialOutcome.ANSWERED:
            await store.settle_callback(req.id, CallbackStatus.DONE, outcome.value)
        elif req.attempts < self.config.callback_max_attempts:
            later = now + self.config.callback_retry_delay
            if await store.settle_callback(req.id, CallbackStatus.PENDING, outcome.value, later):
                await self._enqueue_retry(req, later)
        else:
            await store.settle_callback(req.id, CallbackStatus.FAILED, outcome.value)
            log.warning("callback %s to %s failed after %d attempts", req.id, req.number,
                        req.attempts)

    async def _enqueue_retry(self, req: CallbackRequest, later: datetime) -> None:
        await self.deps.jobs.enqueue(CALLBACK_JOB, {"request_id": req.id}, run_at=later,
                                     dedupe_key=f"{CALLBACK_JOB}:{req.id}:{req.attempts}")

    async def _reclaim_abandoned(self, now: datetime) -> None:
        """Requests a dead worker left ``dialling``: a failed attempt each (retry rules)."""
        later = now + self.config.callback_retry_delay
        for req in await self.deps.store.reclaim_callbacks(
                self.config.dial_stale_after, self.config.callback_max_attempts, later):
            if req.status == CallbackStatus.PENDING:
                await self._enqueue_retry(req, later)
            log.warning("callback %s to %s was left dialling (attempt %d): %s", req.id,
                        req.number, req.attempts, req.status.value)
