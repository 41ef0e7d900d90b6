"""Live transcript: AudioSocket (real TCP, real frame layout) → streaming recognizer →
in-process pub/sub by call; the real Vosk model on espeak-ng speech as well."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from pbx.audiosocket import AudioSocketServer
from recordings.fake_stt import FakeStream
from recordings.live import LiveSessions, LiveTranscriptHub
from recordings.stt import VoskTranscriber, read_pcm
from tests.fakes.fake_audiosocket import FakeAsteriskAudioSocket
from tests.recordings.conftest import concat, speak


async def _collect(sub, limit: float = 10.0) -> list[dict]:
    events = []
    async with asyncio.timeout(limit):
        async for event in sub:
            events.append(event)
    return events


@pytest.fixture
async def live():
    hub = LiveTranscriptHub()
    streams: dict[str, object] = {}
    sessions = LiveSessions(hub, lambda: streams["factory"]())
    server = AudioSocketServer(sessions, "127.0.0.1", 0, keepalive=0.2)
    await server.start()
    yield hub, sessions, server, streams
    await server.close()


async def test_partial_and_final_lines_reach_the_subscriber(live) -> None:
    hub, sessions, server, streams = live
    streams["factory"] = lambda: FakeStream(["我", "要", "投诉", "物业", "不管"],
                                            bytes_per_word=960, words_per_final=3)
    fork = uuid.uuid4()
    sessions.expect(fork, "pbx1-1.1")
    sub = hub.subscribe("pbx1-1.1")
    other = hub.subscribe("pbx1-2.2")
    client = await FakeAsteriskAudioSocket.connect("127.0.0.1", server.port)
    await client.send_uuid(fork)
    await client.send_dtmf("1")
    await client.send_audio(bytes(960 * 5), frame_bytes=480)
    await client.close()  # the citizen hangs up: plain TCP close
    events = await _collect(sub)
    kinds = [(e["type"], e.get("text")) for e in events]
    assert kinds == [("partial", "我"), ("partial", "我 要"), ("final", "我 要 投诉"),
                     ("partial", "物业"), ("partial", "物业 不管"),
                     ("final", "物业 不管"), ("end", None)]  # the last line flushed at hang-up
    assert all(e["call_id"] == "pbx1-1.1" and e["speaker"] == "citizen" for e in events)
    assert events[-1]["reason"] == "caller_hangup"
    assert other.queue.empty()
    # A console that opens late gets the final lines so far (none: the call ended).
    assert hub.lines("pbx1-1.1") == []


async def test_citizen_finals_refresh_the_live_draft(units) -> None:
    hub = LiveTranscriptHub()
    sessions = LiveSessions(hub, lambda: FakeStream(["我 要 投诉", "小区 物业 不管"],
                                                    bytes_per_word=960, words_per_final=1),
                            units=units)
    fork = uuid.uuid4()
    sessions.expect(fork, "pbx1-4.4")
    sub = hub.subscribe("pbx1-4.4")
    session = sessions(fork, SimpleNamespace(peer="127.0.0.1:1"))  # type: ignore[arg-type]
    await session.on_audio(bytes(960))
    await session.on_audio(bytes(960))
    await session.on_end("caller_hangup")
    events = await _collect(sub)
    drafts = [e["draft"] for e in events if e["type"] == "draft"]
    assert [d["category"] for d in drafts] == ["投诉", "投诉"]
    assert [d["suggested_unit"] for d in drafts] == [None, "CZ-ZJJ"]
    assert [e["type"] for e in events] == ["final", "draft", "final", "draft", "end"]


async def test_unknown_fork_is_refused_with_hangup_frame(live) -> None:
    _hub, _sessions, server, _streams = live
    client = await FakeAsteriskAudioSocket.connect("127.0.0.1", server.port)
    await client.send_uuid(uuid.uuid4())
    await asyncio.wait_for(client.closed_by_server.wait(), 2)
    assert client.received and client.received[-1].kind == 0
    await client.close()


def test_slow_subscriber_drops_oldest() -> None:
    hub = LiveTranscriptHub(queue_size=2)
    sub = hub.subscribe("c")
    for i in range(4):
        hub.publish("c", {"type": "partial", "text": str(i)})
    assert sub.dropped == 2
    assert [sub.queue.get_nowait()["text"] for _ in range(2)] == ["2", "3"]


def test_late_subscriber_gets_finals_so_far() -> None:
    hub = LiveTranscriptHub()
    hub.publish("c", {"type": "final", "text": "一"})
    hub.publish("c", {"type": "partial", "text": "二"})
    sub = hub.subscribe("c")
    assert sub.queue.get_nowait()["text"] == "一" and sub.queue.empty()


@pytest.mark.vosk
async def test_real_vosk_stream_over_audiosocket(live, vosk_model, tmp_path: Path) -> None:
    hub, sessions, server, streams = live
    grammar = ["안녕하세요", "병원", "넷", "일곱", "감사합니다"]
    transcriber = VoskTranscriber(vosk_model, grammar)
    streams["factory"] = lambda: transcriber.stream(8000)
    a = speak("안녕하세요", tmp_path / "a.wav", pad_after=1.5)
    wav = concat([a, speak("병원", tmp_path / "b.wav")], tmp_path / "ab.wav")
    _, pcm = read_pcm(wav)
    fork = uuid.uuid4()
    sessions.expect(fork, "pbx1-9.9")
    sub = hub.subscribe("pbx1-9.9")
    client = await FakeAsteriskAudioSocket.connect("127.0.0.1", server.port)
    await client.send_uuid(fork)
    await client.send_audio(pcm, frame_bytes=480)  # 30 ms frames as Asterisk sends them
    await client.close()
    events = await _collect(sub, 30)
    finals = [e for e in events if e["type"] == "final"]
    assert events[-1] == {"type": "end", "reason": "caller_hangup", "speaker": "citizen",
                          "call_id": "pbx1-9.9"}, server.stats
    assert [w["word"] for f in finals for w in f["words"]] == ["안녕하세요", "병원"], events
