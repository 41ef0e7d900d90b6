"""REST API of the hotspot analysis (热点分析, 第十八条) and its quick report (热点舆情诉求快报,
第十九条), for platform supervisors, administrators and the joint-meeting office (auditor)."""

from __future__ import annotations

from aiohttp import web

from analytics import hotspots_report
from analytics.hotspots import HOTSPOTS
from analytics.hotspots_params import QUERY_SCHEMA, REPORT_SCHEMA, parse_format, parse_query
from kit.auth import Role
from kit.http import Routes, json_response

routes = Routes(tag="analytics")

HOTSPOT_READERS = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.AUDITOR})
"""The platform's supervisors and administrators, and the joint-meeting office (auditor role),
to whom the reports go (第十九条 快报, 第二十二条 通报)."""


@routes.get("/api/hotspots", roles=HOTSPOT_READERS, query=QUERY_SCHEMA,
            summary="热点分析 Hotspots: topic × place counts, spikes, 集中/持续性诉求")  # fmt: skip
async def get_hotspots(request: web.Request) -> web.Response:
    """Topic × place counts over a sliding window (``window=24h|7d|30d``…) with spikes against
    the previous windows, concentrated (集中) and persistent (持续性) demands."""
    q = parse_query(request.query)
    return json_response(await request.app[HOTSPOTS].report(q))


@routes.get("/api/hotspots/report", roles=HOTSPOT_READERS, query=REPORT_SCHEMA,
            summary="热点舆情诉求快报 Quick report as Chinese text (md / txt)")  # fmt: skip
async def get_report(request: web.Request) -> web.Response:
    """The same content as ``GET /api/hotspots`` as a short Chinese briefing text."""
    fmt = parse_format(request.query.get("format"))
    q = parse_query(request.query, allow_format=True)
    data = await request.app[HOTSPOTS].report(q)
    return web.Response(
        text=hotspots_report.render(data, fmt),
        headers={"Content-Type": hotspots_report.CONTENT_TYPES[fmt]},
    )
