"""The work-order state machine as a pure function.

``transition(order, command, actor, now, clock)`` returns a :class:`Transition` (the new order with
its version bumped, plus the audit events) or a :class:`~workflow.model.Refusal` with a Chinese
reason. :data:`RULES` lists, per command, the states it is allowed in and who may issue it; the
handlers in :mod:`workflow.handlers` check the rest (limits, which unit, required text).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from workflow import commands as c
from workflow import handlers as h
from workflow import recompute as rc
from workflow import supervision as sv
from workflow.clock import WorkClock
from workflow.model import OPEN_STATES, Actor, ActorKind, Event, Order, Refusal, State

P, U, S = ActorKind.PLATFORM, ActorKind.UNIT, ActorKind.SYSTEM
ALL_STATES = frozenset(State)
AT_INTAKE = frozenset({State.INTAKE, State.RETURNED})
AT_UNIT = frozenset({State.DISPATCHED, State.HANDLING})
WITH_UNIT = frozenset({State.DISPATCHED, State.HANDLING, State.REOPENED})


@dataclass(frozen=True)
class Rule:
    """Where a command is allowed and who may issue it."""

    states: frozenset[State]
    actors: frozenset[ActorKind]


def _r(states: frozenset[State], *actors: ActorKind) -> Rule:
    return Rule(states, frozenset(actors))


RULES: dict[type[c.Command], Rule] = {
    c.NotAccept: _r(AT_INTAKE, P),
    c.Escalate: _r(AT_INTAKE, P),
    c.DirectAnswer: _r(AT_INTAKE, P),
    c.ThreeWayCall: _r(AT_INTAKE, P),
    c.Dispatch: _r(AT_INTAKE, P),
    c.Sign: _r(AT_UNIT, U, P),
    c.RequestReturn: _r(AT_UNIT, U),
    c.ApproveReturn: _r(AT_UNIT, P),
    c.RejectReturn: _r(AT_UNIT, P),
    c.RequestExtension: _r(WITH_UNIT, U),
    c.ApproveExtension: _r(WITH_UNIT, P),
    c.RejectExtension: _r(WITH_UNIT, P),
    c.Reply: _r(frozenset({State.HANDLING, State.REOPENED}), U),
    c.AcceptReply: _r(frozenset({State.REPLIED}), P),
    c.SendBack: _r(frozenset({State.REPLIED}), P),
    c.RecordCallback: _r(frozenset({State.CALLBACK}), P),
    c.CloseWithoutCallback: _r(frozenset({State.CALLBACK}), P),
    c.Evaluate: _r(ALL_STATES, P, S),
    c.Remind: _r(WITH_UNIT, P, S),
    c.Supervise: _r(WITH_UNIT | {State.RETURNED}, P, S),
    c.Coordinate: _r(WITH_UNIT | {State.RETURNED}, P),
    c.RecordNotice: _r(OPEN_STATES | {State.CLOSED}, P),
    c.Merge: _r(AT_INTAKE | AT_UNIT, P),
    c.Link: _r(ALL_STATES, P),
    c.AttachCall: _r(ALL_STATES, P, S),
    c.Sweep: _r(WITH_UNIT, S),
    c.RecomputeDeadlines: _r(OPEN_STATES, P, S),
}

HANDLERS: dict[type[c.Command], h.Handler] = {
    c.NotAccept: h.not_accept,
    c.Escalate: h.escalate,
    c.DirectAnswer: h.direct_answer,
    c.ThreeWayCall: h.three_way_call,
    c.Dispatch: h.dispatch,
    c.Sign: h.sign,
    c.RequestReturn: h.request_return,
    c.ApproveReturn: h.approve_return,
    c.RejectReturn: h.reject_return,
    c.RequestExtension: h.request_extension,
    c.ApproveExtension: h.approve_extension,
    c.RejectExtension: h.reject_extension,
    c.Reply: h.reply,
    c.AcceptReply: h.accept_reply,
    c.SendBack: h.send_back,
    c.RecordCallback: h.record_callback,
    c.CloseWithoutCallback: h.close_unreached,
    c.Evaluate: h.evaluate,
    c.Remind: sv.remind,
    c.Supervise: sv.supervise,
    c.Coordinate: sv.coordinate,
    c.RecordNotice: sv.record_notice,
    c.Merge: sv.merge,
    c.Link: sv.link,
    c.AttachCall: sv.attach_call,
    c.Sweep: sv.sweep,
    c.RecomputeDeadlines: rc.recompute_deadlines,
}

STATE_LABELS = {
    State.INTAKE: "待处置",
    State.NOT_ACCEPTED: "不予受理",
    State.DISPATCHED: "待签收",
    State.HANDLING: "办理中",
    State.RETURNED: "已退回待重派",
    State.REPLIED: "待答复认定",
    State.CALLBACK: "待回访",
    State.REOPENED: "核实整改",
    State.CLOSED: "已办结",
    State.MERGED: "已合并",
}


@dataclass(frozen=True)
class Transition:
    """An accepted command: the new order and the events to append."""

    order: Order
    events: tuple[Event, ...]


def transition(
    order: Order, command: c.Command, actor: Actor, now: dt.datetime, clock: WorkClock
) -> Transition | Refusal:
    """Apply ``command`` issued by ``actor`` at ``now`` to ``order`` (pure; never raises for a
    forbidden command, which yields a :class:`Refusal`)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    rule = RULES.get(type(command))
    if rule is None:
        return Refusal("unknown_command", f"未知操作 {type(command).__name__}")
    if actor.kind not in rule.actors:
        return Refusal("forbidden_actor", f"{_who(actor)}无权执行此操作({command.KIND})")
    if order.state not in rule.states:
        return Refusal(
            "invalid_state",
            f"工单当前状态为「{STATE_LABELS[order.state]}」,不能执行此操作({command.KIND})",
        )
    result = HANDLERS[type(command)](order, command, actor, now, clock)
    if isinstance(result, Refusal):
        return result
    new_order, events = result
    return Transition(replace(new_order, version=order.version + 1), tuple(events))


def _who(actor: Actor) -> str:
    return {P: "平台人员", U: "成员单位人员", S: "系统"}[actor.kind]
