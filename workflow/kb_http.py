"""REST API of the knowledge base (第十二条)."""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from kit.auth import ALL_ROLES, SUPERVISOR_ROLES, Role
from kit.errors import BadRequest
from kit.http import Routes, json_response, principal, query_int, read_json
from workflow.keys import KNOWLEDGE_BASE

routes = Routes(tag="knowledge-base")

EDITORS = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.UNIT_STAFF})
_DATE = {"type": ["string", "null"], "maxLength": 10}
ARTICLE_BODY = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "unit_code": {"type": ["string", "null"], "maxLength": 40},
        "title": {"type": "string", "maxLength": 200},
        "body": {"type": "string", "maxLength": 50000},
        "keywords": {"type": "array", "items": {"type": "string", "maxLength": 40},
                     "maxItems": 30},
        "valid_from": _DATE, "valid_to": _DATE,
    },
}  # fmt: skip


def _id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 15:
        raise BadRequest("条目编号应为整数", code="invalid_path")
    return int(raw)


@routes.post("/api/kb/articles", roles=EDITORS, summary="新建知识 Create an article (draft)",
             body={**ARTICLE_BODY, "required": ["title", "body"]})  # fmt: skip
async def create_article(request: web.Request) -> web.Response:
    """Version 1 in draft; unit staff write for their own unit (第七条(三))."""
    who = principal(request)
    body = await read_json(request, {**ARTICLE_BODY, "required": ["title", "body"]})
    return json_response(await request.app[KNOWLEDGE_BASE].create(who, body), status=201)


@routes.get("/api/kb/articles/{id}", roles=ALL_ROLES, summary="知识详情 An article")
async def get_article(request: web.Request) -> web.Response:
    """The article with its versions (drafts only for its editors)."""
    return json_response(await request.app[KNOWLEDGE_BASE].get(principal(request), _id(request)))


@routes.put("/api/kb/articles/{id}", roles=EDITORS, summary="修改知识 Edit (new draft version)",
            body=ARTICLE_BODY)  # fmt: skip
async def edit_article(request: web.Request) -> web.Response:
    """Edit the draft, or start a new version from the published one."""
    body = await read_json(request, ARTICLE_BODY)
    body.pop("unit_code", None)
    kb = request.app[KNOWLEDGE_BASE]
    return json_response(await kb.edit(principal(request), _id(request), body))


@routes.post("/api/kb/articles/{id}/submit", roles=EDITORS, summary="提交审核 Submit for review")
async def submit_article(request: web.Request) -> web.Response:
    """Draft -> review."""
    return json_response(await request.app[KNOWLEDGE_BASE].submit(principal(request),
                                                                   _id(request)))  # fmt: skip


@routes.post("/api/kb/articles/{id}/approve", roles=SUPERVISOR_ROLES,
             summary="审核发布 Approve and publish")  # fmt: skip
async def approve_article(request: web.Request) -> web.Response:
    """Review -> published; the previous published version is superseded."""
    return json_response(await request.app[KNOWLEDGE_BASE].approve(principal(request),
                                                                    _id(request)))  # fmt: skip


REJECT_BODY = {"type": "object", "required": ["note"], "additionalProperties": False,
               "properties": {"note": {"type": "string", "maxLength": 2000}}}  # fmt: skip


@routes.post("/api/kb/articles/{id}/reject", roles=SUPERVISOR_ROLES,
             summary="审核退回 Reject with a note", body=REJECT_BODY)  # fmt: skip
async def reject_article(request: web.Request) -> web.Response:
    """Review -> rejected (the author edits and submits again)."""
    body = await read_json(request, REJECT_BODY)
    kb = request.app[KNOWLEDGE_BASE]
    return json_response(await kb.reject(principal(request), _id(request), body["note"]))


@routes.get("/api/kb/search", roles=ALL_ROLES, summary="知识检索 Ranked full-text search",
            query={"type": "object", "properties": {
                "q": {"type": "string"}, "unit": {"type": "string"},
                "on": {"type": "string"}, "limit": {"type": "integer"}}})  # fmt: skip
async def search_articles(request: web.Request) -> web.Response:
    """Published articles valid on ``on`` (default today), best match first."""
    q = request.query.get("q", "")
    if not q.strip() or len(q) > 500:
        raise BadRequest("请提供检索词 q (1-500 字)", code="invalid_query")
    on = None
    if request.query.get("on"):
        try:
            on = dt.date.fromisoformat(request.query["on"])
        except ValueError:
            raise BadRequest("on 应为 YYYY-MM-DD", code="invalid_query") from None
    limit = query_int(request, "limit", 10, lo=1, hi=50)
    items = await request.app[KNOWLEDGE_BASE].search(q, unit=request.query.get("unit") or None,
                                                     on=on, limit=limit)  # fmt: skip
    return json_response({"items": items})
