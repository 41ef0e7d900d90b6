"""Every branch of every IVR flow, on the in-memory channel."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ivr.app import FLOWS
from ivr.call import IvrDeps, run_flow
from ivr.ports import SurveyRating
from ivr.records import IvrCallRecord, Outcome
from ivr.store import CallbackStatus, InMemoryIvrStore, ListJobSink, SurveyStatus
from ivr.survey_dialer import SurveyService
from tests.ivr.fake_channel import FakeChannel, make_env
from tests.ivr.scenarios import CALLER, SCENARIOS, Scenario, make_deps


async def run(sc: Scenario, deps: IvrDeps | None = None, hang_up_at: int | None = None,
              ) -> tuple[IvrCallRecord, FakeChannel, IvrDeps]:
    deps = deps or make_deps(known=sc.known)
    if sc.script == "survey" and sc.args:
        await SurveyService(deps).schedule(sc.args[0], "13900000000")
    channel = FakeChannel(sc.keys, env=sc.env(), variables=sc.channel_vars,
                          hang_up_at=hang_up_at)
    record = await run_flow(FLOWS[sc.script], sc.script, channel, deps)
    return record, channel, deps


@pytest.mark.parametrize("sc", SCENARIOS, ids=lambda s: s.name)
async def test_scenario_outcome_and_variables(sc: Scenario) -> None:
    record, channel, deps = await run(sc)
    assert record.outcome == sc.outcome, record.events
    assert not record.hung_up and record.error is None
    for name, value in sc.variables.items():
        assert channel.variables.get(name) == value, (name, channel.variables)
    store = deps.store
    assert isinstance(store, InMemoryIvrStore)
    assert store.sessions[(record.call_id, sc.script)] is record
    assert record.ended_at is not None


@pytest.mark.parametrize(
    ("key", "category", "queue"),
    [("1", "consultation", "hotline-consult"), ("2", "complaint", "hotline-complaint"),
     ("3", "report", "hotline-report"), ("4", "help", "hotline-help"),
     ("5", "suggestion", "hotline-suggest"), ("6", "business-environment", "hotline-bizenv"),
     ("0", "agent", "hotline-general")],
)
async def test_menu_keys_record_choice_language_and_queue(key: str, category: str,
                                                          queue: str) -> None:
    record, channel, _ = await run(Scenario("k", "ivr", ["", key], Outcome.QUEUED))
    assert (record.choice, record.category, record.queue) == (key, category, queue)
    assert record.language == "zh" and channel.variables["HOTLINE_LANG"] == "zh"
    assert channel.commands[0] == "answer"
    assert channel.prompts[:3] == ["greeting", "emergency-notice", "main-menu"]


async def test_invalid_input_repeats_then_agent() -> None:
    record, channel, _ = await run(Scenario("x", "ivr", ["", "7", "#", ""], Outcome.AGENT))
    assert channel.prompts.count("main-menu") == 3
    assert channel.prompts.count("invalid-input") == 2 and channel.prompts.count("no-input") == 1
    assert record.choice == "0" and record.outcome == Outcome.AGENT
    assert {"step": "menu", "fallback": "no-valid-input"} in record.events


async def test_known_caller_hears_open_order_with_deadline() -> None:
    record, channel, _ = await run(Scenario("k", "ivr", ["", "1", ""], Outcome.SELF_SERVICE,
                                            known=True))
    assert record.order_number == "WO20251128001"
    assert ("say_digits", "20251128001") in channel.log
    assert "status-processing" in channel.prompts
    # Deadline 2026-12-03 09:30 UTC is 3 December 17:30 in Changzhou.
    assert ("say_number", "12") in channel.log and ("say_number", "3") in channel.log
    assert channel.commands[-1] == "hangup" and "goodbye" in channel.prompts


async def test_unknown_caller_is_not_offered_an_order() -> None:
    _, channel, _ = await run(Scenario("u", "ivr", ["", "1"], Outcome.QUEUED))
    assert "known-caller-offer" not in channel.prompts


async def test_status_by_number_closed_order_has_no_deadline() -> None:
    record, channel, _ = await run(Scenario("s", "ivr", ["", "8", "20251101007#", ""],
                                            Outcome.SELF_SERVICE))
    assert record.order_number == "WO20251101007"
    assert "status-closed" in channel.prompts and "deadline-intro" not in channel.prompts


async def test_status_not_found_repeats_then_agent() -> None:
    record, channel, _ = await run(Scenario("s", "ivr", ["", "8", "123", "", "x"],
                                            Outcome.AGENT))
    assert channel.prompts.count("enter-order-number") == 3
    assert channel.prompts.count("order-not-found") == 1
    assert record.order_number is None and record.queue == "hotline-general"


async def test_status_of_another_citizens_order_is_not_disclosed() -> None:
    deps = make_deps()
    record, channel, _ = await run(
        Scenario("other", "ivr", ["", "8", "20251101007", "20251101007", "20251101007"],
                 Outcome.AGENT, args=("13700000000",), callerid="13700000000"), deps=deps)
    assert record.outcome == Outcome.AGENT and record.order_number is None
    assert "status-closed" not in channel.prompts
    assert channel.prompts.count("order-not-found") == 3


async def test_menu_status_loop_is_bounded() -> None:
    keys = ["", *(["8", "20251101007", "*"] * 5)]
    record, channel, _ = await run(Scenario("loop", "ivr", keys, Outcome.AGENT))
    assert record.outcome == Outcome.AGENT
    assert channel.prompts.count("main-menu") == 4


async def test_emergency_transfer_stops_before_menu() -> None:
    record, channel, _ = await run(Scenario("e", "ivr", ["9", "3"], Outcome.EMERGENCY))
    assert channel.variables["HOTLINE_EMERGENCY"] == "120"
    assert "HOTLINE_QUEUE" not in channel.variables and "main-menu" not in channel.prompts
    assert record.category == "emergency"


async def test_callback_request_keeps_place_and_is_durable() -> None:
    sc = next(s for s in SCENARIOS if s.name == "callback-own-number")
    _, channel, deps = await run(sc)
    store, jobs = deps.store, deps.jobs
    assert isinstance(store, InMemoryIvrStore) and isinstance(jobs, ListJobSink)
    (req,) = store.callbacks.values()
    assert (req.number, req.queue, req.choice, req.call_id) == (
        CALLER, "hotline-complaint", "2", "pbx1-1795837952.9")
    assert req.place_at == datetime.fromtimestamp(1795837000, UTC)
    assert req.status == CallbackStatus.PENDING
    assert jobs.jobs[0][:2] == ("ivr.callback.dial", {"request_id": req.id})
    assert channel.commands[-1] == "hangup" and "callback-registered" in channel.prompts
    # The same caller asking again keeps the first request (and its earlier place).
    again, _, _ = await run(sc, deps=deps)
    assert again.outcome == Outcome.CALLBACK and len(store.callbacks) == 1


async def test_callback_other_number_after_invalid_entry() -> None:
    sc = next(s for s in SCENARIOS if s.name == "callback-other-number")
    _, channel, deps = await run(sc)
    assert isinstance(deps.store, InMemoryIvrStore)
    (req,) = deps.store.callbacks.values()
    assert req.number == "05198512345"
    assert channel.prompts.count("enter-phone-number") == 2


async def test_callback_declined_stores_nothing() -> None:
    sc = next(s for s in SCENARIOS if s.name == "callback-declined")
    _, _, deps = await run(sc)
    assert isinstance(deps.store, InMemoryIvrStore)
    assert deps.store.callbacks == {}


async def test_survey_result_stored_on_order() -> None:
    sc = next(s for s in SCENARIOS if s.name == "survey-retry-then-3")
    record, _, deps = await run(sc)
    assert record.rating == 3 and record.order_number == "WO20251101007"
    assert deps.orders.survey_results["WO20251101007"] == [  # type: ignore[attr-defined]
        (SurveyRating.DISSATISFIED, record.call_id)]
    job = await deps.store.survey_for_order("WO20251101007")
    assert job is not None and job.status == SurveyStatus.RATED and job.rating == 3


async def test_survey_anything_else_recorded_as_no_answer() -> None:
    sc = next(s for s in SCENARIOS if s.name == "survey-no-rating")
    _, channel, deps = await run(sc)
    assert channel.prompts.count("survey-question") == 3
    assert deps.orders.survey_results["WO20251101007"] == [  # type: ignore[attr-defined]
        (None, "pbx1-1795837952.0")]
    job = await deps.store.survey_for_order("WO20251101007")
    assert job is not None and job.status == SurveyStatus.NO_RATING


async def test_survey_without_order_argument_is_an_error() -> None:
    record, channel, _ = await run(Scenario("s", "survey", ["1"], Outcome.ERROR, args=()))
    assert record.outcome == Outcome.ERROR and "order number" in (record.error or "")
    assert channel.log == []


async def test_post_call_survey_one_rating_per_call() -> None:
    sc = next(s for s in SCENARIOS if s.name == "post-call-rated")
    record, _, deps = await run(sc)
    assert await deps.store.call_rating("pbx1-1795837952.0") == 2
    second, channel, _ = await run(Scenario("again", "post-call-survey", ["3"],
                                            Outcome.ALREADY_RATED, args=sc.args), deps=deps)
    assert second.outcome == Outcome.ALREADY_RATED
    assert "already-rated" in channel.prompts and "survey-question" not in channel.prompts
    assert await deps.store.call_rating("pbx1-1795837952.0") == 2
    assert record.rating == 2


async def test_post_call_survey_reads_call_id_variable() -> None:
    deps = make_deps()
    channel = FakeChannel(["1"], env=Scenario("p", "post-call-survey", [], Outcome.RATED,
                                              args=()).env(),
                          variables={"HOTLINE_CALLID": "pbx1-1.77"})
    await run_flow(FLOWS["post-call-survey"], "post-call-survey", channel, deps)
    assert await deps.store.call_rating("pbx1-1.77") == 1


async def test_post_call_survey_with_an_empty_call_part_falls_back() -> None:
    # "${HOTLINE_SERVER}:${HOTLINE_CALLID}" with HOTLINE_CALLID unset arrives as "pbx1:": it
    # names no call, so two such calls must not share one rating key.
    deps = make_deps()
    for uid, key in (("pbx1-1.80", "1"), ("pbx1-1.81", "3")):
        env = make_env("post-call-survey", ("pbx1:",), uniqueid=uid)
        channel = FakeChannel([key], env=env)
        await run_flow(FLOWS["post-call-survey"], "post-call-survey", channel, deps)
    assert await deps.store.call_rating("pbx1:") is None
    assert await deps.store.call_rating("pbx1-1.80") == 1
    assert await deps.store.call_rating("pbx1-1.81") == 3
