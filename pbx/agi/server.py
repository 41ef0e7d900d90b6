"""Our own asyncio FastAGI server.

panoramisk 1.4's FastAGI `Application` spins the loop when a client closes before the end of the
environment (every TCP health check does) and matches scripts exactly (``ivr?x=1`` finds no route),
so we own this small server instead (ARCHITECTURE.md, "Known traps").

Every connection is isolated: a peer that sends garbage, never finishes its environment, or hangs
up mid-command is closed and logged, and the others keep being served.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from pbx.agi.protocol import (
    AgiEnvironment,
    AgiError,
    AgiProtocolError,
    CallerHungUp,
    parse_environment,
)
from pbx.agi.session import AgiSession

log = logging.getLogger(__name__)

Handler = Callable[[AgiSession], Awaitable[None]]
"""A route handler: receives the call's session; returning ends the AGI (the dialplan goes on)."""

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _log_context(**fields: str) -> contextlib.AbstractContextManager[object]:
    """`kit.logctx.bind(...)`: every log line of the call carries call_id / agi_script."""
    try:
        from kit import logctx
    except ImportError:
        return contextlib.nullcontext()
    return logctx.bind(**fields)


@dataclass
class AgiServerStats:
    """Counters exposed in ``/readyz`` and by the benchmark."""

    accepted: int = 0
    rejected: int = 0
    """Connections refused by the allow-list."""
    bad_environment: int = 0
    """Garbage, oversize or timed-out environments, and early closes (health checks)."""
    unrouted: int = 0
    completed: int = 0
    hung_up: int = 0
    failed: int = 0
    active: int = 0

    def as_dict(self) -> dict[str, int]:
        """Plain dict copy of the counters."""
        return dict(self.__dict__)


@dataclass
class AgiServerConfig:
    """Listening address and the limits applied to each connection."""

    host: str = "127.0.0.1"
    port: int = 4573
    allow: tuple[str, ...] = ()
    """Client addresses or networks (``10.0.0.0/24``) allowed to connect; empty = everyone."""
    env_timeout: float = 5.0
    """Seconds allowed for the whole environment block; Asterisk sends it at once."""
    env_max_bytes: int = 16_384
    line_limit: int = 8_192
    reply_timeout: float = 600.0
    drain_timeout: float = 2.0
    """After the handler ends we half-close and read Asterisk's trailing ``HANGUP`` this long."""
    shutdown_grace: float = 5.0
    backlog: int = 1024
    networks: list[IpNetwork] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        try:
            self.networks = [ipaddress.ip_network(a, strict=False) for a in self.allow]
        except ValueError as exc:
            raise ValueError(f"bad AGI allow-list entry: {exc}") from exc


class FastAgiServer:
    """FastAGI server routing ``agi://host:port/<script>`` to handlers.

    ``routes`` maps a script path (``"ivr"``, ``"survey"``; leading ``/`` and query ignored) to a
    handler. Use ``await server.start()`` / ``await server.close()`` or ``async with``.
    """

    def __init__(self, routes: Mapping[str, Handler], config: AgiServerConfig | None = None):
        self.config = config or AgiServerConfig()
        self.routes = {k.strip("/"): v for k, v in routes.items()}
        self.stats = AgiServerStats()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._ids = itertools.count(1)

    @property
    def sockets_bound(self) -> list[tuple[str, int]]:
        """Addresses actually bound (useful with port 0 in tests)."""
        if not self._server:
            return []
        return [s.getsockname()[:2] for s in self._server.sockets]

    @property
    def port(self) -> int:
        """The bound port."""
        return self.sockets_bound[0][1]

    async def start(self) -> None:
        """Bind and start accepting."""
        self._server = await asyncio.start_server(
            self._on_connect,
            self.config.host,
            self.config.port,
            limit=self.config.line_limit,
            backlog=self.config.backlog,
        )
        log.info("FastAGI listening on %s", self.sockets_bound)

    def status(self) -> dict[str, object]:
        """Component status for ``/readyz``."""
        return {
            "ok": self._server is not None and self._server.is_serving(),
            "listen": [f"{h}:{p}" for h, p in self.sockets_bound],
            **self.stats.as_dict(),
        }

    async def close(self) -> None:
        """Stop accepting, let running calls finish for ``shutdown_grace`` s, then cancel them."""
        if self._server:
            self._server.close()
        if self._tasks:
            grace = self.config.shutdown_grace
            _done, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        if self._server:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FastAgiServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- per connection --------------------------------------------------------------------------

    def _allowed(self, peer: object) -> bool:
        if not self.config.networks:
            return True
        try:
            addr = ipaddress.ip_address(peer[0])  # type: ignore[index]
        except (TypeError, ValueError, IndexError):
            return False
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
            addr = addr.ipv4_mapped
        return any(addr in net for net in self.config.networks)

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except asyncio.CancelledError:
            # Only close() cancels these tasks; end quietly (asyncio's stream callback would
            # otherwise log the cancellation as an error).
            pass
        finally:
            self._tasks.discard(task)

    async def _read_environment(self, reader: asyncio.StreamReader) -> list[str]:
        lines: list[str] = []
        total = 0
        while True:
            raw = await reader.readuntil(b"\n")
            total += len(raw)
            if total > self.config.env_max_bytes:
                raise AgiProtocolError(f"AGI environment larger than {self.config.env_max_bytes} B")
            # Caller names may not be UTF-8; undecodable bytes must not drop a real call.
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if not line:
                return lines
            lines.append(line)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        conn_id = next(self._ids)
        if not self._allowed(peer):
            self.stats.rejected += 1
            log.warning("FastAGI connection from %s refused by the allow-list", peer)
            await self._abort(writer)
            return
        self.stats.accepted += 1
        self.stats.active += 1
        started = time.monotonic()
        try:
            try:
                lines = await asyncio.wait_for(
                    self._read_environment(reader), self.config.env_timeout
                )
                env = parse_environment(lines)
            except (
                TimeoutError,
                asyncio.IncompleteReadError,
                asyncio.LimitOverrunError,
                AgiProtocolError,
                ConnectionError,
                OSError,
            ) as exc:
                self.stats.bad_environment += 1
                kind = (
                    "early close"
                    if isinstance(exc, asyncio.IncompleteReadError)
                    else type(exc).__name__
                )
                log.info(
                    "FastAGI connection %d from %s dropped before start: %s %s",
                    conn_id,
                    peer,
                    kind,
                    exc,
                )
                await self._abort(writer)
                return
            with self._call_log(env.uniqueid, env.script, conn_id):
                await self._run_handler(env, reader, writer, peer)
            log.debug("FastAGI call %d done in %.3f s", conn_id, time.monotonic() - started)
        finally:
            self.stats.active -= 1

    @contextlib.contextmanager
    def _call_log(self, uniqueid: str, script: str, conn_id: int) -> Iterator[None]:
        with _log_context(call_id=uniqueid, agi_script=script, agi_conn=str(conn_id)):
            yield

    async def _run_handler(
        self,
        env: AgiEnvironment,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        peer: object,
    ) -> None:
        handler = self.routes.get(env.script)
        if handler is None:
            self.stats.unrouted += 1
            log.warning("FastAGI: no route for script %r (uniqueid %s)", env.script, env.uniqueid)
            await self._finish(reader, writer)
            return
        session = AgiSession(env, reader, writer, reply_timeout=self.config.reply_timeout)
        log.info("FastAGI %s call %s from %s (%s)", env.script, env.uniqueid, env.callerid, peer)
        try:
            await handler(session)
            self.stats.completed += 1
        except CallerHungUp as exc:
            self.stats.hung_up += 1
            log.info("FastAGI %s: %s", env.script, exc)
        except AgiError as exc:
            self.stats.failed += 1
            log.warning("FastAGI %s failed: %s", env.script, exc)
        except asyncio.CancelledError:
            self.stats.failed += 1
            await self._abort(writer)
            raise
        except Exception:
            self.stats.failed += 1
            log.exception("FastAGI handler %s crashed", env.script)
        await self._finish(reader, writer)

    async def _finish(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Half-close, then read until Asterisk closes: it always sends a trailing ``HANGUP``."""
        try:
            if writer.can_write_eof():
                writer.write_eof()
            async with asyncio.timeout(self.config.drain_timeout):
                while await reader.read(4096):
                    pass
        except (TimeoutError, ConnectionError, OSError, asyncio.LimitOverrunError):
            pass
        await self._abort(writer)

    @staticmethod
    async def _abort(writer: asyncio.StreamWriter) -> None:
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()


def routes_from(pairs: Iterable[tuple[str, Handler]]) -> dict[str, Handler]:
    """Build a route table, refusing duplicate script names."""
    table: dict[str, Handler] = {}
    for name, handler in pairs:
        key = name.strip("/")
        if key in table:
            raise ValueError(f"duplicate AGI route {key!r}")
        table[key] = handler
    return table
