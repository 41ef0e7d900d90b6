"""Wiring of the `ivr` feature into the application (owned by that feature's developer).

* role ``agi``: the FastAGI server (``settings.agi``) serving ``/ivr``, ``/survey``,
  ``/post-call-survey`` and ``/callback-offer``; registered in ``/readyz`` as ``ivr.agi``.
* role ``workers``: the durable dialling jobs (callback dial-back, 办结回访 survey) — only when
  an AMI originator has been put under :data:`IVR_ORIGINATOR` by the telephony wiring (which
  starts before this feature); registered as ``ivr.jobs``.
* :data:`IVR_DEPS` lets other wiring schedule surveys:
  ``await SurveyService(app[IVR_DEPS]).schedule(order_number, phone)``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from typing import Any

from aiohttp import web

from hotline.keys import ROLES
from hotline.settings import SETTINGS
from ivr.app import agi_routes, job_handlers
from ivr.call import IvrDeps
from ivr.config import IvrConfig
from ivr.pg_store import PgIvrStore
from ivr.ports import OrderStatus, OrderSummary, Originator, QueueProbe, SurveyRating
from kit.component import COMPONENTS
from kit.db import POOL
from kit.errors import NotFound
from kit.jobs import JobQueue, JobRunner
from pbx.agi import AgiServerConfig, FastAgiServer

log = logging.getLogger(__name__)

ROUTE_MODULES: list[str] = []
"""Dotted names of modules that define a module-level `routes = kit.http.Routes(...)`."""

IVR_DEPS: web.AppKey[IvrDeps] = web.AppKey("ivr_deps", IvrDeps)
IVR_ORIGINATOR: web.AppKey[Any] = web.AppKey("ivr_originator", object)
"""An :class:`ivr.ports.Originator` (AMI Originate), set by the telephony wiring."""
IVR_QUEUE_PROBE: web.AppKey[Any] = web.AppKey("ivr_queue_probe", object)
"""Optional :class:`ivr.ports.QueueProbe` (AMI QueueStatus), set by the telephony wiring."""

# workflow.model.State values → what the IVR reads back.
_STATE_MAP = {
    "intake": OrderStatus.ACCEPTED, "returned": OrderStatus.ACCEPTED,
    "dispatched": OrderStatus.PROCESSING, "handling": OrderStatus.PROCESSING,
    "reopened": OrderStatus.PROCESSING, "replied": OrderStatus.REPLIED,
    "callback": OrderStatus.REPLIED, "closed": OrderStatus.CLOSED,
    "merged": OrderStatus.CLOSED, "not_accepted": OrderStatus.NOT_ACCEPTED,
}


class WorkflowOrders:
    """`ivr.ports.OrderDirectory` over `workflow.api.WorkflowApi` (order numbers
    ``CZyyyymmdd-nnnnnn`` are keyed as their 14 digits)."""

    def __init__(self, api: Any) -> None:
        self.api = api

    @staticmethod
    def _summary(d: dict[str, Any]) -> OrderSummary:
        return OrderSummary(number=d["number"],
                            status=_STATE_MAP.get(d["state"], OrderStatus.PROCESSING),
                            deadline=d.get("reply_due"))

    async def open_orders_by_phone(self, phone: str) -> list[OrderSummary]:
        """Open orders of the caller, newest first."""
        return [self._summary(d) for d in await self.api.orders_for_phone(phone) if d["open"]]

    async def order_by_digits(self, digits: str, caller: str | None) -> OrderSummary | None:
        """Look up ``CZ<8 digits>-<6 digits>``; another citizen's order is not disclosed."""
        if len(digits) != 14 or not digits.isdigit():
            return None
        found = await self.api.order_status(f"CZ{digits[:8]}-{digits[8:]}", caller)
        return self._summary(found) if found else None

    async def record_survey_result(self, order_number: str, rating: SurveyRating | None, *,
                                   call_id: str | None) -> None:
        """Store 1/2/3 on the order; "no answer" stays in ``ivr_surveys`` only (the work
        order has no such satisfaction value)."""
        if rating is None:
            log.info("survey of %s: no usable answer (call %s)", order_number, call_id)
            return
        try:
            await self.api.record_survey(order_number, str(int(rating)), via="ivr")
        except NotFound:
            # The survey row keeps the rating; a vanished order must not crash the call.
            log.warning("survey rating %s for unknown order %s (call %s) not stored on it",
                        int(rating), order_number, call_id)


class _NoOrders:
    """Fallback when the workflow feature is not wired: nobody is a known caller."""

    async def open_orders_by_phone(self, phone: str) -> list[OrderSummary]:
        return []

    async def order_by_digits(self, digits: str, caller: str | None) -> OrderSummary | None:
        return None

    async def record_survey_result(self, order_number: str, rating: SurveyRating | None, *,
                                   call_id: str | None) -> None:
        log.warning("survey result for %s dropped: no work-order directory wired", order_number)


def _orders(app: web.Application) -> Any:
    try:
        from workflow.keys import WORKFLOW_API
    except ImportError:
        return _NoOrders()
    api = app.get(WORKFLOW_API)
    return WorkflowOrders(api) if api is not None else _NoOrders()


def _holidays(app: web.Application) -> Callable[[date], Awaitable[bool]] | None:
    """Statutory holidays from the work-order calendar (with the admin overrides), so that
    办结回访 calls wait for the end of a holiday; None when the workflow feature is absent."""
    try:
        from workflow.keys import CALENDARS
    except ImportError:
        return None
    calendars = app.get(CALENDARS)
    if calendars is None:
        return None

    async def is_holiday(day: date) -> bool:
        return (await calendars.get()).is_public_holiday(day)

    return is_holiday


async def feature_ctx(app: web.Application) -> AsyncIterator[None]:
    """Build the IVR's dependencies; start the FastAGI server and the dialling jobs per role."""
    settings, roles, pool = app[SETTINGS], app[ROLES], app[POOL]
    queue = JobQueue(pool)
    originator: Originator | None = app.get(IVR_ORIGINATOR)
    probe: QueueProbe | None = app.get(IVR_QUEUE_PROBE)
    # Prompts are played as "hotline/<id>": Asterisk's sounds/hotline must be (a link to)
    # settings.prompts_dir, where `hotline prompts build` writes the files.
    config = IvrConfig(prompt_prefix="hotline/")
    deps = IvrDeps(store=PgIvrStore(pool), orders=_orders(app), jobs=queue, config=config,
                   originator=originator, queue_probe=probe, holiday=_holidays(app))
    app[IVR_DEPS] = deps
    server: FastAgiServer | None = None
    runner: JobRunner | None = None
    try:
        if "agi" in roles:
            agi = settings.agi
            server = FastAgiServer(agi_routes(deps), AgiServerConfig(
                host=agi.host, port=agi.port, allow=tuple(agi.allow),
                env_timeout=agi.env_timeout))
            await server.start()
            app[COMPONENTS].add("ivr.agi", server.status)
        if "workers" in roles:
            if originator is None:
                log.warning("IVR dialling jobs not started: no AMI originator wired")
                app[COMPONENTS].add("ivr.jobs", lambda: {
                    "ok": True, "running": False, "reason": "no AMI originator wired"})
            else:
                runner = JobRunner(queue, job_handlers(deps), concurrency=1)
                runner.start()
                app[COMPONENTS].add("ivr.jobs", runner.status)
        yield
    finally:
        if runner is not None:
            await runner.stop()
        if server is not None:
            await server.close()
        app[COMPONENTS].remove("ivr.agi")
        app[COMPONENTS].remove("ivr.jobs")
