"""``GET /api/ws``: the console WebSocket (docs/websocket.md).

Authentication happens before the upgrade (session cookie or bearer token; the route guard
answers 401 without one). On connect the server sends ``hello``, then the current state so a
reconnecting tab needs nothing it missed: the agent's ``agent.state`` and, when a call is still
ringing it, the ``call.ringing`` pop; supervisors get ``queue.stats`` and every agent's state.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from agents.hub import ALLOWED_TOPICS, TOPICS, Conn
from agents.keys import CONSOLE
from agents.service import ConsoleService
from kit.auth import ALL_ROLES
from kit.errors import Forbidden
from kit.http import STILL_VALID_KEY, Routes, principal

log = logging.getLogger(__name__)

routes = Routes(tag="console")

MAX_MESSAGE = 16 * 1024


def _send_current(svc: ConsoleService, conn: Conn) -> None:
    who = conn.who
    agent = svc.board.by_user.get(who.user_id)
    if "agent" in conn.topics and agent is not None:
        svc.hub.to_conn(conn, "agent.state", agent.public())
        pop = svc.current_pop.get(who.user_id)
        if pop is not None and agent.ring is not None and agent.ring.call_id == pop["call_id"]:
            svc.hub.to_conn(conn, "call.ringing", pop)
    if "wallboard" in conn.topics:
        svc.hub.to_conn(conn, "queue.stats", {"queues": svc.stats()})
        for a in svc.board.agents.values():
            if a.user_id != who.user_id or "agent" not in conn.topics:
                svc.hub.to_conn(conn, "agent.state", a.public())


def _handle(svc: ConsoleService, conn: Conn, raw: str) -> None:
    try:
        msg: Any = json.loads(raw)
    except json.JSONDecodeError:
        svc.hub.to_conn(conn, "error", {"code": "invalid_json", "message": "消息不是合法的 JSON"})
        return
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        svc.hub.to_conn(conn, "error", {"code": "bad_message",
                                        "message": "消息必须是带 type 的 JSON 对象"})
        return
    kind = msg["type"]
    if kind == "ping":
        svc.hub.to_conn(conn, "pong", {"id": msg.get("id")})
    elif kind == "subscribe":
        topics = msg.get("topics")
        if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
            svc.hub.to_conn(conn, "error", {"code": "bad_topics",
                                            "message": "topics 应为字符串列表"})
            return
        allowed = ALLOWED_TOPICS.get(conn.who.role, frozenset())
        refused = [t for t in topics if t not in allowed]
        svc.hub.set_topics(conn, [t for t in topics if t in allowed])
        if refused:
            svc.hub.to_conn(conn, "error", {
                "code": "forbidden_topic",
                "message": f"无权订阅: {', '.join(refused)} (known: {', '.join(TOPICS)})",
            })
        svc.hub.to_conn(conn, "subscribed", {"topics": sorted(conn.topics)})
        _send_current(svc, conn)
    else:
        svc.hub.to_conn(conn, "error", {"code": "unknown_type",
                                        "message": f"未知消息类型 {kind[:40]!r}"})


@routes.get("/api/ws", roles=ALL_ROLES, websocket=True,
            summary="Console WebSocket: screen-pop, agent state, wallboard, order updates")
async def websocket(request: web.Request) -> web.WebSocketResponse:
    svc = request.app[CONSOLE]
    who = principal(request)
    # Browsers send cookies with cross-site WebSocket upgrades (SameSite does not cover every
    # sibling site): a page of another origin must not open a socket on the agent's session.
    origin = request.headers.get("Origin")
    if origin is not None and urlsplit(origin).netloc != request.host:
        raise Forbidden("WebSocket 来源不被允许 (cross-origin)", code="bad_origin")
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=MAX_MESSAGE)
    await ws.prepare(request)
    conn = Conn(ws, who)
    svc.hub.add(conn)
    agent = svc.board.by_user.get(who.user_id)
    svc.hub.to_conn(conn, "hello", {
        "user": {"id": who.user_id, "username": who.username, "role": who.role.value,
                 "unit_code": who.unit_code,
                 "extension": agent.extension if agent is not None else who.extension},
        "topics": sorted(conn.topics),
    })
    _send_current(svc, conn)
    watch = asyncio.create_task(_watch_session(request, ws), name=f"ws-auth:{who.username}")
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                _handle(svc, conn, msg.data)
            elif msg.type == WSMsgType.BINARY:
                svc.hub.to_conn(conn, "error", {"code": "binary_not_supported",
                                                "message": "只接受文本消息"})
            elif msg.type == WSMsgType.ERROR:
                log.info("ws %s: %s", who.username, ws.exception())
    finally:
        watch.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watch
        await svc.hub.remove(conn)
    return ws


WS_POLICY_VIOLATION = 1008  # RFC 6455: the client should not simply retry with this session
SESSION_RECHECK_S = 30.0
"""How often an open socket checks that its session was not revoked (user disabled, logout,
password change, expiry): the socket carries citizens' numbers, it must not outlive access."""


async def _watch_session(request: web.Request, ws: web.WebSocketResponse) -> None:
    still_valid = request.get(STILL_VALID_KEY)
    if still_valid is None:
        return
    while not ws.closed:
        await asyncio.sleep(SESSION_RECHECK_S)
        try:
            valid = await still_valid()
        except Exception:  # the database is away: keep the socket, try again later
            log.warning("ws: session check failed", exc_info=True)
            continue
        if not valid:
            await ws.close(code=WS_POLICY_VIOLATION, message=b"session ended")
            return
