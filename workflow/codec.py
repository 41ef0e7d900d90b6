"""Order and event <-> JSON-compatible dicts (the store's ``doc`` column, the API bodies)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from enum import Enum
from typing import Any

from workflow.model import (
    Actor,
    ActorKind,
    Assignment,
    Category,
    Channel,
    Citizen,
    DueBasis,
    Event,
    NotAcceptedReason,
    Order,
    PendingRequest,
    Satisfaction,
    State,
    Supervision,
)

_TIME_FIELDS = {
    "created_at", "source_due", "dispatched_at", "reply_due", "return_due", "remind_due",
    "reminded_at", "replied_at", "closed_at",
}  # fmt: skip


def _t(v: Any) -> dt.datetime | None:
    if v is None or isinstance(v, dt.datetime):
        return v
    return dt.datetime.fromisoformat(v)


def _iso(v: Any) -> Any:
    return v.isoformat() if isinstance(v, dt.datetime) else v


_ORDER_FIELDS = tuple(f.name for f in dataclasses.fields(Order))
_ASSIGNMENT_FIELDS = tuple(f.name for f in dataclasses.fields(Assignment))
_PENDING_FIELDS = tuple(f.name for f in dataclasses.fields(PendingRequest))


def _flat(obj: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {n: _iso(getattr(obj, n)) for n in names}


def order_to_dict(o: Order) -> dict[str, Any]:
    """Every field of the order, datetimes as ISO 8601 strings, enums as their values.

    Hand-written rather than ``dataclasses.asdict`` (which deep-copies): this runs on every
    write and every read of an order.
    """
    d: dict[str, Any] = {}
    for name in _ORDER_FIELDS:
        v = getattr(o, name)
        if name == "citizen":
            v = {"name": v.name, "phone": v.phone, "confidential": v.confidential}
        elif name == "assignments":
            v = [_flat(a, _ASSIGNMENT_FIELDS) for a in v]
        elif name == "pending":
            v = None if v is None else _flat(v, _PENDING_FIELDS)
        elif name == "due_basis":
            v = [{"target": b.target, "unit": b.unit, "start": b.start.isoformat(),
                  "steps": [[n, u] for n, u in b.steps], "provisional": b.provisional}
                 for b in v]  # fmt: skip
        elif isinstance(v, tuple):
            v = list(v)
        elif isinstance(v, dt.datetime):
            v = v.isoformat()
        elif isinstance(v, Enum):
            v = v.value
        elif name == "extra":
            v = dict(v)
        d[name] = v
    return d


def order_from_dict(d: dict[str, Any]) -> Order:
    """Inverse of :func:`order_to_dict` (raises ``KeyError`` / ``ValueError`` on bad data)."""
    kw: dict[str, Any] = dict(d)
    for name in _TIME_FIELDS:
        kw[name] = _t(kw.get(name))
    kw["state"] = State(kw["state"])
    kw["channel"] = Channel(kw["channel"])
    kw["category"] = Category(kw["category"])
    kw["citizen"] = Citizen(**(kw.get("citizen") or {}))
    kw["assignments"] = tuple(
        Assignment(
            a["unit"], a["role"], _t(a["dispatched_at"]), _t(a["sign_due"]),  # type: ignore[arg-type]
            _t(a.get("signed_at")), a.get("signed_by"), bool(a.get("sign_overdue")),
        )
        for a in kw.get("assignments") or ()
    )  # fmt: skip
    p = kw.get("pending")
    kw["pending"] = None if p is None else PendingRequest(
        p["kind"], p["unit"], _t(p["at"]), p["reason"], p.get("suggestion"),  # type: ignore[arg-type]
        _t(p.get("requested_due")),
    )  # fmt: skip
    kw["due_basis"] = tuple(
        DueBasis(b["target"], b.get("unit"), _t(b["start"]),  # type: ignore[arg-type]
                 tuple((n, str(u)) for n, u in b.get("steps") or ()), bool(b.get("provisional")))
        for b in kw.get("due_basis") or ()
    )  # fmt: skip
    if kw.get("satisfaction") is not None:
        kw["satisfaction"] = Satisfaction(kw["satisfaction"])
    kw["supervision"] = Supervision(kw.get("supervision") or "none")
    if kw.get("not_accepted_reason") is not None:
        kw["not_accepted_reason"] = NotAcceptedReason(kw["not_accepted_reason"])
    for name in ("call_ids", "transcript_ids", "links"):
        kw[name] = tuple(kw.get(name) or ())
    kw["extra"] = dict(kw.get("extra") or {})
    known = {f.name for f in dataclasses.fields(Order)}
    return Order(**{k: v for k, v in kw.items() if k in known})


def actor_to_dict(a: Actor) -> dict[str, Any]:
    """JSON form of an actor."""
    return {"kind": a.kind.value, "name": a.name, "unit": a.unit, "user_id": a.user_id}


def actor_from_dict(d: dict[str, Any]) -> Actor:
    """Inverse of :func:`actor_to_dict`."""
    return Actor(ActorKind(d["kind"]), d["name"], d.get("unit"), d.get("user_id"))


def event_to_dict(e: Event) -> dict[str, Any]:
    """JSON form of an event."""
    return {
        "kind": e.kind,
        "at": e.at.isoformat(),
        "actor": actor_to_dict(e.actor),
        "from_state": e.from_state.value,
        "to_state": e.to_state.value,
        "data": e.data,
    }
