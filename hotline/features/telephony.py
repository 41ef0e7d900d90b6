"""Wiring of the `telephony` feature (pbx/: AMI bridge and call tracking) into the application.

With role ``ami`` and at least one ``[[ami]]`` server configured, this builds one
:class:`pbx.calls.service.Telephony` (one AMI connection per server, one call tracker, one event
bus), registers every connection in ``/readyz`` as ``ami.<server id>``, persists call records
and call events (:class:`pbx.calls.store.CallStore`, written by a supervised
:class:`pbx.calls.persister.PersisterSupervisor`, in ``/readyz`` as ``calls.persister``), and
publishes:

* ``app[TELEPHONY]`` — send actions (``send_action``/``originate``) and ``subscribe`` to the
  normalized events (``pbx.calls.events``); what ``agents/`` builds on;
* ``app[CALL_STORE]`` — read call rows and events;
* ``app[IVR_ORIGINATOR]`` / ``app[IVR_QUEUE_PROBE]`` — the AMI side of the IVR's outbound
  dialling (callbacks, 办结回访 surveys), set before the ``ivr`` feature starts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from hotline.features.ivr import IVR_ORIGINATOR, IVR_QUEUE_PROBE
from hotline.keys import ROLES
from hotline.settings import SETTINGS, AmiServer
from ivr.ports import DialOutcome, OriginateRequest
from kit.component import COMPONENTS
from kit.db import POOL
from kit.metrics import METRICS
from pbx import dialplan
from pbx.ami import AmiError, AmiServerConfig
from pbx.calls.events import CallEnded, CallKey, CallRecordView, DomainEvent
from pbx.calls.persister import PersisterSupervisor, stop_task
from pbx.calls.service import TELEPHONY, Telephony
from pbx.calls.store import CALL_STORE, CallStore

log = logging.getLogger(__name__)

ROUTE_MODULES: list[str] = []
"""Dotted names of modules that define a module-level `routes = kit.http.Routes(...)`."""

__all__ = ["CALL_STORE", "TELEPHONY", "AmiOriginator", "AmiQueueProbe", "feature_ctx"]


def server_config(s: AmiServer) -> AmiServerConfig:
    """Settings' ``[[ami]]`` entry → client configuration."""
    return AmiServerConfig(
        id=s.id, host=s.host, port=s.port, username=s.username, secret=s.secret,
        action_timeout=s.timeout, connect_timeout=s.timeout, ping_interval=s.ping_interval,
        ping_timeout=min(s.timeout, s.ping_interval),
    )  # fmt: skip


class AmiOriginator:
    """`ivr.ports.Originator` over AMI: the first connected server places the call."""

    def __init__(self, telephony: Telephony) -> None:
        self.telephony = telephony

    async def originate(self, request: OriginateRequest) -> DialOutcome:
        """Dial and wait for ``OriginateResponse``; never raises for a failed call."""
        client = next((c for c in self.telephony.clients.values() if c.connected), None)
        if client is None:
            log.warning("originate %s: no AMI server connected", request.exten)
            return DialOutcome.FAILED
        variables = {dialplan.VAR_OUTBOUND: request.exten, **request.variables}
        headers: list[tuple[str, object]] = [
            ("Channel", request.channel), ("Context", request.context),
            ("Exten", request.exten), ("Priority", request.priority),
            ("CallerID", request.caller_id), ("Timeout", request.timeout_s * 1000),
            ("Async", "true"),
            *[("Variable", f"{k}={v}") for k, v in variables.items()],
        ]  # fmt: skip
        try:
            result = await client.send_action(
                "Originate",
                headers,
                timeout=request.timeout_s + 10.0,
                wait_event="OriginateResponse",
            )
        except AmiError as exc:
            log.warning("originate %s failed: %s", request.channel, exc)
            return DialOutcome.FAILED
        event = result.event
        reason = event.get("Reason") if event is not None else None
        return DialOutcome.from_reason(int(reason) if reason and reason.isdigit() else 0)


class AmiQueueProbe:
    """`ivr.ports.QueueProbe` over ``QueueStatus``: a logged-in, unpaused, idle member."""

    def __init__(self, telephony: Telephony) -> None:
        self.telephony = telephony

    async def has_free_agent(self, queue: str) -> bool:
        for client in self.telephony.clients.values():
            if not client.connected:
                continue
            try:
                res = await client.send_action("QueueStatus", {"Queue": queue})
            except AmiError:
                continue
            for m in res.items:
                # Status 1 = AST_DEVICE_NOT_INUSE (traces README obs. 10)
                if m.name == "QueueMember" and m.get("Paused") == "0" and m.get("Status") == "1":
                    return True
        return False


async def feature_ctx(app: web.Application) -> AsyncIterator[None]:
    """Build the telephony service, start the AMI connections and the persister, yield,
    then stop them (logoff, cancel)."""
    settings = app[SETTINGS]
    if "ami" not in app[ROLES] or not settings.ami:
        if "ami" in app[ROLES]:
            log.info("telephony: no [[ami]] server configured; AMI bridge not started")
        yield
        return
    telephony = Telephony([server_config(s) for s in settings.ami])
    store = CallStore(app[POOL])
    app[TELEPHONY] = telephony
    app[CALL_STORE] = store
    app[IVR_ORIGINATOR] = AmiOriginator(telephony)
    app[IVR_QUEUE_PROBE] = AmiQueueProbe(telephony)
    components = app[COMPONENTS]
    for sid, client in telephony.clients.items():
        components.add(f"ami.{sid}", client.status)
    metrics = app[METRICS]
    ended = metrics.counter(
        "hotline_calls_ended_total", "Calls ended, by disposition", ("server", "disposition")
    )
    links = metrics.counter("hotline_ami_link_changes_total", "AMI link up/down", ("server", "up"))

    def current(key: CallKey) -> CallRecordView | None:
        record = telephony.tracker.get(key)
        return record.view() if record is not None else None

    def count(event: DomainEvent) -> None:
        if isinstance(event, CallEnded):
            ended.inc(server=event.server, disposition=event.disposition)
        elif event.kind == "AmiLinkChanged":
            links.inc(server=event.server, up=str(getattr(event, "up", "")).lower())

    sub = telephony.subscribe(maxsize=100_000)
    stats = telephony.subscribe(("CallEnded", "AmiLinkChanged"))
    # supervised: a poison event is skipped, a dead writer task is logged and restarted, and
    # its health is in /readyz as ``calls.persister``; after each resync it closes the rows
    # of calls that ended while nobody listened and publishes their CallEnded on the bus
    persister = PersisterSupervisor(store, sub, current, publish=telephony.bus.publish)
    persister.start()
    components.add("calls.persister", persister.status)

    async def count_loop() -> None:
        async for event in stats:
            count(event)

    counter = asyncio.create_task(count_loop(), name="calls-metrics")
    await telephony.start()
    try:
        yield
    finally:
        await telephony.close()
        # give the persister a moment to write the last events (e.g. link-down closures)
        for _ in range(20):
            if sub.queue.empty():
                break
            await asyncio.sleep(0.05)
        await persister.stop()
        components.remove("calls.persister")
        await stop_task(counter)
        sub.close()
        stats.close()
        for sid in telephony.clients:
            components.remove(f"ami.{sid}")
