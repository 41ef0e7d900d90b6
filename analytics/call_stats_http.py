"""REST API of the call-centre statistics (SPEC R7.3), for platform supervisors and admins."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from analytics.call_stats import parse_range
from analytics.keys import CALL_STATS
from kit.auth import SUPERVISOR_ROLES
from kit.errors import BadRequest
from kit.http import Routes, json_response

routes = Routes(tag="analytics")

STATS_QUERY: dict[str, Any] = {  # query parameter → schema (for /api/openapi.json)
    "from": {"type": "string", "description": "required: 2026-11-03 or 2026-11-03T08:00 (local)"},
    "to": {"type": "string", "description": "required: a date counts whole, a time is exclusive"},
    "queue": {"type": "string", "description": "one queue (default: every queue)"},
}


@routes.get("/api/stats/calls", roles=SUPERVISOR_ROLES, query=STATS_QUERY,
            summary="话务统计 Call-centre statistics per queue and hour")  # fmt: skip
async def call_stats(request: web.Request) -> web.Response:
    """Service level (15 s), average speed of answer, abandonment rate, average handling time
    and agent occupancy per queue × Asia/Shanghai hour, with totals per queue, per hour and
    overall (at most 31 days)."""
    q = request.query
    rng = parse_range(q.get("from"), q.get("to"))
    queue = q.get("queue", "").strip() or None
    if queue is not None and len(queue) > 80:
        raise BadRequest("参数 queue 过长", code="invalid_query", details={"field": "queue"})
    return json_response(await request.app[CALL_STATS].stats(rng, queue))
