"""Transcript → work orders. The workflow feature implements `OrderLinker`; ``hotline/`` wires it.

An order created from a call is linked with `TranscriptLinks.link_order` (whenever that happens:
before or after the transcript is ready). Attaching is a durable job run in the web process
(where the linker lives), so a failing linker is retried, and each (transcript, order) pair is
attached once.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import asyncpg

from kit.jobs import Job, JobQueue
from recordings.drafts import enrich_with_knowledge_base

log = logging.getLogger(__name__)

ATTACH_KIND = "recordings.attach"


class OrderLinker(Protocol):
    """What recordings needs from the work-order side (implemented over ``WorkflowApi``)."""

    async def attach_transcript(self, call_id: str, transcript_id: int,
                                summary: str) -> list[str]:
        """Attach the transcript to every order of the call (idempotent); returns the ids (or
        numbers) of those orders."""

    async def calls_with_open_orders(self, call_ids: list[str]) -> set[str]:
        """Which of these calls an open (not closed) order refers to."""


class KnowledgeBaseLookup(Protocol):
    """Knowledge-base search (the workflow's `WorkflowApi.suggest_articles`)."""

    async def suggest_articles(self, text: str, limit: int = 3) -> list[dict[str, Any]]:
        """Published articles matching ``text``, best first (``id``, ``unit_code``, ``title``)."""


class TranscriptLinks:
    """Links between calls, orders and transcripts."""

    def __init__(self, pool: asyncpg.Pool, queue: JobQueue,
                 linker: OrderLinker | None = None,
                 kb: KnowledgeBaseLookup | None = None) -> None:
        self.pool, self.queue, self.linker, self.kb = pool, queue, linker, kb

    async def link_order(self, call_id: str, order_id: str) -> None:
        """An order was created from ``call_id``: attach the transcript now or when ready."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO call_orders (call_id, order_id) VALUES ($1, $2)"
                " ON CONFLICT DO NOTHING", call_id, str(order_id))
            tid = await conn.fetchval("SELECT id FROM transcripts WHERE call_id = $1", call_id)
            if tid is not None:
                await self.queue.enqueue(ATTACH_KIND, {"call_id": call_id},
                                         dedupe_key=f"attach:{call_id}:o{order_id}", conn=conn)

    async def orders_of_call(self, call_id: str) -> list[str]:
        """Orders linked to the call."""
        rows = await self.pool.fetch(
            "SELECT order_id FROM call_orders WHERE call_id = $1 ORDER BY linked_at", call_id)
        return [r["order_id"] for r in rows]

    async def transcript_for_order(self, order_id: str) -> dict[str, Any] | None:
        """The transcript attached to an order (the latest call's, when several)."""
        row = await self.pool.fetchrow(
            """SELECT t.* FROM transcript_attachments a JOIN transcripts t ON t.id = a.transcript_id
               WHERE a.order_id = $1 ORDER BY a.attached_at DESC LIMIT 1""", str(order_id))
        return dict(row) if row else None

    async def handle_attach(self, job: Job) -> dict[str, Any]:
        """Job handler: attach the call's transcript to every order of the call (those the
        linker knows and those linked here) and record each attachment once."""
        call_id = str(job.payload["call_id"])
        t = await self.pool.fetchrow(
            "SELECT t.id, d.current->>'summary' AS summary FROM transcripts t"
            " LEFT JOIN order_drafts d ON d.call_id = t.call_id WHERE t.call_id = $1", call_id)
        if t is None:
            return {"attached": [], "reason": "no transcript yet"}
        if self.kb is not None:
            await enrich_with_knowledge_base(self.pool, call_id, self.kb)
        orders: list[str] = []
        if self.linker is not None:
            orders = [str(o) for o in await self.linker.attach_transcript(
                call_id, t["id"], t["summary"] or "")]
        orders += [o for o in await self.orders_of_call(call_id) if o not in orders]
        for order_id in orders:
            await self.pool.execute(
                "INSERT INTO transcript_attachments (transcript_id, order_id) VALUES ($1, $2)"
                " ON CONFLICT DO NOTHING", t["id"], order_id)
        return {"transcript_id": t["id"], "attached": orders}
