"""Call-centre statistics (SPEC R7.3) over a real PostgreSQL: calls written through the real
call store (``pbx.calls.store.CallStore``, also fed by the tracker from real AMI traces) and
agent states through the real state-log writer (``agents.store.AgentStore.log_states``), with
known timings → exact service level, ASA, abandonment rate, AHT and occupancy per queue × hour."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from agents.store import AgentStore
from pbx.ami.message import AmiParser
from pbx.calls.events import CallEnded, CallRecordView, QueueJoined
from pbx.calls.store import CallStore
from pbx.calls.tracker import CallTracker
from workflow.clock import TZ

Q1, Q2 = "hotline-general", "hotline-complaint"
TRACES = Path(__file__).resolve().parents[1] / "traces"


async def ok(resp: Any, status: int = 200) -> Any:
    body = await resp.json()
    assert resp.status == status, body
    return body


def at(h: int, m: int, s: int = 0, day: int = 3) -> dt.datetime:
    return dt.datetime(2026, 11, day, h, m, s, tzinfo=TZ)


def view(lid: str, queue: str, joined: dt.datetime, *, wait: float, outcome: str,
         talk: int | None = None, agent: str | None = None,
         direction: str = "inbound") -> CallRecordView:  # fmt: skip
    """A call that spent 20 s in the IVR, ``wait`` s in ``queue``, then was answered (and
    talked ``talk`` s; None: still talking), abandoned, left for a callback, or is waiting."""
    j = joined.timestamp()
    answered = outcome == "answered"
    ended: float | None
    if outcome == "unseen":  # adopted by a resync after the answer: agent and times unknown
        return CallRecordView(
            server="pbx1", linkedid=lid, direction="inbound", caller=None, dialled="12345",
            started_at=j - 20, answered_at=None, ended_at=j + 600, ivr_choices=(), queue=queue,
            queue_joined_at=j, queue_left_at=None, wait_seconds=None, agents_rung=(),
            agents_no_answer=(), agent=None, agent_name=None, hold_seconds=None,
            talk_seconds=None, complete_reason=None, transfers=(), conference=None,
            participants=(), disposition="answered", hangup_cause=16, hangup_cause_text=None,
            recordings=(), callback_requested=False, channels=(),
        )  # fmt: skip
    if answered:
        ended = None if talk is None else j + wait + talk
    else:
        ended = None if outcome == "waiting" else j + wait
    disposition = None if ended is None else {"answered": "answered", "abandoned": "abandoned",
                                              "callback": "callback_requested",
                                              "lost": "ended_during_disconnect"}[outcome]
    return CallRecordView(
        server="pbx1", linkedid=lid, direction=direction, caller="13800000000", dialled="12345",
        started_at=j - 20, answered_at=j + wait if answered else None, ended_at=ended,
        ivr_choices=("1",), queue=queue, queue_joined_at=j,
        queue_left_at=None if outcome == "waiting" else j + wait,
        wait_seconds=None if outcome == "waiting" else wait, agents_rung=(),
        agents_no_answer=(), agent=agent if answered else None, agent_name=None,
        hold_seconds=round(wait) if answered else None, talk_seconds=talk,
        complete_reason="caller" if talk is not None else None, transfers=(), conference=None,
        participants=(), disposition=disposition, hangup_cause=16 if ended else None,
        hangup_cause_text=None, recordings=(), callback_requested=outcome == "callback",
        channels=(),
    )  # fmt: skip


X, Y = "PJSIP/agent1001", "PJSIP/agent1002"
CALLS = [
    # Q1, 10:00-11:00: in SL (10 s), in SL at the limit (15 s), late (40 s), abandoned,
    # left for a callback, one still waiting (no outcome yet), one lost while AMI was down.
    view("c1", Q1, at(10, 5), wait=10, outcome="answered", talk=120, agent=X),
    view("c2", Q1, at(10, 10), wait=15, outcome="answered", talk=200, agent=Y),
    view("c3", Q1, at(10, 20), wait=40, outcome="answered", talk=100, agent=X),
    view("c4", Q1, at(10, 30), wait=30, outcome="abandoned"),
    view("c5", Q1, at(10, 40), wait=50, outcome="callback"),
    view("c6", Q1, at(10, 50), wait=0, outcome="waiting"),
    view("c11", Q1, at(10, 55), wait=9, outcome="lost"),
    # Q2, 10:00-11:00: answered after 20 s, abandoned after 3 s.
    view("c8", Q2, at(10, 15), wait=20, outcome="answered", talk=300, agent=Y),
    view("c9", Q2, at(10, 25), wait=3, outcome="abandoned"),
    # Q2, 11:00-12:00: answered, but the agent and the wait are unknown (adopted by a resync)
    view("c12", Q2, at(11, 40), wait=0, outcome="unseen"),
    # Q1, 11:00-12:00
    view("c7", Q1, at(11, 2), wait=5, outcome="answered", talk=60, agent=Y),
    # a 留号回拨 callback we dialled, queued for an agent: not an offered call (no figure moves)
    view("c13", Q1, at(10, 35), wait=8, outcome="answered", talk=90, agent=X,
         direction="outbound"),
    # the day before, 23:59 local (15:59 UTC on the 3rd would be inside a UTC day): not counted
    view("c10", Q1, at(23, 59, day=2), wait=4, outcome="answered", talk=30, agent=X),
]


def ts(h: int, m: int, s: int = 0) -> float:
    return at(h, m, s).timestamp()


def cid(lid: str) -> str:
    return f"pbx1:{lid}"


# (state, call id, queues, at); agent X in Q1, agent Y in Q1 and Q2
STATES_X = [
    ("available", None, [Q1], ts(10, 0)),
    ("on_call", cid("c1"), [Q1], ts(10, 5, 10)),
    ("wrap_up", None, [Q1], ts(10, 7, 10)),
    ("available", None, [Q1], ts(10, 7, 40)),
    ("ringing", cid("c3"), [Q1], ts(10, 20, 30)),
    ("on_call", cid("c3"), [Q1], ts(10, 20, 40)),
    ("wrap_up", None, [Q1], ts(10, 22, 20)),
    ("available", None, [Q1], ts(10, 22, 50)),
    ("paused", None, [Q1], ts(10, 30)),
    ("available", None, [Q1], ts(10, 45)),
    ("logged_out", None, [], ts(11, 30)),
]
STATES_Y = [
    ("available", None, [Q1, Q2], ts(10, 0)),
    ("on_call", cid("c2"), [Q1, Q2], ts(10, 10, 15)),
    ("wrap_up", None, [Q1, Q2], ts(10, 13, 35)),
    ("available", None, [Q1, Q2], ts(10, 14, 5)),
    ("on_call", cid("c8"), [Q1, Q2], ts(10, 15, 20)),
    ("wrap_up", None, [Q1, Q2], ts(10, 20, 20)),
    ("available", None, [Q1, Q2], ts(10, 20, 40)),
    ("on_call", cid("c7"), [Q1, Q2], ts(11, 2, 5)),
    ("wrap_up", None, [Q1, Q2], ts(11, 3, 5)),
    ("available", None, [Q1, Q2], ts(11, 3, 15)),
    ("logged_out", None, [], ts(12, 0)),
]


async def seed(pool: asyncpg.Pool, users: Any) -> None:
    store = CallStore(pool)
    for v in CALLS:
        if v.ended_at is None:  # an open call is written from the tracker's live record
            await store.apply([_joined(v)], lambda _k, v=v: v)
        else:
            await store.apply([CallEnded(v.server, v.ended_at, v.linkedid, v.disposition or "",
                                         v)], lambda _k: None)  # fmt: skip
    agents = AgentStore(pool)
    for name, iface, states in (("agentx", X, STATES_X), ("agenty", Y, STATES_Y)):
        user = await users.create(name, "agent")
        agent = await agents.create(user["id"], "pbx1", iface, iface[-4:], name)
        await agents.log_states([(agent.id, s, "", c, q, t) for s, c, q, t in states])


def _joined(v: CallRecordView) -> QueueJoined:
    return QueueJoined(v.server, v.queue_joined_at or 0.0, v.linkedid, v.queue or "", 1, "")


def row(rep: dict[str, Any], queue: str, hour: int) -> dict[str, Any]:
    key = at(hour, 0).isoformat()
    found = [r for r in rep["rows"] if r["queue"] == queue and r["hour"] == key]
    assert len(found) == 1, (queue, key, [(r["queue"], r["hour"]) for r in rep["rows"]])
    return found[0]


async def test_per_queue_and_hour_exact_figures(pool: asyncpg.Pool, users: Any) -> None:
    await seed(pool, users)
    sup = await users.create_client("sup1", "supervisor")
    rep = await ok(await sup.get("/api/stats/calls?from=2026-11-03&to=2026-11-03"))
    assert rep["from"] == "2026-11-03T00:00:00+08:00" and rep["to"] == "2026-11-04T00:00:00+08:00"
    assert rep["service_level_seconds"] == 15 and rep["timezone"] == "Asia/Shanghai"
    assert [(r["queue"], r["hour"][11:16]) for r in rep["rows"]] == [
        (Q2, "10:00"), (Q2, "11:00"), (Q1, "10:00"), (Q1, "11:00")]  # fmt: skip

    a = row(rep, Q1, 10)
    assert (a["offered"], a["answered"], a["answered_in_sl"], a["abandoned"],
            a["callback_requested"]) == (5, 3, 2, 1, 1)  # fmt: skip
    assert a["service_level"] == 0.4  # 10 s and 15 s of 5 offered
    assert a["asa_s"] == round((10 + 15 + 40) / 3, 2) == 21.67
    assert a["abandon_rate"] == 0.2
    assert (a["handled"], a["avg_talk_s"], a["avg_wrapup_s"]) == (3, 140.0, 30.0)
    assert a["aht_s"] == 170.0  # (120 + 200 + 100 + 3 × 30) / 3
    # X staffed 10:00-10:30 and 10:45-11:00 (paused between), Y the whole hour; X busy
    # 120 + 30 + 100 + 30 s, Y 200 + 30 + 300 + 20 s (its Q2 call too: Y serves both queues).
    assert (a["agent_staffed_s"], a["agent_busy_s"]) == (6300.0, 830.0)
    assert a["occupancy"] == round(830 / 6300, 4) == 0.1317

    b = row(rep, Q2, 10)
    assert (b["offered"], b["answered"], b["answered_in_sl"], b["abandoned"]) == (2, 1, 0, 1)
    assert (b["service_level"], b["asa_s"], b["abandon_rate"], b["aht_s"]) == (
        0.0, 20.0, 0.5, 320.0)  # fmt: skip
    assert (b["agent_staffed_s"], b["agent_busy_s"], b["occupancy"]) == (3600.0, 550.0, 0.1528)

    c = row(rep, Q1, 11)
    assert (c["offered"], c["service_level"], c["asa_s"], c["aht_s"]) == (1, 1.0, 5.0, 70.0)
    assert (c["agent_staffed_s"], c["agent_busy_s"]) == (5400.0, 70.0)  # X until 11:30
    d = row(rep, Q2, 11)  # answered, wait and handling time unknown
    assert (d["offered"], d["answered"], d["answered_in_sl"], d["handled"]) == (1, 1, 0, 0)
    assert (d["service_level"], d["asa_s"], d["aht_s"]) == (0.0, None, None)
    assert (d["agent_staffed_s"], d["occupancy"]) == (3600.0, round(70 / 3600, 4))

    queues = {q["queue"]: q for q in rep["queues"]}
    q1 = queues[Q1]
    assert (q1["offered"], q1["answered"], q1["answered_in_sl"]) == (6, 4, 3)
    assert (q1["service_level"], q1["asa_s"], q1["abandon_rate"]) == (0.5, 17.5, 0.1667)
    assert q1["aht_s"] == 145.0 and q1["occupancy"] == round(900 / 11700, 4)
    assert queues[Q2]["occupancy"] == round(620 / 7200, 4)

    hours = {h["hour"][11:16]: h for h in rep["hours"]}
    assert hours["10:00"]["offered"] == 7 and hours["10:00"]["agent_staffed_s"] == 6300.0
    assert hours["11:00"]["agent_staffed_s"] == 5400.0  # each agent once, not per queue

    t = rep["total"]
    assert (t["offered"], t["answered"], t["answered_in_sl"], t["abandoned"]) == (9, 6, 3, 2)
    assert (t["handled"], t["service_level"], t["abandon_rate"]) == (5, 0.3333, 0.2222)
    assert (t["asa_s"], t["aht_s"]) == (18.0, 180.0)  # over the 5 calls with known times
    assert (t["agent_staffed_s"], t["agent_busy_s"], t["occupancy"]) == (11700.0, 900.0, 0.0769)


async def test_queue_filter_and_time_window(pool: asyncpg.Pool, users: Any) -> None:
    await seed(pool, users)
    sup = await users.create_client("sup1", "supervisor")
    rep = await ok(await sup.get(f"/api/stats/calls?from=2026-11-03&to=2026-11-03&queue={Q2}"))
    assert {r["queue"] for r in rep["rows"]} == {Q2} and rep["queue"] == Q2
    t = rep["total"]
    assert (t["offered"], t["answered"], t["abandoned"]) == (3, 2, 1)
    assert (t["agent_staffed_s"], t["agent_busy_s"]) == (7200.0, 620.0)  # only Y serves Q2
    # A window of 10:00-10:30 (a time is exclusive) cuts calls and agent time alike.
    rep = await ok(await sup.get(
        f"/api/stats/calls?from=2026-11-03T10:00&to=2026-11-03T10:30&queue={Q1}"))  # fmt: skip
    t = rep["total"]
    assert (t["offered"], t["answered"], t["abandoned"]) == (3, 3, 0)
    assert t["agent_staffed_s"] == 3600.0  # X 1800 s + Y 1800 s
    assert t["agent_busy_s"] == 830.0
    # The day before (local) holds only c10.
    rep = await ok(await sup.get("/api/stats/calls?from=2026-11-02&to=2026-11-02"))
    assert [(r["queue"], r["hour"], r["answered"]) for r in rep["rows"]] == [
        (Q1, "2026-11-02T23:00:00+08:00", 1)]  # fmt: skip


async def test_calls_fed_by_the_tracker_from_real_traces(pool: asyncpg.Pool, users: Any) -> None:
    store = CallStore(pool)
    for name in ("02-inbound-answered", "03-inbound-abandoned", "04-ring-no-answer",
                 "05-agent-hangs-up-first"):  # fmt: skip
        tracker = CallTracker(max_skew=None)  # keep the traces' own timestamps (2026-11-28)
        for m in AmiParser().feed((TRACES / f"{name}.ami.wire.txt").read_bytes()):
            m.server = "pbx1"
            evs = tracker.handle(m)
            if evs:
                await store.apply(evs, lambda k, t=tracker: r.view() if (r := t.get(k)) else None)
    sup = await users.create_client("sup1", "supervisor")
    rep = await ok(await sup.get("/api/stats/calls?from=2026-11-28&to=2026-11-28"))
    assert [(r["queue"], r["hour"]) for r in rep["rows"]] == [
        ("hotline-general", "2026-11-28T11:00:00+08:00")]  # fmt: skip
    t = rep["total"]
    # 02, 04, 05 answered after about 1 s, 11 s and 1 s; the two calls of 03 abandoned.
    assert (t["offered"], t["answered"], t["answered_in_sl"], t["abandoned"]) == (5, 3, 3, 2)
    assert (t["service_level"], t["abandon_rate"]) == (0.6, 0.4)
    waits = [r["wait_seconds"] for r in await pool.fetch(
        "SELECT wait_seconds FROM calls WHERE disposition = 'answered'")]  # fmt: skip
    assert t["asa_s"] == round(sum(waits) / 3, 2) and 4.3 < t["asa_s"] < 4.4
    assert t["aht_s"] == 6.0  # TalkTime 6, 7 and 5 s; no agent state log, so no wrap-up


@pytest.mark.parametrize("query, field", [
    ("", "from"),
    ("from=2026-11-03", "to"),
    ("from=yesterday&to=2026-11-03", "from"),
    ("from=2026-11-03&to=2026-13-01", "to"),
    ("from=2026-11-04&to=2026-11-03", "to"),
    ("from=2026-11-03T10:00&to=2026-11-03T10:00", "to"),
    ("from=2026-10-01&to=2026-11-03", "to"),
    ("from=0001-01-01&to=0001-01-02", "from"),
    ("from=9999-12-30&to=9999-12-31", "from"),
    ("from=2026-11-03T25:00&to=2026-11-04", "from"),
])  # fmt: skip
async def test_bad_ranges_are_400(users: Any, query: str, field: str) -> None:
    sup = await users.create_client("sup1", "supervisor")
    r = await ok(await sup.get(f"/api/stats/calls?{query}"), 400)
    assert r["error"]["code"] == "invalid_query" and r["error"]["details"] == {"field": field}
    assert r["error"]["message"]


async def test_only_supervisors_and_admins(users: Any) -> None:
    q = "/api/stats/calls?from=2026-11-03&to=2026-11-03"
    for name, role, unit in (("agent1", "agent", None), ("audit1", "auditor", None),
                             ("zjj1", "unit_staff", "CZ-ZJJ")):  # fmt: skip
        c = await users.create_client(name, role, unit_code=unit)
        assert (await c.get(q)).status == 403, role
    admin = await users.create_client("admin1", "admin")
    rep = await ok(await admin.get(q))
    assert rep["rows"] == [] and rep["total"]["offered"] == 0
    assert rep["total"]["service_level"] is None and rep["total"]["occupancy"] is None
