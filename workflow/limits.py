"""Statutory limits (第十一条(三)(四)) and the dispatch deadlines computed from them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from workflow.clock import WorkAmount, WorkClock
from workflow.model import Assignment, Category, Order

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
    (第十一条(三) 省级工单或其它紧急类工单明确另行有时限要求的,按要求时限办理).
    """
    provisional = False
    assignments = []
    for role, unit in [("lead", lead), *(("co", u) for u in co_units)]:
        sign = clock.add(unit, now, SIGN_LIMIT)
        provisional |= sign.provisional
        assignments.append(Assignment(unit, role, now, sign.at))
    ret = clock.add(lead, now, return_limit(order.category))
    provisional |= ret.provisional
    remind_due: dt.datetime | None
    if source_due is not None:
        reply_due = source_due
        # Remind when four fifths of the source's wall-clock limit have passed.
        remind_due = now + (source_due - now) * 4 / 5
    else:
        limit = reply_limit(order.category)
        reply = clock.add(lead, now, limit)
        provisional |= reply.provisional
        reply_due = reply.at
        remind = clock.add(lead, now, WorkAmount.days(limit.value - REMIND_LEAD.value))
        remind_due = remind.at
    return {
        "assignments": tuple(assignments),
        "dispatched_at": now,
        "reply_due": reply_due,
        "return_due": ret.at,
        "remind_due": remind_due,
        "reminded_at": None,
        "due_provisional": provisional,
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
