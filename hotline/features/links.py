"""Links between features: who tells whom what. Each feature stays ignorant of the others; the
composition root connects a feature's outgoing notifications to another feature's use cases."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any

from aiohttp import web

from agents.keys import CONSOLE
from agents.service import ConsoleService
from hotline.features.ivr import IVR_DEPS
from ivr.survey_dialer import SurveyService
from recordings.live import LiveTranscriptHub
from recordings.service import RECORDINGS
from workflow.keys import ORDER_SERVICE
from workflow.model import Event, Order, State

log = logging.getLogger(__name__)

ROUTE_MODULES: list[str] = []


def survey_trigger(surveys: SurveyService):  # type: ignore[no-untyped-def]
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


def console_push(console: ConsoleService):  # type: ignore[no-untyped-def]
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


def transcript_push(console: ConsoleService):  # type: ignore[no-untyped-def]
    """Live transcript listener: partial and final lines, and the draft refreshed from the
    citizen's words, go to the agent on that call (R3.2, R4.3)."""

    def on_event(call_id: str, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind in ("partial", "final"):
            console.publish_transcript_line(
                call_id, speaker=event.get("speaker", "citizen"), text=event.get("text", ""),
                final=kind == "final", start_s=float(event.get("start") or 0.0),
                end_s=float(event.get("end") or 0.0),
            )
        elif kind == "draft":
            console.publish_draft_updated(call_id, event.get("draft") or {})

    return on_event


def connect_live_transcript(hub: LiveTranscriptHub, console: ConsoleService) -> None:
    """Forward every live transcript event to the console."""
    hub.add_listener(transcript_push(console))


async def feature_ctx(app: web.Application) -> AsyncIterator[None]:
    """Connect the features once all of them are built."""
    orders = app[ORDER_SERVICE]
    orders.add_listener(survey_trigger(SurveyService(app[IVR_DEPS])))
    if CONSOLE in app:
        orders.add_listener(console_push(app[CONSOLE]))
        if RECORDINGS in app:
            connect_live_transcript(app[RECORDINGS].hub, app[CONSOLE])
    yield
