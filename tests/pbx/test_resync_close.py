"""Calls that ended entirely while nobody listened (backend down, AMI link down).

Their ``calls`` row, written by an earlier process, is in no resync snapshot: after the resync
the persister closes it, once, as ``ended_during_disconnect``, and publishes its ``CallEnded``
(with the recordings the row lists), whatever the number of backend instances (real
PostgreSQL; the over-the-wire test runs the whole application against a fake Asterisk).
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from hotline.settings import AmiServer, Settings
from hotline.web.app import build_app
from kit.db import create_pool
from pbx.ami.client import ResyncSnapshot
from pbx.ami.message import AmiMessage
from pbx.calls.bus import EventBus
from pbx.calls.events import (
    AmiLinkChanged,
    CallEnded,
    CallKey,
    CallRecordView,
    DomainEvent,
    ResyncApplied,
)
from pbx.calls.persister import PersisterSupervisor
from pbx.calls.service import TELEPHONY, Telephony
from pbx.calls.store import CALL_STORE, CallStore
from pbx.calls.tracker import CallTracker
from tests.fakes.fake_ami import FakeAmi
from tests.pbx.trace_snapshot import channel, item, members, messages, snapshot_at
from tests.recordings.helpers import mixmonitor_files

MEMBERS = members("PJSIP/agent1001", "PJSIP/agent1002")
TRACE = "05-agent-hangs-up-first"
LID = "pbx1-1795838046.8"  # the call of trace 05
LAST_SEEN = 1795838056.770167  # its last event before the cut: RecordingAnnounced
LATER = LAST_SEEN + 600.0  # the resync, ten minutes later


def ts(value: float) -> datetime:
    return datetime.fromtimestamp(value, tz=UTC)


def current_of(t: CallTracker) -> Callable[[CallKey], CallRecordView | None]:
    def current(key: CallKey) -> CallRecordView | None:
        r = t.get(key)
        return r.view() if r is not None else None

    return current


async def feed(store: CallStore, t: CallTracker, msgs: Iterable[AmiMessage]) -> None:
    """Handle ``msgs`` and persist every batch as the live persister does."""
    for m in msgs:
        evs = t.handle(m)
        if evs:
            await store.apply(evs, current_of(t))


def trace_05(server: str = "pbx1") -> tuple[list[AmiMessage], int]:
    """Trace 05 and its cut: the agent hung up (the recordings are announced), the citizen is
    still in the post-call survey."""
    msgs = messages(TRACE, server)
    cut = next(i for i, m in enumerate(msgs) if m.name == "Hangup") + 1
    return msgs, cut


async def previous_process(store: CallStore, server: str = "pbx1") -> CallTracker:
    """Process A follows trace 05 up to the cut and dies: the row stays open."""
    msgs, cut = trace_05(server)
    a = CallTracker(max_skew=None)
    await feed(store, a, msgs[:cut])
    row = await store.get(server, LID)
    assert row is not None and row["ended_at"] is None and len(row["recordings"]) == 3
    return a


def without(row: dict[str, Any] | None, *names: str) -> dict[str, Any]:
    assert row is not None
    return {k: v for k, v in row.items() if k not in ("updated_at", *names)}


async def until(check: Callable[[], Any], timeout: float = 5.0) -> None:  # noqa: ASYNC109
    for _ in range(int(timeout / 0.02)):
        if await check() if asyncio.iscoroutinefunction(check) else check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


async def restart_and_register(settings: Any, db_dsn: str, pool: asyncpg.Pool,
                               lid: str) -> tuple[CallEnded, dict[str, Any]]:
    """Start the real application (web + ami) against a fake Asterisk that has no channel at
    all: the resync closes the open row of ``lid``; wait for its ``CallEnded`` and for its three
    recordings to be registered. Returns the event and the row."""
    async with FakeAmi(secret="pw") as fake:  # CoreShowChannels: no channel at all
        s = dataclasses.replace(
            settings,
            ami=(AmiServer(id="pbx1", host="127.0.0.1", port=fake.port, secret="pw", timeout=1.0),),
        )
        app = build_app(s, db_dsn, frozenset({"web", "ami"}))
        async with TestClient(TestServer(app)):
            tel = app[TELEPHONY]
            ended = tel.subscribe({"CallEnded"})
            await tel.wait_connected(3.0)
            event = await asyncio.wait_for(ended.get(), 10.0)  # after the grace period
            ended.close()
            assert isinstance(event, CallEnded) and event.linkedid == lid
            assert event.disposition == "ended_during_disconnect"

            async def registered() -> bool:
                n = await pool.fetchval(
                    "SELECT count(*) FROM recordings WHERE call_id = $1", f"pbx1:{lid}"
                )
                return bool(n == 3)

            await until(registered, 5.0)
            row = await app[CALL_STORE].get("pbx1", lid)
    assert row is not None
    return event, row


class Instance:
    """One backend process: telephony (no AMI connection: resyncs are handed in as the AMI
    client hands them), its bus, and the supervised persister that closes vanished calls."""

    def __init__(self, pool: asyncpg.Pool, *, grace: float = 0.0) -> None:
        self.bus = EventBus()
        self.tel = Telephony([], tracker=CallTracker(max_skew=None), bus=self.bus)
        self.store = CallStore(pool)
        self.sub = self.bus.subscribe()
        self.ended = self.bus.subscribe({"CallEnded"})
        self.sup = PersisterSupervisor(
            self.store,
            self.sub,
            current_of(self.tel.tracker),
            retry_delay=0.01,
            publish=self.bus.publish,
            resync_grace=grace,
        )

    def resync(self, at: float, chans: Iterable[AmiMessage] = (), server: str = "pbx1") -> None:
        self.tel.tracker.link_up(server, at)
        self.tel._on_resync(ResyncSnapshot(server, at, list(chans), [], MEMBERS, []))

    async def swept(self, count: int) -> None:
        """Wait until ``count`` sweeps ran and everything published is written."""
        await until(lambda: self.sup.health.sweeps_run >= count and self.sub.queue.empty())
        await asyncio.sleep(0.05)  # the batch taken last is being written

    def published_ended(self) -> list[CallEnded]:
        out = []
        while (e := self.ended.get_nowait()) is not None:
            assert isinstance(e, CallEnded)
            out.append(e)
        return out


async def test_call_that_ended_while_down_is_closed_once(
    pool: asyncpg.Pool, instances: Callable[..., Instance]
) -> None:
    """Process A wrote call X (trace 05, answered, recordings announced) and a second call Y,
    then died; X ended while no process ran, Y is still up. Process B's resync shows only Y:
    X's row is closed once as ended_during_disconnect, at its last known time, and its
    CallEnded (with the row's recordings) is published once; Y and another server's open row
    of the same Linkedid are left open; a second resync changes nothing."""
    store = CallStore(pool)
    await previous_process(store)
    await previous_process(store, server="pbx2")
    before = await store.get("pbx1", LID)
    y_msgs = messages("02-inbound-answered")
    y_cut = [i for i, m in enumerate(y_msgs) if m.name == "BridgeEnter"][-1] + 1
    await feed(store, CallTracker(max_skew=None), y_msgs[:y_cut])
    y_lid = next(m["Linkedid"] for m in y_msgs if m.name == "Newchannel")
    y_before = await store.get("pbx1", y_lid)
    assert y_before is not None and y_before["ended_at"] is None

    b = instances()
    y_snap = snapshot_at(y_msgs, y_cut)
    b.resync(LATER, y_snap.channels)
    ended = await asyncio.wait_for(b.ended.get(), 5.0)
    await b.swept(1)

    assert isinstance(ended, CallEnded) and ended.key == CallKey("pbx1", LID)
    assert ended.disposition == "ended_during_disconnect" and not ended.adopted
    assert ended.at == pytest.approx(LAST_SEEN, abs=1e-6)
    rec = ended.record
    assert rec.disposition == "ended_during_disconnect"
    assert rec.ended_at == pytest.approx(LAST_SEEN, abs=1e-6)
    assert before is not None
    assert [list(r) for r in rec.recordings] == before["recordings"]
    assert [d for d, _ in rec.recordings] == ["mixed", "in", "out"]
    assert rec.agent == "PJSIP/agent1001"
    assert rec.started_at == before["started_at"].timestamp()
    assert b.published_ended() == []  # once

    row = await store.get("pbx1", LID)
    assert row is not None
    assert row["ended_at"] == ts(LAST_SEEN) and row["disposition"] == "ended_during_disconnect"
    # nothing else A wrote was rewritten
    assert without(row, "ended_at", "disposition") == without(before, "ended_at", "disposition")
    log = await store.events("pbx1", LID)
    assert log[-1]["kind"] == "CallEnded"
    assert log[-1]["data"] == {"disposition": "ended_during_disconnect"}
    assert [e["kind"] for e in log].count("CallEnded") == 1
    # the live call and the other server's row are untouched
    assert without(await store.get("pbx1", y_lid)) == without(y_before)
    other = await store.get("pbx2", LID)
    assert other is not None and other["ended_at"] is None
    assert b.sup.health.closed_after_resync == 1

    # a second resync (a reconnect): nothing more is closed or published
    b.resync(LATER + 60, y_snap.channels)
    await b.swept(2)
    assert b.published_ended() == []
    assert without(await store.get("pbx1", LID)) == without(row)
    assert await pool.fetchval("SELECT count(*) FROM call_events WHERE kind = 'CallEnded'") == 1
    assert b.sup.health.closed_after_resync == 1


async def test_a_call_the_tracker_closes_itself_is_not_closed_again(
    pool: asyncpg.Pool, instances: Callable[..., Instance]
) -> None:
    """The AMI link of a running backend drops mid-call and the call ends meanwhile: the
    tracker closes it at the resync (its own CallEnded, written before the sweep runs); the
    sweep does not close it a second time."""
    b = instances()
    msgs, cut = trace_05()
    for m in msgs[:cut]:
        b.tel._on_event(m)
    await until(lambda: b.sub.queue.empty() and b.sup.health.written > 0)
    b.tel._publish(b.tel.tracker.link_down("pbx1", "connection lost", LATER - 30))
    b.resync(LATER)
    await b.swept(1)
    (ended,) = b.published_ended()
    assert ended.linkedid == LID and ended.at == LATER  # the tracker's, not the sweep's
    assert ended.disposition == "ended_during_disconnect"
    row = await CallStore(pool).get("pbx1", LID)
    assert row is not None and row["ended_at"] == ts(LATER)
    assert b.sup.health.closed_after_resync == 0
    assert await pool.fetchval("SELECT count(*) FROM call_events WHERE kind = 'CallEnded'") == 1


async def test_two_instances_resyncing_at_once_publish_one_call_ended(
    pool: asyncpg.Pool, db_dsn: str, instances: Callable[..., Instance]
) -> None:
    """Two backend instances (each its own pool) on the same Asterisk and PostgreSQL resync at
    the same moment: the row is closed by one of them and one CallEnded is published."""
    store = CallStore(pool)
    await previous_process(store)
    other_pool = await create_pool(db_dsn, min_size=1, max_size=2)
    try:
        b, c = instances(), instances(other_pool)
        b.resync(LATER)
        c.resync(LATER + 0.001)
        await b.swept(1)
        await c.swept(1)
        published = b.published_ended() + c.published_ended()
        assert [e.linkedid for e in published] == [LID]
        closed = b.sup.health.closed_after_resync + c.sup.health.closed_after_resync
        assert closed == 1
    finally:
        await other_pool.close()
    row = await store.get("pbx1", LID)
    assert row is not None and row["disposition"] == "ended_during_disconnect"
    assert await pool.fetchval("SELECT count(*) FROM call_events WHERE kind = 'CallEnded'") == 1


@pytest.mark.parametrize("meanwhile", ["nothing", "final_record"])
async def test_concurrent_closes_under_a_row_lock(
    pool: asyncpg.Pool, db_dsn: str, meanwhile: str
) -> None:
    """The race itself: two closes wait on the row lock another transaction holds. When that
    transaction only touches the row, exactly one close returns it; when it writes the call's
    final record (another instance saw the hang-up), neither does and the record stays."""
    store = CallStore(pool)
    await previous_process(store)
    other_pool = await create_pool(db_dsn, min_size=1, max_size=2)
    try:
        stores = [CallStore(pool), CallStore(other_pool)]
        async with pool.acquire() as conn:
            tx = conn.transaction()
            await tx.start()
            if meanwhile == "final_record":
                await conn.execute(
                    "UPDATE calls SET ended_at = $2, disposition = 'answered' WHERE linkedid = $1",
                    LID,
                    ts(LAST_SEEN + 30),
                )
            else:
                await conn.execute("UPDATE calls SET updated_at = now() WHERE linkedid = $1", LID)
            tasks = [asyncio.create_task(s.close_vanished("pbx1", LATER, ())) for s in stores]

            async def both_wait() -> bool:
                waiting = await pool.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND query LIKE '%UPDATE calls c SET%'"
                )
                return bool(waiting == 2)

            await until(both_wait)
            assert not any(t.done() for t in tasks)
            await tx.commit()
        results = await asyncio.gather(*tasks)
    finally:
        await other_pool.close()
    row = await store.get("pbx1", LID)
    assert row is not None
    if meanwhile == "final_record":
        assert results == [[], []]
        assert row["disposition"] == "answered" and row["ended_at"] == ts(LAST_SEEN + 30)
    else:
        assert sorted(len(r) for r in results) == [0, 1]
        assert row["disposition"] == "ended_during_disconnect"


async def insert_call(
    pool: asyncpg.Pool, server: str, lid: str, started: float, events: Iterable[float] = ()
) -> None:
    """A row (and call events at ``events``) as an earlier process would have left it."""
    await pool.execute(
        "INSERT INTO calls (server, linkedid, direction, started_at, recordings)"
        " VALUES ($1, $2, 'inbound', $3, $4)",
        server,
        lid,
        ts(started),
        [["mixed", f"/rec/{lid}.wav"]],
    )
    for i, at in enumerate(events):
        await pool.execute(
            "INSERT INTO call_events (server, linkedid, kind, at, data, event_key)"
            " VALUES ($1, $2, 'IvrChoiceMade', $3, '{}', $4)",
            server,
            lid,
            ts(at),
            f"k{i}",
        )


async def test_which_rows_a_resync_closes(pool: asyncpg.Pool) -> None:
    """Only rows of the resynced server, open, not shown alive, not open in our tracker, and
    started more than the margin before the snapshot; ended at the last event, else at the
    start."""
    t = 1_900_000_000.0
    rows = {
        "gone": (t - 300, [t - 290, t - 120, t - 200]),  # ends at its latest event
        "gone-quiet": (t - 300, []),  # no event: ends at its start
        "alive": (t - 300, [t - 10]),  # in the snapshot
        "just-before": (t - 2, []),  # within the margin: may have started after it
        "after": (t + 30, []),  # another instance saw it start after the snapshot
        "tracked": (t - 300, []),  # our tracker has it open (started during the resync)
    }
    for lid, (started, evs) in rows.items():
        await insert_call(pool, "pbx1", lid, started, evs)
    await insert_call(pool, "pbx2", "gone", t - 300)
    await insert_call(pool, "pbx1", "ended", t - 300)
    await pool.execute(
        "UPDATE calls SET ended_at = $1, disposition = 'answered' WHERE linkedid = 'ended'",
        ts(t - 100),
    )
    store = CallStore(pool)
    untouched = {
        (r["server"], r["linkedid"]): dict(r)
        for r in await pool.fetch(
            "SELECT * FROM calls WHERE NOT (server = 'pbx1' AND linkedid LIKE 'gone%')"
        )
    }

    # bad input: a clear error, nothing changed
    for at, margin in ((math.nan, 5.0), (math.inf, 5.0), (1e300, 5.0), (t, -1.0)):
        with pytest.raises(ValueError, match="bad"):
            await store.close_vanished("pbx1", at, ["alive"], margin=margin)
    assert await pool.fetchval("SELECT count(*) FROM calls WHERE ended_at IS NOT NULL") == 1

    ended = await store.close_vanished(
        "pbx1", t, {"alive", "unrelated"}, still_open=lambda k: k == CallKey("pbx1", "tracked")
    )
    by_lid = {e.linkedid: e for e in ended}
    assert set(by_lid) == {"gone", "gone-quiet"}
    assert by_lid["gone"].at == by_lid["gone"].record.ended_at == t - 120
    assert by_lid["gone-quiet"].record.ended_at == t - 300
    assert by_lid["gone"].record.recordings == (("mixed", "/rec/gone.wav"),)
    for lid in ("gone", "gone-quiet"):
        row = await store.get("pbx1", lid)
        assert row is not None and row["disposition"] == "ended_during_disconnect"
        assert row["ended_at"] == ts(by_lid[lid].record.ended_at or 0)
    for (server, lid), before in untouched.items():
        assert await store.get(server, lid) == before, (server, lid)
    # idempotent
    assert await store.close_vanished("pbx1", t, {"alive", "tracked"}) == []
    # a wider margin spares a call that started close to the snapshot
    await insert_call(pool, "pbx1", "recent", t - 8)
    assert await store.close_vanished("pbx1", t, {"alive", "tracked"}, margin=10) == []
    (late,) = await store.close_vanished("pbx1", t, {"alive", "tracked"})
    assert late.linkedid == "recent"


async def test_grace_lets_another_instance_record_the_real_end(
    pool: asyncpg.Pool, instances: Callable[..., Instance]
) -> None:
    """Instance A stays up and sees the citizen hang up just before B's snapshot, but its
    write lands after it: during B's grace period A's exact final record is written, and B's
    sweep then finds nothing to close and publishes nothing."""
    store = CallStore(pool)
    a = await previous_process(store)
    msgs, cut = trace_05()
    b = instances(grace=0.6)
    b.resync(LATER)
    await asyncio.sleep(0.2)  # B's persister has long taken the resync
    assert b.sup.health.sweeps_pending == 1 and b.sup.health.sweeps_run == 0
    await feed(store, a, msgs[cut:])  # A's persister writes the hang-up
    assert b.sup.health.sweeps_run == 0
    await b.swept(1)
    assert b.published_ended() == []
    row = await store.get("pbx1", LID)
    assert row is not None and row["disposition"] == "answered"
    assert row["ended_at"] > ts(LAST_SEEN)
    assert b.sup.health.closed_after_resync == 0


async def test_a_late_exact_end_replaces_the_sweeps_guess(
    pool: asyncpg.Pool, instances: Callable[..., Instance]
) -> None:
    """Instance A saw the citizen hang up, but its persister is slow: B's sweep closes the row
    first (ended_during_disconnect at the last event it knew). A's exact final record, written
    afterwards, replaces that guess; a later partial record cannot reopen the row."""
    store = CallStore(pool)
    a = await previous_process(store)
    msgs, cut = trace_05()
    b = instances(grace=0.0)
    b.resync(LATER)
    await b.swept(1)
    guessed = await store.get("pbx1", LID)
    assert guessed is not None and guessed["disposition"] == "ended_during_disconnect"
    await feed(store, a, msgs[cut:])  # A's persister finally writes the hang-up
    row = await store.get("pbx1", LID)
    assert row is not None and row["disposition"] == "answered"
    assert row["ended_at"] > guessed["ended_at"] and row["hangup_cause"] is not None
    # an open (non-final) record of the call, e.g. a late duplicate, changes nothing now
    again = CallTracker(max_skew=None)
    await feed(store, again, msgs[:cut])
    assert without(await store.get("pbx1", LID)) == without(row)


def test_resync_applied_names_every_live_call() -> None:
    """``ResyncApplied`` follows the reconcile's events and precedes the link's "up"; it names
    the Linkedid of every channel of the snapshot (even one no rule adopts) and every call the
    tracker has open (one that started during the resync). A reconcile that fails publishes
    none: nothing is closed on the strength of a snapshot that could not be read."""
    bus = EventBus()
    sub = bus.subscribe()
    tel = Telephony([], tracker=CallTracker(max_skew=None), bus=bus)
    at = 1_900_000_000.0
    tel.tracker.link_up("pbx1", at - 1)
    fresh = "pbx1-1900000000.5"
    started = item(
        "Newchannel",
        [("Channel", "PJSIP/carrier-trunk-00000005"), ("ChannelState", "4"),
         ("Context", "from-trunk"), ("Exten", "12345"), ("CallerIDNum", "13800138000"),
         ("Uniqueid", fresh), ("Linkedid", fresh), ("Timestamp", f"{at - 0.5:.6f}")],
    )  # fmt: skip
    assert [e.kind for e in tel.tracker.handle(started)] == ["CallStarted"]
    foreign = channel(
        Channel="PJSIP/agent1002-00000009",
        Context="from-internal",
        Exten="2002",
        Uniqueid="pbx1-1900000000.9",
        Linkedid="pbx1-1900000000.9",
        Duration="00:00:30",
    )
    tel._on_resync(ResyncSnapshot("pbx1", at, [foreign], [], [], []))
    out: list[DomainEvent] = []
    while (e := sub.get_nowait()) is not None:
        out.append(e)
    assert [e.kind for e in out][-2:] == ["ResyncApplied", "AmiLinkChanged"]
    applied = out[-2]
    assert isinstance(applied, ResyncApplied) and applied.at == at
    assert applied.live == {fresh, "pbx1-1900000000.9"}

    class Broken(CallTracker):
        def reconcile(self, *args: Any, **kw: Any) -> list[DomainEvent]:
            raise RuntimeError("bug")

    tel.tracker = Broken()
    tel._on_resync(ResyncSnapshot("pbx1", at, [], [], [], []))
    (only,) = list(iter(sub.get_nowait, None))
    assert isinstance(only, AmiLinkChanged) and only.up and only.reason == "resynced"
    sub.close()


async def test_restart_registers_the_recordings_of_a_call_that_ended_while_down(
    settings: Settings, db_dsn: str, pool: asyncpg.Pool
) -> None:
    """The whole application: process A's row of trace 05 lists real MixMonitor files; the
    call ends while no backend runs. Backend B starts against an Asterisk without that call:
    after its resync the row is closed and the recordings feature registers the three files
    from the published CallEnded."""
    root = Path(settings.recordings.dir)
    files = mixmonitor_files(root, LID, seconds=0.2)
    msgs, cut = trace_05()
    shift = time.time() - 3600 - LAST_SEEN  # the call ended an hour ago, whatever the clock
    for m in msgs[:cut]:
        if "Timestamp" in m.fields:
            m.fields["Timestamp"] = f"{float(m.fields['Timestamp']) + shift:.6f}"
        if m.name == "UserEvent" and m.get("UserEvent") == "HotlineRecording":
            m.fields.update(Mixed=files["mix"], In=files["citizen"], Out=files["agent"])
    await feed(CallStore(pool), CallTracker(max_skew=None), msgs[:cut])
    row = await CallStore(pool).get("pbx1", LID)
    assert row is not None and row["ended_at"] is None
    assert [p for _, p in row["recordings"]] == [files["mix"], files["citizen"], files["agent"]]

    _, row = await restart_and_register(settings, db_dsn, pool, LID)
    assert row is not None and row["disposition"] == "ended_during_disconnect"
    assert abs((row["ended_at"] - ts(LAST_SEEN + shift)).total_seconds()) < 1e-3
    recs = await pool.fetch(
        "SELECT direction, path, state, server_id FROM recordings WHERE call_id = $1"
        " ORDER BY direction",
        f"pbx1:{LID}",
    )
    assert [(r["direction"], r["server_id"]) for r in recs] == [
        ("agent", "pbx1"),
        ("citizen", "pbx1"),
        ("mix", "pbx1"),
    ]
    assert all(r["state"] != "rejected" for r in recs), [dict(r) for r in recs]
