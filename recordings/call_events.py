"""Registering recordings from the telephony feature's normalized events.

The call tracker (``pbx.calls``) publishes ``CallEnded`` with the final call record, whose
``recordings`` are the ``(direction, path)`` pairs (``mixed`` / ``in`` / ``out``) the tracker
derived from ``HOTLINE_REC`` when MixMonitor was set up, replaced by those the dialplan announced
in ``UserEvent HotlineRecording`` at hang-up when that arrived. Every ended call with recordings
is handed to the capture registry (idempotent, so several backend instances may all do it); a
listed file that never appears is retried, then marked missing with an alert.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable, Iterable
from datetime import UTC, datetime
from typing import Any

from recordings.registry import CaptureRegistry

log = logging.getLogger(__name__)

# pbx.calls direction names → ours (MixMonitor r() = what the citizen's channel sent).
TRACKER_DIRECTIONS = {"mixed": "mix", "in": "citizen", "out": "agent"}


def files_from_call_record(recordings: Iterable[tuple[str, str]]) -> dict[str, str]:
    """``CallRecordView.recordings`` → direction → path (unknown directions are logged)."""
    files: dict[str, str] = {}
    for direction, path in recordings:
        ours = TRACKER_DIRECTIONS.get(direction)
        if ours is None:
            log.warning("unknown recording direction %r for %s", direction, path)
            continue
        files.setdefault(ours, path)
    return files


async def register_ended_calls(events: AsyncIterable[Any], registry: CaptureRegistry) -> None:
    """Consume ``CallEnded`` events until the iterator ends (or the task is cancelled)."""
    async for event in events:
        if type(event).__name__ != "CallEnded":
            continue
        if not event.linkedid:
            log.warning("CallEnded without a Linkedid from %s: recordings not registered",
                        event.server)
            continue
        files = files_from_call_record(event.record.recordings)
        if not files:
            continue  # abandoned in the IVR before MixMonitor started: nothing was recorded
        try:
            # One call id across features: "server:linkedid" (what the console, the work order
            # and the transcript all carry), so several Asterisk servers never collide.
            # The retention clock starts when the call ended, not when we heard of it (a
            # call closed after a restart may have ended hours earlier).
            ended = event.record.ended_at if event.record.ended_at is not None else event.at
            await registry.call_ended(f"{event.server}:{event.linkedid}", files,
                                      server_id=event.server,
                                      ended_at=datetime.fromtimestamp(ended, UTC))
        except Exception:
            # One bad record must not stop registration of the next calls.
            log.exception("could not register the recordings of call %s", event.linkedid)
