"""Commands accepted by the work-order state machine (:func:`workflow.machine.transition`).

Each command is a frozen dataclass; ``KIND`` is the stable name used by the REST API
(``POST /api/orders/{number}/actions/{kind}``) and in the audit events.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import ClassVar

from workflow.model import NotAcceptedReason, Satisfaction


@dataclass(frozen=True)
class Command:
    """Base class of every command."""

    KIND: ClassVar[str] = ""
    note: str | None = None


@dataclass(frozen=True)
class NotAccept(Command):
    """不予受理 (第九条) with the reason and the guidance given to the citizen (第十条)."""

    KIND: ClassVar[str] = "not_accept"
    reason: NotAcceptedReason = NotAcceptedReason.OTHER
    guidance: str = ""


@dataclass(frozen=True)
class Escalate(Command):
    """首接人员无法认定的,及时向上级汇报 (第十条): flag the order for a supervisor's decision."""

    KIND: ClassVar[str] = "escalate"
    reason: str = ""


@dataclass(frozen=True)
class DirectAnswer(Command):
    """直接解答 (第十一条(二)): closed at intake, citing a knowledge-base article."""

    KIND: ClassVar[str] = "direct_answer"
    answer: str = ""
    kb_article_id: int | None = None


@dataclass(frozen=True)
class ThreeWayCall(Command):
    """三方通话 (第十一条(二)): resolved with the unit on the line; closed at intake."""

    KIND: ClassVar[str] = "three_way_call"
    unit: str = ""
    summary: str = ""


@dataclass(frozen=True)
class Dispatch(Command):
    """派发工单 to a lead unit with optional co-handling units; ``due`` is a source's own limit."""

    KIND: ClassVar[str] = "dispatch"
    lead: str = ""
    co_units: tuple[str, ...] = ()
    due: dt.datetime | None = None


@dataclass(frozen=True)
class Sign(Command):
    """签收 by a unit (the actor's unit; the platform may sign on a unit's behalf)."""

    KIND: ClassVar[str] = "sign"
    unit: str | None = None


@dataclass(frozen=True)
class RequestReturn(Command):
    """申请退回 (第十一条(四)): with the basis (依据) and a handling suggestion (办理建议)."""

    KIND: ClassVar[str] = "request_return"
    basis: str = ""
    suggestion: str = ""


@dataclass(frozen=True)
class ApproveReturn(Command):
    """The platform approves a return: the order goes back to the platform for re-dispatch."""

    KIND: ClassVar[str] = "approve_return"


@dataclass(frozen=True)
class RejectReturn(Command):
    """The platform rejects a return request; the unit keeps the order and its limits."""

    KIND: ClassVar[str] = "reject_return"
    reason: str = ""


@dataclass(frozen=True)
class RequestExtension(Command):
    """申请延时 (第十一条(四)) before the reply limit expires."""

    KIND: ClassVar[str] = "request_extension"
    reason: str = ""
    requested_due: dt.datetime | None = None


@dataclass(frozen=True)
class ApproveExtension(Command):
    """Approve an extension: ``new_due`` or ``days`` more working days on the current limit."""

    KIND: ClassVar[str] = "approve_extension"
    new_due: dt.datetime | None = None
    days: float | None = None


@dataclass(frozen=True)
class RejectExtension(Command):
    """Reject an extension request; the limit stays."""

    KIND: ClassVar[str] = "reject_extension"
    reason: str = ""


@dataclass(frozen=True)
class Reply(Command):
    """The lead unit's answer (答复意见)."""

    KIND: ClassVar[str] = "reply"
    text: str = ""


@dataclass(frozen=True)
class AcceptReply(Command):
    """答复认定: the reply is complete; the order goes to callback."""

    KIND: ClassVar[str] = "accept_reply"


@dataclass(frozen=True)
class SendBack(Command):
    """答复认定: not specific / incomplete; back to the unit inside its limit (第十一条(四))."""

    KIND: ClassVar[str] = "send_back"
    reason: str = ""


@dataclass(frozen=True)
class RecordCallback(Command):
    """办结回访 (第十一条(五)). ``unit_fault`` must be decided when dissatisfied."""

    KIND: ClassVar[str] = "callback"
    result: Satisfaction = Satisfaction.SATISFIED
    unit_fault: bool | None = None
    via: str = "agent"  # agent | ivr


@dataclass(frozen=True)
class CloseWithoutCallback(Command):
    """Close an order whose citizen could not be reached for the callback."""

    KIND: ClassVar[str] = "close_unreached"
    reason: str = ""


@dataclass(frozen=True)
class Evaluate(Command):
    """好差评 outside the callback step (e.g. after a call); no state change."""

    KIND: ClassVar[str] = "evaluate"
    result: Satisfaction = Satisfaction.SATISFIED
    source: str = "ivr"


@dataclass(frozen=True)
class Remind(Command):
    """催办 (第二十四条)."""

    KIND: ClassVar[str] = "remind"


@dataclass(frozen=True)
class Supervise(Command):
    """督办 (第二十六条): can handle but does not."""

    KIND: ClassVar[str] = "supervise"
    reason: str = ""


@dataclass(frozen=True)
class Coordinate(Command):
    """专题协调督办 (第二十六条): unclear responsibility; names the lead unit, re-dispatches."""

    KIND: ClassVar[str] = "coordinate"
    lead: str = ""
    co_units: tuple[str, ...] = ()
    reason: str = ""


@dataclass(frozen=True)
class RecordNotice(Command):
    """约谈 / 通报 / 信息专报 (第二十六条第二款), recorded on the order."""

    KIND: ClassVar[str] = "record_notice"
    kind: str = "interview"  # interview | notice | report
    unit: str | None = None


@dataclass(frozen=True)
class Merge(Command):
    """Merge this duplicate into another order (``into`` = its number)."""

    KIND: ClassVar[str] = "merge"
    into: str = ""


@dataclass(frozen=True)
class Link(Command):
    """Link a related order (both stay open)."""

    KIND: ClassVar[str] = "link"
    other: str = ""


@dataclass(frozen=True)
class AttachCall(Command):
    """Attach a call and/or its transcript (R4.2) to the order."""

    KIND: ClassVar[str] = "attach_call"
    call_id: str | None = None
    transcript_id: str | None = None


@dataclass(frozen=True)
class Sweep(Command):
    """The deadline sweep: mark sign-for / reply overdue, remind, raise supervision."""

    KIND: ClassVar[str] = "sweep"


@dataclass(frozen=True)
class RecomputeDeadlines(Command):
    """Recompute the provisional deadlines of the order with the calendar as it now is, after an
    admin confirmed the holiday notice of ``year`` (第十一条(三)(四); not an HTTP action: it
    runs inside ``PUT /api/workflow/calendar/years/{year}``)."""

    KIND: ClassVar[str] = "recompute_deadlines"
    year: int | None = None


ALL_COMMANDS: tuple[type[Command], ...] = (
    NotAccept, Escalate, DirectAnswer, ThreeWayCall, Dispatch, Sign, RequestReturn, ApproveReturn,
    RejectReturn, RequestExtension, ApproveExtension, RejectExtension, Reply, AcceptReply,
    SendBack, RecordCallback, CloseWithoutCallback, Evaluate, Remind, Supervise, Coordinate,
    RecordNotice, Merge, Link, AttachCall, Sweep, RecomputeDeadlines,
)  # fmt: skip
INTERNAL_COMMANDS: frozenset[type[Command]] = frozenset({Sweep, RecomputeDeadlines})
"""Commands the system issues itself; they have no ``POST /api/orders/{number}/<kind>`` route."""
COMMANDS_BY_KIND: dict[str, type[Command]] = {c.KIND: c for c in ALL_COMMANDS}
