"""Service-level tests over a real PostgreSQL: the deadline sweep (also with two instances at
once), concurrent writers, the interface other features call, seeding and calendar overrides."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import asyncpg
import pytest

from kit.errors import Conflict, NotFound
from workflow import commands as c
from workflow import reference_store as refs
from workflow import store
from workflow.api import WorkflowApi
from workflow.clock import TZ
from workflow.kb import KnowledgeBase
from workflow.model import Actor, ActorKind, Satisfaction, Supervision
from workflow.service import CalendarProvider, OrderService
from workflow.units import load_units

AGENT = Actor(ActorKind.PLATFORM, "agent1", user_id=1)
LEAD_STAFF = Actor(ActorKind.UNIT, "zjj1", "CZ-ZJJ", 2)
T0 = dt.datetime(2026, 11, 25, 10, 0, tzinfo=TZ)  # Wednesday 10:00


class Clock:
    def __init__(self, t: dt.datetime) -> None:
        self.t = t

    def __call__(self) -> dt.datetime:
        return self.t


async def make(pool: asyncpg.Pool, clock: Clock) -> tuple[OrderService, WorkflowApi]:
    await refs.seed_units(pool)
    units = await refs.load_unit_directory(pool)
    kb = KnowledgeBase(pool, units)
    svc = OrderService(pool, units, CalendarProvider(pool, ttl=0), now=clock,
                       kb_lookup=kb.is_citable)  # fmt: skip
    return svc, WorkflowApi(svc, kb)


async def new_dispatched(svc: OrderService, **data: Any) -> str:
    s = await svc.create(AGENT, {"category": "complaint", "content": "噪音扰民", **data})
    await svc.act(None, AGENT, s.order.number, c.Dispatch(lead="CZ-ZJJ", co_units=("CZ-CGJ",)))
    return s.order.number


async def test_seed_is_idempotent_and_keeps_admin_edits(pool: asyncpg.Pool) -> None:
    n = await refs.seed_units(pool)
    assert n == len(load_units())
    await pool.execute(
        "UPDATE member_units SET working_hours = '09:00-17:00' WHERE code = 'CZ-ZJJ'"
    )
    assert await refs.seed_units(pool) == 0
    units = await refs.load_unit_directory(pool)
    assert units.get("CZ-ZJJ").schedule.format() == "09:00-17:00"
    assert units.get("CZ-TN-HM").parent == "CZ-TN"


async def test_sweep_marks_overdue_reminds_and_supervises(pool: asyncpg.Pool) -> None:
    clock = Clock(T0)
    svc, _ = await make(pool, clock)
    number = await new_dispatched(svc)
    assert await svc.sweep_once(T0 + dt.timedelta(minutes=30)) == 0  # nothing due yet
    assert await svc.sweep_once(dt.datetime(2026, 11, 25, 11, 0, 1, tzinfo=TZ)) == 1
    o = (await svc.load(None, number)).order
    assert all(a.sign_overdue for a in o.assignments)
    assert await svc.sweep_once(dt.datetime(2026, 11, 25, 12, tzinfo=TZ)) == 0  # idempotent
    await svc.act(None, LEAD_STAFF, number, c.Sign())
    assert await svc.sweep_once(dt.datetime(2026, 12, 1, 10, 0, 1, tzinfo=TZ)) == 1  # 催办
    assert await svc.sweep_once(dt.datetime(2026, 12, 2, 10, 0, 1, tzinfo=TZ)) == 1  # overdue
    o = (await svc.load(None, number)).order
    assert o.reply_overdue and o.supervision is Supervision.SUPERVISED and o.reminders == 1
    kinds = await pool.fetch(
        "SELECT kind, actor_kind FROM work_order_events ORDER BY id"
    )
    assert [k["kind"] for k in kinds][-6:] == [
        "sign_overdue", "sign_overdue", "signed", "reminded", "reply_overdue", "supervised"]
    assert {k["actor_kind"] for k in kinds[-6:]} == {"system", "unit"}
    assert await pool.fetchval("SELECT next_check_at FROM work_orders") is None


async def test_two_instances_sweep_each_order_once(pool: asyncpg.Pool, db_dsn: str) -> None:
    from kit.db import create_pool

    clock = Clock(T0)
    svc, _ = await make(pool, clock)
    for _ in range(30):
        await new_dispatched(svc)
    other_pool = await create_pool(db_dsn, min_size=1, max_size=3)
    try:
        svc2, _ = await make(other_pool, clock)
        late = dt.datetime(2026, 11, 25, 11, 30, tzinfo=TZ)
        a, b = await asyncio.gather(svc.sweep_once(late, batch=5), svc2.sweep_once(late, batch=5))
    finally:
        await other_pool.close()
    assert a + b == 30
    n = await pool.fetchval("SELECT count(*) FROM work_order_events WHERE kind = 'sign_overdue'")
    assert n == 60  # lead + co-unit of each order, exactly once


async def test_concurrent_writers_one_wins_other_gets_409(pool: asyncpg.Pool) -> None:
    svc, _ = await make(pool, Clock(T0))
    number = await new_dispatched(svc)
    version = (await svc.load(None, number)).order.version
    results = await asyncio.gather(
        *(svc.act(None, AGENT, number, c.Remind(), expected_version=version) for _ in range(4)),
        return_exceptions=True,
    )
    wins = [r for r in results if not isinstance(r, Exception)]
    assert len(wins) == 1
    assert all(isinstance(r, Conflict) for r in results if isinstance(r, Exception))
    assert (await svc.load(None, number)).order.reminders == 1
    # Internal callers without a version retry instead: all four reminders land.
    await asyncio.gather(*(svc.act(None, AGENT, number, c.Remind()) for _ in range(4)))
    assert (await svc.load(None, number)).order.reminders == 5


async def test_interface_for_other_features(pool: asyncpg.Pool) -> None:
    clock = Clock(T0)
    svc, api = await make(pool, clock)
    made = await api.create_order_from_call(
        call_id="pbx1-1795838224.27", caller_phone="13800001111", category="consultation",
        content="咨询社保卡补办", agent="agent1",
    )  # fmt: skip
    assert made["state"] == "intake" and made["open"]
    assert await api.attach_transcript("pbx1-1795838224.27", "tr-1") == [made["number"]]
    assert await api.attach_transcript("pbx1-1795838224.27", "tr-1") == [made["number"]]
    o = (await svc.load(None, made["number"])).order
    assert o.transcript_ids == ("tr-1",) and o.call_ids == ("pbx1-1795838224.27",)
    events = await pool.fetchval(
        "SELECT count(*) FROM work_order_events WHERE kind = 'call_attached'"
    )
    assert events == 1  # the second attach changed nothing

    # Screen-pop: open orders first.
    closed = await svc.create(AGENT, {"category": "help", "content": "求助",
                                      "citizen": {"phone": "13800001111"}})  # fmt: skip
    await svc.act(None, AGENT, closed.order.number, c.ThreeWayCall(unit="CZ-RSJ", summary="已解决"))
    clock.t = T0 + dt.timedelta(hours=1)
    pops = await api.orders_for_phone("13800001111")
    assert [p["number"] for p in pops] == [made["number"], closed.order.number]
    assert "phone" not in str(pops)

    # IVR status: malformed, unknown, other caller → None.
    assert await api.order_status("12345") is None
    assert await api.order_status("CZ20990101-000001") is None
    assert await api.order_status(made["number"], caller_phone="13999999999") is None
    st = await api.order_status(made["number"].lower(), caller_phone="13800001111")
    assert st and st["state_label"] == "待处置"

    # Survey: key 1 closes an order waiting for its callback; 3 is recorded for an agent.
    number = await new_dispatched(svc, citizen={"phone": "13800002222"})
    await svc.act(None, LEAD_STAFF, number, c.Sign())
    await svc.act(None, LEAD_STAFF, number, c.Reply(text="已办理"))
    await svc.act(None, AGENT, number, c.AcceptReply())
    r = await api.record_survey(number, "3")
    assert r["state"] == "callback"
    r = await api.record_survey(number, "1")
    assert r["state"] == "closed" and r["satisfaction"] == Satisfaction.SATISFIED.value
    with pytest.raises(ValueError):
        await api.record_survey(number, "9")
    with pytest.raises(NotFound):
        await api.record_survey("CZ20990101-000001", "1")


async def test_calendar_override_changes_new_deadlines(pool: asyncpg.Pool) -> None:
    clock = Clock(dt.datetime(2026, 12, 30, 10, tzinfo=TZ))
    svc, _ = await make(pool, clock)
    n1 = await new_dispatched(svc)
    o1 = (await svc.load(None, n1)).order
    # 元旦 (01-01) is off even without data; the rest of 2027 is provisional
    assert o1.due_provisional and o1.reply_due == dt.datetime(2027, 1, 7, 10, tzinfo=TZ)
    await refs.put_day(pool, dt.date(2027, 1, 4), False, "示例:调休放假", "admin")
    await refs.confirm_year(pool, 2027, "", "admin")
    n2 = await new_dispatched(svc)
    o2 = (await svc.load(None, n2)).order
    assert not o2.due_provisional and o2.reply_due == dt.datetime(2027, 1, 8, 10, tzinfo=TZ)


async def test_sweeper_loop_runs_and_reports(pool: asyncpg.Pool) -> None:
    from workflow.sweeper import DeadlineSweeper

    # An order dispatched long ago: its sign-for limit passed, the loop's first pass marks it.
    svc, _ = await make(pool, Clock(dt.datetime(2026, 11, 2, 10, tzinfo=TZ)))
    number = await new_dispatched(svc)
    svc.now = lambda: dt.datetime.now(dt.UTC)  # real time for the loop
    sweeper = DeadlineSweeper(svc, interval=0.05)
    task = asyncio.create_task(sweeper.run())
    try:
        for _ in range(100):
            await asyncio.sleep(0.05)
            if sweeper.last_run is not None:
                break
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert sweeper.status()["ok"] is True and sweeper.last_changed == 1
    o = (await svc.load(None, number)).order
    assert o.reply_overdue and all(a.sign_overdue for a in o.assignments)


async def test_sweep_at_the_exact_limit_keeps_the_order_checked(pool: asyncpg.Pool) -> None:
    clock = Clock(T0)
    svc, _ = await make(pool, clock)
    number = await new_dispatched(svc)
    o = (await svc.load(None, number)).order
    sign_due = min(a.sign_due for a in o.assignments)
    assert await svc.sweep_once(sign_due) == 0  # at the limit, not yet past it
    nxt = await pool.fetchval("SELECT next_check_at FROM work_orders WHERE number = $1", number)
    assert nxt is not None and nxt > sign_due  # still scheduled, not dropped
    assert await svc.sweep_once(sign_due + dt.timedelta(seconds=2)) == 1
    assert all(a.sign_overdue for a in (await svc.load(None, number)).order.assignments)


async def test_extension_and_reopen_plan_a_new_reminder(pool: asyncpg.Pool) -> None:
    clock = Clock(T0)
    svc, _ = await make(pool, clock)
    number = await new_dispatched(svc)
    await svc.act(None, LEAD_STAFF, number, c.Sign())
    await svc.act(None, LEAD_STAFF, number, c.RequestExtension(reason="需现场勘查"))
    before = (await svc.load(None, number)).order
    await svc.act(None, AGENT, number, c.ApproveExtension(days=3))
    o = (await svc.load(None, number)).order
    assert o.remind_due is not None and o.reminded_at is None
    assert clock.t < o.remind_due < o.reply_due and o.reply_due > before.reply_due


async def test_no_overdue_while_an_extension_request_is_reviewed(pool: asyncpg.Pool) -> None:
    clock = Clock(T0)
    svc, _ = await make(pool, clock)
    number = await new_dispatched(svc)
    await svc.act(None, LEAD_STAFF, number, c.Sign())
    reply_due = (await svc.load(None, number)).order.reply_due
    assert reply_due is not None
    clock.t = reply_due - dt.timedelta(hours=1)  # asked before the limit (第十一条(四))
    await svc.act(None, LEAD_STAFF, number, c.RequestExtension(reason="需协调多部门"))
    after = reply_due + dt.timedelta(hours=3)
    await svc.sweep_once(after)  # (marks the co-unit's missed sign-for, nothing about the reply)
    o = (await svc.load(None, number)).order
    assert not o.reply_overdue and o.supervision is Supervision.NONE  # platform still deciding
    assert await svc.sweep_once(after + dt.timedelta(minutes=1)) == 0
    clock.t = after
    await svc.act(None, AGENT, number, c.RejectExtension(reason="理由不充分"))
    assert await svc.sweep_once(after + dt.timedelta(seconds=1)) == 1  # old limit in force
    o = (await svc.load(None, number)).order
    assert o.reply_overdue and o.supervision is Supervision.SUPERVISED


DEC30 = dt.datetime(2026, 12, 30, 10, tzinfo=TZ)  # Wednesday: 5 working days run into 2027


async def test_confirming_a_year_withdraws_an_overdue_mark_of_a_provisional_limit(
    pool: asyncpg.Pool,
) -> None:
    clock = Clock(DEC30)
    svc, _ = await make(pool, clock)
    number = await new_dispatched(svc)
    await svc.act(None, LEAD_STAFF, number, c.Sign())
    # Past the provisional limit (2027-01-07 10:00): overdue and 督办 by the sweep.
    clock.t = dt.datetime(2027, 1, 7, 11, tzinfo=TZ)
    await svc.sweep_once(clock.t)
    o = (await svc.load(None, number)).order
    assert o.reply_overdue and o.supervision is Supervision.SUPERVISED and o.due_provisional
    await refs.put_day(pool, dt.date(2027, 1, 4), False, "示例:调休放假", "admin")
    assert await svc.confirm_year(AGENT, 2027, "国办发明电") == 1
    n = (await svc.load(None, number)).order
    assert n.reply_due == dt.datetime(2027, 1, 8, 10, tzinfo=TZ) and not n.reply_overdue
    assert not n.due_provisional and n.version == o.version + 1
    # The sweep works on the confirmed limits: the reminder one working day before the new
    # limit (01-07 10:00, already passed) goes out now, the limit is enforced after 01-08 10:00.
    assert await svc.sweep_once(dt.datetime(2027, 1, 7, 12, tzinfo=TZ)) == 1
    assert (await svc.load(None, number)).order.reminded_at is not None
    assert await svc.sweep_once(dt.datetime(2027, 1, 8, 9, 59, tzinfo=TZ)) == 0
    assert await svc.sweep_once(dt.datetime(2027, 1, 8, 10, 0, 1, tzinfo=TZ)) == 1
    assert (await svc.load(None, number)).order.reply_overdue
    kinds = [e["kind"] for e in await store.events_of(pool, (await svc.load(None, number)).id)]
    assert kinds[-4:] == ["supervised", "deadlines_recomputed", "reminded", "reply_overdue"]


async def test_confirmation_and_recomputation_commit_together(pool: asyncpg.Pool) -> None:
    svc, _ = await make(pool, Clock(DEC30))
    good = await new_dispatched(svc)
    bad = await new_dispatched(svc)
    # A stored order that cannot be read makes the recomputation fail: the year is not
    # confirmed either, and no other order changed.
    await pool.execute("UPDATE work_orders SET doc = doc - 'state' WHERE number = $1", bad)
    version = (await svc.load(None, good)).order.version
    with pytest.raises(KeyError):
        await svc.confirm_year(AGENT, 2027, "")
    assert await pool.fetchval("SELECT count(*) FROM calendar_years") == 0
    assert (await svc.load(None, good)).order.version == version


async def test_order_statements_have_concrete_parameter_types(pool: asyncpg.Pool) -> None:
    """No parameter of the order statements is left for PostgreSQL to guess (NULLs included)."""
    async with pool.acquire() as conn:
        for sql in (store._INSERT, store._UPDATE):
            types = [t.name for t in (await conn.prepare(sql)).get_parameters()]
            assert "unknown" not in types and "text" in types
