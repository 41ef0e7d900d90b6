"""An adopted call closes the ``calls`` row the previous process wrote: once, without
rewriting what that process recorded (real PostgreSQL)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from hotline.settings import AmiServer, Settings
from hotline.web.app import build_app
from pbx.ami.message import AmiMessage
from pbx.calls.bus import EventBus
from pbx.calls.events import CallEnded, CallKey, CallRecordView, DomainEvent
from pbx.calls.persister import PersisterSupervisor
from pbx.calls.service import TELEPHONY
from pbx.calls.store import CALL_STORE, CallStore
from pbx.calls.tracker import CallTracker
from tests.fakes.fake_ami import FakeAmi, block_fields, live_event_blocks
from tests.pbx.trace_snapshot import TRACES, channel, item, members, messages, snapshot_at

MEMBERS = members("PJSIP/agent1001", "PJSIP/agent1002")


def current_of(t: CallTracker) -> Callable[[CallKey], CallRecordView | None]:
    def current(key: CallKey) -> CallRecordView | None:
        r = t.get(key)
        return r.view() if r is not None else None

    return current


async def feed(store: CallStore, t: CallTracker, msgs: list[AmiMessage]) -> list[DomainEvent]:
    """Handle ``msgs`` and persist every batch as the live persister does."""
    out = []
    for m in msgs:
        evs = t.handle(m)
        if evs:
            await store.apply(evs, current_of(t))
            out += evs
    return out


async def resync(
    store: CallStore,
    t: CallTracker,
    items: list[AmiMessage],
    at: float,
    entries: list[AmiMessage] | None = None,
    queue_members: list[AmiMessage] | None = None,
) -> list[DomainEvent]:
    t.link_up("pbx1", at)
    out = t.reconcile("pbx1", items, entries or [], queue_members or MEMBERS, at=at)
    await store.apply(out, current_of(t))
    return out


def ts(value: float | None) -> datetime:
    assert value is not None
    return datetime.fromtimestamp(value, tz=UTC)


async def kinds(pool: asyncpg.Pool, linkedid: str) -> list[tuple[str, bool]]:
    rows = await pool.fetch(
        "SELECT kind, data FROM call_events WHERE linkedid = $1 ORDER BY at, id", linkedid
    )
    return [(r["kind"], bool(r["data"].get("adopted"))) for r in rows]


def without_updated(row: dict[str, Any] | None) -> dict[str, Any]:
    assert row is not None
    return {k: v for k, v in row.items() if k != "updated_at"}


async def test_restart_while_bridged_closes_the_earlier_row_once(pool: asyncpg.Pool) -> None:
    """Trace 09 with its real CoreShowChannels: process A writes the call up to the snapshot
    (answered by agent1001), dies; process B adopts it from the snapshot and records the
    hang-up. The row keeps A's start, IVR choice, queue stint and answer; it is closed once."""
    store = CallStore(pool)
    msgs = messages("09-queue-members")
    real = [m for m in msgs if m.name == "CoreShowChannel"]
    cut = msgs.index(real[0])
    lid = real[0]["Linkedid"]
    full = CallTracker(max_skew=None)
    (want,) = [e.record for m in msgs for e in full.handle(m) if isinstance(e, CallEnded)]

    await feed(store, CallTracker(max_skew=None), msgs[:cut])  # process A
    before = await store.get("pbx1", lid)
    assert before is not None and before["ended_at"] is None
    assert before["agent"] == "PJSIP/agent1001" and before["ivr_choices"] == ["1"]

    b = CallTracker(max_skew=None)  # process B, after the restart
    qm = [m for m in msgs if m.name == "QueueMember" and m["ActionID"] == "queue-members-15"]
    assert qm, "the trace's own QueueStatus after the CoreShowChannels"
    at = snapshot_at(msgs, cut).at + 0.3
    out = await resync(store, b, real, at, queue_members=qm)
    assert [(e.kind, getattr(e, "adopted", None)) for e in out][:2] == [
        ("CallStarted", True),
        ("CallAnswered", True),
    ]
    # nothing A wrote was rewritten by the adoption, no second row
    assert without_updated(await store.get("pbx1", lid)) == without_updated(before)
    assert await pool.fetchval("SELECT count(*) FROM calls") == 1

    ended = [e for e in await feed(store, b, msgs[cut:]) if isinstance(e, CallEnded)]
    assert len(ended) == 1 and ended[0].record.recordings == want.recordings
    row = await store.get("pbx1", lid)
    assert row is not None
    assert row["ended_at"] == ts(want.ended_at) and row["disposition"] == "answered"
    assert row["started_at"] == before["started_at"] == ts(want.started_at)
    assert row["answered_at"] == before["answered_at"] == ts(want.answered_at)
    assert (row["ended_at"] - row["started_at"]).total_seconds() == pytest.approx(
        (ts(want.ended_at) - ts(want.started_at)).total_seconds(), abs=1e-3
    )
    assert row["agent"] == "PJSIP/agent1001" and row["agent_name"] == "Agent 1001"
    assert row["ivr_choices"] == ["1"] and row["queue_joined_at"] == before["queue_joined_at"]
    assert (row["talk_seconds"], row["complete_reason"], row["hangup_cause"]) == (6, "caller", 16)
    assert row["recordings"] == [list(r) for r in want.recordings]
    # one of each in the log: A's exact CallStarted and CallAnswered, not B's restatements
    log = await kinds(pool, lid)
    assert [k for k in log if k[0] in ("CallStarted", "CallAnswered", "CallEnded")] == [
        ("CallStarted", False),
        ("CallAnswered", False),
        ("CallEnded", False),
    ]
    # closed exactly once: a replay, or another instance closing it differently, is a no-op
    final = without_updated(row)
    other = dataclasses.replace(
        ended[0],
        disposition="ended_during_disconnect",
        record=dataclasses.replace(
            ended[0].record,
            disposition="ended_during_disconnect",
            ended_at=ts(want.ended_at).timestamp() + 60,
        ),
    )
    await store.apply([ended[0]], current_of(b))
    await store.apply([other], current_of(b))
    assert without_updated(await store.get("pbx1", lid)) == final
    assert await pool.fetchval("SELECT count(*) FROM call_events WHERE kind = 'CallEnded'") == 2


async def test_restart_mid_queue_abandoned_keeps_the_queue_entry(pool: asyncpg.Pool) -> None:
    """Trace 03(a): the backend restarts while the citizen waits; the abandon after it closes
    A's row as abandoned, with A's exact join time."""
    store = CallStore(pool)
    msgs = messages("03-inbound-abandoned")
    cut = next(i for i, m in enumerate(msgs) if m.name == "QueueCallerJoin") + 2
    full = CallTracker(max_skew=None)
    wants = {e.key: e.record for m in msgs for e in full.handle(m) if isinstance(e, CallEnded)}
    await feed(store, CallTracker(max_skew=None), msgs[:cut])
    lid = msgs[cut - 2]["Linkedid"]
    before = await store.get("pbx1", lid)
    assert before is not None and before["queue_joined_at"] is not None

    b = CallTracker(max_skew=None)
    snap = snapshot_at(msgs, cut)
    out = await resync(store, b, snap.channels, snap.at, snap.entries)
    assert [e.kind for e in out if e.kind != "QueueMemberChanged"] == [
        "CallStarted",
        "QueueJoined",
    ]
    await feed(store, b, msgs[cut:])
    assert await pool.fetchval("SELECT count(*) FROM calls") == len(wants) == 2
    row = await store.get("pbx1", lid)
    want = wants[CallKey("pbx1", lid)]
    assert row is not None and row["disposition"] == "abandoned" == want.disposition
    assert row["queue_joined_at"] == before["queue_joined_at"] == ts(want.queue_joined_at)
    assert row["wait_seconds"] == pytest.approx(want.wait_seconds, abs=0.01)
    assert row["started_at"] == ts(want.started_at) and row["ended_at"] == ts(want.ended_at)
    log = await kinds(pool, lid)
    assert [k for k in log if k[0] == "QueueJoined"] == [("QueueJoined", False)]
    assert log[-1] == ("CallEnded", False)


@pytest.mark.parametrize(
    ("where", "tracker_says"),
    [
        (dict(Context="hotline-post-call", Exten="s", Application="AGI"), "answered"),
        # back in from-trunk after the Queue returned: the snapshot cannot show the answer
        (dict(Context="from-trunk", Exten="12345", Application="Hangup"), "ivr_only"),
    ],
)
async def test_agent_hung_up_before_the_restart(
    pool: asyncpg.Pool, where: dict[str, str], tracker_says: str
) -> None:
    """Trace 05 up to the agent's hang-up (A), then B finds the citizen alone. The row stays
    answered by the agent A saw, whatever B could tell; B's hang-up closes it."""
    store = CallStore(pool)
    msgs = messages("05-agent-hangs-up-first")
    cut = next(i for i, m in enumerate(msgs) if m.name == "Hangup") + 1
    lid = msgs[cut - 1]["Linkedid"]
    await feed(store, CallTracker(max_skew=None), msgs[:cut])
    before = await store.get("pbx1", lid)
    assert before is not None and before["ended_at"] is None and before["talk_seconds"] == 5
    snap = snapshot_at(msgs, cut)
    (citizen,) = snap.channels
    root = channel(
        **{k: citizen[k] for k in ("Channel", "CallerIDNum", "Uniqueid", "Linkedid")},
        **where,
        Duration="00:00:12",
    )
    b = CallTracker(max_skew=None)
    await resync(store, b, [root], snap.at)
    end_at = snap.at + 20
    hang = item("Hangup", [("Uniqueid", lid), ("Linkedid", lid), ("Cause", "16"),
                           ("Timestamp", f"{end_at:.6f}")])  # fmt: skip
    (ended,) = await feed(store, b, [hang])
    assert isinstance(ended, CallEnded) and ended.disposition == tracker_says
    row = await store.get("pbx1", lid)
    assert row is not None
    assert row["disposition"] == "answered" and row["agent"] == "PJSIP/agent1001"
    assert (row["talk_seconds"], row["complete_reason"]) == (5, "agent")
    assert row["ended_at"] == ts(end_at) and row["started_at"] == before["started_at"]
    assert row["answered_at"] == before["answered_at"]
    assert row["recordings"] == before["recordings"] and len(row["recordings"]) == 3


async def test_adopted_call_without_an_earlier_row_is_stored(pool: asyncpg.Pool) -> None:
    """A call the previous process never wrote (it arrived while the backend was down): the
    adoption creates its row, start time from Duration, and its log says it was adopted."""
    store = CallStore(pool)
    now = 1_800_000_000.0
    lid = "pbx1-1800000000.41"
    root = channel(
        Channel="PJSIP/carrier-trunk-00000041",
        CallerIDNum="13800138000",
        Context="hotline-emergency",
        Exten="120",
        Uniqueid=lid,
        Linkedid=lid,
        Application="Dial",
        ApplicationData="PJSIP/120@carrier-trunk,60",
        Duration="00:01:05",
    )
    t = CallTracker(clock=lambda: now)
    await resync(store, t, [root], now)
    row = await store.get("pbx1", lid)
    assert row is not None and row["started_at"] == ts(now - 65) and row["ended_at"] is None
    assert (row["direction"], row["caller"], row["dialled"]) == ("inbound", "13800138000", "12345")
    hang = item("Hangup", [("Uniqueid", lid), ("Linkedid", lid), ("Cause", "16"),
                           ("Timestamp", f"{now + 5:.6f}")])  # fmt: skip
    await feed(store, t, [hang])
    row = await store.get("pbx1", lid)
    assert row is not None and row["ended_at"] == ts(now + 5)
    assert row["disposition"] == "ivr_only"
    assert await kinds(pool, lid) == [("CallStarted", True), ("CallEnded", False)]


async def test_adoption_through_the_persister_is_idempotent(pool: asyncpg.Pool) -> None:
    """The live path (bus → supervised persister): the resync's events written twice (two
    backend instances adopting the same call) change nothing; the hang-up closes the row."""
    store = CallStore(pool)
    msgs = messages("02-inbound-answered")
    cut = [i for i, m in enumerate(msgs) if m.name == "BridgeEnter"][-1] + 1
    await feed(store, CallTracker(max_skew=None), msgs[:cut])
    lid = next(m["Linkedid"] for m in msgs if m.name == "Newchannel")
    before = await store.get("pbx1", lid)
    assert before is not None
    snap = snapshot_at(msgs, cut)
    bus = EventBus()
    sub = bus.subscribe()
    b, c = CallTracker(max_skew=None), CallTracker(max_skew=None)
    sup = PersisterSupervisor(store, sub, current_of(b), retry_delay=0.01)
    sup.start()
    try:
        for t in (b, c):
            t.link_up("pbx1", snap.at)
            for e in t.reconcile("pbx1", snap.channels, snap.entries, MEMBERS, at=snap.at):
                bus.publish(e)
        for _ in range(100):
            if sub.queue.empty() and sup.health.written:
                break
            await asyncio.sleep(0.02)
        assert without_updated(await store.get("pbx1", lid)) == without_updated(before)
        for m in msgs[cut:]:
            for e in b.handle(m):
                bus.publish(e)
        row = None
        for _ in range(150):
            row = await store.get("pbx1", lid)
            if row and row["ended_at"]:
                break
            await asyncio.sleep(0.02)
        assert row is not None and row["disposition"] == "answered"
        assert row["agent"] == "PJSIP/agent1001" and row["started_at"] == before["started_at"]
        assert sup.health.skipped == 0
    finally:
        await sup.stop()
        sub.close()
    assert [k for k, _ in await kinds(pool, lid)].count("CallStarted") == 1


async def test_backend_restart_over_the_wire(settings: Settings, db_dsn: str) -> None:
    """The whole wiring, restarted for real: backend A follows trace 09 over a fake Asterisk
    and stops mid-call; backend B starts, resyncs (the trace's real CoreShowChannels and
    QueueStatus), hears the hang-up, publishes CallEnded with the recordings and closes A's
    row."""
    msgs = messages("09-queue-members")
    real = [m for m in msgs if m.name == "CoreShowChannel"]
    cut = msgs.index(real[0])
    lid = real[0]["Linkedid"]
    before_live = sum(1 for m in msgs[:cut] if m.kind == "event" and "ActionID" not in m.fields)
    blocks = live_event_blocks(TRACES / "09-queue-members.ami.wire.txt")
    first_after = next(m for m in msgs[cut:] if m.kind == "event" and "ActionID" not in m.fields)
    assert block_fields(blocks[before_live])["Event"] == first_after.name
    assert block_fields(blocks[before_live]).get("Timestamp") == first_after.get("Timestamp")
    qm = [m for m in msgs if m.name == "QueueMember" and m["ActionID"] == "queue-members-15"]
    async with FakeAmi(secret="pw") as fake:
        s = dataclasses.replace(
            settings,
            ami=(AmiServer(id="pbx1", host="127.0.0.1", port=fake.port, secret="pw", timeout=1.0),),
        )
        app_a = build_app(s, db_dsn, frozenset({"web", "ami"}))
        async with TestClient(TestServer(app_a)):
            await app_a[TELEPHONY].wait_connected(3.0)
            fake.send_blocks(blocks[:before_live])
            store = app_a[CALL_STORE]
            for _ in range(150):
                row = await store.get("pbx1", lid)
                if row and row["agent"]:
                    break
                await asyncio.sleep(0.02)
            assert row is not None and row["agent"] == "PJSIP/agent1001"
        before = row

        def core_show_channels(_action: dict[str, str]) -> list:
            items = [[p for p in m.pairs if p[0] != "ActionID"] for m in real]
            return fake._list("Channels will follow", "CoreShowChannelsComplete", items)

        fake.handlers["CoreShowChannels"] = core_show_channels
        fake.queue_items = [[p for p in m.pairs if p[0] != "ActionID"] for m in qm]
        app_b = build_app(s, db_dsn, frozenset({"web", "ami"}))
        async with TestClient(TestServer(app_b)):
            tel = app_b[TELEPHONY]
            sub = tel.subscribe({"CallEnded"})
            await tel.wait_connected(3.0)
            for _ in range(100):
                if tel.tracker.open_calls():
                    break
                await asyncio.sleep(0.02)
            (call,) = tel.tracker.open_calls()
            assert call.adopted and call.agent == "PJSIP/agent1001"
            fake.send_blocks(blocks[before_live:])
            ended = await asyncio.wait_for(sub.get(), 3.0)
            sub.close()
            assert isinstance(ended, CallEnded) and ended.linkedid == lid
            assert [d for d, _ in ended.record.recordings] == ["mixed", "in", "out"]
            store = app_b[CALL_STORE]
            for _ in range(150):
                row = await store.get("pbx1", lid)
                if row and row["ended_at"]:
                    break
                await asyncio.sleep(0.02)
        assert row is not None and row["disposition"] == "answered"
        assert row["started_at"] == before["started_at"]
        assert row["answered_at"] == before["answered_at"]
        assert row["ivr_choices"] == ["1"] and row["agent"] == "PJSIP/agent1001"
        assert row["talk_seconds"] == 6 and len(row["recordings"]) == 3
