"""Statutory limits (第十一条(三)(四)) and the dispatch deadlines computed from them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from workflow.clock import Deadline, WorkAmount, WorkClock
from workflow.model import Assignment, Category, Channel, DueBasis, Order

SIGN_LIMIT = WorkAmount.hours(1)
"""第十一条(三): sign for (签收) within 1 working hour."""


def reply_limit(category: Category) -> WorkAmount:
    """第十一条(三): reply within 3 working days (咨询) or 5 working days (other categories)."""
    return WorkAmount.days(3 if category is Category.CONSULTATION else 5)


def return_limit(category: Category) -> WorkAmount:
    """第十一条(四): apply for return within 1 working day (咨询) or 2 (others) of dispatch."""
    return WorkAmount.days(1 if category is Category.CONSULTATION else 2)


REMIND_LEAD = WorkAmount.days(1)
"""Automatic reminder (催办) one working day before the reply limit (第二十四条)."""

SOURCE_LIMIT_CHANNELS = frozenset({Channel.PROVINCIAL, Channel.NATIONAL})
"""Channels whose orders arrive with a limit set by the source: the provincial 12345 platform
(第十一条(三) 省级工单) and the national platforms of 第八条(一) (第十一条 特定渠道另有规定的,
从其规定)."""


def source_limit_refusal(channel: Channel, urgent: bool, supervisor: bool) -> str | None:
    """Why an order may not carry a limit of its own (``source_due``), or None when it may.

    第十一条(三): only 省级工单 and 其它紧急类工单明确另行有时限要求的 follow a limit other than the
    statutory one. So the limit is accepted for orders of the provincial / national platforms
    (the source sets it), and for an urgent order when a platform supervisor sets it; any other
    order runs on the statutory 3 / 5 working days.
    """
    if channel in SOURCE_LIMIT_CHANNELS:
        return None
    if urgent and supervisor:
        return None
    if urgent:
        return "紧急工单的办理时限须由值班长(督导)设定(第十一条(三))"
    return ("只有省12345、国家平台交办的工单或值班长设定的紧急工单可另定办理时限,"
            "其它工单按3/5个工作日办理(第十一条(三))")  # fmt: skip


def computed(
    clock: WorkClock, target: str, unit: str | None, start: dt.datetime,
    *amounts: WorkAmount,
) -> tuple[Deadline, DueBasis]:  # fmt: skip
    """``start`` plus each of ``amounts`` in turn in ``unit``'s working time, with its basis."""
    at, provisional = start, False
    for amount in amounts:
        d = clock.add(unit, at, amount)
        at, provisional = d.at, provisional or d.provisional
    steps = tuple((a.value, a.unit) for a in amounts)
    return Deadline(at, provisional), DueBasis(target, unit, start, steps, provisional)


def fixed(target: str, at: dt.datetime, unit: str | None = None) -> DueBasis:
    """The basis of a deadline set as an instant (by the source or the platform): no steps."""
    return DueBasis(target, unit, at, (), False)


def evaluate(basis: DueBasis, clock: WorkClock) -> Deadline:
    """Recompute a deadline from its basis with ``clock`` (the current calendar)."""
    d, _ = computed(clock, basis.target, basis.unit, basis.start,
                    *(WorkAmount(n, u) for n, u in basis.steps))  # fmt: skip
    return d


def replace_basis(order: Order, *new: DueBasis) -> tuple[DueBasis, ...]:
    """``order``'s bases with those of the same target (and unit, for sign-for) replaced."""
    keys = {(b.target, b.unit if b.target == "sign" else None) for b in new}
    kept = [b for b in order.due_basis
            if (b.target, b.unit if b.target == "sign" else None) not in keys]  # fmt: skip
    return (*kept, *new)


def plan_dispatch(
    order: Order,
    lead: str,
    co_units: Iterable[str],
    now: dt.datetime,
    clock: WorkClock,
    source_due: dt.datetime | None,
) -> dict[str, object]:
    """Assignments and deadlines of a (re-)dispatch, as fields for ``dataclasses.replace``.

    Each unit's sign-for limit runs in its own working hours; the reply and return limits run in
    the lead unit's hours. A limit set by the source (provincial or urgent order) wins
    (第十一条(三) 省级工单或其它紧急类工单明确另行有时限要求的,按要求时限办理) and is kept on the
    order as ``source_due``. The basis of every deadline is recorded (``due_basis``) so that a
    provisional one can be recomputed once its calendar year is confirmed.
    """
    provisional = False
    assignments = []
    bases = []
    for role, unit in [("lead", lead), *(("co", u) for u in co_units)]:
        sign, b = computed(clock, "sign", unit, now, SIGN_LIMIT)
        provisional |= sign.provisional
        assignments.append(Assignment(unit, role, now, sign.at))
        bases.append(b)
    ret, b = computed(clock, "return", lead, now, return_limit(order.category))
    provisional |= ret.provisional
    bases.append(b)
    remind_due: dt.datetime
    if source_due is not None:
        reply_due = source_due
        # Remind when four fifths of the source's wall-clock limit have passed.
        remind_due = now + (source_due - now) * 4 / 5
        bases += [fixed("reply", reply_due, lead), fixed("remind", remind_due, lead)]
    else:
        limit = reply_limit(order.category)
        reply, b = computed(clock, "reply", lead, now, limit)
        provisional |= reply.provisional
        reply_due = reply.at
        remind, rb = computed(clock, "remind", lead, now,
                              WorkAmount.days(limit.value - REMIND_LEAD.value))  # fmt: skip
        remind_due = remind.at
        bases += [b, rb]
    return {
        "assignments": tuple(assignments),
        "dispatched_at": now,
        "source_due": source_due,
        "reply_due": reply_due,
        "return_due": ret.at,
        "remind_due": remind_due,
        "reminded_at": None,
        "due_provisional": provisional,
        "due_basis": tuple(bases),
        "reply_overdue": False,
        "pending": None,
        "reply": None,
        "replied_at": None,
    }


def next_check(order: Order) -> dt.datetime | None:
    """The next instant at which the deadline sweep has something to do for ``order``."""
    from workflow.machine import WITH_UNIT  # local: machine imports this module's users

    if order.state not in WITH_UNIT:
        return None
    times = [a.sign_due for a in order.assignments if a.signed_at is None and not a.sign_overdue]
    if order.reply_limit_suspended:
        return min(times) if times else None
    if order.reply_due is not None and not order.reply_overdue:
        times.append(order.reply_due)
    if order.remind_due is not None and order.reminded_at is None and not order.reply_overdue:
        times.append(order.remind_due)
    return min(times) if times else None
