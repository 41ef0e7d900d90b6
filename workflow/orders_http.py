"""REST API of work orders: intake, one route per state-machine action, reads, the timeline.

Roles: platform staff (agent / supervisor / admin) act on every order; member-unit staff see and
act only on their unit's orders (any other order is a 404); auditors read. Every action body
carries the ``version`` the client last saw (or an ``If-Match`` header): a stale one is a 409.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from kit.auth import ALL_ROLES, PLATFORM_ROLES, SUPERVISOR_ROLES, Role
from kit.errors import BadRequest
from kit.http import Routes, json_response, principal, query_int, read_json
from workflow import commands as c
from workflow.command_codec import CommandError, body_schema, parse_command, parse_instant
from workflow.keys import ORDER_SERVICE
from workflow.machine import RULES
from workflow.model import ActorKind, Category, Channel, State, Supervision
from workflow.service import actor_of
from workflow.store import OrderFilter
from workflow.text import tsquery

routes = Routes(tag="workflow")

_S = {"type": "string", "maxLength": 200}
CREATE_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["category", "content"],
    "additionalProperties": False,
    "properties": {
        "channel": {"type": "string", "enum": [x.value for x in Channel]},
        "category": {"type": "string", "enum": [x.value for x in Category]},
        "content": {"type": "string", "maxLength": 20000},
        "topic": _S, "address": _S, "district": _S, "external_ref": _S,
        "urgent": {"type": "boolean"},
        "source_due": {"type": "string", "format": "date-time"},
        "call_id": {"type": "string", "maxLength": 100},
        "transcript_id": {"type": "string", "maxLength": 100},
        "citizen": {"type": "object", "additionalProperties": False, "properties": {
            "name": {"type": ["string", "null"], "maxLength": 100},
            "phone": {"type": ["string", "null"], "maxLength": 32},
            "confidential": {"type": "boolean"},
        }},
    },
}  # fmt: skip


@routes.post("/api/orders", roles=PLATFORM_ROLES, summary="登记工单 Register a work order",
             body=CREATE_BODY)  # fmt: skip
async def create_order(request: web.Request) -> web.Response:
    """Register an order in state ``intake``."""
    who = principal(request)
    body = await read_json(request, CREATE_BODY)
    if body.get("source_due") is not None:
        body["source_due"] = _instant("source_due", body["source_due"])
    svc = request.app[ORDER_SERVICE]
    created = await svc.create(actor_of(who), body)
    return json_response(svc.view(who, created.order) | {"id": created.id}, status=201)


def _instant(name: str, raw: Any) -> dt.datetime:
    try:
        return parse_instant(name, raw)
    except CommandError as exc:
        raise _bad_field(exc) from None


def _bad_field(exc: CommandError) -> BadRequest:
    return BadRequest("请求参数不正确 (invalid fields)", code="invalid_fields",
                      details=[{"field": exc.field, "problem": exc.problem}])  # fmt: skip


LIST_QUERY = {
    "type": "object",
    "properties": {
        "state": {"type": "string", "description": "comma separated states"},
        "category": {"type": "string"}, "channel": {"type": "string"},
        "unit": {"type": "string"}, "lead_unit": {"type": "string"},
        "phone": {"type": "string"}, "district": {"type": "string"},
        "overdue": {"type": "boolean"}, "supervision": {"type": "string"},
        "created_from": {"type": "string"}, "created_to": {"type": "string"},
        "q": {"type": "string", "description": "full-text (jieba) search"},
        "limit": {"type": "integer"}, "cursor": {"type": "string"},
    },
}  # fmt: skip


def _enum_list(name: str, raw: str | None, allowed: set[str]) -> tuple[str, ...]:
    if not raw:
        return ()
    vals = tuple(v.strip() for v in raw.split(",") if v.strip())
    bad = [v for v in vals if v not in allowed]
    if bad:
        raise BadRequest(f"参数 {name} 不正确: {bad}", code="invalid_query",
                         details={"field": name})  # fmt: skip
    return vals


@routes.get("/api/orders", roles=ALL_ROLES, summary="工单列表 List / filter / search orders",
            query=LIST_QUERY)  # fmt: skip
async def list_orders(request: web.Request) -> web.Response:
    """Newest first with keyset pagination (``next_cursor``)."""
    who = principal(request)
    q = request.query
    overdue = q.get("overdue")
    if overdue not in (None, "", "true", "false"):
        raise BadRequest("参数 overdue 应为 true/false", code="invalid_query")
    text = q.get("q")
    ts = tsquery(text) if text else None
    if text and ts is None:
        return json_response({"items": [], "next_cursor": None})
    f = OrderFilter(
        states=_enum_list("state", q.get("state"), {s.value for s in State}),
        category=(_enum_list("category", q.get("category"), {x.value for x in Category})
                  or (None,))[0],
        channel=(_enum_list("channel", q.get("channel"), {x.value for x in Channel})
                 or (None,))[0],
        unit=q.get("unit") or None, lead_unit=q.get("lead_unit") or None,
        phone=q.get("phone") or None, district=q.get("district") or None,
        overdue=None if not overdue else overdue == "true",
        supervision=(_enum_list("supervision", q.get("supervision"),
                                {x.value for x in Supervision}) or (None,))[0],
        created_from=_instant("created_from", q["created_from"]) if q.get("created_from")
        else None,
        created_to=_instant("created_to", q["created_to"]) if q.get("created_to") else None,
        tsquery=ts,
    )  # fmt: skip
    limit = query_int(request, "limit", 20, lo=1, hi=200)
    svc = request.app[ORDER_SERVICE]
    return json_response(await svc.list(who, f, limit, q.get("cursor") or None))


@routes.get("/api/orders/{number}", roles=ALL_ROLES, summary="工单详情 One work order")
async def get_order(request: web.Request) -> web.Response:
    """The order (masked for non-platform readers; 404 for other units' orders)."""
    who = principal(request)
    svc = request.app[ORDER_SERVICE]
    found = await svc.load(who, request.match_info["number"])
    return json_response(svc.view(who, found.order) | {"id": found.id})


@routes.get("/api/orders/{number}/timeline", roles=ALL_ROLES,
            summary="工单时间线 Audit events of an order")  # fmt: skip
async def order_timeline(request: web.Request) -> web.Response:
    """Every event, oldest first: who, when, from, to, why."""
    who = principal(request)
    events = await request.app[ORDER_SERVICE].timeline(who, request.match_info["number"])
    return json_response({"number": request.match_info["number"].upper(), "events": events})


def _roles_for(cmd: type[c.Command]) -> frozenset[Role]:
    roles: set[Role] = set()
    actors = RULES[cmd].actors
    if ActorKind.PLATFORM in actors:
        roles |= PLATFORM_ROLES
    if ActorKind.UNIT in actors:
        roles.add(Role.UNIT_STAFF)
    return frozenset(roles)


def _expected_version(request: web.Request, body: dict[str, Any]) -> int:
    v = body.get("version")
    if v is None:
        header = request.headers.get("If-Match", "").strip().strip('"')
        if header.isascii() and header.isdigit():
            v = int(header)
    if not isinstance(v, int) or isinstance(v, bool):
        raise BadRequest("请提供工单版本 version(或 If-Match 头)以防止并发覆盖",
                         code="invalid_fields",
                         details=[{"field": "version", "problem": "required"}])  # fmt: skip
    return v


def _action_handler(cmd_type: type[c.Command]) -> Any:
    schema = body_schema(cmd_type)

    async def handler(request: web.Request) -> web.Response:
        who = principal(request)
        body = await read_json(request, schema)
        expected = _expected_version(request, body)
        try:
            cmd = parse_command(cmd_type.KIND, body)
        except CommandError as exc:
            raise _bad_field(exc) from None
        svc = request.app[ORDER_SERVICE]
        done = await svc.act(who, actor_of(who), request.match_info["number"], cmd, expected)
        return json_response(svc.view(who, done.order) | {"id": done.id})

    handler.__name__ = f"order_{cmd_type.KIND}"
    handler.__doc__ = cmd_type.__doc__
    return handler


for _cmd in c.ALL_COMMANDS:
    if _cmd in c.INTERNAL_COMMANDS:
        continue  # the system's own commands (deadline sweep, calendar confirmation)
    routes.post(
        f"/api/orders/{{number}}/{_cmd.KIND}", roles=_roles_for(_cmd),
        summary=(_cmd.__doc__ or _cmd.KIND).strip().splitlines()[0], body=body_schema(_cmd),
    )(_action_handler(_cmd))  # fmt: skip


@routes.post("/api/workflow/sweep", roles=SUPERVISOR_ROLES,
             summary="立即执行时限检查 Run the deadline sweep now")  # fmt: skip
async def run_sweep(request: web.Request) -> web.Response:
    """Mark overdue orders, send due reminders, raise supervision (normally periodic)."""
    changed = await request.app[ORDER_SERVICE].sweep_once()
    return json_response({"changed": changed})
