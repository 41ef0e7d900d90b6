"""Wiring of the `recordings` feature: capture registry, transcription workers, transcript →
work orders, drafts, retention, live transcript over AudioSocket."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from hotline.keys import ROLES
from hotline.settings import SETTINGS, SettingsError
from kit.component import COMPONENTS
from kit.db import DSN, POOL
from kit.jobs import JobQueue, JobRunner
from kit.metrics import METRICS
from recordings.call_events import register_ended_calls
from recordings.drafts import DraftStore
from recordings.linking import ATTACH_KIND, OrderLinker, TranscriptLinks
from recordings.live import LiveSessions, LiveTranscriptHub
from recordings.live_fork import LiveForker
from recordings.metrics import RecordingMetrics, refresh_loop
from recordings.reconcile import RECONCILE_KIND, Reconciler
from recordings.registry import REGISTER_KIND, TRANSCRIBE_KIND, CaptureRegistry
from recordings.retention import RETENTION_KIND, Retention
from recordings.service import ORDER_LINKER, RECORDINGS, Recordings
from recordings.stt import SttModelError, validate_model_dir
from recordings.units import UnitCatalogue
from recordings.worker import WorkerPool, default_units_path

log = logging.getLogger(__name__)

ROUTE_MODULES: list[str] = ["recordings.http", "recordings.call_record_http"]
"""Dotted names of modules that define a module-level `routes = kit.http.Routes(...)`."""

MODEL_SETTING = "HOTLINE_STT_MODEL_DIR"
RETENTION_EVERY = timedelta(hours=1)
RECONCILE_EVERY = timedelta(seconds=45)
QUEUE_GAUGES_EVERY = 10.0
"""Seconds between refreshes of the transcription queue gauges read from PostgreSQL."""
Sleep = Callable[[float], Awaitable[None]]


class WorkflowOrderLinker:
    """`OrderLinker` over the workflow feature's `WorkflowApi` (attach to every order of the
    call; open orders keep the audio)."""

    def __init__(self, api: Any) -> None:
        self.api = api

    async def attach_transcript(self, call_id: str, transcript_id: int,
                                summary: str) -> list[str]:
        return [str(n) for n in await self.api.attach_transcript(call_id, str(transcript_id))]

    async def calls_with_open_orders(self, call_ids: list[str]) -> set[str]:
        from workflow import store

        open_calls = set()
        for call_id in call_ids:
            if any(s.order.closed_at is None for s in await store.by_call(self.api.orders.pool,
                                                                           call_id)):
                open_calls.add(call_id)
        return open_calls


def _linker(app: web.Application) -> OrderLinker | None:
    if ORDER_LINKER in app:
        return app[ORDER_LINKER]
    try:
        from workflow.keys import WORKFLOW_API
    except ImportError:
        return None
    return WorkflowOrderLinker(app[WORKFLOW_API]) if WORKFLOW_API in app else None


def _knowledge_base(app: web.Application) -> Any:
    try:
        from workflow.keys import WORKFLOW_API
    except ImportError:
        return None
    return app[WORKFLOW_API] if WORKFLOW_API in app else None


DONE_JOBS_KEPT = timedelta(days=7)
"""How long finished job rows stay for inspection before the hourly housekeeping removes them."""


def _dsn(app: web.Application) -> str:
    return app[DSN]


async def _clock(queue: JobQueue, kind: str, every: timedelta, key_format: str,
                 *, max_attempts: int = 3, sleep: Sleep = asyncio.sleep) -> None:
    """Enqueue one ``kind`` job per period across all instances (the dedupe key is the period,
    ``key_format`` is a strftime pattern). A database error is logged and retried after the
    period: the clock must outlive a PostgreSQL restart."""
    while True:
        key = datetime.now(UTC).strftime(key_format)
        try:
            await queue.enqueue(kind, {}, dedupe_key=key, max_attempts=max_attempts)
        except Exception:
            log.exception("could not enqueue %s (retrying in %ss)", kind, every.total_seconds())
        await sleep(every.total_seconds())


async def _retention_clock(queue: JobQueue, *, sleep: Sleep = asyncio.sleep) -> None:
    """Enqueue one retention run per hour across all instances (the dedupe key is the hour)."""
    await _clock(queue, RETENTION_KIND, RETENTION_EVERY, "retention:%Y%m%d%H", sleep=sleep)


async def _reconcile_clock(queue: JobQueue, *, sleep: Sleep = asyncio.sleep) -> None:
    """Enqueue one registration reconciliation per minute across all instances."""
    await _clock(queue, RECONCILE_KIND, RECONCILE_EVERY, "reconcile:%Y%m%d%H%M", sleep=sleep)


async def feature_ctx(app: web.Application) -> AsyncIterator[None]:
    """Build the services; with the ``workers`` role run the registration / attach / retention
    jobs and the transcription worker processes; with AudioSocket enabled run the live server."""
    settings = app[SETTINGS]
    pool = app[POOL]
    roles = app[ROLES]
    root = await asyncio.to_thread(Path(settings.recordings.dir).resolve)
    # No model configured: transcription is off (reported in /readyz), the rest still runs.
    # A model that IS configured but is not a Vosk model stops start-up (SPEC R4.4).
    stt_configured = settings.stt.model_dir is not None
    transcribing = "workers" in roles and settings.stt.workers > 0 and stt_configured
    live_enabled = settings.audiosocket.enabled and "web" in roles
    if not stt_configured and "workers" in roles:
        log.warning("transcription disabled: %s is not set", MODEL_SETTING)
        app[COMPONENTS].add("recordings.stt_workers", lambda: {
            "ok": True, "optional": True, "enabled": False,
            "reason": f"{MODEL_SETTING} not set: recordings are kept but not transcribed"})
    if transcribing or live_enabled:
        # SPEC R4.4: a wrong model directory is a start-up error naming the setting.
        try:
            validate_model_dir(settings.stt.model_dir, MODEL_SETTING)
        except SttModelError as exc:
            raise SettingsError(MODEL_SETTING, exc.problem) from exc
    await asyncio.to_thread(root.mkdir, parents=True, exist_ok=True)
    queue = JobQueue(pool, backoff_base=timedelta(seconds=2), backoff_max=timedelta(minutes=1))
    linker = _linker(app)
    hub = LiveTranscriptHub()
    metrics = RecordingMetrics(app[METRICS])
    # Asterisk's paths under [recordings] asterisk_dir are mapped onto `root`; unset, they
    # must already lie inside `root` (the same directory on both sides).
    asterisk_dir = settings.recordings.asterisk_dir
    registry = CaptureRegistry(pool, queue, root, metrics=metrics,
                               asterisk_dir=str(asterisk_dir) if asterisk_dir else None)
    rec = Recordings(
        root=root, queue=queue, registry=registry,
        links=TranscriptLinks(pool, queue, linker, _knowledge_base(app)), drafts=DraftStore(pool),
        retention=Retention(pool, root, timedelta(days=settings.recordings.retention_days),
                            linker),
        hub=hub, metrics=metrics)
    app[RECORDINGS] = rec
    stack = contextlib.AsyncExitStack()
    try:
        if "workers" in roles:
            async def retention_job(_job: Any) -> dict[str, Any]:
                result = await rec.retention.run_once()
                purged = await queue.purge_done(DONE_JOBS_KEPT)  # housekeeping of job rows
                return {"deleted": result["deleted"], "kept": len(result["kept"]),
                        "jobs_purged": purged}

            # The live CallEnded subscriber below is fast; this periodic job is the durable
            # safety net for calls it missed (start-up, shutdown, a database error).
            reconciler = Reconciler(pool, rec.registry)
            runner = JobRunner(queue, {REGISTER_KIND: rec.registry.handle_register,
                                       ATTACH_KIND: rec.links.handle_attach,
                                       RETENTION_KIND: retention_job,
                                       RECONCILE_KIND: reconciler.handle}, concurrency=2)
            runner.start()
            stack.push_async_callback(runner.stop)
            app[COMPONENTS].add("recordings.jobs", runner.status)
            clock = asyncio.create_task(_retention_clock(queue), name="recordings-retention")
            stack.push_async_callback(_cancel, clock)
            reconcile = asyncio.create_task(_reconcile_clock(queue),
                                            name="recordings-reconcile")
            stack.push_async_callback(_cancel, reconcile)
        if transcribing:
            # The worker processes report each settled job back: counted here (R8.3).
            workers = WorkerPool(_dsn(app), root, count=settings.stt.workers,
                                 model_dir=settings.stt.model_dir, units=default_units_path(),
                                 on_report=metrics.worker_report)
            await workers.start()
            stack.push_async_callback(workers.stop)
            app[COMPONENTS].add("recordings.stt_workers", workers.status)
        if "web" in roles:  # where /metrics is served
            gauges = asyncio.create_task(
                refresh_loop(metrics, pool, TRANSCRIBE_KIND, QUEUE_GAUGES_EVERY),
                name="recordings-queue-gauges")
            stack.push_async_callback(_cancel, gauges)
        if live_enabled:
            await _start_live(app, rec, stack)
        _follow_telephony(app, rec, stack)
        yield
    finally:
        await stack.aclose()


async def _start_live(app: web.Application, rec: Recordings,
                      stack: contextlib.AsyncExitStack) -> None:
    from pbx.audiosocket import AudioSocketServer
    from recordings.stt import VoskTranscriber, load_model

    settings = app[SETTINGS]
    model = await asyncio.to_thread(load_model, settings.stt.model_dir, MODEL_SETTING)
    transcriber = VoskTranscriber(model)
    units_path = default_units_path()
    units = (await asyncio.to_thread(UnitCatalogue.from_file, units_path)) if units_path else None
    rec.live = LiveSessions(rec.hub, lambda: transcriber.stream(8000), units=units)
    server = AudioSocketServer(rec.live, settings.audiosocket.host, settings.audiosocket.port)
    await server.start()
    stack.push_async_callback(server.close)
    app[COMPONENTS].add("recordings.audiosocket",
                        lambda: {"ok": True, "port": server.port, "active": server.stats.active,
                                 "connections": server.stats.connections,
                                 "protocol_errors": server.stats.protocol_errors})
    try:
        from pbx.calls.service import TELEPHONY
    except ImportError:
        return
    if TELEPHONY in app:
        # Fork answered calls to the server (the host must be reachable from Asterisk): those
        # of [audiosocket] live_queues, or of every queue when the list is empty.
        queues = frozenset(settings.audiosocket.live_queues) or None
        log.info("live transcript for calls answered in %s",
                 ", ".join(sorted(queues)) if queues else "every queue")
        forker = LiveForker(app[TELEPHONY], rec.live, settings.audiosocket.host, server.port,
                            queues=queues)
        rec.forker = forker
        sub = app[TELEPHONY].subscribe({"CallStarted", "CallAnswered", "CallEnded"})
        task = asyncio.create_task(forker.run(sub), name="recordings-live-fork")
        stack.callback(sub.close)
        stack.push_async_callback(_cancel, task)


def _follow_telephony(app: web.Application, rec: Recordings,
                      stack: contextlib.AsyncExitStack) -> None:
    """Register the recordings of every ended call the telephony feature reports."""
    try:
        from pbx.calls.service import TELEPHONY
    except ImportError:
        return
    if TELEPHONY not in app:
        return
    sub = app[TELEPHONY].subscribe({"CallEnded"})
    task = asyncio.create_task(register_ended_calls(sub, rec.registry),
                               name="recordings-call-ended")
    stack.callback(sub.close)
    stack.push_async_callback(_cancel, task)


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
