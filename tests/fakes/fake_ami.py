"""A fake Asterisk that speaks AMI over real TCP, for tests.

It sends the real banner, answers Login (accepting one username/secret; a wrong secret gets
``Response: Error`` / ``Authentication failed`` and the socket is closed, like Asterisk 22),
answers actions (built-ins for Ping, Logoff, CoreShowChannels, QueueStatus, plus scripted
handlers), and sends events: single ones, raw bytes, or whole captured traces from
``asterisk-traces/`` (``.ami.wire.txt`` or the annotated ``.ami.txt``). It keeps the channel
list from the events it sent, so ``CoreShowChannels`` answers like the real thing. Faults:
``drop()`` cuts every connection, ``silent`` stops answering, ``restart()`` drops and forgets
all state (an Asterisk restart).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

TRACES = Path(__file__).resolve().parents[1] / "traces"
BANNER = b"Asterisk Call Manager/11.0.0\r\n"

Fields = list[tuple[str, str]]
ActionHandler = Callable[[dict[str, str]], list[Fields]]


def encode(fields: Iterable[tuple[str, str]] | dict[str, str]) -> bytes:
    """One AMI message on the wire."""
    items = fields.items() if isinstance(fields, dict) else fields
    return ("".join(f"{k}: {v}\r\n" for k, v in items) + "\r\n").encode()


def split_blocks(data: bytes) -> list[bytes]:
    """Split a server→client stream into message blocks (banner removed)."""
    if data.startswith(b"Asterisk Call Manager/"):
        data = data[data.index(b"\r\n") + 2 :]
    return [b for b in data.split(b"\r\n\r\n") if b.strip()]


def block_fields(block: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in block.decode("utf-8", "replace").split("\r\n"):
        k, sep, v = line.partition(": ")
        if sep and k not in out:
            out[k] = v
    return out


def annotated_records(path: Path) -> Iterator[tuple[dict, bytes]]:
    """Records of an annotated ``.ami.txt`` trace: (meta, bytes)."""
    data = path.read_bytes()
    pos = 0
    while pos < len(data):
        j = data.find(b"\r\n", pos)
        meta = json.loads(data[pos + 3 : j])
        n = meta.get("len", 0)
        yield meta, data[j + 2 : j + 2 + n]
        pos = j + 2 + n


def timed_event_blocks(path: Path) -> list[tuple[float, bytes]]:
    """The live events of a trace with their capture time ``t`` (0.0 for ``.wire.txt``),
    without responses and without the list items of the capture script's own actions."""
    timed: list[tuple[float, bytes]] = []
    if path.name.endswith(".ami.wire.txt"):
        timed = [(0.0, b) for b in split_blocks(path.read_bytes())]
    else:
        for meta, raw in annotated_records(path):
            if meta.get("dir") == "from-asterisk" and raw:
                timed.extend((float(meta.get("t", 0.0)), b) for b in split_blocks(raw))
    return [(t, b) for t, b in timed if b.startswith(b"Event: ") and b"\r\nActionID: " not in b]


def live_event_blocks(path: Path) -> list[bytes]:
    """The live events of a trace (``.ami.wire.txt`` or annotated ``.ami.txt``)."""
    return [b for _, b in timed_event_blocks(path)]


class FakeAmi:
    """The fake server. ``async with FakeAmi() as fake:`` binds 127.0.0.1 on a free port."""

    def __init__(
        self,
        *,
        username: str = "hotline",
        secret: str = "s3cret",
        auth_fail_delay: float = 0.05,
        port: int = 0,
    ) -> None:
        self.username = username
        self.secret = secret
        self.auth_fail_delay = auth_fail_delay
        self.port = port
        self.silent = False
        self.refuse_logins = False
        self.actions: list[dict[str, str]] = []
        self.logins = 0
        self.channels: dict[str, dict[str, str]] = {}
        self.queue_items: list[Fields] = []
        self.handlers: dict[str, ActionHandler] = {}
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._logged_in: set[asyncio.StreamWriter] = set()
        self.login_event = asyncio.Event()

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.drop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for t in list(self._tasks):
            t.cancel()
        for t in list(self._tasks):
            with contextlib.suppress(BaseException):
                await t

    async def __aenter__(self) -> FakeAmi:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def drop(self) -> None:
        """Cut every client connection at once (RST, like a crashed Asterisk)."""
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()
        self._logged_in.clear()

    async def restart(self, down_for: float = 0.0) -> None:
        """Asterisk restart: drop the clients, forget channels and queue callers, optionally
        refuse connections for ``down_for`` seconds."""
        self.drop()
        self.channels.clear()
        self.queue_items.clear()
        if down_for > 0 and self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            await asyncio.sleep(down_for)
            self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    @property
    def clients(self) -> int:
        """Number of logged-in clients."""
        return len(self._logged_in)

    async def wait_login(self, count: int = 1, timeout: float = 3.0) -> None:  # noqa: ASYNC109
        """Wait until ``count`` logins in total have happened."""
        async with asyncio.timeout(timeout):
            while self.logins < count:
                self.login_event.clear()
                await self.login_event.wait()

    # ------------------------------------------------------------------ sending
    def send_raw(self, data: bytes) -> None:
        """Bytes to every logged-in client, as they are."""
        for w in list(self._logged_in):
            if not w.is_closing():
                w.write(data)

    def send_event(self, fields: dict[str, str] | Fields) -> None:
        """One event (fields include ``Event``) to every logged-in client."""
        data = encode(fields)
        self._track(data)
        self.send_raw(data)

    def send_blocks(self, blocks: Iterable[bytes]) -> None:
        for b in blocks:
            self._track(b)
            self.send_raw(b + b"\r\n\r\n")

    async def replay(
        self,
        trace: str | Path,
        *,
        until: Callable[[bytes], bool] | None = None,
        chunk: int = 50,
        speed: float | None = None,
    ) -> int:
        """Send the live events of a trace; stop *before* the first block where ``until``
        returns True. With an annotated ``.ami.txt`` and ``speed``, events keep the captured
        timing (``speed=10``: ten times faster). Returns the number of events sent."""
        path = Path(trace)
        if not path.is_absolute():
            path = TRACES / path
        sent = 0
        timed = timed_event_blocks(path)
        start = timed[0][0] if timed else 0.0
        t0 = asyncio.get_running_loop().time()
        for i, (t, b) in enumerate(timed):
            if until is not None and until(b):
                break
            if speed:  # keep the capture's pacing, ``speed`` times faster
                delay = (t - start) / speed - (asyncio.get_running_loop().time() - t0)
                if delay > 0:
                    await self._drain()
                    await asyncio.sleep(delay)
            self._track(b)
            self.send_raw(b + b"\r\n\r\n")
            sent += 1
            if i % chunk == chunk - 1:
                await self._drain()
        await self._drain()
        return sent

    def remaining(self, trace: str | Path, after: Callable[[bytes], bool]) -> list[bytes]:
        """Blocks of a trace from the first one where ``after`` is True."""
        path = Path(trace)
        if not path.is_absolute():
            path = TRACES / path
        blocks = live_event_blocks(path)
        for i, b in enumerate(blocks):
            if after(b):
                return blocks[i:]
        return []

    async def _drain(self) -> None:
        for w in list(self._logged_in):
            with contextlib.suppress(ConnectionError):
                await w.drain()
        await asyncio.sleep(0)

    def _track(self, block: bytes) -> None:
        """Keep the channel list like Asterisk would, for CoreShowChannels."""
        if block.startswith(b"Event: Newchannel\r\n"):
            f = block_fields(block)
            if "Uniqueid" in f:  # a malformed event sent on purpose has none
                self.channels[f["Uniqueid"]] = f
        elif block.startswith(b"Event: Hangup\r\n"):
            self.channels.pop(block_fields(block).get("Uniqueid", ""), None)
        elif block.startswith(b"Event: Newexten\r\n") or block.startswith(b"Event: Newstate\r\n"):
            f = block_fields(block)
            ch = self.channels.get(f.get("Uniqueid", ""))
            if ch is not None:
                for k in ("Context", "Exten", "ChannelState", "ChannelStateDesc"):
                    if k in f:
                        ch[k] = f[k]

    # ------------------------------------------------------------------ serving
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            writer.write(BANNER)
            buf = b""
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                buf += data
                while b"\r\n\r\n" in buf:
                    block, buf = buf.split(b"\r\n\r\n", 1)
                    action = block_fields(block)
                    if not await self._answer(action, writer):
                        return
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            self._logged_in.discard(writer)
            writer.close()

    async def _answer(self, action: dict[str, str], writer: asyncio.StreamWriter) -> bool:
        """Answer one action; False to close the connection."""
        self.actions.append(action)
        if self.silent:
            return True
        name = action.get("Action", "")
        aid = action.get("ActionID")
        tail = [("ActionID", aid)] if aid is not None else []
        if name.lower() == "login":
            ok = (
                action.get("Username") == self.username
                and action.get("Secret") == self.secret
                and not self.refuse_logins
            )
            if not ok:
                await asyncio.sleep(self.auth_fail_delay)
                writer.write(
                    encode([("Response", "Error"), *tail, ("Message", "Authentication failed")])
                )
                await writer.drain()
                return False
            writer.write(
                encode([("Response", "Success"), *tail, ("Message", "Authentication accepted")])
            )
            writer.write(
                encode(
                    [
                        ("Event", "FullyBooted"),
                        ("Privilege", "system,all"),
                        ("Status", "Fully Booted"),
                    ]
                )
            )
            self._logged_in.add(writer)
            self.logins += 1
            self.login_event.set()
            return True
        if writer not in self._logged_in:
            writer.write(encode([("Response", "Error"), *tail, ("Message", "Permission denied")]))
            return True
        if name.lower() == "logoff":
            writer.write(
                encode([("Response", "Goodbye"), *tail, ("Message", "Thanks for all the fish.")])
            )
            await writer.drain()
            return False
        handler = self.handlers.get(name)
        if handler is not None:
            replies = handler(action)
        elif name == "Ping":
            replies = [[("Response", "Success"), ("Ping", "Pong")]]
        elif name == "CoreShowChannels":
            replies = self._core_show_channels()
        elif name == "QueueStatus":
            replies = self._list(
                "Queue status will follow", "QueueStatusComplete", self.queue_items
            )
        else:
            replies = [[("Response", "Success"), ("Message", f"{name} accepted by fake")]]
        for fields in replies:
            if aid is not None:
                fields = [*fields[:1], ("ActionID", aid), *fields[1:]]
            writer.write(encode(fields))
        return True

    def _list(self, message: str, complete: str, items: list[Fields]) -> list[Fields]:
        return [
            [("Response", "Success"), ("EventList", "start"), ("Message", message)],
            *[list(i) for i in items],
            [("Event", complete), ("EventList", "Complete"), ("ListItems", str(len(items)))],
        ]

    def _core_show_channels(self) -> list[Fields]:
        keys = (
            "Channel",
            "ChannelState",
            "ChannelStateDesc",
            "CallerIDNum",
            "CallerIDName",
            "Context",
            "Exten",
            "Priority",
            "Uniqueid",
            "Linkedid",
        )
        items = [
            [("Event", "CoreShowChannel"), *[(k, ch.get(k, "")) for k in keys]]
            for ch in self.channels.values()
        ]
        return self._list("Channels will follow", "CoreShowChannelsComplete", items)
