"""End to end over real TCP and a real database: a fake Asterisk call goes through the IVR."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from ivr.app import agi_routes
from ivr.call import IvrDeps
from ivr.pg_store import PgIvrStore
from ivr.ports import InMemoryOrderDirectory, ScriptedOriginator
from kit.jobs import JobQueue
from pbx.agi import AgiServerConfig, FastAgiServer
from tests.fakes.fake_agi import FakeCaller

HOST = "127.0.0.1"


async def test_complaint_call_sets_queue_and_records_choice(pool: asyncpg.Pool) -> None:
    store = PgIvrStore(pool)
    deps = IvrDeps(store=store, orders=InMemoryOrderDirectory(), jobs=JobQueue(pool),
                   originator=ScriptedOriginator())
    async with FastAgiServer(agi_routes(deps), AgiServerConfig(host=HOST, port=0)) as server:
        # Emergency notice: no key; main menu: 2 (投诉).
        caller = await FakeCaller(["", "2"]).call(
            HOST, server.port, agi_uniqueid="pbx1-1795837952.42")
    assert caller.commands[0] == "ANSWER"
    assert caller.variables["HOTLINE_QUEUE"] == "hotline-complaint"
    assert caller.variables["HOTLINE_CHOICE"] == "2"
    assert caller.variables["HOTLINE_CATEGORY"] == "complaint"
    row = await store.session("pbx1-1795837952.42")
    assert row is not None
    assert (row["choice"], row["category"], row["queue"], row["outcome"], row["hung_up"]) == (
        "2", "complaint", "hotline-complaint", "queued", False)
    assert row["caller"] == "13800138000" and row["language"] == "zh"


async def test_caller_hangs_up_in_menu_over_tcp(pool: asyncpg.Pool) -> None:
    store = PgIvrStore(pool)
    deps = IvrDeps(store=store, orders=InMemoryOrderDirectory(), jobs=JobQueue(pool))
    async with FastAgiServer(agi_routes(deps), AgiServerConfig(host=HOST, port=0)) as server:
        # Commands: ANSWER, VERBOSE, STREAM greeting, GET DATA notice, GET DATA menu ← hang-up.
        caller = await FakeCaller([""], hang_up_at=4).call(
            HOST, server.port, agi_uniqueid="pbx1-1795837952.43")
    assert caller.variables.get("HOTLINE_IVR_ABANDONED") == "1"
    row = await store.session("pbx1-1795837952.43")
    assert row is not None
    assert (row["outcome"], row["hung_up"], row["left_at"], row["choice"]) == (
        "hangup", True, "menu", None)


async def test_callback_offer_over_tcp_stores_request(pool: asyncpg.Pool) -> None:
    store = PgIvrStore(pool)
    deps = IvrDeps(store=store, orders=InMemoryOrderDirectory(), jobs=JobQueue(pool))
    async with FastAgiServer(agi_routes(deps), AgiServerConfig(host=HOST, port=0)) as server:
        # As asterisk-config's [hotline-queue-exit]: args ${CALLERID(num)},${HOTLINE_QUEUE}.
        caller = await FakeCaller(["1", "1"], variables={
            "HOTLINE_CHOICE": "2", "HOTLINE_CALLID": "pbx1-1795837952.5"}).call(
            HOST, server.port, script="callback-offer",
            args=["13800138000", "hotline-complaint"])
    assert caller.variables["HOTLINE_CALLBACK"] == "1"
    assert caller.commands[-1] == "HANGUP"
    request = await store.get_callback(int(caller.variables["HOTLINE_CALLBACK_ID"]))
    assert request is not None and request.number == "13800138000"
    assert request.call_id == "pbx1-1795837952.5" and request.choice == "2"
    assert request.queue == "hotline-complaint"
    # The place is the original call's start, read from its Uniqueid.
    assert request.place_at == datetime.fromtimestamp(1795837952, UTC)
    assert caller.variables["HOTLINE_CALLBACK_NUMBER"] == "13800138000"
    assert await pool.fetchval("SELECT count(*) FROM jobs WHERE kind = 'ivr.callback.dial'") == 1


async def test_outbound_survey_over_tcp_stores_result(pool: asyncpg.Pool) -> None:
    from ivr.store import SurveyStatus
    from ivr.survey_dialer import SurveyService

    orders = InMemoryOrderDirectory()
    deps = IvrDeps(store=PgIvrStore(pool), orders=orders, jobs=JobQueue(pool),
                   originator=ScriptedOriginator())
    survey = await SurveyService(deps).schedule("CZ20261128-000001", "13800138000")
    async with FastAgiServer(agi_routes(deps), AgiServerConfig(host=HOST, port=0)) as server:
        # As trace 10: originated channel, caller id 12345, arg 1 = order number; keys 5 then 2.
        caller = await FakeCaller(["5", "2"]).call(
            HOST, server.port, script="survey", args=["CZ20261128-000001"],
            agi_callerid="12345", agi_uniqueid="b8048fc9-3c99-40e8-9e90-6b067b560731")
    assert caller.variables["SURVEY_RESULT"] == "2"
    assert caller.commands[-1] == "HANGUP"
    assert orders.survey_results["CZ20261128-000001"][0][0] == 2
    job = await deps.store.get_survey(survey.id)
    assert job is not None and job.status == SurveyStatus.RATED and job.rating == 2
    row = await PgIvrStore(pool).session("b8048fc9-3c99-40e8-9e90-6b067b560731", "survey")
    assert row is not None and (row["outcome"], row["rating"]) == ("rated", 2)
