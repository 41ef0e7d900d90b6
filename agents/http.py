"""REST API of agents: registry, queue login / logout / pause, state log, call control,
supervisor monitoring and the wallboard snapshot (docs/agents.md)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agents.callcontrol import CallControl
from agents.keys import CONSOLE
from agents.queues import QueueControl
from agents.service import ConsoleService
from agents.store import AgentRow, today_start
from kit.auth import PLATFORM_ROLES, READ_ROLES, SUPERVISOR_ROLES, Role
from kit.errors import BadRequest, NotFound, ServiceUnavailable
from kit.http import Routes, json_response, principal, read_json
from pbx import dialplan

routes = Routes(tag="agents")

_QUEUES = {"type": "array", "items": {"type": "string", "maxLength": 64}, "maxItems": 20}
_TARGET = {
    "type": "object", "additionalProperties": False,
    "properties": {"exten": {"type": "string", "maxLength": 32},
                   "unit_code": {"type": "string", "maxLength": 64}},
}


def _svc(request: web.Request) -> ConsoleService:
    return request.app[CONSOLE]


def _qc(svc: ConsoleService) -> QueueControl:
    if svc.queues is None:
        raise ServiceUnavailable("本进程未连接交换机 (no AMI)", code="pbx_unavailable")
    return svc.queues


def _cc(svc: ConsoleService) -> CallControl:
    if svc.calls is None:
        raise ServiceUnavailable("本进程未连接交换机 (no AMI)", code="pbx_unavailable")
    return svc.calls


async def _me(request: web.Request) -> AgentRow:
    row = await _svc(request).store.by_user(principal(request).user_id)
    if row is None:
        raise NotFound("当前用户不是坐席", code="not_an_agent")
    return row


def _agent_json(svc: ConsoleService, row: AgentRow) -> dict[str, Any]:
    live = svc.board.by_user.get(row.user_id)
    return {
        "id": row.id, "user_id": row.user_id, "username": row.username, "server": row.server,
        "interface": row.interface, "extension": row.extension, "member_name": row.member_name,
        "intended_queues": list(row.queues), "intended_paused": row.paused,
        "live": live.public() if live is not None else None,
    }


def _agent_id(request: web.Request) -> int:
    try:
        return int(request.match_info["agent_id"])
    except ValueError:
        raise BadRequest("agent_id 应为整数", code="bad_agent_id") from None


@routes.get("/api/agents", roles=SUPERVISOR_ROLES | {Role.AUDITOR},
            summary="List agents with live state (坐席列表)")
async def list_agents(request: web.Request) -> web.Response:
    svc = _svc(request)
    return json_response({"agents": [_agent_json(svc, r) for r in await svc.store.all()]})


CREATE_AGENT = {"type": "object", "additionalProperties": False,
                "required": ["user_id", "interface", "extension"],
                "properties": {"user_id": {"type": "integer", "minimum": 1},
                               "server": {"type": "string", "maxLength": 32},
                               "interface": {"type": "string", "maxLength": 80},
                               "extension": {"type": "string", "maxLength": 32},
                               "member_name": {"type": "string", "maxLength": 80}}}
LOGIN = {"type": "object", "additionalProperties": False, "required": ["queues"],
         "properties": {"queues": _QUEUES,
                        "penalty": {"type": "integer", "minimum": 0, "maximum": 100}}}
LOGOUT = {"type": "object", "additionalProperties": False, "properties": {"queues": _QUEUES}}
PAUSE = {"type": "object", "additionalProperties": False, "required": ["paused"],
         "properties": {"paused": {"type": "boolean"},
                        "reason": {"type": "string", "maxLength": 64}}}
MONITOR = {"type": "object", "additionalProperties": False, "required": ["mode"],
           "properties": {"mode": {"type": "string", "enum": ["listen", "whisper", "barge"]}}}


@routes.post("/api/agents", roles={Role.ADMIN}, summary="Register a user as an agent (登记坐席)",
             body=CREATE_AGENT)
async def create_agent(request: web.Request) -> web.Response:
    svc = _svc(request)
    body = await read_json(request, CREATE_AGENT)
    row = await svc.store.create(
        body["user_id"], body.get("server", "pbx1"), body["interface"], body["extension"],
        body.get("member_name") or f"坐席{body['extension']}",
    )
    svc.register(row)
    return json_response(_agent_json(svc, row), status=201)


@routes.get("/api/agents/me", roles=PLATFORM_ROLES, summary="My agent and live state (本坐席)")
async def me(request: web.Request) -> web.Response:
    svc = _svc(request)
    row = await _me(request)
    out = _agent_json(svc, row)
    out["time_in_state_today"] = await svc.store.time_in_state(row.id, today_start(svc.clock()))
    return json_response(out)


@routes.post("/api/agents/me/login", roles=PLATFORM_ROLES, summary="Log in to queues (签入)",
             body=LOGIN)
async def login(request: web.Request) -> web.Response:
    svc = _svc(request)
    body = await read_json(request, LOGIN)
    row = await _me(request)
    await _qc(svc).login(row, body["queues"], body.get("penalty", 0))
    return json_response(_agent_json(svc, await svc.store.get(row.id)))


@routes.post("/api/agents/me/logout", roles=PLATFORM_ROLES,
             summary="Log out of queues, all when none given (签出)",
             body=LOGOUT)
async def logout(request: web.Request) -> web.Response:
    svc = _svc(request)
    body = await read_json(request, LOGOUT)
    row = await _me(request)
    removed = await _qc(svc).logout(row, body.get("queues"))
    out = _agent_json(svc, await svc.store.get(row.id))
    out["removed"] = removed
    return json_response(out)


@routes.post("/api/agents/me/pause", roles=PLATFORM_ROLES,
             summary="Pause with a reason or unpause (示忙/示闲)",
             body=PAUSE)
async def pause(request: web.Request) -> web.Response:
    svc = _svc(request)
    body = await read_json(request, PAUSE)
    row = await _me(request)
    await _qc(svc).pause(row, body["paused"], body.get("reason", ""))
    return json_response(_agent_json(svc, await svc.store.get(row.id)))


@routes.get("/api/agents/{agent_id}/states", roles=SUPERVISOR_ROLES | {Role.AUDITOR},
            summary="State log of an agent with time in state (状态日志)")
async def state_log(request: web.Request) -> web.Response:
    svc = _svc(request)
    row = await svc.store.get(_agent_id(request))
    return json_response({
        "agent_id": row.id,
        "log": await svc.store.state_log(row.id),
        "time_in_state_today": await svc.store.time_in_state(row.id, today_start(svc.clock())),
    })


# ------------------------------------------------------------------ call control
async def _target_call(request: web.Request, action: str) -> web.Response:
    svc = _svc(request)
    cc = _cc(svc)
    body = await read_json(request, _TARGET)
    target = cc.target(body)
    uid = principal(request).user_id
    if action == "blind":
        return json_response(await cc.blind_transfer(uid, target))
    if action == "attended":
        return json_response(await cc.attended_start(uid, target))
    return json_response(await cc.three_way(uid, target))


@routes.post("/api/agents/me/call/blind-transfer", roles=PLATFORM_ROLES,
             summary="Blind transfer of my current call (直接转接)", body=_TARGET)
async def blind_transfer(request: web.Request) -> web.Response:
    return await _target_call(request, "blind")


@routes.post("/api/agents/me/call/attended-transfer", roles=PLATFORM_ROLES,
             summary="Start an attended transfer (咨询转接)", body=_TARGET)
async def attended_transfer(request: web.Request) -> web.Response:
    return await _target_call(request, "attended")


@routes.post("/api/agents/me/call/attended-transfer/cancel", roles=PLATFORM_ROLES,
             summary="Cancel the attended transfer, back to the citizen (取消转接)")
async def attended_cancel(request: web.Request) -> web.Response:
    svc = _svc(request)
    return json_response(await _cc(svc).attended_cancel(principal(request).user_id))


@routes.post("/api/agents/me/call/attended-transfer/complete", roles=PLATFORM_ROLES,
             summary="Complete the attended transfer (完成转接)")
async def attended_complete(request: web.Request) -> web.Response:
    svc = _svc(request)
    return json_response(await _cc(svc).attended_complete(principal(request).user_id))


@routes.post("/api/agents/me/call/three-way", roles=PLATFORM_ROLES,
             summary="Three-way call with a member unit (三方通话)", body=_TARGET)
async def three_way(request: web.Request) -> web.Response:
    return await _target_call(request, "three_way")


@routes.post("/api/agents/me/call/leave", roles=PLATFORM_ROLES,
             summary="Hang up my leg (leave a three-way call) (退出通话)")
async def leave(request: web.Request) -> web.Response:
    svc = _svc(request)
    return json_response(await _cc(svc).leave(principal(request).user_id))


@routes.post("/api/agents/{agent_id}/monitor", roles=SUPERVISOR_ROLES,
             summary="Listen / whisper / barge on an agent's call (监听/耳语/强插)",
             body=MONITOR)
async def monitor(request: web.Request) -> web.Response:
    svc = _svc(request)
    cc = _cc(svc)
    body = await read_json(request, MONITOR)
    who = principal(request)
    target_id = _agent_id(request)
    own = await svc.store.by_user(who.user_id)
    if own is not None:
        phone, server = own.interface, own.server
    elif who.extension:
        phone, server = f"Local/{who.extension}@{dialplan.CTX_INTERNAL}", None
    else:
        raise NotFound("班长未登记话机 (no phone for this supervisor)", code="no_phone")
    target = await svc.store.get(target_id)
    return json_response(await cc.spy(phone, server or target.server, target_id, body["mode"]))


@routes.get("/api/queues/stats", roles=READ_ROLES,
            summary="Live queue state: waiting, longest wait, agents, service level (实时队列)")
async def queue_stats(request: web.Request) -> web.Response:
    svc = _svc(request)
    return json_response({"queues": svc.stats(), "at": svc.clock()})
