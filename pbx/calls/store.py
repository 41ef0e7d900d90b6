"""PostgreSQL persistence of call records and call events (tables of migration 0200).

Idempotent: a call row is an upsert keyed by ``(server, linkedid)`` that never rewrites a call
that already ended (two backend instances, or a replay after a reconnect, agree on the first
final record); an event row is keyed by a digest of its content (``ON CONFLICT DO NOTHING``).

Adopted calls (found by a resync after a restart, ``view.adopted``): when an earlier process
wrote the call's row, that row is locked and merged with what this process knows
(:func:`pbx.calls.merge.merge_adopted`) instead of being overwritten, so the original start,
IVR choices, queue entry and agent stay and the later hang-up still closes it, once. An
adopted event (``event.adopted``: a restatement from the snapshot, e.g. the adopted
``CallStarted``) is written to ``call_events`` only when the call's log has no event of that
kind yet: the log keeps the first, exact statement.

Calls that ended entirely while nobody listened (the backend was down, or its AMI link was):
after a resync, :meth:`CallStore.close_vanished` closes the server's open rows the snapshot
does not show alive, as ``ended_during_disconnect``, and returns their ``CallEnded``; the
persister publishes those (``pbx.calls.persister``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiohttp import web

from pbx.calls.events import CallEnded, CallEvent, CallKey, CallRecordView, DomainEvent
from pbx.calls.merge import merge_adopted
from pbx.calls.record import ENDED_DURING_DISCONNECT

log = logging.getLogger(__name__)

CurrentRecord = Callable[[CallKey], CallRecordView | None]


def _ts(value: float | None) -> datetime | None:
    """Epoch seconds → timestamptz. Raises ``ValueError`` for a value no datetime can hold
    (``nan``, ``inf``, ``1e300``): the persister then skips that one event."""
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise ValueError(f"bad call time {value!r}: {exc}") from None


def event_data(event: CallEvent) -> dict[str, Any]:
    """What is stored in ``call_events.data`` (the final record is in ``calls``)."""
    data = {
        f.name: getattr(event, f.name)
        for f in dataclasses.fields(event)
        if f.name not in ("server", "linkedid", "at", "record", "adopted")
    }
    if event.adopted:  # only then: the digest of every live event stays what it always was
        data["adopted"] = True
    return data


def event_key(event: CallEvent, data: dict[str, Any]) -> str:
    """Stable identity of an event: kind, time and a digest of its content."""
    blob = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
    digest = hashlib.sha1(blob.encode()).hexdigest()[:16]
    return f"{event.kind}:{event.at:.6f}:{digest}"


_UPSERT = """
INSERT INTO calls (server, linkedid, direction, caller, dialled, started_at, answered_at,
    ended_at, ivr_choices, queue, queue_joined_at, queue_left_at, wait_seconds, agents_rung,
    agents_no_answer, agent, agent_name, hold_seconds, talk_seconds, complete_reason, transfers,
    conference, participants, disposition, hangup_cause, hangup_cause_text, recordings,
    callback_requested, channels, extra, updated_at)
VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,
    $24,$25,$26,$27,$28,$29,$30, now())
ON CONFLICT (server, linkedid) DO UPDATE SET
    answered_at = EXCLUDED.answered_at, ended_at = EXCLUDED.ended_at,
    ivr_choices = EXCLUDED.ivr_choices, queue = EXCLUDED.queue,
    queue_joined_at = EXCLUDED.queue_joined_at, queue_left_at = EXCLUDED.queue_left_at,
    wait_seconds = EXCLUDED.wait_seconds, agents_rung = EXCLUDED.agents_rung,
    agents_no_answer = EXCLUDED.agents_no_answer, agent = EXCLUDED.agent,
    agent_name = EXCLUDED.agent_name, hold_seconds = EXCLUDED.hold_seconds,
    talk_seconds = EXCLUDED.talk_seconds, complete_reason = EXCLUDED.complete_reason,
    transfers = EXCLUDED.transfers, conference = EXCLUDED.conference,
    participants = EXCLUDED.participants, disposition = EXCLUDED.disposition,
    hangup_cause = EXCLUDED.hangup_cause, hangup_cause_text = EXCLUDED.hangup_cause_text,
    recordings = EXCLUDED.recordings, callback_requested = EXCLUDED.callback_requested,
    channels = EXCLUDED.channels, extra = EXCLUDED.extra, updated_at = now()
WHERE calls.ended_at IS NULL
   -- A resync's sweep on another instance may have closed the row as ended_during_disconnect
   -- (its guess: the last event it knew) before this instance, which saw the hang-up, got its
   -- exact final record written: the real end wins over the guess.
   OR (calls.disposition = 'ended_during_disconnect' AND EXCLUDED.ended_at IS NOT NULL
       AND EXCLUDED.disposition IS DISTINCT FROM 'ended_during_disconnect')
"""

_LOCK_ROWS = """
SELECT * FROM calls WHERE (server, linkedid) IN (SELECT * FROM unnest($1::text[], $2::text[]))
ORDER BY server, linkedid FOR UPDATE
"""

_LOGGED_KINDS = """
SELECT DISTINCT server, linkedid, kind FROM call_events
WHERE (server, linkedid) IN (SELECT * FROM unnest($1::text[], $2::text[]))
"""

_EVENT = """
INSERT INTO call_events (server, linkedid, kind, at, data, event_key)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (server, linkedid, event_key) DO NOTHING
"""


RESYNC_MARGIN = 5.0
"""Seconds before a resync snapshot a call must have started for the resync to close its row
(:meth:`CallStore.close_vanished`): covers the skew between Asterisk's clock (the rows' start
times) and ours (the snapshot time)."""

_VANISHED = """
SELECT linkedid FROM calls
WHERE server = $1 AND ended_at IS NULL AND started_at < $2 AND linkedid <> ALL($3::text[])
ORDER BY started_at
"""

# One statement: a row closed by someone else meanwhile (another instance, a tracker's final
# record) fails ``ended_at IS NULL`` when re-checked under the row lock and is not returned.
_CLOSE_VANISHED = """
UPDATE calls c SET
    ended_at = GREATEST(c.started_at, (SELECT max(e.at) FROM call_events e
                                       WHERE e.server = c.server AND e.linkedid = c.linkedid)),
    disposition = $4, updated_at = now()
WHERE c.server = $1 AND c.linkedid = ANY($2::text[]) AND c.ended_at IS NULL
  AND c.started_at < $3
RETURNING c.*
"""


def _epoch(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def _pairs(value: Any, size: int) -> tuple[tuple[str, ...], ...]:
    """A jsonb ``[[a, b], ...]`` column as tuples of ``size`` strings (others are dropped)."""
    if not isinstance(value, list):
        return ()
    return tuple(
        tuple(str(x) for x in item)
        for item in value
        if isinstance(item, list) and len(item) == size
    )


def view_of_row(row: Mapping[str, Any]) -> CallRecordView:
    """A ``calls`` row (asyncpg record or dict) as the call record it stores."""
    extra = row["extra"]
    return CallRecordView(
        server=row["server"],
        linkedid=row["linkedid"],
        direction=row["direction"],
        caller=row["caller"],
        dialled=row["dialled"],
        started_at=row["started_at"].timestamp(),
        answered_at=_epoch(row["answered_at"]),
        ended_at=_epoch(row["ended_at"]),
        ivr_choices=tuple(row["ivr_choices"] or ()),
        queue=row["queue"],
        queue_joined_at=_epoch(row["queue_joined_at"]),
        queue_left_at=_epoch(row["queue_left_at"]),
        wait_seconds=row["wait_seconds"],
        agents_rung=tuple(row["agents_rung"] or ()),
        agents_no_answer=tuple(row["agents_no_answer"] or ()),
        agent=row["agent"],
        agent_name=row["agent_name"],
        hold_seconds=row["hold_seconds"],
        talk_seconds=row["talk_seconds"],
        complete_reason=row["complete_reason"],
        transfers=_pairs(row["transfers"], 3),  # type: ignore[arg-type]
        conference=row["conference"],
        participants=tuple(row["participants"] or ()),
        disposition=row["disposition"],
        hangup_cause=row["hangup_cause"],
        hangup_cause_text=row["hangup_cause_text"],
        recordings=_pairs(row["recordings"], 2),  # type: ignore[arg-type]
        callback_requested=bool(row["callback_requested"]),
        channels=tuple(row["channels"] or ()),
        extra={str(k): str(v) for k, v in extra.items()} if isinstance(extra, dict) else {},
    )


def _row(r: CallRecordView) -> tuple[Any, ...]:
    return (
        r.server, r.linkedid, r.direction, r.caller, r.dialled, _ts(r.started_at),
        _ts(r.answered_at), _ts(r.ended_at), list(r.ivr_choices), r.queue,
        _ts(r.queue_joined_at), _ts(r.queue_left_at), r.wait_seconds, list(r.agents_rung),
        list(r.agents_no_answer), r.agent, r.agent_name, r.hold_seconds, r.talk_seconds,
        r.complete_reason, [list(t) for t in r.transfers], r.conference, list(r.participants),
        r.disposition, r.hangup_cause, r.hangup_cause_text, [list(x) for x in r.recordings],
        r.callback_requested, list(r.channels), dict(r.extra),
    )  # fmt: skip


class CallStore:
    """Writes call records and events; reads them back for other features and tests."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def apply(self, events: Sequence[DomainEvent], current: CurrentRecord) -> int:
        """Persist a batch of domain events in one transaction. ``current(key)`` gives the
        tracker's live record of an open call. Returns the number of call rows written."""
        views: dict[CallKey, CallRecordView] = {}
        rows: list[tuple[Any, ...]] = []
        for e in events:
            if not isinstance(e, CallEvent):
                continue
            if isinstance(e, CallEnded):
                views[e.key] = e.record
            elif e.key not in views:
                view = current(e.key)
                if view is not None:
                    views[e.key] = view
            data = event_data(e)
            rows.append((e.server, e.linkedid, e.kind, _ts(e.at), data, event_key(e, data)))
        if not rows:
            return 0
        async with self.pool.acquire() as conn, conn.transaction():
            adopted = [k for k, v in views.items() if v.adopted]
            if adopted:
                earlier = await conn.fetch(
                    _LOCK_ROWS, [k.server for k in adopted], [k.linkedid for k in adopted]
                )
                for r in earlier:
                    key = CallKey(r["server"], r["linkedid"])
                    if r["ended_at"] is None:
                        views[key] = merge_adopted(r, views[key])
            if views:
                await conn.executemany(_UPSERT, [_row(v) for v in views.values()])
            known = {
                (r["server"], r["linkedid"])
                for r in await conn.fetch(
                    "SELECT server, linkedid FROM calls WHERE (server, linkedid) IN "
                    "(SELECT * FROM unnest($1::text[], $2::text[]))",
                    [r[0] for r in rows],
                    [r[1] for r in rows],
                )
            }
            keep = [r for r in rows if (r[0], r[1]) in known]
            if len(keep) < len(rows):
                log.warning(
                    "call store: %d event(s) of unknown calls skipped", len(rows) - len(keep)
                )
            restated = [r for r in keep if r[4].get("adopted")]
            if restated:
                logged = {
                    (r["server"], r["linkedid"], r["kind"])
                    for r in await conn.fetch(
                        _LOGGED_KINDS, [r[0] for r in restated], [r[1] for r in restated]
                    )
                }
                keep = [r for r in keep if not r[4].get("adopted") or r[:3] not in logged]
            await conn.executemany(_EVENT, keep)
        return len(views)

    async def close_vanished(
        self,
        server: str,
        at: float,
        live: Collection[str],
        *,
        margin: float = RESYNC_MARGIN,
        still_open: Callable[[CallKey], bool] | None = None,
    ) -> list[CallEnded]:
        """Close the open rows of ``server`` whose call ended while nobody listened.

        ``at`` is the time of a resync snapshot of ``server`` and ``live`` the Linkedids it
        showed alive (:class:`pbx.calls.events.ResyncApplied`). Closed: every row of
        ``server`` with ``ended_at IS NULL`` whose Linkedid is not in ``live``, that started
        more than ``margin`` seconds before ``at`` (a call that started after the snapshot,
        or around it on a skewed clock, is never closed) and for which ``still_open(key)`` is
        false (the caller's tracker does not have the call open now).

        ``ended_at`` is the latest time known for the call: its last ``call_events`` row's
        time, else its ``started_at`` (never before ``started_at``). It is a lower bound: the
        real hang-up happened between then and the snapshot, and no clock we have says when;
        the last event is what the call was last seen doing, so talk and wait times are not
        inflated by the outage. The disposition is ``ended_during_disconnect``; every other
        column stays as the earlier process wrote it.

        The close is one ``UPDATE … WHERE ended_at IS NULL … RETURNING``: with several backend
        instances on one PostgreSQL, a row is returned to the one instance whose update closed
        it (a concurrent close or a tracker's final record wins or loses as a whole), and a
        second run returns nothing. Returns the ``CallEnded`` events to publish, one per row
        this call closed, each carrying the row's record (with the recordings it lists)."""
        if not math.isfinite(at) or not math.isfinite(margin) or margin < 0:
            raise ValueError(f"bad resync time {at!r} or margin {margin!r}")
        before = _ts(at - margin)
        candidates = await self.pool.fetch(_VANISHED, server, before, list(live))
        keys = [
            r["linkedid"]
            for r in candidates
            if still_open is None or not still_open(CallKey(server, r["linkedid"]))
        ]
        if not keys:
            return []
        rows = await self.pool.fetch(_CLOSE_VANISHED, server, keys, before, ENDED_DURING_DISCONNECT)
        out = []
        for row in rows:
            view = view_of_row(row)
            assert view.ended_at is not None
            out.append(
                CallEnded(view.server, view.ended_at, view.linkedid, ENDED_DURING_DISCONNECT, view)
            )
        return out

    async def get(self, server: str, linkedid: str) -> dict[str, Any] | None:
        """One call row as a dict (None if unknown)."""
        row = await self.pool.fetchrow(
            "SELECT * FROM calls WHERE server = $1 AND linkedid = $2", server, linkedid
        )
        return dict(row) if row else None

    async def events(self, server: str, linkedid: str) -> list[dict[str, Any]]:
        """The call's events in order."""
        rows = await self.pool.fetch(
            "SELECT kind, at, data FROM call_events WHERE server = $1 AND linkedid = $2 "
            "ORDER BY at, id",
            server,
            linkedid,
        )
        return [dict(r) for r in rows]


CALL_STORE: web.AppKey[CallStore] = web.AppKey("call_store", CallStore)
"""The application's :class:`CallStore` (set with ``TELEPHONY``)."""
