"""Handlers of the state machine: intake, unit actions, review and callback.

Each handler receives a command already checked against :data:`workflow.machine.RULES` (state and
actor kind) and returns ``(new_order, events)`` or a :class:`Refusal`. Supervision, merge/link and
the deadline sweep live in :mod:`workflow.supervision`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from workflow import commands as c
from workflow.clock import WorkAmount, WorkClock
from workflow.limits import (
    REMIND_LEAD,
    computed,
    fixed,
    plan_dispatch,
    replace_basis,
    reply_limit,
    source_limit_refusal,
)
from workflow.model import (
    Actor,
    ActorKind,
    Event,
    Order,
    PendingRequest,
    Refusal,
    Satisfaction,
    State,
)

Result = tuple[Order, list[Event]] | Refusal
REPEATED_RETURNS = 2
"""From the second approved return on, the order is flagged for special coordination."""
Handler = Callable[[Order, Any, Actor, dt.datetime, WorkClock], Result]


def event(
    order: Order, to: State, kind: str, actor: Actor, now: dt.datetime, /, **data: Any
) -> Event:
    """An audit event of ``order`` moving to ``to`` (drops None values from ``data``)."""
    kept = {k: v for k, v in data.items() if v is not None}
    return Event(kind, now, actor, order.state, to, kept)


def _blank(text: str | None) -> bool:
    return not (text or "").strip()


def _required(field: str, label: str) -> Refusal:
    return Refusal("missing_field", f"请填写{label}({field})")


def _iso(t: dt.datetime | None) -> str | None:
    return t.isoformat() if t else None


# --- intake: 第九条, 第十条, 第十一条(二) -------------------------------------------------


def not_accept(o: Order, cmd: c.NotAccept, who: Actor, now: dt.datetime, _: WorkClock) -> Result:
    """不予受理: the reason (第九条) and the explanation / guidance given (第十条)."""
    if _blank(cmd.guidance):
        return _required("guidance", "解释引导内容")
    new = replace(
        o, state=State.NOT_ACCEPTED, not_accepted_reason=cmd.reason, guidance=cmd.guidance,
        closed_at=now, resolution="not_accepted",
    )  # fmt: skip
    return new, [
        event(o, new.state, "not_accepted", who, now, reason=cmd.reason.value,
              guidance=cmd.guidance, note=cmd.note)
    ]  # fmt: skip


def escalate(o: Order, cmd: c.Escalate, who: Actor, now: dt.datetime, _: WorkClock) -> Result:
    """第十条: the first-contact agent cannot decide acceptance and reports to a supervisor."""
    if _blank(cmd.reason):
        return _required("reason", "需上级认定的事由")
    new = replace(o, extra={**o.extra, "escalated": True})
    return new, [event(o, o.state, "escalated", who, now, reason=cmd.reason)]


def direct_answer(
    o: Order, cmd: c.DirectAnswer, who: Actor, now: dt.datetime, _: WorkClock
) -> Result:
    """直接解答: closed at intake; the answer must cite a knowledge-base article (第十二条)."""
    if cmd.kb_article_id is None:
        return _required("kb_article_id", "引用的知识库条目")
    if _blank(cmd.answer):
        return _required("answer", "解答内容")
    new = replace(
        o, state=State.CLOSED, reply=cmd.answer, replied_at=now, kb_article_id=cmd.kb_article_id,
        closed_at=now, resolution="direct_answer",
    )  # fmt: skip
    return new, [
        event(o, new.state, "direct_answer", who, now, kb_article_id=cmd.kb_article_id,
              answer=cmd.answer, note=cmd.note)
    ]  # fmt: skip


def three_way_call(
    o: Order, cmd: c.ThreeWayCall, who: Actor, now: dt.datetime, _: WorkClock
) -> Result:
    """三方通话: solved with the unit on the line; closed at intake with a summary."""
    if _blank(cmd.unit):
        return _required("unit", "三方通话的成员单位")
    if _blank(cmd.summary):
        return _required("summary", "通话处理结果")
    new = replace(
        o, state=State.CLOSED, reply=cmd.summary, replied_at=now, closed_at=now,
        resolution="three_way_call",
    )  # fmt: skip
    return new, [event(o, new.state, "three_way_call", who, now, unit=cmd.unit,
                       summary=cmd.summary, note=cmd.note)]  # fmt: skip


def dispatch(o: Order, cmd: c.Dispatch, who: Actor, now: dt.datetime, clock: WorkClock) -> Result:
    """派发工单 to a lead unit and co-handling units, computing every limit (第十一条(三)(四))."""
    bad = check_units(cmd.lead, cmd.co_units)
    if bad:
        return bad
    if cmd.due is not None:
        # 第十一条(三): only provincial / national orders and urgent ones (set by a supervisor)
        # carry a limit of their own; the others run on the statutory working days.
        why = source_limit_refusal(o.channel, o.urgent, who.supervisor)
        if why:
            return Refusal("source_due_not_allowed", why)
        if cmd.due <= now:
            return Refusal("bad_due", "来源时限已过,请核对办理时限")
    # The order's own limit (kept from registration or an earlier dispatch) still wins when it
    # has passed meanwhile (e.g. a re-dispatch after a return): the order is then overdue.
    due = cmd.due or o.source_due
    plan = plan_dispatch(o, cmd.lead, cmd.co_units, now, clock, due)
    new = replace(o, state=State.DISPATCHED, **plan)  # type: ignore[arg-type]
    # 第十三条: an urgent matter outside the lead unit's working time goes to its on-duty staff;
    # the event says so, so that the notifier / the agent calls the duty contact now.
    duty = True if o.urgent and not clock.working_now(cmd.lead, now) else None
    return new, [dispatch_event(o, new, "dispatched", who, now, cmd.note, duty_contact=duty)]


def check_units(lead: str, co_units: tuple[str, ...]) -> Refusal | None:
    """The lead unit is required; co-units are distinct and differ from the lead."""
    if _blank(lead):
        return _required("lead", "牵头单位")
    if lead in co_units or len(set(co_units)) != len(co_units):
        return Refusal("bad_units", "协办单位不能重复,也不能与牵头单位相同")
    return None


def dispatch_event(
    o: Order, new: Order, kind: str, who: Actor, now: dt.datetime, note: str | None, **extra: Any
) -> Event:
    """The event of a (re-)dispatch with every computed limit."""
    return event(
        o, new.state, kind, who, now, lead=new.lead_unit,
        co_units=[a.unit for a in new.assignments if a.role == "co"],
        sign_due={a.unit: a.sign_due.isoformat() for a in new.assignments},
        reply_due=_iso(new.reply_due), return_due=_iso(new.return_due),
        source_due=_iso(new.source_due), provisional=new.due_provisional, note=note, **extra,
    )  # fmt: skip


# --- unit actions ------------------------------------------------------------------------


def sign(o: Order, cmd: c.Sign, who: Actor, now: dt.datetime, _: WorkClock) -> Result:
    """签收 by one unit; the order is 办理中 once the lead unit has signed."""
    unit = who.unit if who.kind is ActorKind.UNIT else cmd.unit
    a = o.assignment(unit)
    if a is None:
        return Refusal("not_assigned", "本单位不是该工单的承办单位")
    if a.signed_at is not None:
        return Refusal("already_signed", "本单位已签收该工单")
    signed = replace(a, signed_at=now, signed_by=who.name)
    assignments = tuple(signed if x.unit == unit else x for x in o.assignments)
    state = State.HANDLING if a.role == "lead" else o.state
    new = replace(o, assignments=assignments, state=state)
    return new, [event(o, state, "signed", who, now, unit=unit, role=a.role,
                       late=now > a.sign_due, note=cmd.note)]  # fmt: skip


def _lead_only(o: Order, who: Actor, what: str) -> Refusal | None:
    a = o.assignment(who.unit)
    if a is None:
        return Refusal("not_assigned", "本单位不是该工单的承办单位")
    if a.role != "lead":
        return Refusal("not_lead", f"只有牵头单位可以{what}")
    return None


def request_return(
    o: Order, cmd: c.RequestReturn, who: Actor, now: dt.datetime, _: WorkClock
) -> Result:
    """申请退回 within 1 (咨询) / 2 working days of dispatch, with basis and suggestion."""
    bad = _lead_only(o, who, "申请退回")
    if bad:
        return bad
    if o.pending is not None:
        return Refusal("pending_request", "已有待审核的申请")
    if _blank(cmd.basis):
        return _required("basis", "退回依据")
    if _blank(cmd.suggestion):
        return _required("suggestion", "办理建议")
    if o.return_due is not None and now > o.return_due:
        limit = f"{o.return_due:%Y-%m-%d %H:%M}"
        return Refusal("return_limit_passed", f"已超过退回申请时限({limit}),第十一条(四)")
    pending = PendingRequest("return", who.unit or "", now, cmd.basis, cmd.suggestion)
    new = replace(o, pending=pending)
    return new, [event(o, o.state, "return_requested", who, now, unit=who.unit,
                       basis=cmd.basis, suggestion=cmd.suggestion)]  # fmt: skip


def approve_return(
    o: Order, cmd: c.ApproveReturn, who: Actor, now: dt.datetime, _: WorkClock
) -> Result:
    """The platform approves: back to the platform for re-dispatch."""
    p = o.pending
    if p is None or p.kind != "return":
        return Refusal("no_request", "没有待审核的退回申请")
    new = replace(
        o, state=State.RETURNED, pending=None, assignments=(), reply_due=None, return_due=None,
        remind_due=None, due_basis=(), due_provisional=False, return_count=o.return_count + 1,
    )  # fmt: skip
    events = [event(o, new.state, "return_approved", who, now, unit=p.unit, basis=p.reason,
                    suggestion=p.suggestion, note=cmd.note)]  # fmt: skip
    if new.return_count >= REPEATED_RETURNS:
        # 第二十六条 / 第二十八条(三): an order returned again and again has no clear owner; it
        # surfaces for 专题协调 (the joint-meeting office names the lead unit).
        events.append(event(o, new.state, "repeatedly_returned", who, now,
                            return_count=new.return_count))  # fmt: skip
    return new, events


def reject_return(
    o: Order, cmd: c.RejectReturn, who: Actor, now: dt.datetime, _: WorkClock
) -> Result:
    """The platform rejects: the unit keeps the order and its limits."""
    if o.pending is None or o.pending.kind != "return":
        return Refusal("no_request", "没有待审核的退回申请")
    if _blank(cmd.reason):
        return _required("reason", "不予退回的理由")
    new = replace(o, pending=None)
    return new, [event(o, o.state, "return_rejected", who, now, unit=o.pending.unit,
                       reason=cmd.reason)]  # fmt: skip


def request_extension(
    o: Order, cmd: c.RequestExtension, who: Actor, now: dt.datetime, _: WorkClock
) -> Result:
    """申请延时 before the limit expires (第十一条(四))."""
    bad = _lead_only(o, who, "申请延时")
    if bad:
        return bad
    if o.pending is not None:
        return Refusal("pending_request", "已有待审核的申请")
    if _blank(cmd.reason):
        return _required("reason", "延时理由")
    if o.reply_due is not None and now >= o.reply_due:
        return Refusal("limit_passed", "办理时限已届满,延时申请应在时限届满前提出(第十一条(四))")
    if cmd.requested_due is not None and o.reply_due and cmd.requested_due <= o.reply_due:
        return Refusal("bad_due", "申请的新时限应晚于当前时限")
    pending = PendingRequest("extension", who.unit or "", now, cmd.reason,
                             requested_due=cmd.requested_due)  # fmt: skip
    new = replace(o, pending=pending)
    return new, [event(o, o.state, "extension_requested", who, now, unit=who.unit,
                       reason=cmd.reason, requested_due=_iso(cmd.requested_due))]  # fmt: skip


def approve_extension(
    o: Order, cmd: c.ApproveExtension, who: Actor, now: dt.datetime, clock: WorkClock
) -> Result:
    """Approve with a new limit: an instant, N more working days, or the one requested."""
    p = o.pending
    if p is None or p.kind != "extension":
        return Refusal("no_request", "没有待审核的延时申请")
    provisional = o.due_provisional
    lead = o.lead_unit
    if cmd.new_due is not None:
        new_due, basis = cmd.new_due, fixed("reply", cmd.new_due, lead)
    elif cmd.days is not None:
        if cmd.days <= 0:
            return Refusal("bad_due", "延长的工作日数应大于0")
        # N more working days on the current limit. When that limit is itself provisional, the
        # new one is its start and steps plus this step, so that confirming the year recomputes
        # the whole chain (not just the last step from a provisional instant).
        prior = next((b for b in o.due_basis if b.target == "reply"), None)
        extra = WorkAmount.days(cmd.days)
        if prior is not None and prior.provisional and prior.unit == lead:
            steps = (*(WorkAmount(n, u) for n, u in prior.steps), extra)
            d, basis = computed(clock, "reply", lead, prior.start, *steps)
        else:
            d, basis = computed(clock, "reply", lead, o.reply_due or now, extra)
        new_due, provisional = d.at, provisional or d.provisional
    elif p.requested_due is not None:
        new_due, basis = p.requested_due, fixed("reply", p.requested_due, lead)
    else:
        return _required("new_due", "新的办理时限")
    if new_due <= max(now, o.reply_due or now):
        return Refusal("bad_due", "新的办理时限应晚于当前时限")
    # 催办 again before the new limit: when four fifths of the extra time have passed.
    remind = now + (new_due - now) * 4 / 5
    new = replace(o, pending=None, reply_due=new_due, reply_overdue=False, remind_due=remind,
                  reminded_at=None, due_provisional=provisional,
                  due_basis=replace_basis(o, basis, fixed("remind", remind, lead)),
                  extension_count=o.extension_count + 1)  # fmt: skip
    return new, [event(o, o.state, "extension_approved", who, now, unit=p.unit,
                       old_due=_iso(o.reply_due), new_due=new_due.isoformat(),
                       note=cmd.note)]  # fmt: skip


def reject_extension(
    o: Order, cmd: c.RejectExtension, who: Actor, now: dt.datetime, _: WorkClock
) -> Result:
    """Reject an extension request; the limit stays."""
    if o.pending is None or o.pending.kind != "extension":
        return Refusal("no_request", "没有待审核的延时申请")
    if _blank(cmd.reason):
        return _required("reason", "不予延时的理由")
    new = replace(o, pending=None)
    return new, [event(o, o.state, "extension_rejected", who, now, unit=o.pending.unit,
                       reason=cmd.reason)]  # fmt: skip


def reply(o: Order, cmd: c.Reply, who: Actor, now: dt.datetime, _: WorkClock) -> Result:
    """The lead unit's answer; goes to the platform's review (答复认定)."""
    bad = _lead_only(o, who, "提交答复")
    if bad:
        return bad
    if o.pending is not None:
        return Refusal("pending_request", "有待审核的退回/延时申请,暂不能答复")
    if _blank(cmd.text):
        return _required("text", "答复内容")
    new = replace(o, state=State.REPLIED, reply=cmd.text, replied_at=now)
    on_time = o.reply_due is None or now <= o.reply_due
    return new, [event(o, new.state, "replied", who, now, unit=who.unit, text=cmd.text,
                       on_time=on_time)]  # fmt: skip


# --- review and callback: 第十一条(四)(五) -------------------------------------------------


def accept_reply(
    o: Order, cmd: c.AcceptReply, who: Actor, now: dt.datetime, _: WorkClock
) -> Result:
    """答复认定 passed: the citizen is called back next."""
    new = replace(o, state=State.CALLBACK)
    return new, [event(o, new.state, "reply_accepted", who, now, note=cmd.note)]


def send_back(o: Order, cmd: c.SendBack, who: Actor, now: dt.datetime, _: WorkClock) -> Result:
    """Not specific / incomplete: the unit completes it within its current limit (第十一条(四))."""
    if _blank(cmd.reason):
        return _required("reason", "退回补充的理由")
    new = replace(o, state=State.HANDLING, send_back_count=o.send_back_count + 1)
    return new, [event(o, new.state, "reply_sent_back", who, now, reason=cmd.reason,
                       reply_due=_iso(o.reply_due))]  # fmt: skip


def record_callback(
    o: Order, cmd: c.RecordCallback, who: Actor, now: dt.datetime, clock: WorkClock
) -> Result:
    """办结回访: satisfied / basically satisfied close the order; dissatisfaction caused by the
    unit reopens it for 核实整改 with a fresh reply limit (第十一条(五))."""
    if cmd.result is Satisfaction.DISSATISFIED and cmd.unit_fault is None:
        return Refusal("unit_fault_required", "请认定不满意是否因成员单位主观原因造成(unit_fault)")
    data = {"result": cmd.result.value, "unit_fault": cmd.unit_fault, "via": cmd.via,
            "note": cmd.note}  # fmt: skip
    if cmd.result is Satisfaction.DISSATISFIED and cmd.unit_fault:
        limit = reply_limit(o.category)
        due, basis = computed(clock, "reply", o.lead_unit, now, limit)
        # the same automatic 催办 as at dispatch: one working day before the new limit
        remind, rbasis = computed(clock, "remind", o.lead_unit, now,
                                  WorkAmount.days(limit.value - REMIND_LEAD.value))  # fmt: skip
        new = replace(
            o, state=State.REOPENED, satisfaction=cmd.result, reopen_count=o.reopen_count + 1,
            reply_due=due.at, reply_overdue=False, remind_due=remind.at, reminded_at=None,
            due_provisional=o.due_provisional or due.provisional,
            due_basis=replace_basis(o, basis, rbasis),
        )  # fmt: skip
        return new, [event(o, new.state, "reopened", who, now, reply_due=due.at.isoformat(),
                           **data)]  # fmt: skip
    new = replace(o, state=State.CLOSED, satisfaction=cmd.result, closed_at=now,
                  resolution="handled")  # fmt: skip
    return new, [event(o, new.state, "closed", who, now, **data)]


def close_unreached(
    o: Order, cmd: c.CloseWithoutCallback, who: Actor, now: dt.datetime, _: WorkClock
) -> Result:
    """Close when the citizen cannot be reached for the callback (reason required)."""
    if _blank(cmd.reason):
        return _required("reason", "无法回访的情况说明")
    new = replace(o, state=State.CLOSED, closed_at=now, resolution="callback_unreached")
    return new, [event(o, new.state, "closed", who, now, reason=cmd.reason, result=None)]


def evaluate(o: Order, cmd: c.Evaluate, who: Actor, now: dt.datetime, _: WorkClock) -> Result:
    """好差评 outside the callback step: recorded as an event, the state does not change."""
    return o, [event(o, o.state, "evaluated", who, now, result=cmd.result.value,
                     source=cmd.source, note=cmd.note)]  # fmt: skip
