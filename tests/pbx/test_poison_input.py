"""One bad AMI message or resync item must not stop call tracking or call recording."""

from __future__ import annotations

import asyncio
import dataclasses
import math
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from hotline.settings import AmiServer, Settings
from hotline.web.app import build_app
from pbx.ami import AmiServerConfig
from pbx.ami.message import AmiMessage, AmiParser, parse_block
from pbx.calls.bus import EventBus
from pbx.calls.events import AmiLinkChanged, CallEnded, CallStarted, DomainEvent, QueueMemberChanged
from pbx.calls.persister import PersisterSupervisor
from pbx.calls.service import TELEPHONY, Telephony
from pbx.calls.store import CALL_STORE, CallStore
from pbx.calls.tracker import CallTracker
from tests.fakes.fake_ami import FakeAmi

TRACES = Path(__file__).resolve().parents[1] / "traces"
NOW = 1_800_000_000.0
NEWCHANNEL = (
    "Event: Newchannel\nChannel: PJSIP/c-1\nChannelState: 4\nContext: from-trunk\n"
    "Exten: 12345\nUniqueid: {uid}\nLinkedid: {uid}\n"
)


def msg(text: str) -> AmiMessage:
    m = parse_block(text.strip("\n").replace("\n", "\r\n"))
    assert m is not None
    m.server = "pbx1"
    return m


def trace_events(name: str) -> list[DomainEvent]:
    tracker = CallTracker(max_skew=None)  # a recorded trace: its own timestamps
    out: list[DomainEvent] = []
    for m in AmiParser().feed((TRACES / f"{name}.ami.wire.txt").read_bytes()):
        m.server = "pbx1"
        out += tracker.handle(m)
    return out


def no_current(_key: object) -> None:
    return None


async def wait_row(store: CallStore, linkedid: str) -> dict | None:
    row = None
    for _ in range(150):
        row = await store.get("pbx1", linkedid)
        if row and row["ended_at"]:
            break
        await asyncio.sleep(0.02)
    return row


# ---------------------------------------------------------------- tracker: Timestamp


@pytest.mark.parametrize("raw", ["nan", "NaN", "inf", "-inf", "1e300", "-1e300", "0", "1e10"])
def test_implausible_timestamps_fall_back_to_the_clock(raw: str) -> None:
    t = CallTracker(clock=lambda: NOW)
    (e,) = t.handle(msg(NEWCHANNEL.format(uid="u1") + f"Timestamp: {raw}"))
    assert e.at == NOW and t.open_calls()[0].started_at == NOW
    assert t.stats["bad_timestamp"] == 1


def test_plausible_timestamps_are_kept() -> None:
    t = CallTracker(clock=lambda: NOW)
    (e,) = t.handle(msg(NEWCHANNEL.format(uid="u1") + f"Timestamp: {NOW - 3600.5}"))
    assert e.at == NOW - 3600.5
    # an old trace replayed on purpose: any finite value with max_skew=None
    t = CallTracker(clock=lambda: NOW, max_skew=None)
    (e,) = t.handle(msg(NEWCHANNEL.format(uid="u1") + "Timestamp: 1000.25"))
    assert e.at == 1000.25


# ---------------------------------------------------------------- persister


async def test_persister_skips_a_poison_event_and_writes_the_rest(pool: asyncpg.Pool) -> None:
    store = CallStore(pool)
    bus = EventBus()
    sub = bus.subscribe()
    sup = PersisterSupervisor(store, sub, no_current, retry_delay=0.01)
    sup.start()
    try:
        # an event no datetime can hold, in the same batch as a whole normal call
        bus.publish(CallStarted("pbx1", math.nan, "bad.1", "inbound", None, "12345", "PJSIP/x"))
        for e in trace_events("02-inbound-answered"):
            bus.publish(e)
        ended = next(e for e in trace_events("02-inbound-answered") if isinstance(e, CallEnded))
        row = await wait_row(store, ended.linkedid)
        assert row is not None and row["disposition"] == "answered"
        assert sup.health.skipped == 1 and sup.alive
        assert "bad call time" in sup.health.last_error
        assert sup.status()["ok"] is True
        # and it keeps writing later calls
        for e in trace_events("05-agent-hangs-up-first"):
            bus.publish(e)
        later = next(e for e in trace_events("05-agent-hangs-up-first") if isinstance(e, CallEnded))
        assert await wait_row(store, later.linkedid) is not None
    finally:
        await sup.stop()
        sub.close()


async def test_a_dead_persister_task_is_logged_and_restarted(pool: asyncpg.Pool, caplog) -> None:
    store = CallStore(pool)
    bus = EventBus()
    sub = bus.subscribe()
    real_get = sub.get
    calls = 0

    async def flaky_get() -> DomainEvent:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("bug outside the write path")
        return await real_get()

    sub.get = flaky_get  # type: ignore[method-assign]
    sup = PersisterSupervisor(store, sub, no_current, restart_delay=0.01)
    sup.start()
    try:
        for _ in range(100):
            if sup.health.restarts:
                break
            await asyncio.sleep(0.01)
        assert sup.health.restarts == 1 and "persister task died" in caplog.text
        events = trace_events("02-inbound-answered")
        for e in events:
            bus.publish(e)
        ended = next(e for e in events if isinstance(e, CallEnded))
        assert await wait_row(store, ended.linkedid) is not None
        assert sup.alive and sup.status()["restarts"] == 1
    finally:
        await sup.stop()
        sub.close()
    assert not sup.alive and sup.status()["ok"] is False


async def test_nan_timestamp_over_the_wire_then_a_normal_call_is_persisted(
    settings: Settings, db_dsn: str
) -> None:
    async with FakeAmi(secret="pw") as fake:
        s = dataclasses.replace(
            settings,
            ami=(AmiServer(id="pbx1", host="127.0.0.1", port=fake.port, secret="pw", timeout=1.0),),
        )
        app = build_app(s, db_dsn, frozenset({"web", "ami"}))
        async with TestClient(TestServer(app)) as client:
            tel = app[TELEPHONY]
            await tel.wait_connected(3.0)
            fields = dict(
                line.split(": ", 1) for line in NEWCHANNEL.format(uid="poison.1").splitlines()
            )
            fake.send_event({**fields, "Timestamp": "nan"})
            fake.send_event({"Event": "Hangup", "Uniqueid": "poison.1", "Linkedid": "poison.1"})
            await fake.replay("06-blind-transfer.ami.wire.txt")
            store = app[CALL_STORE]
            row = await wait_row(store, "pbx1-1795838069.10")
            assert row is not None and row["disposition"] == "answered"
            poison = await store.get("pbx1", "poison.1")
            assert poison is not None and poison["ended_at"] is not None
            ready = await (await client.get("/readyz")).json()
            assert ready["components"]["calls.persister"]["ok"] is True, ready
            assert ready["components"]["calls.persister"]["skipped"] == 0


# ---------------------------------------------------------------- reconcile


def test_reconcile_skips_malformed_items_and_keeps_its_events() -> None:
    t = CallTracker(clock=lambda: NOW)
    t.link_up("pbx1", NOW)
    t.handle(msg(NEWCHANNEL.format(uid="u1")))
    t.link_down("pbx1", "drop", NOW)
    t.link_up("pbx1", NOW + 5)
    channels = [msg("Event: CoreShowChannel\nChannel: PJSIP/c-9\nUniqueid: u9\nContext: x")]
    members = [
        msg("Event: QueueMember\nInterface: PJSIP/agent1001\nStatus: 1"),  # no Queue
        msg("Event: QueueMember\nQueue: q1\nInterface: PJSIP/agent1002\nStatus: 1\nPaused: 0"),
    ]
    out = t.reconcile("pbx1", channels, (), members, at=NOW + 6)
    ended = [e for e in out if isinstance(e, CallEnded)]
    assert [e.linkedid for e in ended] == ["u1"]
    assert ended[0].record.disposition == "ended_during_disconnect"
    assert [(e.queue, e.interface) for e in out if isinstance(e, QueueMemberChanged)] == [
        ("q1", "PJSIP/agent1002")
    ]
    assert t.stats["bad"] == 2 and t.open_calls() == []


async def test_resync_with_a_malformed_item_still_announces_the_link() -> None:
    async with FakeAmi() as fake:
        fake.channels["u9"] = {"Channel": "PJSIP/c-9", "Uniqueid": "u9", "Context": "from-trunk"}
        fake.queue_items = [[("Event", "QueueMember"), ("Interface", "PJSIP/agent1001")]]
        tel = Telephony(
            [AmiServerConfig(id="pbx1", host="127.0.0.1", port=fake.port, secret="s3cret")]
        )
        sub = tel.subscribe({"AmiLinkChanged"})
        await tel.start()
        try:
            await tel.wait_connected(3.0)
            event = await asyncio.wait_for(sub.get(), 2.0)
            assert isinstance(event, AmiLinkChanged) and event.up and event.reason == "resynced"
            assert tel.tracker.stats["bad"] == 1  # the QueueMember without Queue
        finally:
            await tel.close()
            sub.close()
