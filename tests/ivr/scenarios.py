"""Flow scenarios shared by the branch tests and the hang-up-at-every-step test."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ivr.call import IvrDeps
from ivr.config import IvrConfig
from ivr.ports import (
    InMemoryOrderDirectory,
    OrderStatus,
    OrderSummary,
    ScriptedOriginator,
)
from ivr.records import Outcome
from ivr.store import InMemoryIvrStore, ListJobSink
from pbx.agi.protocol import AgiEnvironment
from tests.ivr.fake_channel import make_env

CALLER = "13800138000"
NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)  # 10:00 in Changzhou: inside calling hours
OPEN_ORDER = OrderSummary("WO20251128001", OrderStatus.PROCESSING,
                          deadline=datetime(2026, 12, 3, 9, 30, tzinfo=UTC))
CLOSED_ORDER = OrderSummary("WO20251101007", OrderStatus.CLOSED)


def make_deps(*, known: bool = False, config: IvrConfig | None = None) -> IvrDeps:
    """Fresh in-memory dependencies; ``known`` gives the caller an open order."""
    orders = InMemoryOrderDirectory([(CALLER, CLOSED_ORDER)])
    if known:
        orders.orders.append((CALLER, OPEN_ORDER))
    return IvrDeps(store=InMemoryIvrStore(), orders=orders, jobs=ListJobSink(),
                   config=config or IvrConfig(), originator=ScriptedOriginator(),
                   clock=lambda: NOW)


@dataclass
class Scenario:
    """A flow run: which script, which keys, the world before, what must come out."""

    name: str
    script: str
    keys: list[str]
    outcome: Outcome
    variables: dict[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = (CALLER,)
    callerid: str = CALLER
    known: bool = False
    channel_vars: dict[str, str] = field(default_factory=dict)
    setup: Callable[[IvrDeps], object] | None = None

    def env(self) -> AgiEnvironment:
        return make_env(self.script, self.args, callerid=self.callerid)


CB_VARS = {"HOTLINE_QUEUE": "hotline-complaint", "HOTLINE_CHOICE": "2",
           "HOTLINE_CALLID": "pbx1-1795837952.9", "HOTLINE_QUEUE_JOINED": "1795837000"}
Q = "hotline-complaint"

SCENARIOS = [
    # main flow ----------------------------------------------------------------------------
    Scenario("complaint", "ivr", ["", "2"], Outcome.QUEUED,
             {"HOTLINE_CHOICE": "2", "HOTLINE_QUEUE": Q, "HOTLINE_CATEGORY": "complaint"}),
    Scenario("business-desk", "ivr", ["", "6"], Outcome.QUEUED,
             {"HOTLINE_CHOICE": "6", "HOTLINE_QUEUE": "hotline-bizenv"}),
    Scenario("agent-key", "ivr", ["", "0"], Outcome.AGENT, {"HOTLINE_CHOICE": "0"}),
    Scenario("invalid-then-valid", "ivr", ["", "7", "", "3"], Outcome.QUEUED,
             {"HOTLINE_CHOICE": "3", "HOTLINE_CATEGORY": "report"}),
    Scenario("invalid-to-agent", "ivr", ["", "7", "#", ""], Outcome.AGENT,
             {"HOTLINE_CHOICE": "0", "HOTLINE_QUEUE": "hotline-general"}),
    Scenario("emergency", "ivr", ["9", "2"], Outcome.EMERGENCY, {"HOTLINE_EMERGENCY": "119"}),
    Scenario("emergency-invalid", "ivr", ["9", "5", "5", "5", "1"], Outcome.QUEUED,
             {"HOTLINE_CHOICE": "1"}),
    Scenario("known-status-end", "ivr", ["", "1", ""], Outcome.SELF_SERVICE,
             {"HOTLINE_DONE": "1"}, known=True),
    Scenario("known-status-menu", "ivr", ["", "1", "*", "4"], Outcome.QUEUED,
             {"HOTLINE_CHOICE": "4"}, known=True),
    Scenario("known-status-agent", "ivr", ["", "1", "0"], Outcome.AGENT,
             {"HOTLINE_CHOICE": "0"}, known=True),
    Scenario("known-skip", "ivr", ["", "2", "5"], Outcome.QUEUED,
             {"HOTLINE_CHOICE": "5"}, known=True),
    Scenario("status-by-number", "ivr", ["", "8", "20251101007#", ""], Outcome.SELF_SERVICE),
    Scenario("status-not-found", "ivr", ["", "8", "123", "", "x"], Outcome.AGENT,
             {"HOTLINE_CHOICE": "0"}),
    # callback offer -----------------------------------------------------------------------
    Scenario("callback-own-number", "callback-offer", ["1", "1"], Outcome.CALLBACK,
             {"HOTLINE_CALLBACK": "1", "HOTLINE_CALLBACK_ID": "1"}, args=(CALLER, Q),
             channel_vars=CB_VARS),
    Scenario("callback-other-number", "callback-offer", ["1", "2", "12", "05198512345#"],
             Outcome.CALLBACK, {"HOTLINE_CALLBACK": "1"}, args=(CALLER, Q), channel_vars=CB_VARS),
    Scenario("callback-anonymous", "callback-offer", ["1", "13912345678"], Outcome.CALLBACK,
             {"HOTLINE_CALLBACK": "1", "HOTLINE_CALLBACK_NUMBER": "13912345678"}, args=("", Q),
             callerid="unknown", channel_vars=CB_VARS),
    Scenario("callback-declined", "callback-offer", ["2"], Outcome.KEEP_WAITING,
             {"HOTLINE_CALLBACK": "0"}, args=(CALLER, Q), channel_vars=CB_VARS),
    Scenario("callback-bad-number", "callback-offer", ["1", "2", "1", "2", "3"],
             Outcome.KEEP_WAITING, {"HOTLINE_CALLBACK": "0"}, args=(CALLER, Q),
             channel_vars=CB_VARS),
    Scenario("callback-confirm-silent", "callback-offer", ["1", "", "", ""],
             Outcome.KEEP_WAITING, {"HOTLINE_CALLBACK": "0"}, args=(CALLER, Q),
             channel_vars=CB_VARS),
    # surveys ------------------------------------------------------------------------------
    Scenario("survey-satisfied", "survey", ["1"], Outcome.RATED, {"SURVEY_RESULT": "1"},
             args=("WO20251101007",), callerid="12345"),
    Scenario("survey-retry-then-3", "survey", ["", "9", "3"], Outcome.RATED,
             {"SURVEY_RESULT": "3"}, args=("WO20251101007",), callerid="12345"),
    Scenario("survey-no-rating", "survey", ["7", "", "0"], Outcome.NO_RATING,
             args=("WO20251101007",), callerid="12345"),
    Scenario("post-call-rated", "post-call-survey", ["2"], Outcome.RATED,
             {"SURVEY_RESULT": "2"}, args=("pbx1-1795837952.0",)),
    Scenario("post-call-no-rating", "post-call-survey", ["", "", ""], Outcome.NO_RATING,
             args=()),
]
