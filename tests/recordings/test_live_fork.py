"""The live-transcript fork: answered calls get one ChanSpy → AudioSocket originate."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from pbx.calls.bus import EventBus
from pbx.calls.events import CallAnswered, CallEnded, CallStarted
from recordings.live import LiveSessions, LiveTranscriptHub
from recordings.live_fork import LiveForker, fork_originate_headers
from tests.recordings.test_call_events import record


class FakeAmi:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[str, str, list[tuple[str, str]]]] = []
        self.fail = fail

    async def send_action(self, server, action, headers=(), *, timeout=None, wait_event=None):  # noqa: ASYNC109
        self.sent.append((server, action, list(headers)))
        if self.fail:
            raise TimeoutError("AMI action Originate timed out")
        return {"Response": "Success"}


def test_originate_headers() -> None:
    u = uuid.UUID("a4e0c66b-b751-4075-a084-a6463cec3a5f")
    headers = dict(fork_originate_headers("PJSIP/citizen-trunk-0000000a", u, "10.0.0.9", 9092,
                                          "pbx1-1795838069.10"))
    assert headers["Channel"] == "AudioSocket/10.0.0.9:9092/a4e0c66b-b751-4075-a084-a6463cec3a5f"
    assert headers["Application"] == "ChanSpy"
    assert headers["Data"] == "PJSIP/citizen-trunk-0000000a,qoE"
    with pytest.raises(ValueError):
        fork_originate_headers("PJSIP/x,B", u, "h", 1, "c")


async def _run(forker: LiveForker, events: list) -> None:
    bus = EventBus()
    sub = bus.subscribe({"CallStarted", "CallAnswered", "CallEnded"})
    task = asyncio.create_task(forker.run(sub))
    for e in events:
        bus.publish(e)
    for _ in range(100):
        if sub.queue.empty():
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.02)
    task.cancel()
    sub.close()


def _answered(linkedid: str, queue: str = "hotline-general") -> CallAnswered:
    return CallAnswered("pbx1", 2.0, linkedid, queue, "PJSIP/agent1001", "Agent 1001",
                        "PJSIP/agent1001-0000000b", 1, 1)


async def test_answered_call_is_forked_once_and_registered() -> None:
    ami = FakeAmi()
    sessions = LiveSessions(LiveTranscriptHub(), lambda: None)
    forker = LiveForker(ami, sessions, "127.0.0.1", 9092, queues={"hotline-general"})
    lid = "pbx1-1795838069.10"
    await _run(forker, [
        CallStarted("pbx1", 1.0, lid, "inbound", "13800138000", "12345",
                    "PJSIP/citizen-trunk-0000000a"),
        _answered(lid), _answered(lid),  # an attended transfer answers again: one fork only
        CallStarted("pbx1", 1.0, "other", "inbound", "139", "12345", "PJSIP/citizen-trunk-1"),
        _answered("other", queue="hotline-business"),  # not a live-transcript queue
        CallEnded("pbx1", 9.0, lid, "answered", record(lid, ())),
    ])
    assert len(ami.sent) == 1
    server, action, headers = ami.sent[0]
    assert (server, action) == ("pbx1", "Originate")
    fork = uuid.UUID(dict(headers)["Channel"].rsplit("/", 1)[1])
    assert sessions._expected[fork][0].call_id == f"pbx1:{lid}"  # call id = server:linkedid
    assert forker._channels == {("pbx1", "other"): "PJSIP/citizen-trunk-1"}


async def test_failed_originate_does_not_stop_the_forker() -> None:
    ami = FakeAmi(fail=True)
    forker = LiveForker(ami, LiveSessions(LiveTranscriptHub(), lambda: None), "h", 1)
    await _run(forker, [
        CallStarted("pbx1", 1.0, "a", "inbound", None, "12345", "PJSIP/c-1"), _answered("a"),
        CallStarted("pbx1", 1.0, "b", "inbound", None, "12345", "PJSIP/c-2"), _answered("b"),
    ])
    assert forker.failures == 2 and len(ami.sent) == 2
