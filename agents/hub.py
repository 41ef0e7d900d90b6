"""WebSocket connections of the console and message addressing (docs/websocket.md).

Every tab is one ``Conn``; a user may have several (two tabs get the same messages). Messages
are addressed to a user id, to supervisors, or to the staff of some member units, never
broadcast blindly: agent A never receives agent B's pop. Each connection has its own bounded
send queue and writer task, so one slow browser cannot delay another agent's pop; a connection
whose queue overflows is closed (the client reconnects and receives the current state).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from kit.auth import PLATFORM_ROLES, Principal, Role

log = logging.getLogger(__name__)

TOPICS = ("agent", "wallboard", "orders")
ALLOWED_TOPICS: dict[Role, frozenset[str]] = {
    Role.AGENT: frozenset({"agent", "orders"}),
    Role.SUPERVISOR: frozenset({"agent", "wallboard", "orders"}),
    Role.ADMIN: frozenset({"agent", "wallboard", "orders"}),
    Role.UNIT_STAFF: frozenset({"orders"}),
    Role.AUDITOR: frozenset({"wallboard", "orders"}),
}
DEFAULT_TOPICS: dict[Role, tuple[str, ...]] = {
    Role.AGENT: ("agent", "orders"),
    Role.SUPERVISOR: ("wallboard", "agent", "orders"),
    Role.ADMIN: ("wallboard", "agent", "orders"),
    Role.UNIT_STAFF: ("orders",),
    Role.AUDITOR: ("wallboard",),
}
WALLBOARD_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN, Role.AUDITOR})
WS_TRY_AGAIN_LATER = 1013  # RFC 6455 close code: the client should reconnect later
SEND_TIMEOUT_S = 10.0


def encode(type_: str, fields: dict[str, Any]) -> str:
    """A server message: ``type``, ``ts`` and the fields, as JSON text."""
    ts = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
    return json.dumps({"type": type_, "ts": ts, **fields}, ensure_ascii=False, default=str)


class Conn:
    """One browser tab."""

    def __init__(self, ws: web.WebSocketResponse, who: Principal, maxsize: int = 1000) -> None:
        self.ws = ws
        self.who = who
        self.topics: set[str] = set(DEFAULT_TOPICS.get(who.role, ()))
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize)
        self.task: asyncio.Task[None] | None = None
        self.closer: asyncio.Task[Any] | None = None
        self.sent = 0

    def offer(self, text: str) -> bool:
        """Queue a message; False (and the connection is closed) when it is hopelessly behind."""
        try:
            self.queue.put_nowait(text)
            return True
        except asyncio.QueueFull:
            log.warning("ws: %s is not reading; closing its socket", self.who.username)
            self.close()
            # Close the socket itself: the tab sees the close, reconnects with back-off and gets
            # the current state (docs/websocket.md); the handler's finally removes this Conn.
            if self.closer is None and not self.ws.closed:
                self.closer = asyncio.create_task(
                    self.ws.close(code=WS_TRY_AGAIN_LATER, message=b"too slow"),
                    name=f"ws-close:{self.who.username}",
                )
            return False

    def close(self) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)
        if self.task is not None:
            self.task.cancel()

    async def writer(self) -> None:
        """Send queued messages until closed; a send stuck for 10 s closes the socket."""
        while True:
            text = await self.queue.get()
            if text is None or self.ws.closed:
                return
            try:
                await asyncio.wait_for(self.ws.send_str(text), SEND_TIMEOUT_S)
            except (TimeoutError, ConnectionError) as exc:
                log.warning("ws: send to %s failed (%s); closing", self.who.username, exc)
                await self.ws.close(code=WS_TRY_AGAIN_LATER, message=b"send failed")
                return
            self.sent += 1


class Hub:
    """Live connections by user, and addressed sending."""

    def __init__(self) -> None:
        self.by_user: dict[int, set[Conn]] = {}
        # Supervisor tabs subscribed to the wallboard, indexed: agent.state goes to them on
        # every state change, and scanning 200 agents' sockets each time cost more than the pop.
        self.wallboard: set[Conn] = set()

    def add(self, conn: Conn) -> None:
        """Register a connection and start its writer."""
        self.by_user.setdefault(conn.who.user_id, set()).add(conn)
        self.set_topics(conn, conn.topics)
        conn.task = asyncio.create_task(conn.writer(), name=f"ws-writer:{conn.who.username}")

    def set_topics(self, conn: Conn, topics: Iterable[str]) -> None:
        """Change what a tab receives."""
        conn.topics = set(topics)
        if "wallboard" in conn.topics and conn.who.role in WALLBOARD_ROLES:
            self.wallboard.add(conn)
        else:
            self.wallboard.discard(conn)

    async def remove(self, conn: Conn) -> None:
        """Unregister and stop the writer."""
        self.wallboard.discard(conn)
        conns = self.by_user.get(conn.who.user_id)
        if conns is not None:
            conns.discard(conn)
            if not conns:
                del self.by_user[conn.who.user_id]
        conn.close()
        if conn.task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await conn.task

    def connections(self) -> Iterable[Conn]:
        for conns in list(self.by_user.values()):
            yield from list(conns)

    @property
    def count(self) -> int:
        return sum(len(c) for c in self.by_user.values())

    # ------------------------------------------------------------------ addressing
    def to_user(self, user_id: int, type_: str, fields: dict[str, Any], topic: str = "agent"
                ) -> int:
        """Send to every tab of one user that subscribed ``topic``; returns tabs reached."""
        conns = self.by_user.get(user_id)
        if not conns:
            return 0
        text = encode(type_, fields)
        n = 0
        for c in list(conns):
            if topic in c.topics and c.offer(text):
                n += 1
        return n

    def to_conn(self, conn: Conn, type_: str, fields: dict[str, Any]) -> None:
        """Send to one tab (answers to that tab's own messages)."""
        conn.offer(encode(type_, fields))

    def to_wallboard(self, type_: str, fields: dict[str, Any], *, skip_user: int | None = None
                     ) -> int:
        """Send to every supervisor tab subscribed to ``wallboard``."""
        text: str | None = None
        n = 0
        for c in list(self.wallboard):
            if c.who.user_id == skip_user:
                continue
            text = text or encode(type_, fields)
            n += c.offer(text)
        return n

    def to_order_audience(self, fields: dict[str, Any], unit_codes: Iterable[str]) -> int:
        """``order.updated``: platform staff, and unit staff of the order's units only."""
        units = set(unit_codes)
        text = encode("order.updated", fields)
        n = 0
        for c in self.connections():
            if "orders" not in c.topics:
                continue
            who = c.who
            if who.role in PLATFORM_ROLES or who.role is Role.AUDITOR or (
                who.role is Role.UNIT_STAFF and who.unit_code in units
            ):
                n += c.offer(text)
        return n

    async def close_all(self) -> None:
        """Close every socket (shutdown)."""
        for c in list(self.connections()):
            with contextlib.suppress(Exception):
                await c.ws.close(code=1001, message=b"server shutdown")
            await self.remove(c)
