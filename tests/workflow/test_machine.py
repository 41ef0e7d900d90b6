"""Table-driven tests of the work-order state machine: every command in every state, by every kind
of actor, plus the content rules of each transition."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from workflow import commands as c
from workflow.calendar import CalendarOverrides, StatutoryCalendar
from workflow.clock import TZ, UnitClock
from workflow.machine import RULES, Transition, transition
from workflow.model import (
    Actor,
    ActorKind,
    Category,
    Channel,
    Citizen,
    NotAcceptedReason,
    Order,
    Refusal,
    Satisfaction,
    State,
    Supervision,
)
from workflow.units import load_units

CLOCK = UnitClock(load_units(), StatutoryCalendar())
T0 = dt.datetime(2026, 11, 25, 10, 0, tzinfo=TZ)  # Wednesday
LEAD, CO, OTHER = "CZ-ZJJ", "CZ-CGJ", "CZ-GAJ"
AGENT = Actor(ActorKind.PLATFORM, "agent1", user_id=1)
LEAD_STAFF = Actor(ActorKind.UNIT, "zjj1", LEAD, 2)
CO_STAFF = Actor(ActorKind.UNIT, "cgj1", CO, 3)
OTHER_STAFF = Actor(ActorKind.UNIT, "gaj1", OTHER, 4)
SYSTEM = Actor(ActorKind.SYSTEM, "system")


def new_order(category: Category = Category.COMPLAINT) -> Order:
    return Order(
        number="CZ20261125-000001", state=State.INTAKE, channel=Channel.PHONE, category=category,
        content="小区夜间施工噪音扰民", created_at=T0, citizen=Citizen("张三", "13812345678"),
    )  # fmt: skip


def ok(order: Order, cmd: c.Command, actor: Actor, now: dt.datetime = T0) -> Order:
    r = transition(order, cmd, actor, now, CLOCK)
    assert isinstance(r, Transition), r
    return r.order


def refused(order: Order, cmd: c.Command, actor: Actor, now: dt.datetime = T0) -> Refusal:
    r = transition(order, cmd, actor, now, CLOCK)
    assert isinstance(r, Refusal), r
    return r


def in_state(state: State) -> Order:
    """An order brought to ``state`` through the machine itself."""
    o = new_order()
    if state is State.INTAKE:
        return o
    if state is State.NOT_ACCEPTED:
        return ok(o, c.NotAccept(reason=NotAcceptedReason.EMERGENCY, guidance="请拨打110"), AGENT)
    if state is State.MERGED:
        return ok(o, c.Merge(into="CZ20261124-000009"), AGENT)
    o = ok(o, c.Dispatch(lead=LEAD, co_units=(CO,)), AGENT)
    if state is State.DISPATCHED:
        return o
    o = ok(o, c.Sign(), LEAD_STAFF)
    if state is State.HANDLING:
        return o
    if state is State.RETURNED:
        o = ok(o, c.RequestReturn(basis="不属本单位职责", suggestion="建议派城管"), LEAD_STAFF)
        return ok(o, c.ApproveReturn(), AGENT)
    o = ok(o, c.Reply(text="已责令施工单位停止夜间施工"), LEAD_STAFF)
    if state is State.REPLIED:
        return o
    o = ok(o, c.AcceptReply(), AGENT)
    if state is State.CALLBACK:
        return o
    if state is State.REOPENED:
        return ok(o, c.RecordCallback(result=Satisfaction.DISSATISFIED, unit_fault=True), AGENT)
    assert state is State.CLOSED
    return ok(o, c.RecordCallback(result=Satisfaction.SATISFIED), AGENT)


def test_in_state_builder_reaches_every_state():
    for s in State:
        assert in_state(s).state is s


# A well-formed instance of every command (content valid in the states where it is allowed).
SAMPLES: dict[type[c.Command], c.Command] = {
    c.NotAccept: c.NotAccept(reason=NotAcceptedReason.OUT_OF_JURISDICTION, guidance="请向无锡反映"),
    c.Escalate: c.Escalate(reason="是否属于诉讼程序无法认定"),
    c.DirectAnswer: c.DirectAnswer(answer="公积金提取需携带身份证", kb_article_id=7),
    c.ThreeWayCall: c.ThreeWayCall(unit=LEAD, summary="三方通话已解答"),
    c.Dispatch: c.Dispatch(lead=LEAD, co_units=(CO,)),
    c.Sign: c.Sign(unit=CO),
    c.RequestReturn: c.RequestReturn(basis="依据三定方案", suggestion="建议派城管局"),
    c.ApproveReturn: c.ApproveReturn(),
    c.RejectReturn: c.RejectReturn(reason="属于本单位职责"),
    c.RequestExtension: c.RequestExtension(reason="需现场勘验"),
    c.ApproveExtension: c.ApproveExtension(days=3),
    c.RejectExtension: c.RejectExtension(reason="理由不充分"),
    c.Reply: c.Reply(text="已处理"),
    c.AcceptReply: c.AcceptReply(),
    c.SendBack: c.SendBack(reason="答复不具体"),
    c.RecordCallback: c.RecordCallback(result=Satisfaction.BASICALLY),
    c.CloseWithoutCallback: c.CloseWithoutCallback(reason="三次回访未接通"),
    c.Evaluate: c.Evaluate(result=Satisfaction.SATISFIED),
    c.Remind: c.Remind(),
    c.Supervise: c.Supervise(reason="推诿"),
    c.Coordinate: c.Coordinate(lead=OTHER, reason="职责交叉"),
    c.RecordNotice: c.RecordNotice(kind="interview", unit=LEAD),
    c.Merge: c.Merge(into="CZ20261124-000009"),
    c.Link: c.Link(other="CZ20261124-000009"),
    c.AttachCall: c.AttachCall(call_id="pbx1-1795838224.27"),
    c.Sweep: c.Sweep(),
    c.RecomputeDeadlines: c.RecomputeDeadlines(year=2027),
}
ACTORS = {ActorKind.PLATFORM: AGENT, ActorKind.UNIT: LEAD_STAFF, ActorKind.SYSTEM: SYSTEM}


def test_every_command_has_a_rule_and_a_sample():
    assert set(RULES) == set(c.ALL_COMMANDS) == set(SAMPLES)


MATRIX = [(cmd, s, k) for cmd in c.ALL_COMMANDS for s in State for k in ActorKind]


@pytest.mark.parametrize(
    ("cmd_type", "state", "actor_kind"), MATRIX,
    ids=[f"{t.KIND}-{s.value}-{k.value}" for t, s, k in MATRIX],
)  # fmt: skip
def test_matrix_of_allowed_and_forbidden(cmd_type, state, actor_kind):
    """Outside its rule a command is refused (actor first, then state) and changes nothing;
    inside it, it is never refused for state or actor reasons."""
    order = in_state(state)
    rule = RULES[cmd_type]
    now = T0 + dt.timedelta(minutes=5)
    if state is State.DISPATCHED or state is State.HANDLING:
        if cmd_type in (c.ApproveReturn, c.RejectReturn):
            order = ok(order, SAMPLES[c.RequestReturn], LEAD_STAFF)
        if cmd_type in (c.ApproveExtension, c.RejectExtension):
            order = ok(order, SAMPLES[c.RequestExtension], LEAD_STAFF)
    if state is State.REOPENED and cmd_type in (c.ApproveExtension, c.RejectExtension):
        order = ok(order, SAMPLES[c.RequestExtension], LEAD_STAFF)
    if cmd_type is c.Sweep:
        now = T0 + dt.timedelta(days=30)
    result = transition(order, SAMPLES[cmd_type], ACTORS[actor_kind], now, CLOCK)
    if actor_kind not in rule.actors:
        assert isinstance(result, Refusal) and result.code == "forbidden_actor"
    elif state not in rule.states:
        assert isinstance(result, Refusal) and result.code == "invalid_state"
    else:
        # Inside the rule the sample is well-formed, so it is accepted (listed exceptions aside).
        if isinstance(result, Refusal):
            assert (cmd_type, state, result.code) in EXPECTED_CONTENT_REFUSALS, result
        else:
            assert result.order.version == order.version + 1
            assert result.events, "every accepted command leaves an audit event"
            assert all(e.from_state is state for e in result.events)
            assert result.events[-1].to_state is result.order.state


EXPECTED_CONTENT_REFUSALS = {
    # The unit actor of the matrix is the lead unit, which has already signed in HANDLING.
    (c.Sign, State.HANDLING, "already_signed"),
    # The matrix's orders run in November 2026 (a year the library knows): nothing provisional.
    *((c.RecomputeDeadlines, s, "unchanged") for s in State),
}


# --- content rules: (description, state, command, actor, expected state | refusal code) ----

CONTENT = [
    ("not accepted needs guidance", State.INTAKE,
     c.NotAccept(reason=NotAcceptedReason.EMERGENCY, guidance=" "), AGENT, "missing_field"),
    ("not accepted", State.INTAKE,
     c.NotAccept(reason=NotAcceptedReason.EMERGENCY, guidance="已转120"), AGENT,
     State.NOT_ACCEPTED),
    ("direct answer needs a KB article", State.INTAKE,
     c.DirectAnswer(answer="答复"), AGENT, "missing_field"),
    ("direct answer", State.INTAKE, c.DirectAnswer(answer="答复", kb_article_id=1), AGENT,
     State.CLOSED),
    ("dispatch needs a lead", State.INTAKE, c.Dispatch(lead=""), AGENT, "missing_field"),
    ("co-unit equal to lead", State.INTAKE, c.Dispatch(lead=LEAD, co_units=(LEAD,)), AGENT,
     "bad_units"),
    ("source limit on a phone order", State.INTAKE,
     c.Dispatch(lead=LEAD, due=T0 + dt.timedelta(days=1)), AGENT, "source_due_not_allowed"),
    ("redispatch after return", State.RETURNED, c.Dispatch(lead=CO), AGENT, State.DISPATCHED),
    ("lead signs", State.DISPATCHED, c.Sign(), LEAD_STAFF, State.HANDLING),
    ("co-unit signs, lead still pending", State.DISPATCHED, c.Sign(), CO_STAFF, State.DISPATCHED),
    ("stranger signs", State.DISPATCHED, c.Sign(), OTHER_STAFF, "not_assigned"),
    ("sign twice", State.HANDLING, c.Sign(), LEAD_STAFF, "already_signed"),
    ("co-unit cannot request return", State.HANDLING,
     c.RequestReturn(basis="b", suggestion="s"), CO_STAFF, "not_lead"),
    ("return needs suggestion", State.HANDLING, c.RequestReturn(basis="b"), LEAD_STAFF,
     "missing_field"),
    ("co-unit cannot reply", State.HANDLING, c.Reply(text="x"), CO_STAFF, "not_lead"),
    ("empty reply", State.HANDLING, c.Reply(text="  "), LEAD_STAFF, "missing_field"),
    ("reply before the lead signed", State.DISPATCHED, c.Reply(text="x"), LEAD_STAFF,
     "invalid_state"),
    ("approve return without request", State.HANDLING, c.ApproveReturn(), AGENT, "no_request"),
    ("approve extension without request", State.HANDLING, c.ApproveExtension(days=2), AGENT,
     "no_request"),
    ("send back needs reason", State.REPLIED, c.SendBack(), AGENT, "missing_field"),
    ("send back", State.REPLIED, c.SendBack(reason="不完整"), AGENT, State.HANDLING),
    ("accept reply", State.REPLIED, c.AcceptReply(), AGENT, State.CALLBACK),
    ("unit cannot review its own reply", State.REPLIED, c.AcceptReply(), LEAD_STAFF,
     "forbidden_actor"),
    ("satisfied closes", State.CALLBACK, c.RecordCallback(result=Satisfaction.SATISFIED), AGENT,
     State.CLOSED),
    ("basically satisfied closes", State.CALLBACK, c.RecordCallback(result=Satisfaction.BASICALLY),
     AGENT, State.CLOSED),
    ("dissatisfied needs fault decision", State.CALLBACK,
     c.RecordCallback(result=Satisfaction.DISSATISFIED), AGENT, "unit_fault_required"),
    ("dissatisfied, unit at fault → 核实整改", State.CALLBACK,
     c.RecordCallback(result=Satisfaction.DISSATISFIED, unit_fault=True), AGENT, State.REOPENED),
    ("dissatisfied, not the unit's fault → closed", State.CALLBACK,
     c.RecordCallback(result=Satisfaction.DISSATISFIED, unit_fault=False), AGENT, State.CLOSED),
    ("reply after reopening", State.REOPENED, c.Reply(text="已整改"), LEAD_STAFF, State.REPLIED),
    ("supervise needs reason", State.HANDLING, c.Supervise(), AGENT, "missing_field"),
    ("coordination names lead", State.RETURNED, c.Coordinate(lead=OTHER, reason="职责不清"),
     AGENT, State.DISPATCHED),
    ("coordination needs a lead", State.RETURNED, c.Coordinate(reason="r"), AGENT,
     "missing_field"),
    ("merge into itself", State.INTAKE, c.Merge(into="CZ20261125-000001"), AGENT, "bad_target"),
    ("link to itself", State.HANDLING, c.Link(other="CZ20261125-000001"), AGENT, "bad_target"),
    ("notice kind", State.HANDLING, c.RecordNotice(kind="party"), AGENT, "bad_kind"),
    ("attach nothing", State.CLOSED, c.AttachCall(), AGENT, "missing_field"),
    ("attach after closing", State.CLOSED, c.AttachCall(transcript_id="t1"), SYSTEM, State.CLOSED),
    ("sweep with nothing due", State.HANDLING, c.Sweep(), SYSTEM, "unchanged"),
    ("closed is final", State.CLOSED, c.Reply(text="x"), LEAD_STAFF, "invalid_state"),
    ("merged is final", State.MERGED, c.Dispatch(lead=LEAD), AGENT, "invalid_state"),
    ("not accepted is final", State.NOT_ACCEPTED, c.Dispatch(lead=LEAD), AGENT, "invalid_state"),
]  # fmt: skip


@pytest.mark.parametrize(("label", "state", "cmd", "actor", "expected"), CONTENT,
                         ids=[x[0] for x in CONTENT])  # fmt: skip
def test_content_rules(label, state, cmd, actor, expected):
    order = in_state(state)
    result = transition(order, cmd, actor, T0 + dt.timedelta(minutes=10), CLOCK)
    if isinstance(expected, State):
        assert isinstance(result, Transition), result
        assert result.order.state is expected
    else:
        assert isinstance(result, Refusal), result
        assert result.code == expected
        assert result.reason  # a human (Chinese) reason


def test_dispatch_computes_statutory_limits():
    o = ok(new_order(Category.COMPLAINT), c.Dispatch(lead=LEAD, co_units=(CO,)), AGENT)
    lead, co = o.assignments
    assert (lead.unit, lead.role, co.unit, co.role) == (LEAD, "lead", CO, "co")
    assert lead.sign_due == dt.datetime(2026, 11, 25, 11, 0, tzinfo=TZ)  # 1 working hour
    assert o.reply_due == dt.datetime(2026, 12, 2, 10, 0, tzinfo=TZ)  # 5 working days
    assert o.return_due == dt.datetime(2026, 11, 27, 10, 0, tzinfo=TZ)  # 2 working days
    assert o.remind_due == dt.datetime(2026, 12, 1, 10, 0, tzinfo=TZ)  # 1 day before
    c2 = ok(new_order(Category.CONSULTATION), c.Dispatch(lead=LEAD), AGENT)
    assert c2.reply_due == dt.datetime(2026, 11, 30, 10, 0, tzinfo=TZ)  # 3 working days
    assert c2.return_due == dt.datetime(2026, 11, 26, 10, 0, tzinfo=TZ)  # 1 working day


def test_source_limit_wins():
    due = dt.datetime(2026, 11, 26, 10, 0, tzinfo=TZ)
    o = ok(replace(new_order(), channel=Channel.PROVINCIAL, source_due=due), c.Dispatch(lead=LEAD),
           AGENT)  # fmt: skip
    assert o.reply_due == due


def test_return_request_after_limit_is_refused():
    o = in_state(State.HANDLING)
    late = dt.datetime(2026, 11, 27, 10, 0, 1, tzinfo=TZ)
    r = refused(o, c.RequestReturn(basis="b", suggestion="s"), LEAD_STAFF, late)
    assert r.code == "return_limit_passed"
    ok(o, c.RequestReturn(basis="b", suggestion="s"), LEAD_STAFF,
       dt.datetime(2026, 11, 27, 10, 0, tzinfo=TZ))  # fmt: skip


def test_extension_only_before_the_deadline_and_approval_sets_new_limit():
    o = in_state(State.HANDLING)
    assert refused(o, c.RequestExtension(reason="r"), LEAD_STAFF, o.reply_due).code == (
        "limit_passed"
    )
    o = ok(o, c.RequestExtension(reason="需现场勘验"), LEAD_STAFF)
    assert refused(o, c.Reply(text="x"), LEAD_STAFF).code == "pending_request"
    assert refused(o, c.RequestExtension(reason="again"), LEAD_STAFF).code == "pending_request"
    o2 = ok(o, c.ApproveExtension(days=3), AGENT)
    assert o2.reply_due == dt.datetime(2026, 12, 7, 10, 0, tzinfo=TZ)
    assert o2.extension_count == 1 and o2.pending is None
    o3 = ok(o, c.RejectExtension(reason="不同意"), AGENT)
    assert o3.reply_due == o.reply_due and o3.pending is None


def test_return_approved_clears_units_and_counts():
    o = ok(in_state(State.HANDLING), c.RequestReturn(basis="b", suggestion="s"), LEAD_STAFF)
    assert o.state is State.HANDLING and o.pending and o.pending.kind == "return"
    o = ok(o, c.ApproveReturn(), AGENT)
    assert o.state is State.RETURNED and o.assignments == () and o.return_count == 1


def test_second_return_flags_special_coordination():
    o = ok(in_state(State.HANDLING), c.RequestReturn(basis="b", suggestion="s"), LEAD_STAFF)
    o = ok(o, c.ApproveReturn(), AGENT)
    o = ok(o, c.Dispatch(lead=CO), AGENT)
    co_staff_as_lead = Actor(ActorKind.UNIT, "cgj1", CO, 3)
    o = ok(o, c.RequestReturn(basis="b2", suggestion="s2"), co_staff_as_lead)
    r = transition(o, c.ApproveReturn(), AGENT, T0, CLOCK)
    assert isinstance(r, Transition) and r.order.return_count == 2
    assert [e.kind for e in r.events] == ["return_approved", "repeatedly_returned"]


def test_send_back_keeps_the_limit():
    o = in_state(State.REPLIED)
    o2 = ok(o, c.SendBack(reason="答复不完整"), AGENT)
    assert o2.reply_due == o.reply_due and o2.send_back_count == 1


def test_reopen_gives_a_fresh_limit():
    o = in_state(State.CALLBACK)
    now = dt.datetime(2026, 11, 30, 15, 0, tzinfo=TZ)
    o2 = ok(o, c.RecordCallback(result=Satisfaction.DISSATISFIED, unit_fault=True), AGENT, now)
    assert o2.state is State.REOPENED and o2.reopen_count == 1
    assert o2.reply_due == dt.datetime(2026, 12, 7, 15, 0, tzinfo=TZ)


def test_sweep_sign_overdue_remind_reply_overdue_supervision():
    o = in_state(State.DISPATCHED)
    # 11:00:01 — both units missed the 1-hour sign-for limit.
    o = ok(o, c.Sweep(), SYSTEM, dt.datetime(2026, 11, 25, 11, 0, 1, tzinfo=TZ))
    assert all(a.sign_overdue for a in o.assignments)
    assert refused(o, c.Sweep(), SYSTEM, dt.datetime(2026, 11, 25, 12, tzinfo=TZ)).code == (
        "unchanged"
    )
    o = ok(o, c.Sign(), LEAD_STAFF)
    # One working day before the reply limit: automatic 催办.
    r = transition(o, c.Sweep(), SYSTEM, dt.datetime(2026, 12, 1, 10, tzinfo=TZ), CLOCK)
    assert isinstance(r, Transition) and [e.kind for e in r.events] == ["reminded"]
    o = r.order
    assert o.reminders == 1
    # Past the limit: overdue + automatic 督办.
    r = transition(o, c.Sweep(), SYSTEM, dt.datetime(2026, 12, 2, 10, 0, 1, tzinfo=TZ), CLOCK)
    assert isinstance(r, Transition)
    assert [e.kind for e in r.events] == ["reply_overdue", "supervised"]
    assert r.order.reply_overdue and r.order.supervision is Supervision.SUPERVISED


def test_coordination_redispatches_with_new_lead():
    o = ok(in_state(State.RETURNED), c.Coordinate(lead=OTHER, co_units=(CO,), reason="职责交叉"),
           AGENT)  # fmt: skip
    assert o.lead_unit == OTHER and o.units == (OTHER, CO)
    assert o.supervision is Supervision.COORDINATED


def test_attach_is_idempotent_and_link_twice_refused():
    o = ok(in_state(State.HANDLING), c.AttachCall(call_id="a", transcript_id="t"), SYSTEM)
    assert refused(o, c.AttachCall(call_id="a", transcript_id="t"), SYSTEM).code == "unchanged"
    o = ok(o, c.Link(other="CZ20261124-000002"), AGENT)
    assert refused(o, c.Link(other="CZ20261124-000002"), AGENT).code == "unchanged"


def test_urgent_dispatch_outside_working_time_flags_the_duty_contact():
    saturday = dt.datetime(2026, 11, 28, 22, 0, tzinfo=TZ)
    r = transition(replace(new_order(), urgent=True), c.Dispatch(lead=LEAD), AGENT, saturday,
                   CLOCK)  # fmt: skip
    assert isinstance(r, Transition) and r.events[0].data["duty_contact"] is True
    r = transition(replace(new_order(), urgent=True), c.Dispatch(lead=LEAD), AGENT, T0, CLOCK)
    assert isinstance(r, Transition) and "duty_contact" not in r.events[0].data


def test_escalate_needs_a_reason():
    assert refused(new_order(), c.Escalate(), AGENT).code == "missing_field"
    assert ok(new_order(), c.Escalate(reason="是否属于第九条(二)"), AGENT).extra["escalated"]


def test_naive_now_is_a_programming_error():
    with pytest.raises(ValueError):
        transition(new_order(), c.Remind(), AGENT, dt.datetime(2026, 1, 1), CLOCK)


def test_provisional_deadline_when_running_into_2027():
    o = replace(new_order(), created_at=dt.datetime(2026, 12, 30, 10, tzinfo=TZ))
    o = ok(o, c.Dispatch(lead=LEAD), AGENT, dt.datetime(2026, 12, 30, 10, tzinfo=TZ))
    assert o.due_provisional is True


# --- provisional deadlines recomputed once the year is confirmed (第十一条(三)(四)) ---------

DEC30 = dt.datetime(2026, 12, 30, 10, 0, tzinfo=TZ)  # Wednesday; 5 working days reach 2027
CONFIRMED_2027 = UnitClock(load_units(), StatutoryCalendar(CalendarOverrides.of(
    [(dt.date(2027, 1, 4), False)], confirmed_years=[2027])))  # fmt: skip


def _dispatched_dec30(**changes: object) -> Order:
    o = replace(new_order(), created_at=DEC30, **changes)  # type: ignore[arg-type]
    return ok(o, c.Dispatch(lead=LEAD, co_units=(CO,)), AGENT, DEC30)


def test_recompute_moves_only_the_provisional_deadlines():
    o = _dispatched_dec30()
    assert o.due_provisional
    assert o.reply_due == dt.datetime(2027, 1, 7, 10, tzinfo=TZ)  # weekday fallback, 元旦 off
    assert o.return_due == dt.datetime(2027, 1, 4, 10, tzinfo=TZ)
    signs = {a.unit: a.sign_due for a in o.assignments}
    r = transition(o, c.RecomputeDeadlines(year=2027), AGENT, DEC30, CONFIRMED_2027)
    assert isinstance(r, Transition), r
    n = r.order
    # 2027-01-04 is off in the confirmed calendar: every limit across it moves by one day.
    assert n.reply_due == dt.datetime(2027, 1, 8, 10, tzinfo=TZ)
    assert n.return_due == dt.datetime(2027, 1, 5, 10, tzinfo=TZ)
    assert n.remind_due == dt.datetime(2027, 1, 7, 10, tzinfo=TZ)
    assert {a.unit: a.sign_due for a in n.assignments} == signs  # 2026-12-30 11:00: not moved
    assert not n.due_provisional and not any(b.provisional for b in n.due_basis)
    assert n.version == o.version + 1
    (e,) = r.events
    assert e.kind == "deadlines_recomputed" and e.data["year"] == 2027
    assert e.data["changes"]["reply_due"] == {"from": "2027-01-07T10:00:00+08:00",
                                              "to": "2027-01-08T10:00:00+08:00"}  # fmt: skip
    assert "sign_due" not in e.data["changes"] and e.data["provisional"] is False
    # Once confirmed, a second recomputation has nothing to do.
    again = transition(n, c.RecomputeDeadlines(year=2027), AGENT, DEC30, CONFIRMED_2027)
    assert isinstance(again, Refusal) and again.code == "unchanged"


def test_recompute_keeps_a_limit_set_by_the_source():
    due = dt.datetime(2027, 1, 6, 17, 0, tzinfo=TZ)
    o = _dispatched_dec30(channel=Channel.PROVINCIAL, source_due=due)
    assert o.reply_due == due and o.due_provisional  # the return limit crosses 2027-01-04
    remind = o.remind_due
    # With the year still unconfirmed nothing would change: nothing is written.
    assert refused(o, c.RecomputeDeadlines(year=2027), AGENT, DEC30).code == "unchanged"
    r = transition(o, c.RecomputeDeadlines(year=2027), AGENT, DEC30, CONFIRMED_2027)
    assert isinstance(r, Transition)
    assert r.order.reply_due == due and r.order.remind_due == remind  # the source's limit wins
    assert r.order.return_due == dt.datetime(2027, 1, 5, 10, tzinfo=TZ)
    assert set(r.events[0].data["changes"]) == {"return_due"}


def test_recompute_after_an_extension_recomputes_the_whole_chain():
    o = ok(_dispatched_dec30(), c.Sign(), LEAD_STAFF, DEC30)
    o = ok(o, c.RequestExtension(reason="需现场勘验"), LEAD_STAFF, DEC30)
    o = ok(o, c.ApproveExtension(days=3), AGENT, DEC30)
    assert o.reply_due == dt.datetime(2027, 1, 12, 10, tzinfo=TZ)  # 01-07 + 3 working days
    # The chain evaluated in the unconfirmed calendar gives the stored instant again.
    assert refused(o, c.RecomputeDeadlines(year=2027), AGENT, DEC30).code == "unchanged"
    r = transition(o, c.RecomputeDeadlines(year=2027), AGENT, DEC30, CONFIRMED_2027)
    assert isinstance(r, Transition)
    # 5 days end 01-08 in the confirmed calendar, and 3 more end 01-13 (not 01-12 + 1 step).
    assert r.order.reply_due == dt.datetime(2027, 1, 13, 10, tzinfo=TZ)
    # The reminder after an extension is a wall-clock instant: not recomputed.
    assert r.order.remind_due == o.remind_due


def test_recompute_withdraws_an_overdue_mark_the_new_limit_does_not_justify():
    o = ok(_dispatched_dec30(), c.Sign(), LEAD_STAFF, DEC30)
    late = dt.datetime(2027, 1, 7, 11, 0, tzinfo=TZ)  # after the provisional 01-07 10:00
    o = ok(o, c.Sweep(), SYSTEM, late)
    assert o.reply_overdue and o.supervision is Supervision.SUPERVISED
    r = transition(o, c.RecomputeDeadlines(year=2027), AGENT, late, CONFIRMED_2027)
    assert isinstance(r, Transition)
    assert r.order.reply_due == dt.datetime(2027, 1, 8, 10, tzinfo=TZ)
    assert not r.order.reply_overdue and "reply_overdue" in r.events[0].data["cleared"]
    assert r.order.supervision is Supervision.SUPERVISED  # a 督办 already raised stays


def test_recompute_leaves_an_order_without_a_recorded_basis_alone():
    o = replace(_dispatched_dec30(), due_basis=())  # computed before bases were recorded
    r = transition(o, c.RecomputeDeadlines(year=2027), AGENT, DEC30, CONFIRMED_2027)
    assert isinstance(r, Refusal) and r.code == "unchanged"


# --- limits set by the source (第十一条(三)) -------------------------------------------------

SUPERVISOR = Actor(ActorKind.PLATFORM, "sup1", user_id=9, supervisor=True)


@pytest.mark.parametrize(("channel", "urgent", "actor", "allowed"), [
    (Channel.PROVINCIAL, False, AGENT, True),
    (Channel.NATIONAL, False, AGENT, True),
    (Channel.PHONE, False, AGENT, False),
    (Channel.PHONE, False, SUPERVISOR, False),  # not urgent: the statutory limits apply
    (Channel.WEB, True, AGENT, False),  # urgent, but an agent may not set the limit
    (Channel.WEB, True, SUPERVISOR, True),
    (Channel.DISTRICT, False, AGENT, False),
    (Channel.PARTNER, False, AGENT, False),
    (Channel.LEADERSHIP, False, AGENT, False),
])  # fmt: skip
def test_dispatch_due_only_where_a_source_sets_the_limit(channel, urgent, actor, allowed):
    due = T0 + dt.timedelta(days=2)
    o = replace(new_order(), channel=channel, urgent=urgent)
    r = transition(o, c.Dispatch(lead=LEAD, due=due), actor, T0, CLOCK)
    if allowed:
        assert isinstance(r, Transition), r
        assert r.order.reply_due == due and r.order.source_due == due
    else:
        assert isinstance(r, Refusal) and r.code == "source_due_not_allowed" and r.reason


def test_source_limit_in_the_past_is_refused():
    o = replace(new_order(), channel=Channel.PROVINCIAL)
    r = transition(o, c.Dispatch(lead=LEAD, due=T0 - dt.timedelta(hours=1)), AGENT, T0, CLOCK)
    assert isinstance(r, Refusal) and r.code == "bad_due"


def test_coordination_keeps_the_source_limit():
    due = dt.datetime(2026, 11, 27, 12, 0, tzinfo=TZ)
    o = ok(replace(new_order(), channel=Channel.PROVINCIAL), c.Dispatch(lead=LEAD, due=due),
           AGENT)  # fmt: skip
    later = T0 + dt.timedelta(hours=3)
    r = transition(o, c.Coordinate(lead=OTHER, reason="职责交叉"), AGENT, later, CLOCK)
    assert isinstance(r, Transition)
    assert r.order.lead_unit == OTHER and r.order.reply_due == due and r.order.source_due == due
    assert r.events[0].data["reply_due"] == due.isoformat()
    # An order without a source limit gets fresh statutory limits from the coordination.
    plain = transition(in_state(State.HANDLING), c.Coordinate(lead=OTHER, reason="职责交叉"),
                       AGENT, later, CLOCK)  # fmt: skip
    assert isinstance(plain, Transition)
    # coordinated at 13:00 (lunch break): the count starts 13:30 and ends with the 12-02 morning
    assert plain.order.reply_due == dt.datetime(2026, 12, 2, 12, 0, tzinfo=TZ)


def test_redispatch_after_the_source_limit_passed_keeps_it():
    due = T0 + dt.timedelta(hours=2)
    o = ok(replace(new_order(), channel=Channel.PROVINCIAL, source_due=due), c.Dispatch(lead=LEAD),
           AGENT)  # fmt: skip
    o = ok(o, c.Sign(), LEAD_STAFF)
    o = ok(o, c.RequestReturn(basis="不属本单位职责", suggestion="建议派城管"), LEAD_STAFF)
    o = ok(o, c.ApproveReturn(), AGENT)
    later = T0 + dt.timedelta(days=1)
    o = ok(o, c.Dispatch(lead=CO), AGENT, later)  # not refused: the province's limit stands
    assert o.reply_due == due and o.lead_unit == CO
    swept = ok(o, c.Sweep(), SYSTEM, later + dt.timedelta(seconds=1))
    assert swept.reply_overdue
