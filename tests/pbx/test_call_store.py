"""Call records in a real PostgreSQL: idempotent writes, and the full wiring over a fake AMI."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import asyncpg
from aiohttp.test_utils import TestClient, TestServer

from hotline.settings import AmiServer, Settings
from hotline.web.app import build_app
from pbx.ami.message import AmiParser
from pbx.calls.events import CallEnded, DomainEvent
from pbx.calls.service import TELEPHONY
from pbx.calls.store import CALL_STORE, CallStore
from pbx.calls.tracker import CallTracker
from tests.fakes.fake_ami import FakeAmi

TRACES = Path(__file__).resolve().parents[1] / "traces"


def trace_events(name: str) -> tuple[CallTracker, list[list[DomainEvent]]]:
    tracker = CallTracker()
    out = []
    for m in AmiParser().feed((TRACES / f"{name}.ami.wire.txt").read_bytes()):
        m.server = "pbx1"
        evs = tracker.handle(m)
        if evs:
            out.append(evs)
    return tracker, out


def no_current(_key: object) -> None:
    return None


async def test_trace_persisted_and_replay_is_idempotent(pool: asyncpg.Pool) -> None:
    store = CallStore(pool)
    tracker = CallTracker()
    batches: list[list[DomainEvent]] = []
    for m in AmiParser().feed((TRACES / "08-three-way.ami.wire.txt").read_bytes()):
        m.server = "pbx1"
        evs = tracker.handle(m)
        if evs:
            batches.append(evs)
            # persisted while the call runs, like the live persister does
            await store.apply(evs, lambda k: r.view() if (r := tracker.get(k)) else None)
    row = await store.get("pbx1", "pbx1-1795838130.18")
    assert row is not None
    assert row["disposition"] == "answered" and row["agent"] == "PJSIP/agent1001"
    assert row["conference"] == "pbx1-1795838130_18" and len(row["participants"]) == 3
    assert row["recordings"][0] == ["mixed", "/var/spool/asterisk/monitor/pbx1-1795838130.18.wav"]
    assert row["ivr_choices"] == ["1"] and row["hangup_cause"] == 16
    events = await store.events("pbx1", "pbx1-1795838130.18")
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "CallStarted" and kinds[-1] == "CallEnded"
    assert kinds.count("ConferenceJoined") == 3
    # replay everything: no new rows, no changes
    count = await pool.fetchval("SELECT count(*) FROM call_events")
    for evs in batches:
        await store.apply(evs, no_current)
    assert await pool.fetchval("SELECT count(*) FROM call_events") == count
    assert await pool.fetchval("SELECT count(*) FROM calls") == 1
    assert (await store.get("pbx1", "pbx1-1795838130.18")) == row


async def test_a_final_record_is_never_overwritten(pool: asyncpg.Pool) -> None:
    store = CallStore(pool)
    _, batches = trace_events("02-inbound-answered")
    for evs in batches:
        await store.apply(evs, no_current)
    final = next(e for b in batches for e in b if isinstance(e, CallEnded))
    # a second backend instance that lost its link closes the same call differently
    other = dataclasses.replace(
        final,
        disposition="ended_during_disconnect",
        record=dataclasses.replace(final.record, disposition="ended_during_disconnect"),
    )
    await store.apply([other], no_current)
    row = await store.get("pbx1", final.linkedid)
    assert row is not None and row["disposition"] == "answered"


async def test_events_of_unknown_calls_write_nothing(pool: asyncpg.Pool) -> None:
    store = CallStore(pool)
    _tracker, batches = trace_events("02-inbound-answered")
    later = [e for b in batches[1:] for e in b]  # CallStarted lost and the call not current
    assert await store.apply(later[:-1], no_current) == 0
    assert await pool.fetchval("SELECT count(*) FROM call_events") == 0
    assert await pool.fetchval("SELECT count(*) FROM calls") == 0


async def test_wiring_readyz_persistence_and_actions(
    settings: Settings, db_dsn: str, pool: asyncpg.Pool
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
            ready = await (await client.get("/readyz")).json()
            assert ready["components"]["ami.pbx1"]["ok"] is True, ready
            # actions for the agents/ feature
            res = await tel.send_action(
                "pbx1", "QueuePause", {"Interface": "PJSIP/agent1001", "Paused": "true"}
            )
            assert res.message == "QueuePause accepted by fake"
            # a call through the fake Asterisk ends up in PostgreSQL
            sub = tel.subscribe({"CallEnded"})
            await fake.replay("06-blind-transfer.ami.wire.txt")
            await asyncio.wait_for(sub.get(), 3.0)
            store = app[CALL_STORE]
            for _ in range(100):
                row = await store.get("pbx1", "pbx1-1795838069.10")
                if row and row["ended_at"]:
                    break
                await asyncio.sleep(0.02)
            assert row is not None and row["disposition"] == "answered"
            assert row["transfers"] == [
                ["blind", "PJSIP/agent1001-0000000b", "2001@hotline-internal"]
            ]
            sub.close()
            # bad input over the wire: garbage, a 1 MB line, unknown channels, missing fields
            before = await pool.fetchval("SELECT count(*) FROM call_events")
            fake.send_raw(b"garbage without colon\r\n\r\n")
            fake.send_raw(b"Event: Newchannel\r\nChannel: " + b"x" * (1 << 20) + b"\r\n\r\n")
            fake.send_event({"Event": "Hangup", "Uniqueid": "ghost.1", "Linkedid": "ghost.1"})
            fake.send_event({"Event": "AgentConnect", "Uniqueid": "ghost.2"})
            fake.send_event({"Event": "Newchannel", "Channel": "PJSIP/x-1"})  # no ids
            assert (await tel.send_action("pbx1", "Ping")).response["Ping"] == "Pong"
            await asyncio.sleep(0.1)
            assert await pool.fetchval("SELECT count(*) FROM call_events") == before
            assert tel.tracker.open_calls() == []
            assert tel.tracker.stats["unknown_channel"] >= 2 and tel.tracker.stats["bad"] >= 1
            # Asterisk goes away: /readyz reports it
            await fake.stop()
            for _ in range(100):
                if not tel.clients["pbx1"].connected:
                    break
                await asyncio.sleep(0.02)
            ready = await (await client.get("/readyz")).json()
            assert ready["components"]["ami.pbx1"]["ok"] is False
