"""Links between features: who tells whom what. Each feature stays ignorant of the others; the
composition root connects a feature's outgoing notifications to another feature's use cases."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Sequence

from aiohttp import web

from agents.keys import CONSOLE
from agents.service import ConsoleService
from hotline.features.ivr import IVR_DEPS
from ivr.survey_dialer import SurveyService
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


async def feature_ctx(app: web.Application) -> AsyncIterator[None]:
    """Connect the features once all of them are built."""
    orders = app[ORDER_SERVICE]
    orders.add_listener(survey_trigger(SurveyService(app[IVR_DEPS])))
    if CONSOLE in app:
        orders.add_listener(console_push(app[CONSOLE]))
    yield
