"""Long-lived AMI connection to one Asterisk server (SPEC R1.2).

Why our own asyncio client and not ``panoramisk.Manager`` (1.4, checked on this stack):
``connect()`` returns before login and a wrong secret raises nothing; actions have no timeout
and hang while disconnected; actions pending when the link drops are *re-sent* after the
reconnect (an ``Originate`` would dial the citizen twice); ``close()`` does not stop its
reconnect loop; an exception in an event callback kills the connection; Ping answers are never
checked; its parser decides response-vs-event by ``ActionID`` so ``OriginateResponse`` never
reaches event handlers. Each of these is a rule here instead:

* ``connect()`` returns after a successful Login and raises ``AmiAuthError`` on a wrong secret;
* every action has a timeout (``AmiTimeout``), fails at once when the link is down
  (``AmiNotConnected``) and is never replayed;
* a keep-alive watchdog pings every ``ping_interval`` and aborts the transport when the answer
  does not come within ``ping_timeout`` (a silent server);
* reconnect with exponential back-off (reset after a successful session), and after every
  (re)connect a resync from ``CoreShowChannels`` and ``QueueStatus`` handed to ``on_resync``;
* callbacks are synchronous and guarded: an exception is logged, the connection lives on;
* any unexpected exception in a session (a protocol surprise, a bug) is logged with its
  traceback and followed by a reconnect with back-off: the loop only ends on ``close()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from pbx.ami.actions import AmiResult, PendingAction
from pbx.ami.errors import AmiAuthError, AmiError, AmiNotConnected, AmiTimeout, OriginateFailed
from pbx.ami.message import AmiMessage, AmiParser, encode_action

log = logging.getLogger(__name__)

Headers = Mapping[str, object] | Iterable[tuple[str, object]]


@dataclass(frozen=True, slots=True)
class AmiServerConfig:
    """One Asterisk server. ``id`` is carried on every record (``pbx1``…)."""

    id: str
    host: str
    port: int = 5038
    username: str = "hotline"
    secret: str = field(default="", repr=False)
    action_timeout: float = 5.0
    connect_timeout: float = 5.0
    ping_interval: float = 10.0
    ping_timeout: float = 5.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    resync: bool = True


@dataclass(frozen=True, slots=True)
class ResyncSnapshot:
    """Live state read after a (re)connect."""

    server: str
    at: float
    channels: list[AmiMessage]  # CoreShowChannel items
    queue_entries: list[AmiMessage]  # QueueEntry items (waiting callers)
    queue_members: list[AmiMessage]  # QueueMember items
    queue_params: list[AmiMessage]  # QueueParams items


class AmiClient:
    """Connection to one server. ``on_event(msg)`` receives every live event (list items of
    our own actions excluded), ``on_resync(snapshot)`` the state after each (re)connect,
    ``on_link(up, reason)`` link changes. Start with ``await connect()`` or ``start()``."""

    def __init__(
        self,
        config: AmiServerConfig,
        *,
        on_event: Callable[[AmiMessage], None] | None = None,
        on_resync: Callable[[ResyncSnapshot], None] | None = None,
        on_link: Callable[[bool, str], None] | None = None,
    ) -> None:
        self.config = config
        self.server = config.id
        self._on_event = on_event
        self._on_resync = on_resync
        self._on_link = on_link
        self._writer: asyncio.StreamWriter | None = None
        self._pending: dict[str, PendingAction] = {}
        self._ids = itertools.count(1)
        self._prefix = f"{config.id}-{random.randrange(16**6):06x}"
        self._logged_in = False
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._first: asyncio.Future[None] | None = None
        self._up = asyncio.Event()
        self.version: str | None = None
        self.connected_since: float | None = None
        self.last_error: str = ""
        self._abort_reason = ""
        self.sessions = 0
        self.events_received = 0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start the connect/reconnect loop in the background (idempotent)."""
        if self._task is None or self._task.done():
            self._closing = False
            self._first = asyncio.get_running_loop().create_future()
            self._task = asyncio.create_task(self._run(), name=f"ami:{self.server}")

    async def connect(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Start the loop and wait for the first login. Raises ``AmiAuthError`` for a refused
        login, ``AmiTimeout`` when no session came up in time, ``AmiNotConnected`` when the
        server cannot be reached at all (the loop keeps retrying in the background)."""
        self.start()
        assert self._first is not None
        wait = timeout if timeout is not None else self.config.connect_timeout * 2
        try:
            await asyncio.wait_for(asyncio.shield(self._first), wait)
        except TimeoutError:
            raise AmiTimeout(
                f"no AMI session within {wait:g}s ({self.last_error or 'no answer'})",
                action="Login",
                server=self.server,
            ) from None

    async def close(self) -> None:
        """Log off (best effort), stop reconnecting and wait for the loop to end."""
        self._closing = True
        if self._logged_in and self._writer is not None:
            with contextlib.suppress(AmiError, OSError):
                await self.send_action("Logoff", timeout=1.0)
        if self._writer is not None:
            self._writer.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None

    @property
    def connected(self) -> bool:
        """Logged in and resynced."""
        return self._up.is_set()

    async def wait_connected(self, timeout: float) -> None:  # noqa: ASYNC109
        """Wait until the link is up (logged in and resynced); ``AmiTimeout`` otherwise."""
        try:
            await asyncio.wait_for(self._up.wait(), timeout)
        except TimeoutError:
            raise AmiTimeout(f"not connected within {timeout:g}s", server=self.server) from None

    def status(self) -> dict[str, object]:
        """Component status for ``/readyz``."""
        return {
            "ok": self.connected,
            "server": self.server,
            "address": f"{self.config.host}:{self.config.port}",
            "version": self.version,
            "connected_since": self.connected_since,
            "sessions": self.sessions,
            "events": self.events_received,
            "last_error": self.last_error,
        }

    # ------------------------------------------------------------------ actions
    async def send_action(
        self,
        action: str,
        headers: Headers = (),
        *,
        timeout: float | None = None,  # noqa: ASYNC109
        wait_event: str | None = None,
    ) -> AmiResult:
        """Send an action and wait for its complete answer (list actions: every item up to
        ``…Complete``; ``wait_event="OriginateResponse"`` for an async Originate).

        Raises ``AmiError`` (Asterisk answered ``Error``), ``AmiTimeout``, ``AmiNotConnected``.
        Never queued for later: an action sent while the link is down fails at once."""
        if not self._logged_in and action not in ("Login", "Logoff"):
            raise AmiNotConnected("not connected", action=action, server=self.server)
        return await self._send(action, headers, timeout, wait_event)

    async def originate(self, headers: Headers, *, timeout: float = 40.0) -> AmiMessage:  # noqa: ASYNC109
        """Async ``Originate`` and wait for its ``OriginateResponse``. Raises ``AmiError`` when
        the call failed (``Reason`` 3 = no answer, 5 = busy, 8 = congestion, 0/1 = failure)."""
        items = list(headers.items() if isinstance(headers, Mapping) else headers)
        if not any(k.lower() == "async" for k, _ in items):
            items.append(("Async", "true"))
        result = await self.send_action(
            "Originate", items, timeout=timeout, wait_event="OriginateResponse"
        )
        event = result.event
        if event is None:  # the list ended (…Complete) without an OriginateResponse
            raise AmiError(
                "originate: no OriginateResponse", action="Originate", server=self.server
            )
        if event.get("Response") != "Success":
            raw = (event.get("Reason") or "").strip()
            raise OriginateFailed(int(raw) if raw.isdigit() else None, server=self.server)
        return event

    async def _send(
        self,
        action: str,
        headers: Headers,
        timeout: float | None,  # noqa: ASYNC109
        wait_event: str | None,
    ) -> AmiResult:
        writer = self._writer
        if writer is None or writer.is_closing():
            raise AmiNotConnected("not connected", action=action, server=self.server)
        action_id = f"{self._prefix}-{next(self._ids)}"
        data = encode_action(action, headers, action_id)
        pending = PendingAction(action, self.server, wait_event)
        self._pending[action_id] = pending
        limit = timeout if timeout is not None else self.config.action_timeout
        try:
            writer.write(data)
            return await asyncio.wait_for(asyncio.shield(pending.future), limit)
        except TimeoutError:
            raise AmiTimeout(
                f"no answer within {limit:g}s", action=action, server=self.server
            ) from None
        finally:
            self._pending.pop(action_id, None)
            if not pending.done:
                pending.fail(AmiNotConnected("abandoned", action=action, server=self.server))

    # ------------------------------------------------------------------ connection loop
    async def _run(self) -> None:
        delay = self.config.backoff_initial
        while not self._closing:
            established = False
            try:
                established = await self._session()
            except asyncio.CancelledError:
                raise
            except AmiAuthError as exc:
                self.last_error = str(exc)
                log.error("ami %s: %s", self.server, exc)
                self._settle_first(exc)
            except (OSError, AmiError, EOFError, TimeoutError) as exc:
                self.last_error = self._abort_reason or f"{type(exc).__name__}: {exc}"
                log.warning("ami %s: connection failed: %s", self.server, self.last_error)
                self._settle_first(AmiNotConnected(self.last_error, server=self.server))
            except Exception as exc:
                # A bug (ours or a protocol surprise) must not end the reconnect loop for good:
                # log it with its traceback and reconnect with the same back-off.
                self.last_error = f"unexpected {type(exc).__name__}: {exc}"
                log.exception("ami %s: session failed unexpectedly; reconnecting", self.server)
                self._settle_first(AmiNotConnected(self.last_error, server=self.server))
            finally:
                self._teardown()
            if self._closing:
                break
            if established:
                delay = self.config.backoff_initial
            await asyncio.sleep(delay * (0.8 + 0.4 * random.random()))
            delay = min(delay * 2, self.config.backoff_max)

    def _settle_first(self, exc: BaseException | None) -> None:
        if self._first is not None and not self._first.done():
            if exc is None:
                self._first.set_result(None)
            else:
                self._first.set_exception(exc)
                self._first.exception()

    async def _session(self) -> bool:
        """One connection: connect, login, resync, then read until it breaks. Returns True
        when the session got as far as login (so the back-off restarts small)."""
        cfg = self.config
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(cfg.host, cfg.port), cfg.connect_timeout
        )
        self._writer = writer
        self._abort_reason = ""
        parser = AmiParser()
        reader_task = asyncio.create_task(
            self._read(reader, parser), name=f"ami-read:{self.server}"
        )
        keepalive: asyncio.Task[None] | None = None
        try:
            login = asyncio.create_task(
                self._send(
                    "Login",
                    {"Username": cfg.username, "Secret": cfg.secret, "Events": "on"},
                    cfg.connect_timeout,
                    None,
                )
            )
            done, _ = await asyncio.wait({login, reader_task}, return_when=asyncio.FIRST_COMPLETED)
            if login not in done:
                # Asterisk answers a wrong secret with Error and closes at once: the answer was
                # dispatched before the EOF, so give the login task a moment to see it.
                await asyncio.wait({login}, timeout=0.5)
                if not login.done():
                    login.cancel()
                    reader_task.result()  # raises the read error
                    raise EOFError("connection closed before the login answer")
            try:
                login.result()
            except (AmiNotConnected, AmiTimeout):
                raise
            except AmiError as exc:
                raise AmiAuthError(exc.message, action="Login", server=self.server) from None
            self._logged_in = True
            self.version = parser.version
            self.sessions += 1
            self.last_error = ""
            log.info("ami %s: logged in (AMI %s)", self.server, self.version)
            self._notify_link(True, "login")
            if cfg.resync:
                await self._resync()
            self.connected_since = time.time()
            self._up.set()
            self._settle_first(None)
            keepalive = asyncio.create_task(self._keepalive(writer), name=f"ami-ping:{self.server}")
            await reader_task
            return True
        finally:
            if keepalive is not None:
                keepalive.cancel()
            reader_task.cancel()
            with contextlib.suppress(BaseException):
                await reader_task
            if keepalive is not None:
                with contextlib.suppress(BaseException):
                    await keepalive
            writer.close()

    def _teardown(self) -> None:
        was_up = self._logged_in
        self._logged_in = False
        self._up.clear()
        self.connected_since = None
        self._writer = None
        for pending in list(self._pending.values()):
            pending.fail(
                AmiNotConnected("connection lost", action=pending.action, server=self.server)
            )
        self._pending.clear()
        if was_up:
            self._notify_link(False, self.last_error or "connection lost")

    async def _read(self, reader: asyncio.StreamReader, parser: AmiParser) -> None:
        while True:
            data = await reader.read(65536)
            if not data:
                raise EOFError("Asterisk closed the AMI connection")
            for msg in parser.feed(data):
                msg.server = self.server
                self._dispatch(msg)

    def _dispatch(self, msg: AmiMessage) -> None:
        action_id = msg.fields.get("ActionID")
        if action_id is not None:
            pending = self._pending.get(action_id)
            if pending is not None:
                try:
                    consumed = pending.feed(msg)
                except Exception as exc:  # never let one odd answer kill the reader
                    log.exception("ami %s: bad answer to %s", self.server, pending.action)
                    pending.fail(
                        AmiError(f"bad answer: {exc!r}", action=pending.action, server=self.server)
                    )
                    return
                if consumed:
                    return
        if msg.kind != "event" or self._on_event is None:
            return
        self.events_received += 1
        try:
            self._on_event(msg)
        except Exception:  # a consumer bug must not kill the AMI link
            log.exception("ami %s: event handler failed on %s", self.server, msg.name)

    async def _resync(self) -> None:
        """Rebuild live state: channels first, then queues (SPEC R1.2)."""
        timeout = max(self.config.action_timeout, 10.0)
        channels = await self._send("CoreShowChannels", (), timeout, None)
        queues = await self._send("QueueStatus", (), timeout, None)
        snap = ResyncSnapshot(
            server=self.server,
            at=time.time(),
            channels=[m for m in channels.items if m.name == "CoreShowChannel"],
            queue_entries=[m for m in queues.items if m.name == "QueueEntry"],
            queue_members=[m for m in queues.items if m.name == "QueueMember"],
            queue_params=[m for m in queues.items if m.name == "QueueParams"],
        )
        if self._on_resync is not None:
            try:
                self._on_resync(snap)
            except Exception:
                log.exception("ami %s: resync handler failed", self.server)

    async def _keepalive(self, writer: asyncio.StreamWriter) -> None:
        """Watchdog: a Ping must be answered within ``ping_timeout`` or the link is aborted."""
        cfg = self.config
        while True:
            await asyncio.sleep(cfg.ping_interval)
            try:
                await self._send("Ping", (), cfg.ping_timeout, None)
            except AmiTimeout:
                self._abort_reason = f"watchdog: no answer to Ping within {cfg.ping_timeout:g}s"
                log.warning("ami %s: %s; aborting the connection", self.server, self._abort_reason)
                writer.transport.abort()
                return
            except AmiError:
                return

    def _notify_link(self, up: bool, reason: str) -> None:
        if self._on_link is None:
            return
        try:
            self._on_link(up, reason)
        except Exception:
            log.exception("ami %s: link handler failed", self.server)
