"""Recording names known from ``VarSet HOTLINE_REC``, before the hangup handler announces them.

The dialplan (``hotline-record``) sets ``__HOTLINE_REC=${RECDIR}/${UNIQUEID}`` on the citizen's
channel right before ``MixMonitor``; only the hangup handler's ``UserEvent HotlineRecording``
announces the files. When the citizen hangs up while no backend listens, that announcement is
lost: the call row must already list the three files (from the ``VarSet``), so the resync close
publishes a ``CallEnded`` with them and the recordings get registered (or reported missing).
The ``UserEvent``, when it comes, stays authoritative. Real PostgreSQL where the store is used.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest

from hotline.settings import Settings
from kit.jobs import JobQueue
from pbx.ami.message import AmiMessage
from pbx.calls.events import (
    CallEnded,
    DomainEvent,
    RecordingAnnounced,
    RecordingExpected,
)
from pbx.calls.record import expected_recordings
from pbx.calls.store import CallStore
from pbx.calls.tracker import CallTracker
from recordings.call_events import register_ended_calls
from recordings.registry import REGISTER_KIND, CaptureRegistry
from tests.pbx.test_resync_close import (
    Instance,
    current_of,
    feed,
    restart_and_register,
    ts,
    until,
)
from tests.pbx.trace_snapshot import item, members, messages, snapshot_at
from tests.recordings.helpers import drain, make_due, mixmonitor_files, remove

MON = "/var/spool/asterisk/monitor/"
TRACE = "02-inbound-answered"
LID = "pbx1-1795837952.0"  # the call of trace 02
MEMBERS = members("PJSIP/agent1001", "PJSIP/agent1002")
AGENT_LEG = "pbx1-1795837956.1"  # its agent leg (inherits __HOTLINE_REC)


def recs(uid: str, mon: str = MON) -> tuple[tuple[str, str], ...]:
    return (
        ("mixed", f"{mon}{uid}.wav"),
        ("in", f"{mon}{uid}-in.wav"),
        ("out", f"{mon}{uid}-out.wav"),
    )


def is_rec_varset(m: AmiMessage) -> bool:
    return m.name == "VarSet" and m.fields.get("Variable", "").lstrip("_") == "HOTLINE_REC"


def root_varset_cut(msgs: list[AmiMessage]) -> int:
    """Index just after the ``VarSet __HOTLINE_REC`` of the citizen's (root) channel."""
    return next(i for i, m in enumerate(msgs) if is_rec_varset(m) and m["Uniqueid"] == LID) + 1


def is_announcement(m: AmiMessage) -> bool:
    return m.name == "UserEvent" and m.fields.get("UserEvent") == "HotlineRecording"


def run(t: CallTracker, msgs: list[AmiMessage]) -> list[DomainEvent]:
    return [e for m in msgs for e in t.handle(m)]


def varset(uid: str, lid: str, value: str, var: str = "__HOTLINE_REC") -> AmiMessage:
    return item(
        "VarSet", [("Uniqueid", uid), ("Linkedid", lid), ("Variable", var), ("Value", value)]
    )


# ---------------------------------------------------------------- the tracker alone


def test_real_varset_layout_on_the_root_and_the_agent_leg() -> None:
    """What the tracker relies on, as the trace has it: ``Variable: __HOTLINE_REC`` (with the
    inheritance prefix) on the citizen's channel, then the same on the agent leg."""
    msgs = messages(TRACE)
    found = [(m["Uniqueid"], m["Linkedid"], m["Variable"], m["Value"]) for m in msgs
             if is_rec_varset(m)]  # fmt: skip
    assert found == [
        (LID, LID, "__HOTLINE_REC", MON + LID),
        (AGENT_LEG, LID, "__HOTLINE_REC", MON + LID),
    ]


def test_varset_on_the_root_lists_the_three_files_at_once() -> None:
    msgs = messages(TRACE)
    cut = root_varset_cut(msgs)
    t = CallTracker(max_skew=None)
    before = run(t, msgs[: cut - 1])
    assert not any(isinstance(e, RecordingExpected) for e in before)
    (expected,) = t.handle(msgs[cut - 1])
    assert isinstance(expected, RecordingExpected) and expected.linkedid == LID
    assert (expected.mixed, expected.inbound, expected.outbound) == tuple(p for _, p in recs(LID))
    assert expected.at == float(msgs[cut - 1]["Timestamp"])
    call = t.get(expected.key)
    assert call is not None and call.view().recordings == recs(LID)
    assert not call.recordings_announced
    assert t.handle(msgs[cut - 1]) == []  # the same VarSet again: nothing new


def test_full_replay_the_user_event_confirms_nothing_duplicated() -> None:
    t = CallTracker(max_skew=None)
    events = run(t, messages(TRACE))
    assert [e.kind for e in events if isinstance(e, RecordingExpected | RecordingAnnounced)] == [
        "RecordingExpected",
        "RecordingAnnounced",
    ]
    (end,) = [e for e in events if isinstance(e, CallEnded)]
    assert end.record.recordings == recs(LID)
    assert end.record.hangup_cause == 16  # still taken from the UserEvent


def test_the_user_event_overrides_the_expected_names() -> None:
    """The announcement is authoritative: other names replace the expected ones (three files,
    not six), and a later VarSet of the root does not change them back."""
    msgs = messages(TRACE)
    for m in msgs:
        if is_announcement(m):
            m.fields.update(Mixed="/elsewhere/a.wav", In="/elsewhere/a-in.wav",
                            Out="/elsewhere/a-out.wav")  # fmt: skip
    end_at = next(i for i, m in enumerate(msgs) if is_announcement(m)) + 1
    t = CallTracker(max_skew=None)
    run(t, msgs[:end_at])
    call = t.get(t.open_calls()[0].key)
    assert call is not None and call.recordings_announced
    assert t.handle(varset(LID, LID, MON + "late")) == []
    events = run(t, msgs[end_at:])
    (end,) = [e for e in events if isinstance(e, CallEnded)]
    assert end.record.recordings == recs("a", "/elsewhere/")


def test_varset_on_a_leg_is_ignored() -> None:
    """Only the root channel's VarSet counts: the agent leg's (inherited) one, here with
    another value and without the root's ever arriving, lists nothing."""
    msgs = messages(TRACE)
    cut = root_varset_cut(msgs)
    leg_varset = next(i for i, m in enumerate(msgs) if is_rec_varset(m) and m["Uniqueid"] != LID)
    msgs[leg_varset].fields["Value"] = MON + "not-the-citizen"
    t = CallTracker(max_skew=None)
    run(t, msgs[: cut - 1])  # the root's VarSet is dropped
    run(t, msgs[cut:leg_varset])
    assert t.call_of_channel("pbx1", AGENT_LEG) is not None  # the leg belongs to the call
    assert t.handle(msgs[leg_varset]) == []
    call = t.open_calls()[0]
    assert call.recordings == []
    # a leg's VarSet after the root's changes nothing either
    t2 = CallTracker(max_skew=None)
    run(t2, msgs[:leg_varset])
    assert t2.handle(msgs[leg_varset]) == []
    assert t2.open_calls()[0].view().recordings == recs(LID)


def test_ivr_only_call_has_no_recordings() -> None:
    t = CallTracker(max_skew=None)
    events = run(t, messages("11-agi-hangup"))
    assert not any(isinstance(e, RecordingExpected | RecordingAnnounced) for e in events)
    ended = [e.record for e in events if isinstance(e, CallEnded)]
    assert [r.disposition for r in ended] == ["ivr_only", "ivr_only"]
    assert all(r.recordings == () for r in ended)


@pytest.mark.parametrize("value", ["", "   "])
def test_empty_hotline_rec_lists_nothing(value: str) -> None:
    msgs = messages(TRACE)
    cut = root_varset_cut(msgs)
    msgs[cut - 1].fields["Value"] = value
    t = CallTracker(max_skew=None)
    assert not any(isinstance(e, RecordingExpected) for e in run(t, msgs[:cut]))
    assert t.open_calls()[0].recordings == []


def test_outbound_root_recording_set_before_its_marker() -> None:
    """An originated root channel is pending until its outbound marker; a HOTLINE_REC it got
    before is applied when the call opens (and kept out of ``extra``)."""
    uid = "pbx1-1800000000.7"
    t = CallTracker(max_skew=None)
    fields = [("Channel", "PJSIP/carrier-trunk-00000007"), ("ChannelState", "0"),
              ("Context", "hotline-outbound"), ("Exten", "callback"), ("Uniqueid", uid),
              ("Linkedid", uid)]  # fmt: skip
    assert t.handle(item("Newchannel", fields)) == []  # pending until its marker
    assert t.handle(varset(uid, uid, "/rec/" + uid)) == []
    out = t.handle(varset(uid, uid, "callback", var="HOTLINE_OUTBOUND"))
    assert [e.kind for e in out] == ["CallStarted", "RecordingExpected"]
    (call,) = t.open_calls()
    assert call.recordings == expected_recordings("/rec/" + uid)
    assert "HOTLINE_REC" not in call.extra and call.extra["HOTLINE_OUTBOUND"] == "callback"


# ---------------------------------------------------------------- the store and the resync close


async def previous_process_until_varset(store: CallStore) -> float:
    """Process A follows trace 02 up to just after the citizen's VarSet HOTLINE_REC, writes
    the row and dies. Returns the time of that VarSet (the call's last known event)."""
    msgs = messages(TRACE)
    cut = root_varset_cut(msgs)
    await feed(store, CallTracker(max_skew=None), msgs[:cut])
    row = await store.get("pbx1", LID)
    assert row is not None and row["ended_at"] is None
    assert row["recordings"] == [list(r) for r in recs(LID)]
    return float(msgs[cut - 1]["Timestamp"])


async def test_restart_after_the_varset_resync_close_publishes_the_files(
    pool: asyncpg.Pool, instances: Callable[[], Instance]
) -> None:
    """The citizen hung up while no backend ran: the UserEvent never came. The resync close
    publishes the CallEnded with the three files the VarSet named."""
    store = CallStore(pool)
    rec_at = await previous_process_until_varset(store)
    b = instances()
    b.resync(rec_at + 600)  # Asterisk shows no channel: the call is gone
    ended = await asyncio.wait_for(b.ended.get(), 5.0)
    await b.swept(1)
    assert isinstance(ended, CallEnded) and ended.linkedid == LID
    assert ended.disposition == "ended_during_disconnect"
    assert ended.record.recordings == recs(LID)
    assert ended.at == pytest.approx(rec_at, abs=1e-6)  # the VarSet is its last known event
    assert b.published_ended() == []
    log = [e["kind"] for e in await store.events("pbx1", LID)]
    assert log.count("RecordingExpected") == 1 and "RecordingAnnounced" not in log


async def test_full_replay_through_the_store_same_recordings(pool: asyncpg.Pool) -> None:
    store = CallStore(pool)
    await feed(store, CallTracker(max_skew=None), messages(TRACE))
    row = await store.get("pbx1", LID)
    assert row is not None and row["disposition"] == "answered"
    assert row["recordings"] == [list(r) for r in recs(LID)]
    log = [e["kind"] for e in await store.events("pbx1", LID)]
    assert log.count("RecordingExpected") == 1 and log.count("RecordingAnnounced") == 1
    assert log.index("RecordingExpected") < log.index("QueueJoined")
    expected = next(e for e in await store.events("pbx1", LID) if e["kind"] == "RecordingExpected")
    assert expected["data"] == dict(zip(("mixed", "inbound", "outbound"),
                                        (p for _, p in recs(LID)), strict=True))  # fmt: skip


async def test_ivr_only_row_closed_by_a_resync_lists_no_recordings(
    pool: asyncpg.Pool, instances: Callable[[], Instance]
) -> None:
    store = CallStore(pool)
    msgs = messages("11-agi-hangup")
    cut = next(i for i, m in enumerate(msgs) if m.name == "Hangup")
    await feed(store, CallTracker(max_skew=None), msgs[:cut])
    lid = msgs[cut]["Linkedid"]
    b = instances()
    b.resync(float(msgs[cut]["Timestamp"]) + 600)
    ended = await asyncio.wait_for(b.ended.get(), 5.0)
    assert isinstance(ended, CallEnded) and ended.linkedid == lid
    assert ended.record.recordings == ()
    row = await store.get("pbx1", lid)
    assert row is not None and row["recordings"] == []


async def test_adopted_call_keeps_the_expected_names_and_takes_the_announced_ones(
    pool: asyncpg.Pool,
) -> None:
    """A wrote the expected names; B adopts the call later (no VarSet for B). Without a
    UserEvent the row keeps A's names; with one, the announced names replace them (three
    entries, not six)."""
    store = CallStore(pool)
    await previous_process_until_varset(store)
    msgs = messages(TRACE)
    cut = [i for i, m in enumerate(msgs) if m.name == "BridgeEnter"][-1] + 1
    snap = snapshot_at(msgs, cut)
    b = CallTracker(max_skew=None)
    b.link_up("pbx1", snap.at)
    await store.apply(b.reconcile("pbx1", snap.channels, snap.entries, MEMBERS, at=snap.at),
                      current_of(b))  # fmt: skip
    assert b.open_calls()[0].recordings == []  # B never saw the VarSet
    row = await store.get("pbx1", LID)
    assert row is not None and row["recordings"] == [list(r) for r in recs(LID)]
    for m in msgs[cut:]:
        if is_announcement(m):
            m.fields.update(Mixed="/other/x.wav", In="/other/x-in.wav", Out="/other/x-out.wav")
    await feed(store, b, msgs[cut:])
    row = await store.get("pbx1", LID)
    assert row is not None and row["disposition"] == "answered"
    assert row["recordings"] == [list(r) for r in recs("x", "/other/")]


async def test_adopted_call_without_user_event_keeps_the_rows_names(pool: asyncpg.Pool) -> None:
    store = CallStore(pool)
    await previous_process_until_varset(store)
    msgs = [m for m in messages(TRACE) if not is_announcement(m)]
    cut = [i for i, m in enumerate(msgs) if m.name == "BridgeEnter"][-1] + 1
    snap = snapshot_at(msgs, cut)
    b = CallTracker(max_skew=None)
    b.link_up("pbx1", snap.at)
    await store.apply(b.reconcile("pbx1", snap.channels, snap.entries, MEMBERS, at=snap.at),
                      current_of(b))  # fmt: skip
    await feed(store, b, msgs[cut:])
    row = await store.get("pbx1", LID)
    assert row is not None and row["ended_at"] is not None
    assert row["recordings"] == [list(r) for r in recs(LID)]


async def test_listed_files_that_never_appear_are_retried_then_missing(
    pool: asyncpg.Pool, instances: Callable[[], Instance], tmp_path: Path
) -> None:
    """MixMonitor failed (or wrote only the mix): the files the VarSet named go through the
    registry's usual path: registered when there, retried, then ``missing`` with an alert."""
    root = tmp_path / "monitor"
    files = mixmonitor_files(root, LID, seconds=0.2)
    remove(files["citizen"])
    remove(files["agent"])
    msgs = messages(TRACE)
    cut = root_varset_cut(msgs)
    msgs[cut - 1].fields["Value"] = str(root / LID)
    store = CallStore(pool)
    await feed(store, CallTracker(max_skew=None), msgs[:cut])
    registry = CaptureRegistry(pool, JobQueue(pool), root, max_checks=3, transcribe=False)
    b = instances()
    sub = b.bus.subscribe({"CallEnded"})
    task = asyncio.create_task(register_ended_calls(sub, registry))
    try:
        b.resync(float(msgs[cut - 1]["Timestamp"]) + 600)

        async def listed() -> bool:
            return len(await registry.files(f"pbx1:{LID}")) == 3

        await until(listed)
    finally:
        task.cancel()
        sub.close()
    outcomes = []
    for _ in range(3):
        handlers = {REGISTER_KIND: registry.handle_register}
        outcomes += [o for _, o in await drain(registry.queue, handlers)]
        await make_due(pool)
    assert outcomes == ["queued", "queued", "done"]
    states = {r["direction"]: r["state"] for r in await registry.files(f"pbx1:{LID}")}
    assert states == {"mix": "registered", "citizen": "missing", "agent": "missing"}
    alerts = await registry.alerts()
    assert sorted(a["kind"] for a in alerts) == ["missing", "missing"]
    assert all(a["call_id"] == f"pbx1:{LID}" for a in alerts)


# ---------------------------------------------------------------- the whole application


async def test_restart_registers_the_recordings_although_the_user_event_never_came(
    settings: Settings, db_dsn: str, pool: asyncpg.Pool
) -> None:
    """Process A's row of trace 02 stops right after the citizen's VarSet HOTLINE_REC (naming
    real MixMonitor files); the citizen hangs up while no backend runs, so no UserEvent is ever
    heard. Backend B starts against an Asterisk without the call: the resync closes the row
    and the recordings feature registers the three files."""
    root = Path(settings.recordings.dir)
    files = mixmonitor_files(root, LID, seconds=0.2)
    msgs = messages(TRACE)
    cut = root_varset_cut(msgs)
    rec_at = float(msgs[cut - 1]["Timestamp"])
    shift = time.time() - 3600 - rec_at  # an hour ago, whatever the clock
    for m in msgs[:cut]:
        if "Timestamp" in m.fields:
            m.fields["Timestamp"] = f"{float(m.fields['Timestamp']) + shift:.6f}"
    msgs[cut - 1].fields["Value"] = str(root / LID)
    assert not any(is_announcement(m) for m in msgs[:cut])
    await feed(CallStore(pool), CallTracker(max_skew=None), msgs[:cut])
    row = await CallStore(pool).get("pbx1", LID)
    assert row is not None and row["ended_at"] is None
    assert [p for _, p in row["recordings"]] == [files["mix"], files["citizen"], files["agent"]]

    event, row = await restart_and_register(settings, db_dsn, pool, LID)
    assert [p for _, p in event.record.recordings] == [
        files["mix"],
        files["citizen"],
        files["agent"],
    ]
    assert row is not None and row["disposition"] == "ended_during_disconnect"
    assert abs((row["ended_at"] - ts(rec_at + shift)).total_seconds()) < 1e-3
    recs_ = await pool.fetch(
        "SELECT direction, server_id, state FROM recordings WHERE call_id = $1 ORDER BY 1",
        f"pbx1:{LID}",
    )
    assert [(r["direction"], r["server_id"]) for r in recs_] == [
        ("agent", "pbx1"),
        ("citizen", "pbx1"),
        ("mix", "pbx1"),
    ]
    assert all(r["state"] != "rejected" for r in recs_), [dict(r) for r in recs_]
