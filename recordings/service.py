"""The recordings feature's objects, built once per application by ``hotline/features``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from kit.jobs import JobQueue
from recordings.drafts import DraftStore
from recordings.linking import OrderLinker, TranscriptLinks
from recordings.live import LiveSessions, LiveTranscriptHub
from recordings.live_fork import LiveForker
from recordings.metrics import RecordingMetrics
from recordings.registry import CaptureRegistry
from recordings.retention import Retention

FEATURE_KINDS = ("recordings.register", "recordings.transcribe", "recordings.attach",
                 "recordings.retention", "recordings.reconcile")


@dataclass
class Recordings:
    """Everything the routes and the wiring need."""

    root: Path
    queue: JobQueue
    registry: CaptureRegistry
    links: TranscriptLinks
    drafts: DraftStore
    retention: Retention
    hub: LiveTranscriptHub
    metrics: RecordingMetrics | None = None
    live: LiveSessions | None = None
    forker: LiveForker | None = None


RECORDINGS: web.AppKey[Recordings] = web.AppKey("recordings", Recordings)
ORDER_LINKER: web.AppKey[OrderLinker] = web.AppKey("recordings_order_linker", object)  # type: ignore[arg-type]
"""Set by the workflow wiring (before the recordings feature starts) to attach transcripts to
work orders and to tell retention which orders are open."""
