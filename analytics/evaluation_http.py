"""REST API of the member-unit evaluation (成员单位考核, 第二十一条 to 第二十三条).

Platform supervisors, administrators and the joint-meeting office (auditor role) read every
unit; member-unit staff read only their own unit's row; only administrators change the weights.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from analytics import export
from analytics.evaluation import EVALUATION_READERS
from analytics.keys import EVALUATION
from analytics.scoring import (
    DEFAULT_WEIGHTS,
    WEIGHT_FIELDS,
    WEIGHT_LABELS,
    WeightsError,
    weights_from,
)
from kit.auth import Role
from kit.errors import BadRequest
from kit.http import Routes, json_response, principal, read_json

routes = Routes(tag="analytics")

PERIOD_QUERY: dict[str, Any] = {  # query parameter → schema (for /api/openapi.json)
    "period": {"type": "string", "description": "required: YYYY-MM (月度) or YYYY (年度)"},
    "unit": {"type": "string", "description": "one member unit's code (unit staff: their own)"},
}
EXPORT_QUERY: dict[str, Any] = {
    **PERIOD_QUERY,
    "format": {"type": "string", "enum": list(export.FORMATS), "description": "default csv"},
}
WEIGHTS_BODY: dict[str, Any] = {
    "type": "object",
    "required": list(WEIGHT_FIELDS),
    "additionalProperties": False,
    "properties": {
        **{k: {"type": "integer", "minimum": 0, "maximum": 100, "description": WEIGHT_LABELS[k]}
           for k in WEIGHT_FIELDS},
        "note": {"type": "string", "maxLength": 500},
    },
}  # fmt: skip


def _unit(request: web.Request) -> str | None:
    unit = request.query.get("unit", "").strip()
    if len(unit) > 40:
        raise BadRequest("参数 unit 过长", code="invalid_query", details={"field": "unit"})
    return unit or None


@routes.get("/api/evaluation", roles=EVALUATION_READERS, query=PERIOD_QUERY,
            summary="成员单位考核 Evaluation of the member units (month / year)")  # fmt: skip
async def get_evaluation(request: web.Request) -> web.Response:
    """Per unit: dispatched orders, on-time sign-for / reply, return, extension and
    satisfaction rates, overdue count, composite score and rank (第二十一条: orders closed in
    the period)."""
    who = principal(request)
    report = await request.app[EVALUATION].report(who, request.query.get("period"),
                                                  _unit(request))  # fmt: skip
    return json_response(report.as_dict())


@routes.get("/api/evaluation/export", roles=EVALUATION_READERS, query=EXPORT_QUERY,
            summary="导出成员单位考核 Export the evaluation (CSV / XLSX)")  # fmt: skip
async def export_evaluation(request: web.Request) -> web.StreamResponse:
    """The same rows as ``GET /api/evaluation``, Chinese column headers; XLSX adds a bar chart
    of the composite scores and a sheet with the period and the weights."""
    fmt = request.query.get("format", "csv").strip().lower()
    if fmt not in export.FORMATS:
        raise BadRequest(f"导出格式应为 {' / '.join(export.FORMATS)}", code="invalid_query",
                         details={"field": "format"})  # fmt: skip
    who = principal(request)
    report = await request.app[EVALUATION].report(who, request.query.get("period"),
                                                  _unit(request))  # fmt: skip
    body = await asyncio.to_thread(export.render, report, fmt)
    return web.Response(body=body, headers={
        "Content-Type": export.CONTENT_TYPES[fmt],
        "Content-Disposition": f'attachment; filename="{export.filename(report, fmt)}"',
    })  # fmt: skip


def _weights_view(stored: Any) -> dict[str, Any]:
    return {"weights": stored.weights.as_dict(), "set_by": stored.set_by,
            "set_at": stored.set_at, "note": stored.note}  # fmt: skip


@routes.get("/api/evaluation/weights", roles=EVALUATION_READERS,
            summary="考核权重 Weights of the composite score in force")  # fmt: skip
async def get_weights(request: web.Request) -> web.Response:
    """The weights in force (``set_by`` null: the documented defaults), with labels."""
    stored = await request.app[EVALUATION].weights()
    return json_response(_weights_view(stored) | {"labels": WEIGHT_LABELS,
                                                  "defaults": DEFAULT_WEIGHTS.as_dict()})


@routes.get("/api/evaluation/weights/history", roles={Role.ADMIN, Role.SUPERVISOR, Role.AUDITOR},
            summary="考核权重变更记录 Every change of the weights, newest first")  # fmt: skip
async def weights_history(request: web.Request) -> web.Response:
    """Who set which weights when."""
    rows = await request.app[EVALUATION].history()
    return json_response({"items": [_weights_view(r) for r in rows]})


@routes.put("/api/evaluation/weights", roles={Role.ADMIN}, body=WEIGHTS_BODY,
            summary="设置考核权重 Set the weights (integers 0..100 summing to 100)")  # fmt: skip
async def put_weights(request: web.Request) -> web.Response:
    """Put new weights in force; they apply to every evaluation computed from now on."""
    who = principal(request)
    body = await read_json(request, WEIGHTS_BODY)
    try:
        weights = weights_from(body)
    except WeightsError as exc:
        raise BadRequest(str(exc), code="invalid_weights", details=exc.details) from None
    stored = await request.app[EVALUATION].set_weights(who, weights, body.get("note") or "")
    return json_response(_weights_view(stored))
