"""Links between features: who tells whom what. Each feature stays ignorant of the others; the
composition root connects a feature's outgoing notifications to another feature's use cases."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Sequence

from aiohttp import web

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


async def feature_ctx(app: web.Application) -> AsyncIterator[None]:
    """Connect the features once all of them are built."""
    orders = app[ORDER_SERVICE]
    orders.add_listener(survey_trigger(SurveyService(app[IVR_DEPS])))
    yield
