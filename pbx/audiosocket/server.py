"""Asyncio AudioSocket TCP server.

Asterisk's ``AudioSocket(uuid,host:port)`` connects here, sends the UUID frame, then DTMF and
audio frames for as long as the channel lives. The server hands each connection to a session
built by a factory (the live-transcript feature builds one per call).

Telephony facts the server relies on (asterisk-traces/README.md, observation 21):

- the caller hanging up shows as a plain TCP close; Asterisk never sends the ``00 00 00``
  hangup frame, so EOF at a frame boundary is the normal end;
- ``AudioSocket()`` fails when neither side has sent anything for 2 s, so while a connection is
  open the server sends a 20 ms frame of silence whenever it has been quiet for ``keepalive``
  seconds (a ChanSpy leg on a silent call may produce no audio for a while);
- garbage (unknown kind, impossible length, bytes before the UUID) cannot be resynchronised in a
  length-prefixed stream: the connection is closed with a logged error, the server keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Protocol

from pbx.audiosocket.frames import (
    HANGUP_FRAME,
    HEADER,
    MAX_AUDIO_PAYLOAD,
    Frame,
    FrameError,
    Kind,
    audio_frame,
    describe_error,
    unknown_kind,
    validate,
)

log = logging.getLogger(__name__)

SILENCE_20MS = bytes(320)


class AudioSession(Protocol):
    """What a connection's audio is delivered to."""

    async def on_audio(self, pcm: bytes) -> None:
        """Signed linear 8 kHz 16-bit little-endian samples from Asterisk."""

    async def on_dtmf(self, digit: str) -> None:
        """A DTMF digit the caller pressed."""

    async def on_end(self, reason: str) -> None:
        """The connection ended (``caller_hangup``, ``server_hangup``, ``error_frame``,
        ``protocol_error``, ``read_timeout``, ``server_stopped``, ``session_error``)."""


class SessionFactory(Protocol):
    """Builds the session for a new connection; may raise to refuse the call."""

    def __call__(self, call_uuid: uuid.UUID, conn: AudioSocketConnection) -> AudioSession: ...


@dataclass
class ServerStats:
    """Counters for metrics and tests."""

    connections: int = 0
    active: int = 0
    protocol_errors: int = 0
    audio_frames: int = 0
    keepalives_sent: int = 0
    last_errors: list[str] = field(default_factory=list)


class AudioSocketConnection:
    """One Asterisk connection: send audio back, or end the AudioSocket() application."""

    def __init__(self, writer: asyncio.StreamWriter, peer: str) -> None:
        self.uuid: uuid.UUID | None = None
        self.peer = peer
        self._writer = writer
        self._last_sent = time.monotonic()
        self._hung_up = False

    async def send_audio(self, pcm: bytes) -> None:
        """Send slin 8 kHz audio to the channel (split into frames of at most 0.5 s)."""
        for i in range(0, len(pcm), MAX_AUDIO_PAYLOAD):
            await self._send(audio_frame(pcm[i : i + MAX_AUDIO_PAYLOAD]))

    async def hangup(self) -> None:
        """Send ``00 00 00``: Asterisk ends AudioSocket() and closes the connection."""
        if not self._hung_up:
            self._hung_up = True
            await self._send(HANGUP_FRAME)

    async def _send(self, data: bytes) -> None:
        if self._writer.is_closing():
            return
        self._writer.write(data)
        self._last_sent = time.monotonic()
        with contextlib.suppress(ConnectionError):
            await self._writer.drain()

    @property
    def idle_for(self) -> float:
        """Seconds since the server last sent anything."""
        return time.monotonic() - self._last_sent


class AudioSocketServer:
    """Accepts AudioSocket connections and feeds each to a session from ``session_factory``."""

    def __init__(
        self,
        session_factory: SessionFactory,
        host: str = "127.0.0.1",
        port: int = 9092,
        *,
        keepalive: float = 0.5,
        read_timeout: float = 30.0,
        frame_timeout: float = 5.0,
    ) -> None:
        self._factory = session_factory
        self._host, self._port = host, port
        self._keepalive = keepalive
        self._read_timeout = read_timeout
        # Asterisk writes each frame in one go: a payload that does not follow its header
        # promptly is a broken peer, not a slow one.
        self._frame_timeout = frame_timeout
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.stats = ServerStats()

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        if self._server is None:
            raise RuntimeError("AudioSocket server is not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        """Bind and start accepting connections."""
        self._server = await asyncio.start_server(self._accept, self._host, self._port)
        log.info("AudioSocket server listening on %s:%s", self._host, self.port)

    async def close(self) -> None:
        """Stop accepting, end every open connection and wait for their sessions to finish."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        finally:
            self._tasks.discard(task)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = "{}:{}".format(*(writer.get_extra_info("peername") or ("?", "?"))[:2])
        conn = AudioSocketConnection(writer, peer)
        self.stats.connections += 1
        self.stats.active += 1
        session: AudioSession | None = None
        reason = "caller_hangup"
        keepalive = asyncio.create_task(self._keep_alive(conn))
        try:
            first = await self._read_frame(reader, first=True)
            if first is None:
                return  # connect-and-close (a health check): nothing to do
            conn.uuid = first.uuid
            try:
                session = self._factory(first.uuid, conn)
            except Exception as exc:  # refused by the application: end the AudioSocket
                log.warning("AudioSocket %s refused: %s", first.uuid, exc)
                reason = "session_error"
                await conn.hangup()
                return
            while True:
                frame = await self._read_frame(reader)
                if frame is None:
                    reason = "server_hangup" if conn._hung_up else "caller_hangup"
                    break
                if frame.kind is Kind.AUDIO:
                    self.stats.audio_frames += 1
                    await session.on_audio(frame.payload)
                elif frame.kind is Kind.SILENCE:
                    continue
                elif frame.kind is Kind.DTMF:
                    await session.on_dtmf(frame.digit)
                elif frame.kind is Kind.HANGUP:
                    reason = "server_hangup"
                    break
                elif frame.kind is Kind.ERROR:
                    log.warning(
                        "AudioSocket %s: Asterisk sent an error frame: %s",
                        conn.uuid,
                        describe_error(frame.payload),
                    )
                    reason = "error_frame"
                    break
                else:  # a second UUID frame
                    raise FrameError(f"unexpected {frame.kind.name} frame after the UUID")
        except FrameError as exc:
            reason = "protocol_error"
            self.stats.protocol_errors += 1
            self.stats.last_errors = [*self.stats.last_errors[-9:], str(exc)]
            log.warning("AudioSocket %s from %s: protocol error, closing: %s", conn.uuid, peer, exc)
        except TimeoutError:
            reason = "read_timeout"
            log.warning(
                "AudioSocket %s: nothing from Asterisk for %.0f s, closing",
                conn.uuid,
                self._read_timeout,
            )
        except asyncio.CancelledError:
            reason = "server_stopped"
            with contextlib.suppress(Exception):
                await asyncio.shield(conn.hangup())
        except ConnectionError:
            reason = "caller_hangup"
        except Exception:
            reason = "session_error"
            log.exception("AudioSocket %s: session failed", conn.uuid)
        finally:
            keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keepalive
            self.stats.active -= 1
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            if session is not None:
                try:
                    await session.on_end(reason)
                except Exception:
                    log.exception("AudioSocket %s: on_end failed", conn.uuid)

    async def _read_frame(self, reader: asyncio.StreamReader,
                          first: bool = False) -> Frame | None:
        """The next frame, or None on EOF at a frame boundary. A connection cut mid-frame is a
        caller hang-up too (Asterisk closes without flushing) but is logged."""
        try:
            header = await asyncio.wait_for(reader.readexactly(HEADER.size), self._read_timeout)
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                log.info(
                    "AudioSocket: connection closed inside a frame header (%d bytes)",
                    len(exc.partial),
                )
            return None
        kind, length = HEADER.unpack(header)
        if kind not in Kind._value2member_map_:
            raise FrameError(f"{unknown_kind(kind)} (header {header.hex(' ')})")
        if first and kind != Kind.UUID:
            raise FrameError(f"first frame must be the UUID frame, got kind 0x{kind:02x}")
        if kind == Kind.AUDIO and length > MAX_AUDIO_PAYLOAD:
            raise FrameError(f"audio frame of {length} bytes exceeds {MAX_AUDIO_PAYLOAD}")
        try:
            payload = await asyncio.wait_for(reader.readexactly(length), self._frame_timeout)
        except asyncio.IncompleteReadError:
            log.info("AudioSocket: connection closed inside a %d-byte frame", length)
            return None
        except TimeoutError:
            raise FrameError(f"incomplete frame: header {header.hex(' ')} announced {length} "
                             f"bytes, they did not arrive within {self._frame_timeout} s") from None
        return validate(kind, payload)

    async def _keep_alive(self, conn: AudioSocketConnection) -> None:
        # AudioSocket() gives up after 2 s without activity in either direction.
        while True:
            await asyncio.sleep(self._keepalive / 2)
            if conn.uuid is not None and conn.idle_for >= self._keepalive and not conn._hung_up:
                await conn._send(audio_frame(SILENCE_20MS))
                self.stats.keepalives_sent += 1
