"""Live transcript events reach the console as transcript.line / draft.updated messages."""

from __future__ import annotations

from typing import Any

from hotline.features.links import connect_live_transcript
from recordings.live import LiveTranscriptHub


class RecordingConsole:
    """Records what would be pushed (the console's own addressing is tested in tests/agents)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, dict[str, Any]]] = []
        self.drafts: list[tuple[str, dict[str, Any]]] = []

    def publish_transcript_line(self, call_id: str, **fields: Any) -> int:
        self.lines.append((call_id, fields))
        return 1

    def publish_draft_updated(self, call_id: str, draft: dict[str, Any]) -> int:
        self.drafts.append((call_id, draft))
        return 1


def test_hub_events_are_forwarded_and_a_bad_listener_is_contained() -> None:
    hub = LiveTranscriptHub()
    console = RecordingConsole()

    def broken(call_id: str, event: dict[str, Any]) -> None:
        raise RuntimeError("bug")

    hub.add_listener(broken)
    connect_live_transcript(hub, console)  # type: ignore[arg-type]
    call = "pbx1:pbx1-1795838069.10"
    sub = hub.subscribe(call)
    hub.publish(call, {"type": "partial", "text": "我要", "speaker": "citizen"})
    hub.publish(call, {"type": "final", "text": "我要投诉", "start": 0.5, "end": 1.6,
                       "speaker": "citizen", "words": []})
    hub.publish(call, {"type": "draft", "speaker": "citizen", "draft": {"category": "投诉"}})
    hub.publish(call, {"type": "end", "reason": "hangup", "speaker": "citizen"})
    assert [(c, f["text"], f["final"]) for c, f in console.lines] == [
        (call, "我要", False), (call, "我要投诉", True)]
    assert console.lines[1][1]["start_s"] == 0.5 and console.lines[1][1]["end_s"] == 1.6
    assert console.drafts == [(call, {"category": "投诉"})]
    assert sub.queue.qsize() == 4  # per-call subscribers are still served
