"""Links between features: who tells whom what. Each feature stays ignorant of the others; the
composition root connects a feature's outgoing notifications to another feature's use cases."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import asyncpg
from aiohttp import web

from agents.keys import CONSOLE
from agents.service import ConsoleService
from hotline.features.ivr import IVR_DEPS
from hotline.keys import ROLES
from ivr.survey_dialer import SurveyService
from kit.db import POOL
from recordings.live import LiveTranscriptHub
from recordings.service import RECORDINGS
from workflow.keys import ORDER_SERVICE
from workflow.model import Event, Order, State
from workflow.service import OrderListener

log = logging.getLogger(__name__)

ROUTE_MODULES: list[str] = []


def survey_trigger(surveys: SurveyService) -> OrderListener:
    """Order listener: when a reply has been accepted (state 待回访), plan the citizen's
    satisfaction callback (办结回访, 第十一条(五)) as a durable IVR dialling job."""

    async def on_change(order: Order, events: Sequence[Event]) -> None:
        entered = any(e.to_state is State.CALLBACK and e.from_state is not State.CALLBACK
                      for e in events)  # fmt: skip
        phone = re.sub(r"\D", "", order.citizen.phone or "")
        if not entered:
            return
        if not phone:
            log.info("no phone to call back", extra={"order_id": order.number})
            return
        await surveys.schedule(order.number, phone)

    return on_change


def console_push(console: ConsoleService) -> OrderListener:
    """Order listener: push ``order.updated`` to platform staff and the order's units, so an
    agent sees the unit sign for the order it dispatched (docs/websocket.md)."""

    async def on_change(order: Order, events: Sequence[Event]) -> None:
        units = [
            {
                "unit_code": a.unit,
                "role": a.role,
                "state": "signed" if a.signed_at else "dispatched",
            }
            for a in order.assignments
        ]
        console.publish_order_updated(
            order_no=order.number,
            state=order.state.value,
            version=order.version,
            units=units,
            action=events[-1].kind if events else "changed",
        )

    return on_change


def transcript_push(console: ConsoleService) -> Callable[[str, dict[str, Any]], None]:
    """Live transcript listener: partial and final lines, and the draft refreshed from the
    citizen's words, go to the agent on that call (R3.2, R4.3)."""

    def on_event(call_id: str, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind in ("partial", "final"):
            console.publish_transcript_line(
                call_id,
                speaker=event.get("speaker", "citizen"),
                text=event.get("text", ""),
                final=kind == "final",
                start_s=float(event.get("start") or 0.0),
                end_s=float(event.get("end") or 0.0),
            )
        elif kind == "draft":
            console.publish_draft_updated(call_id, event.get("draft") or {})

    return on_event


def connect_live_transcript(hub: LiveTranscriptHub, console: ConsoleService) -> None:
    """Forward every live transcript event to the console."""
    hub.add_listener(transcript_push(console))


# Orders waiting for their satisfaction callback (待回访) with no survey planned since they last
# entered that state: the listener above failed, or the process stopped right after the commit.
_UNPLANNED_SURVEYS = """
SELECT w.number, w.citizen_phone FROM work_orders w
WHERE w.state = 'callback' AND coalesce(w.citizen_phone, '') <> ''
  AND NOT EXISTS (
      SELECT 1 FROM ivr_surveys s
      WHERE s.order_number = w.number
        AND s.created_at >= (SELECT max(e.at) FROM work_order_events e
                             WHERE e.order_id = w.id AND e.to_state = 'callback'
                               AND e.from_state <> 'callback'))
ORDER BY w.id LIMIT 200"""


async def plan_missing_surveys(pool: asyncpg.Pool, surveys: SurveyService) -> int:
    """Safety net of :func:`survey_trigger`: plan every survey that should exist and does not
    (SurveyService.schedule is idempotent, so several instances may run this at once)."""
    n = 0
    for row in await pool.fetch(_UNPLANNED_SURVEYS):
        phone = re.sub(r"\D", "", row["citizen_phone"])
        if not phone:
            continue
        await surveys.schedule(row["number"], phone)
        n += 1
    if n:
        log.warning("planned %d satisfaction survey(s) that had been missed", n)
    return n


async def _survey_safety_net(pool: asyncpg.Pool, surveys: SurveyService) -> None:
    while True:
        try:
            await plan_missing_surveys(pool, surveys)
        except Exception:  # keep the net up through database hiccups
            log.exception("survey safety net failed")
        await asyncio.sleep(SURVEY_NET_INTERVAL_S)


SURVEY_NET_INTERVAL_S = 300.0


async def feature_ctx(app: web.Application) -> AsyncIterator[None]:
    """Connect the features once all of them are built."""
    orders = app[ORDER_SERVICE]
    surveys = SurveyService(app[IVR_DEPS])
    orders.add_listener(survey_trigger(surveys))
    net: asyncio.Task[None] | None = None
    if "workers" in app[ROLES]:
        net = asyncio.create_task(_survey_safety_net(app[POOL], surveys), name="survey-net")
    if CONSOLE in app:
        orders.add_listener(console_push(app[CONSOLE]))
        if RECORDINGS in app:
            connect_live_transcript(app[RECORDINGS].hub, app[CONSOLE])
    try:
        yield
    finally:
        if net is not None:
            net.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await net
