"""Who may see a call's recordings, transcript, draft and live transcript.

The rule (docs/recordings.md, "Access to call data"):

* supervisors and admins see every call; auditors too, on the read-only routes open to them;
* an agent sees a call only if
  - the call was answered at the agent's own queue-member interface (``calls.agent`` equals the
    ``agents.interface`` of the agent's user on the same Asterisk server), or
  - the call is linked to a work order (``work_orders.call_ids`` or ``call_orders``): platform
    staff act on every work order (kit.auth), so the audio and transcript behind an order are
    theirs to see as well;
* anybody else gets 404, never 403, so the existence of a call is not revealed.

The call id is ``server:linkedid``; an id without a server part can only be reached through a
work order.
"""

from __future__ import annotations

import asyncpg

from kit.auth import Principal, Role
from kit.errors import NotFound

ALL_CALLS_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.AUDITOR})
"""Roles that see every call (the route's own role list still decides what they may do)."""


def split_call_id(call_id: str) -> tuple[str, str] | None:
    """``server:linkedid`` → (server, linkedid); None when there is no server part. Server ids
    never contain ':' (calls.server CHECK), a Linkedid may contain anything else."""
    server, sep, linkedid = call_id.partition(":")
    if not sep or not server or not linkedid:
        return None
    return server, linkedid


async def agent_may_see_call(pool: asyncpg.Pool, user_id: int, call_id: str) -> bool:
    """True when the agent ``user_id`` answered the call or the call is on a work order."""
    parts = split_call_id(call_id)
    server, linkedid = parts if parts else (None, None)
    return bool(await pool.fetchval(
        """SELECT EXISTS (SELECT 1 FROM calls c
                          JOIN agents a ON a.interface = c.agent AND a.server = c.server
                          WHERE c.server = $2 AND c.linkedid = $3 AND a.user_id = $1)
               OR EXISTS (SELECT 1 FROM work_orders WHERE call_ids @> ARRAY[$4::text])
               OR EXISTS (SELECT 1 FROM call_orders WHERE call_id = $4)""",
        user_id, server, linkedid, call_id))


async def may_see_call(pool: asyncpg.Pool, who: Principal, call_id: str) -> bool:
    """The access rule of this module for any principal."""
    if who.role in ALL_CALLS_ROLES:
        return True
    if who.role == Role.AGENT:
        return await agent_may_see_call(pool, who.user_id, call_id)
    return False


async def require_call(pool: asyncpg.Pool, who: Principal, call_id: str) -> None:
    """Raise 404 ``call_not_found`` unless ``who`` may see the call."""
    if not await may_see_call(pool, who, call_id):
        raise NotFound("通话不存在 (no such call)", code="call_not_found")
