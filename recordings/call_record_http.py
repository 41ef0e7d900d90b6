"""The call record (通话记录) of one call and the calls behind a work order: who called, the
queue and agent, times, how it ended, the citizen's post-call rating (好差评 一事一评, 第十五条),
its recordings and transcript, and the orders it is linked to.

Same access rule as the call's audio (:mod:`recordings.access`); auditors see the caller's number
masked, and not at all when an order of the call is confidential, as they see it on work orders.
"""

from __future__ import annotations

import re
from typing import Any

import asyncpg
from aiohttp import web

from kit.auth import READ_ROLES, Principal, Role
from kit.errors import BadRequest, NotFound
from kit.http import Routes, json_response, principal
from recordings.access import may_see_call, split_call_id
from recordings.service import RECORDINGS

routes = Routes(tag="recordings")

RATING_LABELS = {1: "满意", 2: "基本满意", 3: "不满意"}
"""Keys of the post-call survey (ivr/survey.py)."""
_ORDER_NUMBER = re.compile(r"^[A-Za-z0-9-]{1,40}$")

_CALL_SQL = """
SELECT c.server, c.linkedid, c.direction, c.caller, c.dialled, c.started_at, c.answered_at,
       c.ended_at, c.ivr_choices, c.queue, c.wait_seconds, c.agent, c.agent_name, c.talk_seconds,
       c.hold_seconds, c.complete_reason, c.transfers, c.disposition, c.hangup_cause,
       c.hangup_cause_text, c.callback_requested,
       r.rating, r.rated_at,
       (SELECT count(*) FROM recordings rec
         WHERE rec.call_id = $3 AND rec.state = 'registered') AS recordings,
       (SELECT id FROM transcripts t WHERE t.call_id = $3) AS transcript_id,
       ARRAY(SELECT number FROM work_orders WHERE call_ids @> ARRAY[$3::text]
             UNION SELECT order_id FROM call_orders WHERE call_id = $3
             ORDER BY 1) AS orders,
       EXISTS (SELECT 1 FROM work_orders w
                WHERE (w.call_ids @> ARRAY[$3::text]
                       OR w.number IN (SELECT order_id FROM call_orders WHERE call_id = $3))
                  AND coalesce((w.doc->'citizen'->>'confidential')::boolean, false))
         AS confidential
  FROM calls c
  LEFT JOIN ivr_call_ratings r ON r.call_id = $3
 WHERE c.server = $1 AND c.linkedid = $2
"""


def _mask(phone: str | None) -> str | None:
    # The rule of workflow.views.mask_phone (138****5678); features do not import each other
    # and workflow's pure core may not import kit, so the few lines are repeated here.
    if not phone or len(phone) < 8:
        return phone and "*" * max(len(phone) - 2, 1) + phone[-2:]
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def call_record(row: asyncpg.Record, who: Principal) -> dict[str, Any]:
    """The JSON form of one call row (with its rating, recordings, transcript and orders)."""
    caller = row["caller"]
    if who.role == Role.AUDITOR:
        # as on work orders: masked, and hidden when the citizen asked for confidentiality
        caller = None if row["confidential"] else _mask(caller)
    rating = row["rating"]
    return {
        "call_id": f"{row['server']}:{row['linkedid']}",
        "direction": row["direction"], "caller": caller, "dialled": row["dialled"],
        "started_at": _iso(row["started_at"]), "answered_at": _iso(row["answered_at"]),
        "ended_at": _iso(row["ended_at"]), "ivr_choices": list(row["ivr_choices"]),
        "queue": row["queue"], "wait_seconds": row["wait_seconds"], "agent": row["agent"],
        "agent_name": row["agent_name"], "talk_seconds": row["talk_seconds"],
        "hold_seconds": row["hold_seconds"], "complete_reason": row["complete_reason"],
        "transfers": row["transfers"], "disposition": row["disposition"],
        "hangup_cause": row["hangup_cause"], "hangup_cause_text": row["hangup_cause_text"],
        "callback_requested": row["callback_requested"],
        "rating": None if rating is None else {
            "value": rating, "label": RATING_LABELS.get(rating, str(rating)),
            "rated_at": _iso(row["rated_at"])},
        "recordings": row["recordings"], "transcript": row["transcript_id"] is not None,
        "orders": list(row["orders"]),
    }  # fmt: skip


async def _fetch(pool: asyncpg.Pool, call_id: str) -> asyncpg.Record | None:
    parts = split_call_id(call_id)
    if parts is None:
        return None
    return await pool.fetchrow(_CALL_SQL, parts[0], parts[1], call_id)


@routes.get("/api/calls/{call_id}", roles=READ_ROLES,
            summary="A call record (通话记录): rating (好差评), recordings, transcript, orders")
async def get_call(request: web.Request) -> web.Response:
    call_id = request.match_info["call_id"]
    if not 0 < len(call_id) <= 128:
        raise BadRequest("通话编号不正确 (invalid call id)", code="invalid_call_id")
    pool = request.app[RECORDINGS].registry.pool
    who = principal(request)
    row = await _fetch(pool, call_id) if await may_see_call(pool, who, call_id) else None
    if row is None:
        raise NotFound("通话不存在 (no such call)", code="call_not_found")
    return json_response(call_record(row, who))


@routes.get("/api/orders/{number}/calls", roles=READ_ROLES,
            summary="The calls linked to a work order, each with its 好差评 rating")
async def order_calls(request: web.Request) -> web.Response:
    number = request.match_info["number"].strip().upper()
    if not _ORDER_NUMBER.match(number):
        raise BadRequest("工单编号不正确 (invalid order number)", code="invalid_number")
    pool = request.app[RECORDINGS].registry.pool
    ids = await pool.fetchval(
        """SELECT ARRAY(SELECT unnest(call_ids) UNION SELECT call_id FROM call_orders
                        WHERE order_id = $1::text ORDER BY 1)
             FROM work_orders WHERE number = $1::text""", number)
    if ids is None:
        raise NotFound("工单不存在 (no such order)", code="order_not_found")
    who = principal(request)
    calls = []
    for call_id in ids:
        # Platform staff see every call on an order (recordings.access); a call the tracker
        # never recorded (an id typed in by hand) is listed with what is known: its id.
        row = await _fetch(pool, call_id)
        calls.append(call_record(row, who) if row is not None
                     else {"call_id": call_id, "recorded": False})
    return json_response({"order": number, "calls": calls})
