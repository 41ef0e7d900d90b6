"""Retention: old audio deleted unless a hold or an open order refers to the call; every
deletion recorded."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from kit.errors import NotFound
from kit.jobs import JobQueue
from recordings.linking import TranscriptLinks
from recordings.registry import REGISTER_KIND, CaptureRegistry
from recordings.retention import Retention
from tests.recordings.helpers import drain, mixmonitor_files


class Linker:
    """Minimal order linker: which calls have open orders."""

    def __init__(self, open_calls: set[str]) -> None:
        self.open_calls = open_calls
        self.attached: list[tuple[str, int]] = []

    async def attach_transcript(self, call_id: str, transcript_id: int, summary: str):
        self.attached.append((call_id, transcript_id))
        return []

    async def calls_with_open_orders(self, call_ids: list[str]) -> set[str]:
        return self.open_calls & set(call_ids)


async def _calls(pool, root: Path, names: list[str], days_ago: int) -> CaptureRegistry:
    reg = CaptureRegistry(pool, JobQueue(pool), root, transcribe=False)
    for name in names:
        await reg.call_ended(name, mixmonitor_files(root, name, seconds=0.2))
    await drain(reg.queue, {REGISTER_KIND: reg.handle_register})
    await pool.execute("UPDATE recordings SET call_ended_at = now() - $1::interval"
                       " WHERE call_id = ANY($2::text[])", timedelta(days=days_ago), names)
    return reg


async def test_retention_deletes_old_audio_except_held_or_open(pool, tmp_path: Path) -> None:
    root = tmp_path / "rec"
    await _calls(pool, root, ["old", "held", "open-order", "closed-order"], days_ago=40)
    await _calls(pool, root, ["recent"], days_ago=5)
    links = TranscriptLinks(pool, JobQueue(pool))
    await links.link_order("open-order", "202611280001")
    await links.link_order("closed-order", "202611280002")
    linker = Linker(open_calls={"open-order"})
    retention = Retention(pool, root, timedelta(days=30), linker)
    hold = await retention.add_hold("held", "行政复议证据保全", None)

    result = await retention.run_once()
    assert result["deleted"] == 6
    assert result["kept"] == {"held": "hold", "open-order": "open work order"}
    states = {(r["call_id"], r["state"]) for r in await pool.fetch(
        "SELECT call_id, state FROM recordings")}
    assert {c for c, s in states if s == "deleted"} == {"old", "closed-order"}
    assert {c for c, s in states if s == "registered"} == {"held", "open-order", "recent"}
    assert not (root / "old-in.wav").exists() and (root / "held-in.wav").exists()
    deletions = await pool.fetch("SELECT * FROM recording_deletions ORDER BY id")
    assert len(deletions) == 6 and all(d["sha256"] and "retention" in d["reason"]
                                       for d in deletions)
    # Idempotent: nothing more to do; transcripts are not touched by retention.
    assert (await retention.run_once())["deleted"] == 0

    await retention.release_hold(hold["id"])
    assert (await retention.run_once())["deleted"] == 3
    with pytest.raises(NotFound):
        await retention.release_hold(hold["id"])


async def test_without_linker_linked_calls_are_kept(pool, tmp_path: Path) -> None:
    root = tmp_path / "rec"
    await _calls(pool, root, ["a", "b"], days_ago=400)
    await TranscriptLinks(pool, JobQueue(pool)).link_order("a", "1")
    result = await Retention(pool, root, timedelta(days=365)).run_once()
    assert result["deleted"] == 3 and list(result["kept"]) == ["a"]


async def test_file_already_gone_is_still_recorded(pool, tmp_path: Path) -> None:
    root = tmp_path / "rec"
    await _calls(pool, root, ["gone"], days_ago=40)
    (root / "gone.wav").unlink()
    result = await Retention(pool, root, timedelta(days=30)).run_once()
    assert result["deleted"] == 3
    reasons = [r["reason"] for r in await pool.fetch("SELECT reason FROM recording_deletions")]
    assert sum("already gone" in r for r in reasons) == 1


async def test_held_recordings_beyond_a_page_do_not_stall_retention(pool,
                                                                   tmp_path: Path) -> None:
    """More kept recordings than one page (here 2 rows, in production 1000) are paged past:
    the newer due recordings are still deleted."""
    root = tmp_path / "rec"
    await _calls(pool, root, ["held-1", "held-2"], days_ago=50)  # 6 oldest rows, all kept
    await _calls(pool, root, ["open-1"], days_ago=45)
    await _calls(pool, root, ["due"], days_ago=40)
    retention = Retention(pool, root, timedelta(days=30), Linker(open_calls={"open-1"}),
                          page_size=2)
    for call in ("held-1", "held-2"):
        await retention.add_hold(call, "信访复查", None)
    result = await retention.run_once()
    assert result["deleted"] == 3
    assert result["kept"] == {"held-1": "hold", "held-2": "hold", "open-1": "open work order"}
    assert {r["call_id"] for r in await pool.fetch(
        "SELECT call_id FROM recordings WHERE state = 'deleted'")} == {"due"}
    assert (await retention.run_once())["deleted"] == 0


def test_page_size_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        Retention(None, tmp_path, timedelta(days=1), page_size=0)  # type: ignore[arg-type]
