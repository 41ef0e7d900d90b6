"""What the IVR needs from the rest of the system, as small Protocols.

`hotline/features/ivr.py` wires concrete objects in: the work-order directory from `workflow/`
and the AMI originator from `pbx/ami/`. The in-memory fakes here serve tests and local demos.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Protocol


class OrderStatus(StrEnum):
    """Work-order state as the IVR reads it back (one prompt per value).

    The workflow adapter maps its own states onto these.
    """

    ACCEPTED = "accepted"        # 已受理
    PROCESSING = "processing"    # 办理中
    REPLIED = "replied"          # 已答复，待回访
    CLOSED = "closed"            # 已办结
    NOT_ACCEPTED = "not-accepted"  # 不予受理


@dataclass(frozen=True)
class OrderSummary:
    """The little the IVR tells a caller about a work order (一号答, 第十五条)."""

    number: str
    """The order number as shown to citizens (e.g. ``WO20251128001``)."""
    status: OrderStatus
    deadline: datetime | None = None
    """Reply deadline; ``None`` once replied / closed."""

    @property
    def keyed_digits(self) -> str:
        """The digits a caller keys for this order on a phone pad."""
        return re.sub(r"\D", "", self.number)

    @property
    def is_open(self) -> bool:
        """Still being handled."""
        return self.status in (OrderStatus.ACCEPTED, OrderStatus.PROCESSING)


class SurveyRating(IntEnum):
    """办结回访 / 好差评 answer keyed by the citizen (第十一条(五), 第十五条)."""

    SATISFIED = 1          # 满意
    BASICALLY = 2          # 基本满意
    DISSATISFIED = 3       # 不满意


class OrderDirectory(Protocol):
    """Work-order lookups the IVR needs (implemented by `workflow/`)."""

    async def open_orders_by_phone(self, phone: str) -> list[OrderSummary]:
        """Open orders of this caller number, newest first."""

    async def order_by_digits(self, digits: str, caller: str | None) -> OrderSummary | None:
        """The order whose number's digits equal ``digits`` (as keyed with DTMF), or None.

        With ``caller`` set, an order of another citizen is not disclosed (None)."""

    async def record_survey_result(self, order_number: str, rating: SurveyRating | None, *,
                                   call_id: str | None) -> None:
        """Store the callback-survey result on the order; ``None`` means no usable answer
        (no answer / unreachable / no valid key), recorded as 未接通/无有效评价."""


class DialOutcome(StrEnum):
    """How an originated call ended (from AMI ``OriginateResponse`` Reason)."""

    ANSWERED = "answered"    # Reason 4
    NO_ANSWER = "no-answer"  # Reason 3 (rang out; hangup cause 19 in trace 10)
    BUSY = "busy"            # Reason 5
    FAILED = "failed"        # Reason 0/1/8, congestion, bad number, AMI down

    @classmethod
    def from_reason(cls, reason: int) -> DialOutcome:
        """Map AMI ``OriginateResponse`` ``Reason`` codes."""
        return {4: cls.ANSWERED, 3: cls.NO_ANSWER, 5: cls.BUSY}.get(reason, cls.FAILED)


@dataclass(frozen=True)
class OriginateRequest:
    """An AMI ``Originate`` into one of our dialplan contexts."""

    channel: str
    """Dial string, e.g. ``PJSIP/13800138000@citizen-trunk``."""
    context: str
    exten: str
    priority: int = 1
    caller_id: str = "12345"
    timeout_s: int = 30
    variables: dict[str, str] = field(default_factory=dict)


class Originator(Protocol):
    """Places outbound calls (implemented over AMI by `pbx/ami/`)."""

    async def originate(self, request: OriginateRequest) -> DialOutcome:
        """Dial and wait for ``OriginateResponse``; never raises for a failed call."""


class QueueProbe(Protocol):
    """Whether a queue has an agent free now (AMI QueueStatus), to bridge callbacks at once."""

    async def has_free_agent(self, queue: str) -> bool:
        """True if at least one logged-in, unpaused member is not in use."""


class InMemoryOrderDirectory:
    """`OrderDirectory` over a dict, for tests and demos."""

    def __init__(self, orders: list[tuple[str, OrderSummary]] | None = None) -> None:
        self.orders: list[tuple[str, OrderSummary]] = list(orders or [])
        """(caller phone, summary) pairs."""
        self.survey_results: dict[str, list[tuple[SurveyRating | None, str | None]]] = {}

    async def open_orders_by_phone(self, phone: str) -> list[OrderSummary]:
        """Open orders of ``phone``, newest (last added) first."""
        return [o for p, o in reversed(self.orders) if p == phone and o.is_open]

    async def order_by_digits(self, digits: str, caller: str | None) -> OrderSummary | None:
        """Match on the order number's digits (and on the phone when ``caller`` is given)."""
        return next((o for p, o in self.orders if o.keyed_digits == digits
                     and (caller is None or p == caller)), None)

    async def record_survey_result(self, order_number: str, rating: SurveyRating | None, *,
                                   call_id: str | None) -> None:
        """Append to ``survey_results[order_number]``."""
        self.survey_results.setdefault(order_number, []).append((rating, call_id))


class ScriptedOriginator:
    """`Originator` answering from a list of outcomes (tests); records every request."""

    def __init__(self, outcomes: list[DialOutcome] | None = None) -> None:
        self.outcomes = list(outcomes or [])
        self.requests: list[OriginateRequest] = []

    async def originate(self, request: OriginateRequest) -> DialOutcome:
        """Pop the next outcome (``ANSWERED`` when the script is empty)."""
        self.requests.append(request)
        return self.outcomes.pop(0) if self.outcomes else DialOutcome.ANSWERED
