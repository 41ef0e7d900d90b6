"""SQL of work orders: the current row and its append-only events, numbering, lists, the sweep.

Rows become :class:`workflow.model.Order` values here; nothing above this module sees asyncpg
records. Every write of an order goes with its events in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from workflow.codec import order_from_dict, order_to_dict
from workflow.limits import next_check
from workflow.model import Event, Order, State
from workflow.numbering import local_day
from workflow.text import token_text


@dataclass(frozen=True, slots=True)
class StoredOrder:
    """An order with its database id."""

    id: int
    order: Order


@dataclass(frozen=True)
class OrderFilter:
    """List filters (all optional, combined with AND)."""

    states: tuple[str, ...] = ()
    category: str | None = None
    channel: str | None = None
    unit: str | None = None  # any assigned unit (lead or co)
    lead_unit: str | None = None
    phone: str | None = None
    district: str | None = None
    overdue: bool | None = None
    supervision: str | None = None
    created_from: dt.datetime | None = None
    created_to: dt.datetime | None = None
    tsquery: str | None = None  # already built by workflow.text.tsquery
    only_units: tuple[str, ...] | None = None  # isolation: restrict to orders of these units


def _columns(o: Order) -> tuple[Any, ...]:
    return (
        o.number, o.version, o.state.value, o.channel.value, o.category.value, o.urgent,
        o.citizen.confidential, o.lead_unit, list(o.units), o.citizen.phone, o.district,
        list(o.call_ids), o.created_at, o.reply_due, o.reply_overdue, o.supervision.value,
        next_check(o), o.closed_at, token_text(o.topic, o.content, o.address),
        order_to_dict(o),
    )  # fmt: skip


_COL_TYPES = (
    ("number", "text"), ("version", "integer"), ("state", "text"), ("channel", "text"),
    ("category", "text"), ("urgent", "boolean"), ("confidential", "boolean"),
    ("lead_unit", "text"), ("units", "text[]"), ("citizen_phone", "text"), ("district", "text"),
    ("call_ids", "text[]"), ("created_at", "timestamptz"), ("reply_due", "timestamptz"),
    ("reply_overdue", "boolean"), ("supervision", "text"), ("next_check_at", "timestamptz"),
    ("closed_at", "timestamptz"), ("search_tokens", "text"), ("doc", "jsonb"),
)  # fmt: skip
"""The columns written from an order, with their SQL types. Every parameter of the statements
below carries an explicit cast (``$8::text``): several are NULL for many orders (lead unit, phone,
district, limits), and a parameter whose type PostgreSQL must infer from its context fails the
whole statement with ``IndeterminateDatatypeError`` as soon as a change of the SQL leaves it in
a context without a type (``$n IS NULL``, ``COALESCE($n, $m)``, a bare select-list item)."""
_COLS = tuple(name for name, _ in _COL_TYPES)

_EVENTS_OF_W = """
INSERT INTO work_order_events (order_id, version, kind, at, actor_kind, actor_name, actor_unit,
    actor_user_id, from_state, to_state, data)
SELECT w.id, w.version, e->>'kind', (e->>'at')::timestamptz, e->>'actor_kind', e->>'actor_name',
    e->>'actor_unit', (e->>'actor_user_id')::bigint, e->>'from_state', e->>'to_state', e->'data'
FROM w, jsonb_array_elements(${ev}::jsonb) AS e"""

# One statement (hence atomic, one round trip): draw the day's sequence number, insert the
# order with that number, append its first events.
_INSERT = (
    """
WITH s AS (
    INSERT INTO work_order_seq (day, last) VALUES ($1::date, 1)
    ON CONFLICT (day) DO UPDATE SET last = work_order_seq.last + 1
    RETURNING last),
n AS (SELECT 'CZ' || to_char($1::date, 'YYYYMMDD') || '-' || lpad(s.last::text, 6, '0') AS no
      FROM s),
w AS (
    INSERT INTO work_orders (""" + ", ".join(_COLS) + """, updated_at)
    SELECT n.no, """
    + ", ".join(f"${i}::{t}" for i, (_, t) in enumerate(_COL_TYPES[1:-1], start=2))
    + """,
           jsonb_set($20::jsonb, '{number}', to_jsonb(n.no)), $13::timestamptz
    FROM n
    RETURNING id, version, number)"""
    + _EVENTS_OF_W.format(ev=21)
    + "\nRETURNING order_id, (SELECT number FROM w)"
)

# One statement: the new current row if the version still matches, and its events.
_UPDATE = (
    "WITH w AS (UPDATE work_orders SET "
    + ", ".join(f"{c} = ${i}::{t}" for i, (c, t) in enumerate(_COL_TYPES, start=1))
    + ", updated_at = $21::timestamptz WHERE id = $22::bigint AND version = $23::integer"
    " RETURNING id, version)"
    + _EVENTS_OF_W.format(ev=24)
)


def _events_json(events: Sequence[Event]) -> list[dict[str, Any]]:
    return [
        {"kind": e.kind, "at": e.at.isoformat(), "actor_kind": e.actor.kind.value,
         "actor_name": e.actor.name, "actor_unit": e.actor.unit,
         "actor_user_id": e.actor.user_id, "from_state": e.from_state.value,
         "to_state": e.to_state.value, "data": e.data}
        for e in events
    ]  # fmt: skip


async def insert(
    conn: asyncpg.Connection | asyncpg.Pool, order: Order, events: Sequence[Event]
) -> tuple[int, str]:
    """Insert a new order numbered ``CZyyyymmdd-nnnnnn`` (the day's next number; the counter
    row is locked until the statement commits, so numbers are unique and gap-free even with
    several backend instances) with its first events; returns ``(id, number)``."""
    if not events:
        raise ValueError("an order is created with at least one event")
    row = await conn.fetchrow(_INSERT, local_day(order.created_at), *_columns(order)[1:],
                              _events_json(events))  # fmt: skip
    return int(row[0]), str(row[1])


async def update(
    conn: asyncpg.Connection | asyncpg.Pool, oid: int, expected_version: int, order: Order,
    events: Sequence[Event], now: dt.datetime,
) -> bool:
    """Write the new current row and its events if the stored version is still
    ``expected_version``; False (nothing written) when someone changed the order meanwhile."""
    if not events:
        raise ValueError("every change of an order leaves at least one event")
    status = await conn.execute(_UPDATE, *_columns(order), now, oid, expected_version,
                                _events_json(events))  # fmt: skip
    return status == f"INSERT 0 {len(events)}"


def _row(r: asyncpg.Record) -> StoredOrder:
    return StoredOrder(r["id"], order_from_dict(r["doc"]))


async def get(conn: asyncpg.Connection | asyncpg.Pool, number: str) -> StoredOrder | None:
    """One order by number."""
    r = await conn.fetchrow("SELECT id, doc FROM work_orders WHERE number = $1", number)
    return _row(r) if r else None


async def get_by_id(conn: asyncpg.Connection | asyncpg.Pool, oid: int) -> StoredOrder | None:
    """One order by id."""
    r = await conn.fetchrow("SELECT id, doc FROM work_orders WHERE id = $1", oid)
    return _row(r) if r else None


async def list_orders(
    pool: asyncpg.Pool | asyncpg.Connection, f: OrderFilter, limit: int,
    before: tuple[dt.datetime, int] | None = None,
) -> list[tuple[int, dt.datetime, dict[str, Any]]]:
    """``(id, created_at, doc)`` newest first, keyset-paginated on ``(created_at, id)`` (fast
    at any depth); ``doc`` is the order's JSON form (see :func:`workflow.views.doc_view`)."""
    where, args = [], []

    def arg(v: Any) -> str:
        args.append(v)
        return f"${len(args)}"

    if f.states:
        where.append(f"state = ANY({arg(list(f.states))}::text[])")
    if f.category:
        where.append(f"category = {arg(f.category)}::text")
    if f.channel:
        where.append(f"channel = {arg(f.channel)}::text")
    if f.unit:
        where.append(f"units @> ARRAY[{arg(f.unit)}::text]")
    if f.lead_unit:
        where.append(f"lead_unit = {arg(f.lead_unit)}::text")
    if f.only_units is not None:
        where.append(f"units && {arg(list(f.only_units))}::text[]")
    if f.phone:
        where.append(f"citizen_phone = {arg(f.phone)}::text")
    if f.district:
        where.append(f"district = {arg(f.district)}::text")
    if f.overdue is not None:
        where.append(f"reply_overdue = {arg(f.overdue)}::boolean")
    if f.supervision:
        where.append(f"supervision = {arg(f.supervision)}::text")
    if f.created_from:
        where.append(f"created_at >= {arg(f.created_from)}::timestamptz")
    if f.created_to:
        where.append(f"created_at < {arg(f.created_to)}::timestamptz")
    if f.tsquery:
        where.append(
            f"search_vector @@ to_tsquery('simple', {arg(f.tsquery)}::text)"
        )
    if before is not None:
        where.append(f"(created_at, id) < ({arg(before[0])}::timestamptz,"
                     f" {arg(before[1])}::bigint)")
    sql = "SELECT id, created_at, doc FROM work_orders"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY created_at DESC, id DESC LIMIT {arg(limit)}::integer"
    return [(r["id"], r["created_at"], r["doc"]) for r in await pool.fetch(sql, *args)]


async def created_at_of(pool: asyncpg.Pool, oid: int) -> dt.datetime | None:
    """``created_at`` of an order (for cursors)."""
    return await pool.fetchval("SELECT created_at FROM work_orders WHERE id = $1", oid)


async def by_phone(pool: asyncpg.Pool, phone: str, limit: int) -> list[StoredOrder]:
    """A caller's orders: open ones first, then newest first."""
    rows = await pool.fetch(
        """SELECT id, doc FROM work_orders WHERE citizen_phone = $1
           ORDER BY (closed_at IS NULL) DESC, created_at DESC, id DESC LIMIT $2""",
        phone, limit,
    )
    return [_row(r) for r in rows]


async def by_call(pool: asyncpg.Pool, call_id: str) -> list[StoredOrder]:
    """Orders created from / linked to a call."""
    rows = await pool.fetch(
        "SELECT id, doc FROM work_orders WHERE call_ids @> ARRAY[$1::text] ORDER BY id", call_id
    )
    return [_row(r) for r in rows]


async def events_of(pool: asyncpg.Pool, oid: int) -> list[dict[str, Any]]:
    """The order's timeline, oldest first."""
    rows = await pool.fetch(
        """SELECT id, version, kind, at, actor_kind, actor_name, actor_unit, actor_user_id,
                  from_state, to_state, data
           FROM work_order_events WHERE order_id = $1 ORDER BY id""",
        oid,
    )
    return [
        {
            "id": r["id"], "version": r["version"], "kind": r["kind"], "at": r["at"],
            "actor": {"kind": r["actor_kind"], "name": r["actor_name"], "unit": r["actor_unit"],
                      "user_id": r["actor_user_id"]},
            "from_state": r["from_state"], "to_state": r["to_state"], "data": r["data"],
        }
        for r in rows
    ]  # fmt: skip


async def claim_due(conn: asyncpg.Connection, now: dt.datetime, limit: int) -> list[StoredOrder]:
    """Orders whose next deadline check is due, locked for this transaction; rows another
    instance is sweeping are skipped (``SKIP LOCKED``), so several instances can sweep at once."""
    rows = await conn.fetch(
        """SELECT id, doc FROM work_orders WHERE next_check_at <= $1
           ORDER BY next_check_at LIMIT $2 FOR UPDATE SKIP LOCKED""",
        now, limit,
    )
    return [_row(r) for r in rows]



async def lock_provisional(
    conn: asyncpg.Connection, states: Iterable[State], *, skip_locked: bool = False
) -> list[StoredOrder]:
    """Orders in ``states`` whose deadlines are provisional (``due_provisional`` in the stored
    order), locked for the caller's transaction; oldest first. Run when a calendar year is
    confirmed and by the sweeper's follow-up pass; provisional orders are few (only deadlines
    running into a year the calendar library does not know), so the scan is acceptable. With
    ``skip_locked`` an order another transaction holds is left for the next pass."""
    rows = await conn.fetch(
        """SELECT id, doc FROM work_orders
           WHERE state = ANY($1::text[]) AND doc -> 'due_provisional' = 'true'::jsonb
           ORDER BY id FOR UPDATE""" + (" SKIP LOCKED" if skip_locked else ""),
        sorted(s.value for s in states),
    )
    return [_row(r) for r in rows]
