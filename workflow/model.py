"""The work order (工单) as a value: enums, the order state and the events a command causes.

Pure: the state machine (:mod:`workflow.machine`) maps ``(Order, Command, now, clock)`` to a new
``Order`` plus :class:`Event` s; the store persists both; nothing here does I/O.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Channel(StrEnum):
    """Intake channels (第八条, 第十一条(一))."""

    PHONE = "phone"  # 12345 hotline call
    WEB = "web"  # web / app / WeChat
    NATIONAL = "national"  # 国务院"互联网+督查", 国家政务服务平台 (第八条(一))
    PROVINCIAL = "provincial"  # 省12345在线服务平台 (第八条(一)), may carry its own limit
    DISTRICT = "district"  # 辖市(区)12345 cross-area transfer (第八条(三))
    PARTNER = "partner"  # 政风热线, 政务服务"好差评" (第八条(四))
    LEADERSHIP = "leadership"  # 市委、市政府交办 (第八条(五))


class Category(StrEnum):
    """Kinds of demand (第二条). Consultation has shorter limits (第十一条(三)(四))."""

    CONSULTATION = "consultation"  # 咨询
    COMPLAINT = "complaint"  # 投诉
    REPORT = "report"  # 举报
    HELP = "help"  # 求助
    SUGGESTION = "suggestion"  # 建议


CATEGORY_LABELS = {
    Category.CONSULTATION: "咨询",
    Category.COMPLAINT: "投诉",
    Category.REPORT: "举报",
    Category.HELP: "求助",
    Category.SUGGESTION: "建议",
}


class State(StrEnum):
    """Where a work order stands."""

    INTAKE = "intake"  # 已登记, 待处置
    NOT_ACCEPTED = "not_accepted"  # 不予受理 (第九条) — final
    DISPATCHED = "dispatched"  # 已派发, 待签收 (lead unit has not signed yet)
    HANDLING = "handling"  # 办理中 (lead unit signed)
    RETURNED = "returned"  # 退回平台, 待重新派发
    REPLIED = "replied"  # 已答复, 待答复认定 (第十一条(四))
    CALLBACK = "callback"  # 答复已认定, 待回访 (第十一条(五))
    REOPENED = "reopened"  # 核实整改 (第十一条(五), dissatisfaction due to the unit)
    CLOSED = "closed"  # 已办结 — final
    MERGED = "merged"  # 已并入另一工单 (duplicate) — final


FINAL_STATES = frozenset({State.NOT_ACCEPTED, State.CLOSED, State.MERGED})
OPEN_STATES = frozenset(State) - FINAL_STATES


class NotAcceptedReason(StrEnum):
    """第九条: matters the platform does not accept."""

    OUT_OF_JURISDICTION = "out_of_jurisdiction"  # (一) 非常州市行政管辖权范围
    LEGAL_PROCEDURE = "legal_procedure"  # (二) 已进入信访、仲裁、行政复议、诉讼程序
    SECRETS_PRIVACY = "secrets_privacy"  # (三) 国家秘密、商业秘密、个人隐私
    INSULT_OR_VAGUE = "insult_or_vague"  # (四) 恶意侮辱诽谤 / 内容不具体
    EMERGENCY = "emergency"  # (五) 110、119、120、水上救援
    OTHER = "other"  # (六) 其它


NOT_ACCEPTED_LABELS = {
    NotAcceptedReason.OUT_OF_JURISDICTION: "第九条(一) 非常州市行政管辖权范围内的事项",
    NotAcceptedReason.LEGAL_PROCEDURE: "第九条(二) 已进入或须通过信访、仲裁、复议、诉讼程序的事项",
    NotAcceptedReason.SECRETS_PRIVACY: "第九条(三) 涉及国家秘密、商业秘密、个人隐私的事项",
    NotAcceptedReason.INSULT_OR_VAGUE: "第九条(四) 恶意侮辱诽谤或内容不具体、无法办理的事项",
    NotAcceptedReason.EMERGENCY: "第九条(五) 110、119、120和水上救援等紧急救助事项",
    NotAcceptedReason.OTHER: "第九条(六) 其它不予受理事项",
}


class Satisfaction(StrEnum):
    """Callback survey result (办结回访, 第十一条(五)); IVR keys 1 / 2 / 3."""

    SATISFIED = "satisfied"  # 满意
    BASICALLY = "basically_satisfied"  # 基本满意
    DISSATISFIED = "dissatisfied"  # 不满意


class Supervision(StrEnum):
    """Supervision level (第二十四条 to 第二十六条)."""

    NONE = "none"
    SUPERVISED = "supervised"  # 督办
    COORDINATED = "coordinated"  # 专题协调督办


class ActorKind(StrEnum):
    """Who issues a command, as far as the state machine cares."""

    PLATFORM = "platform"  # 12345 agents, supervisors, admins, the IVR survey
    UNIT = "unit"  # member-unit staff
    SYSTEM = "system"  # the deadline sweep


@dataclass(frozen=True, slots=True)
class Actor:
    """The issuer of a command (``unit`` is set for member-unit staff)."""

    kind: ActorKind
    name: str
    unit: str | None = None
    user_id: int | None = None
    supervisor: bool = False
    """A platform supervisor or administrator (值班长/督导): may set an urgent order's own limit
    (第十一条(三) 其它紧急类工单明确另行有时限要求的)."""


SYSTEM_ACTOR = Actor(ActorKind.SYSTEM, "system")


@dataclass(frozen=True, slots=True)
class Citizen:
    """The person with the demand (服务对象)."""

    name: str | None = None
    phone: str | None = None
    confidential: bool = False  # 保密: units never see name / phone


@dataclass(frozen=True, slots=True)
class Assignment:
    """One unit's share of a dispatch: the lead (牵头) or a co-handling unit (协办)."""

    unit: str
    role: str  # "lead" | "co"
    dispatched_at: dt.datetime
    sign_due: dt.datetime
    signed_at: dt.datetime | None = None
    signed_by: str | None = None
    sign_overdue: bool = False


@dataclass(frozen=True, slots=True)
class DueBasis:
    """How one stored deadline of an order was reached, so that it can be recomputed.

    The deadline is ``start`` plus each of ``steps`` in turn, in ``unit``'s working time
    (``(amount, "hours" | "days")``, see :class:`workflow.clock.WorkAmount`); a deadline fixed by
    the source or by the platform (a provincial limit, an approved new instant, a wall-clock
    reminder) has no steps and is ``start`` itself. ``target`` names the deadline: ``"sign"`` (the
    sign-for limit of ``unit``'s assignment), ``"return"``, ``"reply"`` or ``"remind"``.
    ``provisional`` is True when the computation passed over calendar days not yet confirmed
    (a year ``chinesecalendar`` does not know and no admin has confirmed): confirming the year
    recomputes exactly those deadlines (第十一条(三)(四)).
    """

    target: str
    unit: str | None
    start: dt.datetime
    steps: tuple[tuple[float, str], ...] = ()
    provisional: bool = False


@dataclass(frozen=True, slots=True)
class PendingRequest:
    """A unit's request the platform must rule on (第十一条(四) 审核认定)."""

    kind: str  # "return" | "extension"
    unit: str
    at: dt.datetime
    reason: str
    suggestion: str | None = None  # return: 办理建议 (suggested unit / way)
    requested_due: dt.datetime | None = None  # extension: the limit asked for


@dataclass(frozen=True)
class Order:
    """The current state of a work order (the store keeps it as one row plus its event log)."""

    number: str
    state: State
    channel: Channel
    category: Category
    content: str
    created_at: dt.datetime
    version: int = 1
    topic: str | None = None
    citizen: Citizen = Citizen()
    address: str | None = None
    district: str | None = None
    urgent: bool = False
    source_due: dt.datetime | None = None  # a limit set by the source (provincial / urgent);
    # kept on the order, so that a re-dispatch or a 专题协调 keeps it (第十一条(三))
    external_ref: str | None = None  # provincial / national order number
    call_ids: tuple[str, ...] = ()
    transcript_ids: tuple[str, ...] = ()
    assignments: tuple[Assignment, ...] = ()
    dispatched_at: dt.datetime | None = None
    reply_due: dt.datetime | None = None
    return_due: dt.datetime | None = None
    remind_due: dt.datetime | None = None  # automatic 催办 before the reply limit
    due_provisional: bool = False  # some deadline relied on unconfirmed calendar days
    due_basis: tuple[DueBasis, ...] = ()  # how each stored deadline was computed
    reply_overdue: bool = False
    reminded_at: dt.datetime | None = None  # last 催办 (automatic or manual)
    reminders: int = 0
    pending: PendingRequest | None = None
    reply: str | None = None
    replied_at: dt.datetime | None = None
    satisfaction: Satisfaction | None = None
    supervision: Supervision = Supervision.NONE
    return_count: int = 0
    extension_count: int = 0
    send_back_count: int = 0
    reopen_count: int = 0
    not_accepted_reason: NotAcceptedReason | None = None
    guidance: str | None = None
    kb_article_id: int | None = None
    resolution: str | None = None  # how it was closed: direct_answer / three_way / handled ...
    closed_at: dt.datetime | None = None
    merged_into: str | None = None
    links: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def lead_unit(self) -> str | None:
        """Code of the lead unit of the current dispatch."""
        for a in self.assignments:
            if a.role == "lead":
                return a.unit
        return None

    @property
    def units(self) -> tuple[str, ...]:
        """Codes of every unit currently assigned (lead first)."""
        return tuple(a.unit for a in sorted(self.assignments, key=lambda a: a.role != "lead"))

    @property
    def reply_limit_suspended(self) -> bool:
        """第十一条(四): an extension request made before the limit is under review; the reply
        limit is neither overdue nor reminded until the platform decides."""
        return self.pending is not None and self.pending.kind == "extension"

    def assignment(self, unit: str | None) -> Assignment | None:
        """This unit's assignment, if any."""
        for a in self.assignments:
            if a.unit == unit:
                return a
        return None


@dataclass(frozen=True, slots=True)
class Event:
    """An append-only audit record of one change (who, when, from, to, why — SPEC R5.8)."""

    kind: str
    at: dt.datetime
    actor: Actor
    from_state: State
    to_state: State
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A command the state machine does not allow, with the reason (Chinese, user-facing)."""

    code: str
    reason: str
