"""Handlers for supervision (第二十四条 to 第二十六条), duplicates, call links and the sweep."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from workflow import commands as c
from workflow.clock import WorkClock
from workflow.handlers import Result, check_units, dispatch_event, event
from workflow.limits import plan_dispatch
from workflow.model import Actor, Event, Order, Refusal, State, Supervision

NOTICE_KINDS = {"interview": "约谈", "notice": "通报", "report": "信息专报"}


def remind(o: Order, cmd: c.Remind, who: Actor, now: dt.datetime, _: WorkClock) -> Result:
    """催办 (第二十四条): a reminder to the units handling the order."""
    new = replace(o, reminders=o.reminders + 1, reminded_at=now)
    return new, [event(o, o.state, "reminded", who, now, units=list(o.units), note=cmd.note)]


def supervise(o: Order, cmd: c.Supervise, who: Actor, now: dt.datetime, _: WorkClock) -> Result:
    """督办 (第二十六条): the unit can handle it but does not."""
    if o.supervision is not Supervision.NONE:
        return Refusal("already_supervised", "该工单已在督办中")
    if not (cmd.reason or "").strip():
        return Refusal("missing_field", "请填写督办理由(reason)")
    new = replace(o, supervision=Supervision.SUPERVISED)
    return new, [event(o, o.state, "supervised", who, now, reason=cmd.reason,
                       units=list(o.units))]  # fmt: skip


def coordinate(
    o: Order, cmd: c.Coordinate, who: Actor, now: dt.datetime, clock: WorkClock
) -> Result:
    """专题协调督办 (第二十六条): responsibility unclear; the joint-meeting office names the lead
    unit and the order is dispatched to it with fresh limits — except a limit set by the source
    (provincial / national / urgent order), which still wins (第十一条(三)): the named lead unit
    answers by that limit; one that has already passed is marked overdue again by the next sweep,
    naming the units that now hold the order."""
    bad = check_units(cmd.lead, cmd.co_units)
    if bad:
        return bad
    if not (cmd.reason or "").strip():
        return Refusal("missing_field", "请填写协调事由(reason)")
    plan = plan_dispatch(o, cmd.lead, cmd.co_units, now, clock, o.source_due)
    new = replace(o, state=State.DISPATCHED, supervision=Supervision.COORDINATED,
                  **plan)  # type: ignore[arg-type]  # fmt: skip
    return new, [dispatch_event(o, new, "coordinated", who, now, cmd.note, reason=cmd.reason)]


def record_notice(
    o: Order, cmd: c.RecordNotice, who: Actor, now: dt.datetime, _: WorkClock
) -> Result:
    """约谈 / 通报 / 信息专报 (第二十六条第二款) recorded on the order."""
    if cmd.kind not in NOTICE_KINDS:
        return Refusal("bad_kind", "类型应为 interview(约谈) / notice(通报) / report(信息专报)")
    return o, [event(o, o.state, "notice_recorded", who, now, kind=cmd.kind,
                     label=NOTICE_KINDS[cmd.kind], unit=cmd.unit, note=cmd.note)]  # fmt: skip


def merge(o: Order, cmd: c.Merge, who: Actor, now: dt.datetime, _: WorkClock) -> Result:
    """Merge a duplicate into another order (the target is checked by the service)."""
    if not cmd.into or cmd.into == o.number:
        return Refusal("bad_target", "请指定另一张工单作为合并目标")
    new = replace(o, state=State.MERGED, merged_into=cmd.into, pending=None, closed_at=now,
                  resolution="merged")  # fmt: skip
    return new, [event(o, new.state, "merged", who, now, into=cmd.into, note=cmd.note)]


def link(o: Order, cmd: c.Link, who: Actor, now: dt.datetime, _: WorkClock) -> Result:
    """Link a related order; linking twice is refused."""
    if not cmd.other or cmd.other == o.number:
        return Refusal("bad_target", "请指定另一张工单")
    if cmd.other in o.links:
        return Refusal("unchanged", "两张工单已关联")
    new = replace(o, links=(*o.links, cmd.other))
    return new, [event(o, o.state, "linked", who, now, other=cmd.other, note=cmd.note)]


def attach_call(
    o: Order, cmd: c.AttachCall, who: Actor, now: dt.datetime, _: WorkClock
) -> Result:
    """Attach a call / transcript (idempotent: attaching again is refused as ``unchanged``)."""
    if not cmd.call_id and not cmd.transcript_id:
        return Refusal("missing_field", "请提供 call_id 或 transcript_id")
    calls, transcripts = o.call_ids, o.transcript_ids
    if cmd.call_id and cmd.call_id not in calls:
        calls = (*calls, cmd.call_id)
    if cmd.transcript_id and cmd.transcript_id not in transcripts:
        transcripts = (*transcripts, cmd.transcript_id)
    if calls == o.call_ids and transcripts == o.transcript_ids:
        return Refusal("unchanged", "已关联")
    new = replace(o, call_ids=calls, transcript_ids=transcripts)
    return new, [event(o, o.state, "call_attached", who, now, call_id=cmd.call_id,
                       transcript_id=cmd.transcript_id)]  # fmt: skip


def sweep(o: Order, cmd: c.Sweep, who: Actor, now: dt.datetime, _: WorkClock) -> Result:
    """Deadline sweep: sign-for overdue per unit, reminder before the reply limit, reply overdue
    and automatic 督办 for it (第二十四条, 第二十六条)."""
    events: list[Event] = []
    assignments = []
    for a in o.assignments:
        if a.signed_at is None and not a.sign_overdue and now > a.sign_due:
            a = replace(a, sign_overdue=True)
            events.append(event(o, o.state, "sign_overdue", who, now, unit=a.unit,
                                sign_due=a.sign_due.isoformat()))  # fmt: skip
        assignments.append(a)
    new = replace(o, assignments=tuple(assignments))
    # A rejected extension puts the old limit back in force, and the next sweep acts on it.
    if o.reply_limit_suspended:
        pass
    elif o.reply_due is not None and not o.reply_overdue and now > o.reply_due:
        new = replace(new, reply_overdue=True)
        events.append(event(o, o.state, "reply_overdue", who, now,
                            reply_due=o.reply_due.isoformat(), units=list(o.units)))  # fmt: skip
        if o.supervision is Supervision.NONE:
            new = replace(new, supervision=Supervision.SUPERVISED)
            events.append(event(o, o.state, "supervised", who, now,
                                reason="逾期未答复,系统自动督办", units=list(o.units)))  # fmt: skip
    elif o.remind_due is not None and o.reminded_at is None and now >= o.remind_due:
        new = replace(new, reminders=o.reminders + 1, reminded_at=now)
        events.append(event(o, o.state, "reminded", who, now, automatic=True,
                            reply_due=o.reply_due.isoformat() if o.reply_due else None,
                            units=list(o.units)))  # fmt: skip
    if not events:
        return Refusal("unchanged", "没有到期事项")
    return new, events
