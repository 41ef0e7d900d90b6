"""A fake Asterisk side of AudioSocket: connects to our server over real TCP and sends frames the
way Asterisk 22 does (UUID first, DTMF, slin audio in RTP-sized frames, then a plain close)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from pbx.audiosocket.frames import Frame, FrameDecoder, FrameError, Kind, encode

TRACE = Path(__file__).resolve().parents[1] / "traces" / "12-audiosocket.frames.txt"


@dataclass(frozen=True)
class TracedFrame:
    """One frame line of the captured trace (from-asterisk or to-asterisk)."""

    connection: int
    direction: str
    kind: int
    length: int
    header: bytes
    payload_start: bytes

    def rebuild(self) -> bytes:
        """Frame bytes: the real header and the payload, padded by repeating its captured start
        (the trace only keeps the first 16 payload bytes of audio frames)."""
        payload = self.payload_start
        if len(payload) < self.length:
            payload = (payload * (self.length // max(len(payload), 1) + 1))[: self.length]
        return self.header + payload


_LINE = re.compile(r"^\s*\d+\s+[\d.]+\s+(from-asterisk|to-asterisk)\s+0x([0-9a-f]{2})\s.*?"
                   r"(\d+)\s+((?:[0-9a-f]{2} ){2}[0-9a-f]{2})\s*((?:[0-9a-f]{2} ?)*)$")


def traced_frames(path: Path = TRACE) -> list[TracedFrame]:
    """Every frame line of the AudioSocket trace, in order, with its connection number."""
    frames, conn = [], 0
    for line in path.read_text().splitlines():
        if line.startswith("=== AudioSocket connection"):
            conn += 1
            continue
        m = _LINE.match(line)
        if m:
            frames.append(TracedFrame(conn, m.group(1), int(m.group(2), 16), int(m.group(3)),
                                      bytes.fromhex(m.group(4)), bytes.fromhex(m.group(5))))
    return frames


def traced_hexdump(connection: int, path: Path = TRACE) -> bytes:
    """The exact first bytes Asterisk sent on ``connection`` (from the trace's hexdump)."""
    out, conn, inside = bytearray(), 0, False
    for line in path.read_text().splitlines():
        if line.startswith("=== AudioSocket connection"):
            conn += 1
            inside = False
        elif "hexdump of the first" in line:
            inside = conn == connection
        elif inside:
            m = re.match(r"\s*[0-9a-f]{8}\s+((?:[0-9a-f]{2}\s+){1,16})\|", line)
            if m:
                out += bytes.fromhex(m.group(1))
    return bytes(out)


class FakeAsteriskAudioSocket:
    """The Asterisk end of one AudioSocket connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer
        self.received: list[Frame] = []
        self.closed_by_server = asyncio.Event()
        self._decoder = FrameDecoder()
        self._task = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, host: str, port: int) -> FakeAsteriskAudioSocket:
        """Open the TCP connection (as ``AudioSocket(uuid,host:port)`` does)."""
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionError, FrameError):
            while data := await self._reader.read(65536):
                self.received += self._decoder.feed(data)
        self.closed_by_server.set()

    async def send_raw(self, data: bytes) -> None:
        """Write bytes as they are."""
        self._writer.write(data)
        with contextlib.suppress(ConnectionError):
            await self._writer.drain()

    async def send_uuid(self, call_uuid: uuid.UUID) -> None:
        """The identification frame (16 raw bytes)."""
        await self.send_raw(encode(Kind.UUID, call_uuid.bytes))

    async def send_dtmf(self, digit: str) -> None:
        """A DTMF frame (``03 00 01 31`` for '1')."""
        await self.send_raw(encode(Kind.DTMF, digit.encode("ascii")))

    async def send_audio(self, pcm: bytes, frame_bytes: int = 480, pace: float = 0.0) -> None:
        """Audio as RTP-sized frames (480 bytes = 30 ms, as in the trace), optionally paced."""
        for i in range(0, len(pcm), frame_bytes):
            chunk = pcm[i:i + frame_bytes]
            if len(chunk) % 2:
                chunk = chunk[:-1]
            if chunk:
                await self.send_raw(encode(Kind.AUDIO, chunk))
            if pace:
                await asyncio.sleep(pace)

    async def close(self) -> None:
        """Hang up the way Asterisk does: close TCP without any hangup frame."""
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    def frames_of(self, kind: Kind) -> list[Frame]:
        """Frames of one kind received from the server."""
        return [f for f in self.received if f.kind is kind]
