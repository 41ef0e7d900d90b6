"""AudioSocket frames and server, against the real frame layout captured from Asterisk 22."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from pbx.audiosocket import AudioSocketServer, FrameDecoder, FrameError, Kind, encode
from pbx.audiosocket.frames import HANGUP_FRAME, describe_error, validate
from tests.fakes.fake_audiosocket import FakeAsteriskAudioSocket, traced_frames, traced_hexdump

TRACE_UUID = uuid.UUID("a4e0c66b-b751-4075-a084-a6463cec3a5f")


class RecordingSession:
    """Collects what the server delivers."""

    def __init__(self, call_uuid: uuid.UUID) -> None:
        self.uuid = call_uuid
        self.audio: list[bytes] = []
        self.dtmf: list[str] = []
        self.ended = asyncio.Event()
        self.reason: str | None = None

    async def on_audio(self, pcm: bytes) -> None:
        self.audio.append(pcm)

    async def on_dtmf(self, digit: str) -> None:
        self.dtmf.append(digit)

    async def on_end(self, reason: str) -> None:
        self.reason = reason
        self.ended.set()


@pytest.fixture
async def server():
    sessions: list[RecordingSession] = []

    def factory(call_uuid, conn):
        if call_uuid.int == 0:
            raise LookupError("no call expects this AudioSocket")
        s = RecordingSession(call_uuid)
        s.conn = conn
        sessions.append(s)
        return s

    srv = AudioSocketServer(factory, "127.0.0.1", 0, keepalive=0.2, read_timeout=5,
                            frame_timeout=0.3)
    await srv.start()
    srv.sessions = sessions
    yield srv
    await srv.close()


async def _connect(srv) -> FakeAsteriskAudioSocket:
    return await FakeAsteriskAudioSocket.connect("127.0.0.1", srv.port)


def test_trace_headers_match_the_codec() -> None:
    frames = traced_frames()
    assert frames, "trace not parsed"
    for f in frames:
        assert encode(Kind(f.kind), f.rebuild()[3:]) == f.rebuild()
        assert f.header[0] == f.kind and int.from_bytes(f.header[1:], "big") == f.length
    audio = [f for f in frames if f.direction == "from-asterisk" and f.kind == Kind.AUDIO]
    assert {f.length for f in audio} == {480}  # RTP packetization of the caller: 30 ms


def test_decoder_on_the_exact_captured_bytes() -> None:
    data = traced_hexdump(1)
    decoder = FrameDecoder()
    frames = []
    for i in range(0, len(data), 7):  # arbitrary TCP segmentation
        frames += decoder.feed(data[i:i + 7])
    assert frames[0].kind is Kind.UUID and frames[0].uuid == TRACE_UUID
    assert frames[1].kind is Kind.DTMF and frames[1].digit == "1"
    assert decoder.pending == len(data) - 23  # the audio frame is still incomplete


@pytest.mark.parametrize("raw,message", [
    (b"\x42\x00\x00", "unknown AudioSocket frame kind 0x42"),
    (b"\x01\x00\x04abcd", "UUID frame must carry 16 bytes"),
    (b"\x03\x00\x01Z", "DTMF frame"),
    (b"\x10\x00\x03abc", "whole 16-bit samples"),
    (b"\x10\xff\xff", "exceeds"),
    (b"\x00\x00\x01x", "hangup frame must be empty"),
    (b"\x12\x01\x40", "slin 16000 Hz"),  # higher-rate kinds of newer peers: named, refused
])
def test_decoder_rejects_garbage(raw: bytes, message: str) -> None:
    with pytest.raises(FrameError, match=message):
        FrameDecoder().feed(raw)


def test_validate_error_frame() -> None:
    assert validate(0xFF, b"\x01").kind is Kind.ERROR
    assert describe_error(b"\x01") == "0x01 (hangup of calling party)"
    assert describe_error(b"") == "no error code"


async def test_replay_of_captured_call_ending_with_plain_close(server) -> None:
    client = await _connect(server)
    sent = [f for f in traced_frames() if f.connection == 1 and f.direction == "from-asterisk"]
    for f in sent:
        await client.send_raw(f.rebuild())
    await client.close()  # Asterisk: no 00 00 00, just EOF
    await asyncio.wait_for(_first_session(server), 2)
    session = server.sessions[0]
    await asyncio.wait_for(session.ended.wait(), 2)
    assert session.uuid == TRACE_UUID
    assert session.dtmf == ["1"]
    assert [len(a) for a in session.audio] == [480] * 28
    assert session.reason == "caller_hangup"
    assert server.stats.protocol_errors == 0


async def _first_session(srv) -> None:
    for _ in range(200):
        if srv.sessions:
            return
        await asyncio.sleep(0.01)


async def test_server_hangup_sends_00_00_00(server) -> None:
    client = await _connect(server)
    await client.send_uuid(uuid.uuid4())
    await _first_session(server)
    await server.sessions[0].conn.hangup()
    # Asterisk ends AudioSocket() on the hangup frame and closes the connection itself.
    for _ in range(100):
        if client.frames_of(Kind.HANGUP):
            break
        await asyncio.sleep(0.01)
    assert client.frames_of(Kind.HANGUP)
    await client.close()
    await asyncio.wait_for(server.sessions[0].ended.wait(), 2)
    assert server.sessions[0].reason == "server_hangup"
    assert HANGUP_FRAME == b"\x00\x00\x00"


@pytest.mark.parametrize("garbage", [
    b"GET / HTTP/1.1\r\n\r\n",        # a stray HTTP client
    b"\x10\x01\xe0" + bytes(10),     # audio before the UUID frame
    b"\x01\x00\x10\x99\x99",      # UUID frame whose payload never arrives
])
async def test_garbage_closes_connection_and_server_keeps_serving(server, garbage) -> None:
    bad = await _connect(server)
    await bad.send_raw(garbage)
    await asyncio.wait_for(bad.closed_by_server.wait(), 6)
    await bad.close()
    good = await _connect(server)
    await good.send_uuid(TRACE_UUID)
    await good.send_audio(bytes(960))
    await good.close()
    await asyncio.wait_for(_first_session(server), 2)
    session = server.sessions[-1]
    await asyncio.wait_for(session.ended.wait(), 2)
    assert session.uuid == TRACE_UUID and sum(map(len, session.audio)) == 960


async def test_garbage_after_uuid_is_a_protocol_error(server) -> None:
    client = await _connect(server)
    await client.send_uuid(uuid.uuid4())
    await client.send_audio(bytes(480))
    await client.send_raw(b"\x77\x00\x00")
    await asyncio.wait_for(client.closed_by_server.wait(), 2)
    await client.close()
    session = server.sessions[0]
    await asyncio.wait_for(session.ended.wait(), 2)
    assert session.reason == "protocol_error"
    assert server.stats.protocol_errors == 1
    assert "0x77" in server.stats.last_errors[-1]


async def test_error_frame_from_asterisk_ends_session(server) -> None:
    client = await _connect(server)
    await client.send_uuid(uuid.uuid4())
    await client.send_raw(b"\xff\x00\x01\x02")
    await asyncio.wait_for(client.closed_by_server.wait(), 2)
    await client.close()
    await asyncio.wait_for(server.sessions[0].ended.wait(), 2)
    assert server.sessions[0].reason == "error_frame"


async def test_keepalive_silence_while_caller_is_silent(server) -> None:
    client = await _connect(server)
    await client.send_uuid(uuid.uuid4())
    await asyncio.sleep(0.8)  # Asterisk would drop us after 2 s without any activity
    audio = client.frames_of(Kind.AUDIO)
    assert len(audio) >= 2 and all(f.payload == bytes(320) for f in audio)
    await client.close()


async def test_refused_call_gets_hangup_frame(server) -> None:
    client = await _connect(server)
    await client.send_uuid(uuid.UUID(int=0))
    await asyncio.wait_for(client.closed_by_server.wait(), 2)
    assert client.frames_of(Kind.HANGUP)
    await client.close()
    assert server.sessions == []


async def test_health_check_connect_and_close(server) -> None:
    client = await _connect(server)
    await client.close()
    await asyncio.sleep(0.05)
    assert server.stats.active == 0 and server.stats.protocol_errors == 0


async def test_close_ends_open_connections(server) -> None:
    client = await _connect(server)
    await client.send_uuid(uuid.uuid4())
    await _first_session(server)
    await server.close()
    assert server.sessions[0].reason == "server_stopped"
    await asyncio.wait_for(client.closed_by_server.wait(), 2)
    assert client.frames_of(Kind.HANGUP)
    await client.close()
