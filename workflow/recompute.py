"""Provisional deadlines recomputed once their calendar year is confirmed (第十一条(三)(四)).

A deadline whose working time passed over days of a year ``chinesecalendar`` does not know was
computed with the weekday fallback and stored as provisional (:mod:`workflow.calendar`). When an
admin has entered the year's holiday notice and confirmed the year, every provisional deadline of
an open order is recomputed from its basis (:class:`workflow.model.DueBasis`: the original start
instant and amounts) with the confirmed calendar. A deadline set as an instant (a provincial,
national or urgent source limit, an extension approved to a date, the wall-clock reminder after
an extension) has no steps and never moves; nor does a deadline that was not provisional.

Pure, like the rest of the state machine: :func:`recompute_deadlines` is the handler of
:class:`workflow.commands.RecomputeDeadlines`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from workflow import commands as c
from workflow.clock import WorkClock
from workflow.handlers import Result, event
from workflow.limits import evaluate
from workflow.model import Actor, DueBasis, Order, Refusal, State

AWAITING_REPLY = frozenset({State.DISPATCHED, State.HANDLING, State.REOPENED})
"""States in which the reply limit still runs (an overdue mark there can be withdrawn)."""


def _key(b: DueBasis) -> tuple[str, str | None]:
    return b.target, b.unit if b.target == "sign" else None


def has_full_basis(o: Order) -> bool:
    """Whether every stored deadline of ``o`` has its basis (orders whose deadlines were computed
    before bases were recorded have none, and are left as they are)."""
    keys = {_key(b) for b in o.due_basis}
    needed: set[tuple[str, str | None]] = {("sign", a.unit) for a in o.assignments}
    needed |= {(name, None) for name, at in (("return", o.return_due), ("reply", o.reply_due),
                                             ("remind", o.remind_due)) if at is not None}
    return needed <= keys


def _change(old: dt.datetime | None, new: dt.datetime) -> dict[str, Any]:
    return {"from": old.isoformat() if old else None, "to": new.isoformat()}


def recompute_deadlines(
    o: Order, cmd: c.RecomputeDeadlines, who: Actor, now: dt.datetime, clock: WorkClock
) -> Result:
    """Recompute each provisional deadline of ``o`` with ``clock``'s calendar.

    Changed deadlines, the provisional flag (cleared when no deadline relies on unconfirmed days
    any more) and the overdue marks the new limits no longer justify (a sign-for or reply limit
    that moved past the moment of signing / now) are written; one ``deadlines_recomputed`` event
    says what moved. ``unchanged`` when nothing is provisional or nothing would change, so a
    second confirmation of the same year does nothing.
    """
    if not o.due_provisional and not any(b.provisional for b in o.due_basis):
        return Refusal("unchanged", "没有暂定的办理时限")
    if not has_full_basis(o):
        return Refusal("unchanged", "该工单的时限缺少计算依据,无法重算")
    assignments = {a.unit: a for a in o.assignments}
    dues = {"return": o.return_due, "reply": o.reply_due, "remind": o.remind_due}
    bases: list[DueBasis] = []
    changes: dict[str, Any] = {}
    sign_changes: dict[str, Any] = {}
    for b in o.due_basis:
        if not b.provisional:
            bases.append(b)
            continue
        d = evaluate(b, clock)
        bases.append(replace(b, provisional=d.provisional))
        if b.target == "sign":
            a = assignments.get(b.unit or "")
            if a is not None and a.sign_due != d.at:
                sign_changes[a.unit] = _change(a.sign_due, d.at)
                assignments[a.unit] = replace(a, sign_due=d.at)
        elif dues.get(b.target) != d.at:
            changes[f"{b.target}_due"] = _change(dues[b.target], d.at)
            dues[b.target] = d.at
    provisional = any(b.provisional for b in bases)
    cleared: list[str] = []
    for unit in sign_changes:
        a = assignments[unit]
        if a.sign_overdue and (a.signed_at or now) <= a.sign_due:
            assignments[unit] = replace(a, sign_overdue=False)
            cleared.append(f"sign_overdue:{unit}")
    reply_due = dues["reply"]
    reply_overdue = o.reply_overdue
    if (reply_overdue and "reply_due" in changes and o.state in AWAITING_REPLY
            and reply_due is not None and now <= reply_due):  # fmt: skip
        reply_overdue = False
        cleared.append("reply_overdue")
    if not changes and not sign_changes and provisional == o.due_provisional and (
        tuple(bases) == o.due_basis
    ):
        return Refusal("unchanged", "办理时限没有变化")
    if sign_changes:
        changes["sign_due"] = sign_changes
    new = replace(
        o, assignments=tuple(assignments[a.unit] for a in o.assignments),
        return_due=dues["return"], reply_due=reply_due, remind_due=dues["remind"],
        reply_overdue=reply_overdue, due_provisional=provisional, due_basis=tuple(bases),
    )  # fmt: skip
    return new, [event(o, o.state, "deadlines_recomputed", who, now, year=cmd.year,
                       changes=changes, provisional=provisional, cleared=cleared or None,
                       note=cmd.note)]  # fmt: skip
