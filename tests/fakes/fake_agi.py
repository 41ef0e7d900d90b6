"""A fake Asterisk on the FastAGI client side, over real TCP.

Two ways to drive our server:

* :func:`replay` plays back a captured session from ``../shared/asterisk-traces/*.agi.txt``:
  it sends the recorded environment, checks that every command our server sends is byte-identical
  to the recorded one, and answers with the recorded reply bytes (including the unsolicited
  ``HANGUP`` lines exactly where Asterisk sent them).
* :class:`FakeCaller` simulates a channel with a caller pressing keys: it answers any command the
  way Asterisk 22 does (trace formats), can hang up at a chosen command, and records the channel
  variables the IVR set.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

TRACES_DIR = Path(os.environ.get("HOTLINE_TRACES_DIR",
                                 Path(__file__).resolve().parents[1] / "traces"))
"""The captured Asterisk 22 traces (a copy of ``../shared/asterisk-traces`` in ``tests/traces``)."""

DEAD = b"511 Command Not Permitted on a dead channel or intercept routine\n"
MEDIA = ("ANSWER", "STREAM FILE", "GET DATA", "WAIT FOR DIGIT", "SAY ", "EXEC",
         "CHANNEL STATUS")


def trace_records(path: Path) -> Iterator[tuple[dict[str, object], bytes]]:
    """Yield ``(meta, payload)`` for each record of an annotated trace file."""
    data = path.read_bytes()
    pos = 0
    while pos < len(data):
        end = data.find(b"\r\n", pos)
        meta = json.loads(data[pos + 3:end])
        n = int(meta.get("len", 0))
        yield meta, data[end + 2:end + 2 + n]
        pos = end + 2 + n


@dataclass
class Step:
    """One command our server must send, and the bytes Asterisk answered with."""

    command: bytes
    replies: list[bytes] = field(default_factory=list)


@dataclass
class TraceSession:
    """One captured FastAGI connection."""

    number: int
    environment: bytes = b""
    steps: list[Step] = field(default_factory=list)
    trailing: list[bytes] = field(default_factory=list)
    """What Asterisk sent after our half-close (the trailing ``HANGUP`` lines)."""

    @property
    def commands(self) -> list[str]:
        """The commands as text, without the newline."""
        return [s.command.decode().rstrip("\n") for s in self.steps]


def load_sessions(name: str) -> list[TraceSession]:
    """All FastAGI sessions of ``<name>.agi.txt`` (e.g. ``"11-agi-hangup"``), in order."""
    sessions: dict[int, TraceSession] = {}
    closed: set[int] = set()
    for meta, payload in trace_records(TRACES_DIR / f"{name}.agi.txt"):
        if "session" not in meta:
            continue
        num = int(meta["session"])  # type: ignore[arg-type]
        sess = sessions.setdefault(num, TraceSession(num))
        note = str(meta.get("note", ""))
        if "half-closed" in note:
            closed.add(num)
        direction = meta.get("dir")
        if direction == "to-asterisk":
            sess.steps.append(Step(payload))
        elif direction == "from-asterisk":
            if num in closed:
                sess.trailing.append(payload)
            elif sess.steps:
                sess.steps[-1].replies.append(payload)
            else:
                sess.environment += payload
    return [sessions[k] for k in sorted(sessions)]


class ReplayMismatch(AssertionError):
    """Our server sent something other than what the real script sent."""


async def replay(host: str, port: int, session: TraceSession, wait: float = 5.0) -> list[str]:
    """Replay ``session`` against the server; return the commands received.

    Raises :class:`ReplayMismatch` when a command differs from the trace or the server closes
    early, and ``TimeoutError`` when it stalls for ``wait`` seconds.
    """
    reader, writer = await asyncio.open_connection(host, port)
    received: list[str] = []
    try:
        writer.write(session.environment)
        await writer.drain()
        for step in session.steps:
            line = await asyncio.wait_for(reader.readline(), wait)
            if not line:
                raise ReplayMismatch(f"server closed; expected {step.command!r}")
            received.append(line.decode().rstrip("\n"))
            if line != step.command:
                raise ReplayMismatch(f"expected {step.command!r}, got {line!r}")
            for reply in step.replies:
                writer.write(reply)
            await writer.drain()
        rest = await asyncio.wait_for(reader.read(), wait)
        if rest:
            raise ReplayMismatch(f"unexpected extra commands {rest!r}")
        for chunk in session.trailing:
            writer.write(chunk)
        await writer.drain()
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (ConnectionError, OSError):
            pass
    return received


_uniq = itertools.count(1)


def environment(script: str = "ivr", args: Iterable[str] = ("13800138000",),
                **overrides: str) -> bytes:
    """An environment block shaped like Asterisk 22's (trace 02) with a fresh Uniqueid."""
    n = next(_uniq)
    values = {
        "agi_network": "yes", "agi_network_script": script,
        "agi_request": f"agi://127.0.0.1:4573/{script}",
        "agi_channel": f"PJSIP/citizen-trunk-{n:08x}", "agi_language": "en", "agi_type": "PJSIP",
        "agi_uniqueid": f"pbx1-1795837952.{n}", "agi_version": "22.10.1",
        "agi_callerid": "13800138000", "agi_calleridname": "13800138000",
        "agi_callingpres": "0", "agi_callingani2": "0", "agi_callington": "0",
        "agi_callingtns": "0", "agi_dnid": "12345", "agi_rdnis": "unknown",
        "agi_context": "from-trunk", "agi_extension": "12345", "agi_priority": "3",
        "agi_enhanced": "0.0", "agi_accountcode": "", "agi_threadid": "140469697984192",
    }
    values.update(overrides)
    for i, arg in enumerate(args, 1):
        values[f"agi_arg_{i}"] = arg
    return b"".join(f"{k}: {v}\n".encode() for k, v in values.items()) + b"\n"


class FakeCaller:
    """A simulated Asterisk channel answering FastAGI commands.

    ``keys`` are consumed in order by input commands: ``GET DATA`` takes one whole item (``""``
    means the caller keyed nothing: ``200 result= (timeout)``), ``WAIT FOR DIGIT`` one item of at
    most one key. ``hang_up_at`` is the 0-based index of the command during which the caller hangs
    up: that command gets ``result=-1`` (or ``511`` if it cannot run), Asterisk then sends
    ``HANGUP`` before the next reply, as in trace 11.
    """

    def __init__(self, keys: Iterable[str] = (), *, hang_up_at: int | None = None,
                 variables: dict[str, str] | None = None,
                 media_delay: Callable[[], float] | None = None) -> None:
        self.keys = list(keys)
        self.media_delay = media_delay
        """Seconds to wait before answering a media command (prompt playback, caller keying);
        ``None`` answers at once."""
        self.hang_up_at = hang_up_at
        self.variables: dict[str, str] = dict(variables or {})
        self.commands: list[str] = []
        self.dead = False
        self._hangup_announced = False

    def answer_for(self, cmd: str) -> bytes:
        """The reply bytes Asterisk would send for ``cmd`` in the current channel state."""
        index = len(self.commands)
        self.commands.append(cmd)
        out = b""
        if self.hang_up_at is not None and index >= self.hang_up_at and not self.dead:
            self.dead = True
            if cmd.startswith(MEDIA):
                return b"200 result=-1" + (b" endpos=1200" if cmd.startswith("STREAM") else b"") \
                    + b"\n"
        if self.dead and not self._hangup_announced:
            out += b"HANGUP\n"
            self._hangup_announced = True
        if self.dead and cmd.startswith(MEDIA):
            return out + DEAD
        return out + self._live(cmd)

    def _live(self, cmd: str) -> bytes:
        words = cmd.split(" ")
        if cmd == "ANSWER" or cmd.startswith(("SAY ", "EXEC")):
            return b"200 result=0\n"
        if cmd.startswith("STREAM FILE"):
            return b"200 result=0 endpos=8000\n"
        if cmd.startswith("GET DATA"):
            typed = self.keys.pop(0) if self.keys else ""
            return f"200 result={typed}{' (timeout)' if not typed else ''}\n".encode()
        if cmd.startswith("WAIT FOR DIGIT"):
            typed = self.keys.pop(0) if self.keys else ""
            return f"200 result={ord(typed[0]) if typed else 0}\n".encode()
        if cmd.startswith("SET VARIABLE"):
            value = " ".join(words[3:])
            if value.startswith('"') and value.endswith('"'):
                value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
            self.variables[words[2]] = value
            return b"200 result=1\n"
        if cmd.startswith("GET VARIABLE"):
            value = self.variables.get(words[2])
            return b"200 result=0\n" if value is None else f"200 result=1 ({value})\n".encode()
        if cmd.startswith("VERBOSE"):
            return b"200 result=1\n"
        if cmd == "HANGUP":
            self.dead = True
            self._hangup_announced = True
            return b"200 result=1\n"
        return b"510 Invalid or unknown command\n"

    async def call(self, host: str, port: int, script: str = "ivr",
                   args: Iterable[str] = ("13800138000",), wait: float = 10.0,
                   **env: str) -> FakeCaller:
        """Connect, send the environment, answer commands until the server closes."""
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(environment(script, args, **env))
            await writer.drain()
            while True:
                line = await asyncio.wait_for(reader.readline(), wait)
                if not line:
                    break
                cmd = line.decode().rstrip("\n")
                if self.media_delay is not None and cmd.startswith(MEDIA):
                    await asyncio.sleep(self.media_delay())
                writer.write(self.answer_for(cmd))
                await writer.drain()
            # Asterisk always writes HANGUP after the AGI server finishes (observation 20).
            writer.write(b"HANGUP\n")
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass
        return self
