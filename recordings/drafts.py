"""The drafted work order of a call: read, edit, confirm (SPEC R4.3). The proposal of the rules
is kept next to the agent's version, and an unconfirmed draft is never dropped."""

from __future__ import annotations

from typing import Any

import asyncpg

from kit.errors import BadRequest, Conflict, NotFound
from recordings.drafting import CATEGORIES, CATEGORY_CODES

EDITABLE: dict[str, dict[str, Any]] = {
    "category": {"type": "string", "enum": list(CATEGORIES)},
    "summary": {"type": "string", "maxLength": 500},
    "phones": {"type": "array"},
    "addresses": {"type": "array"},
    "suggested_unit": {"type": ["string", "null"], "maxLength": 64},
    "location_unit": {"type": ["string", "null"], "maxLength": 64},
}
EDIT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {**EDITABLE, "version": {"type": "integer", "minimum": 1}},
    "additionalProperties": False,
}


def _check_lists(changes: dict[str, Any]) -> None:
    for key in ("phones", "addresses"):
        if key in changes:
            items = changes[key]
            if len(items) > 20 or not all(isinstance(i, str) and 0 < len(i) <= 200 for i in items):
                raise BadRequest("请求参数不正确 (invalid fields)", code="invalid_fields",
                                 details=[{"field": key,
                                           "problem": "must be at most 20 non-empty strings"}])


def _row(row: asyncpg.Record) -> dict[str, Any]:
    return {k: row[k] for k in ("call_id", "transcript_id", "proposed", "current", "status",
                                "version", "edited_by", "confirmed_by", "confirmed_at",
                                "created_at", "updated_at")}


class DraftStore:
    """Order drafts in PostgreSQL."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def get(self, call_id: str) -> dict[str, Any]:
        """The draft of a call, or NotFound (there is none until the transcript is ready)."""
        row = await self.pool.fetchrow("SELECT * FROM order_drafts WHERE call_id = $1", call_id)
        if row is None:
            raise NotFound("该通话暂无工单草稿 (no draft for this call yet)",
                           code="draft_not_found")
        return _row(row)

    async def edit(self, call_id: str, changes: dict[str, Any], user_id: int,
                   *, confirm: bool = False) -> dict[str, Any]:
        """Apply the agent's edits (and optionally confirm). ``version`` in ``changes`` makes the
        write conditional (409 when someone else edited first). A confirmed draft is final."""
        changes = dict(changes)
        version = changes.pop("version", None)
        unknown = set(changes) - set(EDITABLE)
        if unknown:
            raise BadRequest("请求参数不正确 (invalid fields)", code="invalid_fields",
                             details=[{"field": k, "problem": "not editable"} for k in unknown])
        _check_lists(changes)
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT * FROM order_drafts WHERE call_id = $1 FOR UPDATE", call_id)
            if row is None:
                raise NotFound("该通话暂无工单草稿 (no draft for this call yet)",
                               code="draft_not_found")
            if row["status"] == "confirmed":
                raise Conflict("草稿已确认，不能再修改 (draft already confirmed)",
                               code="draft_confirmed")
            if version is not None and version != row["version"]:
                raise Conflict("草稿已被他人修改，请刷新 (draft changed meanwhile)",
                               code="version_conflict", details={"version": row["version"]})
            current = {**row["current"], **changes}
            if "category" in changes:
                current["category_code"] = CATEGORY_CODES[changes["category"]]
            updated = await conn.fetchrow(
                """UPDATE order_drafts SET current = $2, version = version + 1, edited_by = $3,
                          status = CASE WHEN $4 THEN 'confirmed' ELSE status END,
                          confirmed_by = CASE WHEN $4 THEN $3 ELSE confirmed_by END,
                          confirmed_at = CASE WHEN $4 THEN now() ELSE confirmed_at END,
                          updated_at = now()
                   WHERE call_id = $1 RETURNING *""",
                call_id, current, user_id, confirm)
        return _row(updated)


async def enrich_with_knowledge_base(pool: asyncpg.Pool, call_id: str, kb: Any) -> bool:
    """Add knowledge-base suggestions (第十二条) to an untouched draft: the matching articles, and
    the unit of the best article when the keyword rules found none (and the matter is
    acceptable). ``kb`` has ``suggest_articles(text, limit)`` (the workflow's `WorkflowApi`).
    Returns True when the draft changed."""
    row = await pool.fetchrow(
        "SELECT d.proposed, d.version, d.status, t.citizen_text FROM order_drafts d"
        " JOIN transcripts t ON t.id = d.transcript_id WHERE d.call_id = $1", call_id)
    if row is None or row["status"] != "draft" or row["version"] != 1:
        return False  # the agent is already working on it: do not change it under them
    proposed = dict(row["proposed"])
    if "kb_articles" in proposed:
        return False
    articles = await kb.suggest_articles(row["citizen_text"], limit=3)
    proposed["kb_articles"] = [{"id": a["id"], "unit_code": a.get("unit_code"),
                                "title": a.get("title")} for a in articles]
    if (not proposed.get("suggested_unit") and proposed.get("acceptable") and articles
            and articles[0].get("unit_code")):
        proposed["suggested_unit"] = articles[0]["unit_code"]
        proposed["unit_source"] = "knowledge_base"
    changed = await pool.execute(
        "UPDATE order_drafts SET proposed = $2, current = $2, updated_at = now()"
        " WHERE call_id = $1 AND version = 1 AND status = 'draft'", call_id, proposed)
    return changed.endswith(" 1")
