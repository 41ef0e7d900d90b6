"""The durable safety net: ended calls in the `calls` table whose announced recordings were
never registered (the live CallEnded subscriber was not running) get registered."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from kit.jobs import JobQueue
from recordings.reconcile import reconcile_once, unregistered_calls
from recordings.registry import REGISTER_KIND, CaptureRegistry
from tests.recordings.helpers import drain, mixmonitor_files


async def insert_call(pool, server: str, linkedid: str, *, ended_ago: timedelta | None,
                      recordings: list[list[str]], agent: str | None = None) -> None:
    """One call row as the pbx call tracker stores it."""
    await pool.execute(
        """INSERT INTO calls (server, linkedid, direction, started_at, ended_at, disposition,
                              agent, recordings)
           VALUES ($1, $2, 'inbound', now() - $3::interval - interval '5 minutes',
                   CASE WHEN $4 THEN now() - $3::interval END,
                   CASE WHEN $4 THEN 'answered' END, $5, $6)""",
        server, linkedid, ended_ago or timedelta(0), ended_ago is not None, agent, recordings)


def tracker_pairs(files: dict[str, str]) -> list[list[str]]:
    """Our direction → path as the tracker's [[direction, path], ...] (mixed / in / out)."""
    return [["mixed", files["mix"]], ["in", files["citizen"]], ["out", files["agent"]]]


async def test_missed_call_is_registered_once(pool, tmp_path: Path) -> None:
    root = tmp_path / "monitor"
    registry = CaptureRegistry(pool, JobQueue(pool), root, transcribe=False)
    missed = mixmonitor_files(root, "1795837952.7")
    await insert_call(pool, "pbx1", "1795837952.7", ended_ago=timedelta(minutes=2),
                      recordings=tracker_pairs(missed))
    # Not candidates: still in progress, an IVR hang-up without recordings, ended long ago,
    # and a call the live subscriber already registered.
    await insert_call(pool, "pbx1", "1795837952.8", ended_ago=None,
                      recordings=tracker_pairs(missed))
    await insert_call(pool, "pbx1", "1795837952.9", ended_ago=timedelta(minutes=1),
                      recordings=[])
    await insert_call(pool, "pbx2", "1795000000.1", ended_ago=timedelta(days=10),
                      recordings=tracker_pairs(missed))
    live = mixmonitor_files(root, "1795837953.1")
    await insert_call(pool, "pbx1", "1795837953.1", ended_ago=timedelta(minutes=1),
                      recordings=tracker_pairs(live))
    await registry.call_ended("pbx1:1795837953.1", live, server_id="pbx1")

    result = await reconcile_once(pool, registry)
    assert result == {"calls": 1, "recordings": 3, "errors": []}
    rows = await registry.files("pbx1:1795837952.7")
    assert {(r["direction"], r["server_id"]) for r in rows} == {
        ("mix", "pbx1"), ("citizen", "pbx1"), ("agent", "pbx1")}
    # The retention clock starts when the call ended, not when the safety net noticed it.
    ended = await pool.fetchval(
        "SELECT ended_at FROM calls WHERE linkedid = '1795837952.7'")
    assert {r["call_ended_at"] for r in rows} == {ended}
    await drain(registry.queue, {REGISTER_KIND: registry.handle_register})
    assert {r["state"] for r in await registry.files("pbx1:1795837952.7")} == {"registered"}

    # A second run (or another instance) finds nothing to do.
    assert await unregistered_calls(pool) == []
    assert await reconcile_once(pool, registry) == {"calls": 0, "recordings": 0, "errors": []}
    assert await pool.fetchval("SELECT count(*) FROM recordings") == 6


async def test_unknown_directions_only_are_not_candidates(pool, tmp_path: Path) -> None:
    registry = CaptureRegistry(pool, JobQueue(pool), tmp_path, transcribe=False)
    await insert_call(pool, "pbx1", "1.1", ended_ago=timedelta(minutes=1),
                      recordings=[["video", "/x.mp4"]])
    assert await unregistered_calls(pool) == []
    assert (await reconcile_once(pool, registry))["calls"] == 0


async def test_a_rejected_path_is_registered_with_an_alert_not_retried(pool,
                                                                       tmp_path: Path) -> None:
    registry = CaptureRegistry(pool, JobQueue(pool), tmp_path / "monitor", transcribe=False)
    await insert_call(pool, "pbx1", "2.2", ended_ago=timedelta(minutes=1),
                      recordings=[["mixed", "/etc/shadow"]])
    assert (await reconcile_once(pool, registry))["recordings"] == 1
    assert [a["kind"] for a in await registry.alerts()] == ["path_rejected"]
    assert (await reconcile_once(pool, registry))["calls"] == 0


async def test_just_ended_calls_are_left_to_the_live_subscriber(pool, tmp_path: Path) -> None:
    await insert_call(pool, "pbx1", "3.3", ended_ago=timedelta(seconds=1),
                      recordings=[["mixed", str(tmp_path / "3.3.wav")]])
    assert await unregistered_calls(pool) == []
    assert len(await unregistered_calls(pool, grace=timedelta(0))) == 1
