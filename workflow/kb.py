"""Knowledge base (知识库, 第十二条; 第六条(四), 第七条(三)): articles per member unit with
draft -> review -> published, versions, validity dates and ranked Chinese full-text search.

An article's versions live in ``kb_versions``; the ``kb_articles`` row carries the *published*
version's searchable text, so editing a published article creates a new draft version while the
published one stays in service until the new one is approved.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg

from kit.auth import Principal, Role
from kit.errors import BadRequest, Conflict, Forbidden, NotFound
from workflow.clock import TZ
from workflow.text import token_text, tsquery
from workflow.units import UnitDirectory

EDITABLE = ("draft", "rejected")


def _date(name: str, v: Any) -> dt.date | None:
    if v is None:
        return None
    try:
        return dt.date.fromisoformat(v)
    except (TypeError, ValueError):
        problem = [{"field": name, "problem": "must be YYYY-MM-DD"}]
        msg = f"{name} 应为 YYYY-MM-DD"
        raise BadRequest(msg, code="invalid_fields", details=problem) from None


class KnowledgeBase:
    """Use cases of the knowledge base."""

    def __init__(self, pool: asyncpg.Pool, units: UnitDirectory) -> None:
        self.pool = pool
        self.units = units

    def _may_edit(self, who: Principal, unit_code: str | None) -> None:
        if who.role in (Role.ADMIN, Role.SUPERVISOR):
            return
        if who.role is Role.UNIT_STAFF and unit_code == who.unit_code:
            return
        raise Forbidden("无权编辑该知识库条目", code="forbidden")

    async def create(self, who: Principal, data: dict[str, Any]) -> dict[str, Any]:
        """A new article as version 1 in ``draft``."""
        unit = who.unit_code if who.role is Role.UNIT_STAFF else data.get("unit_code")
        if unit is not None and unit not in self.units:
            raise BadRequest(f"未知的成员单位 {unit}", code="unknown_unit")
        self._may_edit(who, unit)
        fields = self._fields(data, None)
        async with self.pool.acquire() as conn, conn.transaction():
            aid = await conn.fetchval(
                "INSERT INTO kb_articles (unit_code, created_by) VALUES ($1::text, $2::text)"
                " RETURNING id",
                unit, who.username,
            )
            await conn.execute(
                """INSERT INTO kb_versions (article_id, version, status, title, body, keywords,
                       valid_from, valid_to, author)
                   VALUES ($1, 1, 'draft', $2::text, $3::text, $4::text[], $5::date,
                           $6::date, $7::text)""",
                aid, *fields, who.username,
            )
        return await self.get(who, aid)

    def _fields(self, data: dict[str, Any], base: asyncpg.Record | None) -> tuple[Any, ...]:
        def pick(k: str) -> Any:
            return data[k] if k in data else (base[k] if base is not None else None)

        title = (pick("title") or "").strip()
        body = (pick("body") or "").strip()
        if not title or not body:
            raise BadRequest("标题和正文不能为空", code="invalid_fields",
                             details=[{"field": "title/body", "problem": "required"}])  # fmt: skip
        keywords = list(pick("keywords") or [])
        vf = _date("valid_from", pick("valid_from")) if "valid_from" in data else pick("valid_from")
        vt = _date("valid_to", pick("valid_to")) if "valid_to" in data else pick("valid_to")
        if vf and vt and vt < vf:
            problem = [{"field": "valid_to", "problem": "before valid_from"}]
            raise BadRequest("有效期结束日期早于开始日期", code="invalid_fields", details=problem)
        return title, body, keywords, vf, vt

    async def _article(self, conn: Any, aid: int, lock: bool = False) -> asyncpg.Record:
        row = await conn.fetchrow(
            "SELECT * FROM kb_articles WHERE id = $1" + (" FOR UPDATE" if lock else ""), aid
        )
        if row is None:
            raise NotFound(f"知识库条目 {aid} 不存在", code="kb_not_found")
        return row

    async def edit(self, who: Principal, aid: int, data: dict[str, Any]) -> dict[str, Any]:
        """Change the latest draft, or start a new draft version from a published one."""
        async with self.pool.acquire() as conn, conn.transaction():
            art = await self._article(conn, aid, lock=True)
            self._may_edit(who, art["unit_code"])
            latest = await conn.fetchrow(
                "SELECT * FROM kb_versions WHERE article_id = $1 AND version = $2",
                aid, art["latest_version"],
            )
            fields = self._fields(data, latest)
            if latest["status"] == "review":
                raise Conflict("该条目正在审核中,请待审核完成后再修改", code="in_review")
            if latest["status"] in EDITABLE:
                await conn.execute(
                    """UPDATE kb_versions SET status = 'draft', title = $3::text,
                           body = $4::text, keywords = $5::text[], valid_from = $6::date,
                           valid_to = $7::date, author = $8::text,
                           updated_at = now()
                       WHERE article_id = $1 AND version = $2""",
                    aid, latest["version"], *fields, who.username,
                )
            else:
                version = latest["version"] + 1
                await conn.execute(
                    """INSERT INTO kb_versions (article_id, version, status, title, body,
                           keywords, valid_from, valid_to, author)
                       VALUES ($1, $2, 'draft', $3::text, $4::text, $5::text[], $6::date,
                               $7::date, $8::text)""",
                    aid, version, *fields, who.username,
                )
                await conn.execute(
                    "UPDATE kb_articles SET latest_version = $2, updated_at = now() WHERE id = $1",
                    aid, version,
                )
        return await self.get(who, aid)

    async def _move(
        self, who: Principal, aid: int, frm: tuple[str, ...], to: str, note: str | None = None
    ) -> dict[str, Any]:
        async with self.pool.acquire() as conn, conn.transaction():
            art = await self._article(conn, aid, lock=True)
            latest = await conn.fetchrow(
                "SELECT * FROM kb_versions WHERE article_id = $1 AND version = $2",
                aid, art["latest_version"],
            )
            if latest["status"] not in frm:
                raise Conflict(f"条目当前状态为 {latest['status']},不能执行此操作",
                               code="invalid_state")  # fmt: skip
            reviewer = who.username if to in ("published", "rejected") else None
            await conn.execute(
                """UPDATE kb_versions SET status = $3::text,
                       reviewer = coalesce($4::text, reviewer),
                       review_note = coalesce($5::text, review_note), updated_at = now()
                   WHERE article_id = $1 AND version = $2""",
                aid, latest["version"], to, reviewer, note,
            )
            if to == "published":
                await conn.execute(
                    """UPDATE kb_versions SET status = 'superseded', updated_at = now()
                       WHERE article_id = $1 AND status = 'published' AND version <> $2""",
                    aid, latest["version"],
                )
                tokens = token_text(latest["title"], latest["body"], " ".join(latest["keywords"]))
                await conn.execute(
                    """UPDATE kb_articles SET published_version = $2, title = $3::text,
                           body = $4::text, valid_from = $5::date, valid_to = $6::date,
                           tokens = $7::text, updated_at = now()
                       WHERE id = $1""",
                    aid, latest["version"], latest["title"], latest["body"],
                    latest["valid_from"], latest["valid_to"], tokens,
                )
        return await self.get(who, aid)

    async def submit(self, who: Principal, aid: int) -> dict[str, Any]:
        """Draft -> review."""
        art = await self._article(self.pool, aid)
        self._may_edit(who, art["unit_code"])
        return await self._move(who, aid, EDITABLE, "review")

    async def approve(self, who: Principal, aid: int) -> dict[str, Any]:
        """Review -> published (platform supervisors, 第六条(四))."""
        return await self._move(who, aid, ("review",), "published")

    async def reject(self, who: Principal, aid: int, note: str) -> dict[str, Any]:
        """Review -> rejected, with the reviewer's note."""
        if not note.strip():
            raise BadRequest("请填写退回意见", code="invalid_fields")
        return await self._move(who, aid, ("review",), "rejected", note)

    async def get(self, who: Principal, aid: int) -> dict[str, Any]:
        """The article with all its versions (drafts only for its editors)."""
        art = await self._article(self.pool, aid)
        editor = who.is_platform or (who.role is Role.UNIT_STAFF
                                     and who.unit_code == art["unit_code"])  # fmt: skip
        if not editor and art["published_version"] is None:
            raise NotFound(f"知识库条目 {aid} 不存在", code="kb_not_found")
        versions = await self.pool.fetch(
            "SELECT * FROM kb_versions WHERE article_id = $1 ORDER BY version", aid
        )
        out = {k: art[k] for k in ("id", "unit_code", "latest_version", "published_version",
                                   "title", "body", "valid_from", "valid_to", "created_by",
                                   "created_at", "updated_at")}  # fmt: skip
        out["versions"] = [
            {k: v for k, v in dict(r).items() if k != "article_id"}
            for r in versions if editor or r["status"] in ("published", "superseded")
        ]
        return out

    async def is_citable(self, aid: int, on: dt.date | None = None) -> bool:
        """Published and valid today: an agent may cite it for a direct answer."""
        on = on or dt.datetime.now(TZ).date()
        return bool(await self.pool.fetchval(
            """SELECT 1 FROM kb_articles WHERE id = $1 AND published_version IS NOT NULL
                 AND (valid_from IS NULL OR valid_from <= $2::date)
                 AND (valid_to IS NULL OR valid_to >= $2::date)""",
            aid, on,
        ))  # fmt: skip

    async def search(
        self, text: str, *, unit: str | None = None, on: dt.date | None = None, limit: int = 10
    ) -> list[dict[str, Any]]:
        """Published articles valid on ``on`` (today), ranked by ``ts_rank_cd`` over the jieba
        tokens; any query word matches, more matching words rank higher."""
        q = tsquery(text, any_word=True)
        if q is None:
            return []
        on = on or dt.datetime.now(TZ).date()
        rows = await self.pool.fetch(
            """SELECT id, unit_code, title, left(body, 200) AS snippet, published_version,
                      valid_from, valid_to,
                      ts_rank_cd(search_vector, query) AS rank
               FROM kb_articles, to_tsquery('simple', $1::text) AS query
               WHERE published_version IS NOT NULL
                 AND search_vector @@ query
                 AND (valid_from IS NULL OR valid_from <= $2::date)
                 AND (valid_to IS NULL OR valid_to >= $2::date)
                 AND ($3::text IS NULL OR unit_code = $3::text)
               ORDER BY rank DESC, id
               LIMIT $4::integer""",
            q, on, unit, limit,
        )
        return [dict(r) for r in rows]
