"""Capture registry on a real PostgreSQL: files registered with their facts, retried while
Asterisk may still be writing, then missing with an alert; paths kept inside the directory."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest

from kit.jobs import JobQueue
from recordings.files import PathEscapeError, relative_path
from recordings.registry import (
    REGISTER_KIND,
    TRANSCRIBE_KIND,
    CaptureRegistry,
    files_from_base,
    files_from_user_event,
)
from tests.recordings.helpers import (
    drain,
    make_due,
    mixmonitor_files,
    read_bytes,
    remove,
    write_bytes,
)

CALL = "pbx1-1795837952.0"
ASTERISK = "/var/spool/asterisk/monitor"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    d = tmp_path / "monitor"
    d.mkdir()
    return d


@pytest.fixture
def registry(pool, root) -> CaptureRegistry:
    """Asterisk and the backend see the directory under the same name (the default)."""
    # Back-off far longer than a test: retries happen only when the test makes them due.
    return CaptureRegistry(pool, JobQueue(pool, backoff_base=timedelta(hours=1)), root,
                           max_checks=3)


@pytest.fixture
def mapped(pool, root) -> CaptureRegistry:
    """Asterisk's /var/spool/asterisk/monitor is mounted at ``root`` here."""
    return CaptureRegistry(pool, JobQueue(pool, backoff_base=timedelta(hours=1)), root,
                           asterisk_dir=ASTERISK, max_checks=3)


def test_user_event_and_base_names() -> None:
    fields = {"Mixed": "/var/spool/asterisk/monitor/x.wav",
              "In": "/var/spool/asterisk/monitor/x-in.wav",
              "Out": "/var/spool/asterisk/monitor/x-out.wav", "HangupCause": "16"}
    assert files_from_user_event(fields) == files_from_base("/var/spool/asterisk/monitor/x")
    # Trace 03: an abandoned call announces only the mix.
    assert files_from_user_event({"Mixed": "/m/y.wav", "In": "", "Out": ""}) == {"mix": "/m/y.wav"}


@pytest.mark.parametrize("path", [
    "../etc/passwd", "/etc/passwd", "/var/spool/asterisk/x/../../../etc", "", "a\x00b.wav",
    "/var/spool/asterisk/monitor", "/var/spool/asterisk/monitor/../../../../etc/passwd",
    "/var/spool/asterisk/monitor/a/../../monitor2/x.wav", "/var/spool/asterisk/monitor2/x.wav",
    "/var/spool/asterisk/monitor/..", "/var/spool/asterisk/monitor/./"])
def test_escaping_paths_are_refused(root: Path, path: str) -> None:
    with pytest.raises(PathEscapeError):
        relative_path(root, path, "/var/spool/asterisk/monitor")


def test_symlink_out_of_the_directory_is_refused(root: Path, tmp_path: Path) -> None:
    (root / "link.wav").symlink_to(tmp_path / "elsewhere.wav")
    with pytest.raises(PathEscapeError):
        relative_path(root, "link.wav")


def test_asterisk_path_maps_into_root(root: Path) -> None:
    assert relative_path(root, "/var/spool/asterisk/monitor/2026/a-in.wav",
                         "/var/spool/asterisk/monitor") == "2026/a-in.wav"
    assert relative_path(root, "/var/spool/asterisk/monitor//2026/./x/../b.wav",
                         "/var/spool/asterisk/monitor/") == "2026/b.wav"
    assert relative_path(root, str(root / "b.wav")) == "b.wav"
    # With the mapping on, Asterisk's paths are in Asterisk's file system: this machine's
    # name of the directory means nothing there.
    with pytest.raises(PathEscapeError, match="outside Asterisk's recordings directory"):
        relative_path(root, str(root / "b.wav"), "/var/spool/asterisk/monitor")


async def test_files_registered_with_facts_then_transcription_queued(pool, mapped, root) -> None:
    registry = mapped
    files = mixmonitor_files(root, CALL, seconds=1.5)
    asterisk = {d: p.replace(str(root), ASTERISK) for d, p in files.items()}
    await registry.call_ended(CALL, asterisk, server_id="pbx1")
    ran = await drain(registry.queue, {REGISTER_KIND: registry.handle_register})
    assert [o for _, o in ran] == ["done"]
    rows = {r["direction"]: r for r in await registry.files(CALL)}
    for direction, path in files.items():
        row = rows[direction]
        data = read_bytes(path)
        assert row["state"] == "registered"
        assert row["path"] == Path(path).name
        assert row["size_bytes"] == len(data)
        assert row["sha256"] == hashlib.sha256(data).hexdigest()
        assert row["sample_rate"] == 8000 and row["duration_s"] == pytest.approx(1.5)
        assert row["server_id"] == "pbx1"
    jobs = await pool.fetch("SELECT kind, payload, dedupe_key FROM jobs WHERE kind = $1",
                            TRANSCRIBE_KIND)
    assert [j["payload"] for j in jobs] == [{"call_id": CALL}]


async def test_call_ended_twice_is_idempotent(pool, registry, root) -> None:
    files = mixmonitor_files(root, CALL)
    await registry.call_ended(CALL, files)
    await registry.call_ended(CALL, files)
    assert await pool.fetchval("SELECT count(*) FROM recordings") == 3
    assert await pool.fetchval("SELECT count(*) FROM jobs") == 1


async def test_late_file_is_retried_then_registered(pool, registry, root) -> None:
    files = mixmonitor_files(root, CALL)
    agent = Path(files["agent"])
    data = read_bytes(agent)
    remove(agent)  # Asterisk has not closed it yet
    await registry.call_ended(CALL, files)
    ran = await drain(registry.queue, {REGISTER_KIND: registry.handle_register})
    assert [o for _, o in ran] == ["queued"]
    states = {r["direction"]: (r["state"], r["checks"]) for r in await registry.files(CALL)}
    assert states == {"agent": ("pending", 1), "citizen": ("registered", 1),
                      "mix": ("registered", 1)}
    write_bytes(agent, data)
    await make_due(pool)
    ran = await drain(registry.queue, {REGISTER_KIND: registry.handle_register})
    assert [o for _, o in ran] == ["done"]
    assert {r["state"] for r in await registry.files(CALL)} == {"registered"}
    assert await registry.alerts() == []


async def test_file_that_never_comes_is_missing_with_alert(pool, registry, root) -> None:
    files = mixmonitor_files(root, CALL)
    remove(files["citizen"])
    write_bytes(files["mix"], b"RIFF")  # truncated header: not a WAV yet
    await registry.call_ended(CALL, files)
    outcomes = []
    for _ in range(3):
        outcomes += [o for _, o in await drain(registry.queue,
                                                {REGISTER_KIND: registry.handle_register})]
        await make_due(pool)
    assert outcomes == ["queued", "queued", "done"]
    rows = {r["direction"]: r for r in await registry.files(CALL)}
    assert rows["citizen"]["state"] == "missing" and rows["citizen"]["checks"] == 3
    assert "FileNotFoundError" in rows["citizen"]["last_error"]
    assert rows["mix"]["state"] == "missing"
    assert rows["agent"]["state"] == "registered"
    alerts = await registry.alerts()
    assert sorted(a["kind"] for a in alerts) == ["missing", "missing"]
    assert any("citizen" in a["message"] for a in alerts)
    # The agent's side is still transcribed.
    assert await pool.fetchval("SELECT count(*) FROM jobs WHERE kind = $1", TRANSCRIBE_KIND) == 1


async def test_escaping_path_is_rejected_with_alert_not_skipped(pool, registry, root) -> None:
    files = mixmonitor_files(root, CALL)
    files["mix"] = "/etc/passwd"
    rows = {r["direction"]: r for r in await registry.call_ended(CALL, files)}
    assert rows["mix"]["state"] == "rejected"
    assert "outside the recordings directory" in rows["mix"]["last_error"]
    alerts = await registry.alerts()
    assert [a["kind"] for a in alerts] == ["path_rejected"]
    await drain(registry.queue, {REGISTER_KIND: registry.handle_register})
    assert {r["direction"]: r["state"] for r in await registry.files(CALL)} == {
        "mix": "rejected", "citizen": "registered", "agent": "registered"}


async def test_bad_input_changes_nothing(pool, registry) -> None:
    with pytest.raises(ValueError, match="directions"):
        await registry.call_ended(CALL, {"video": "/x.wav"})
    with pytest.raises(ValueError):
        await registry.call_ended("", {"mix": "x.wav"})
    assert await pool.fetchval("SELECT count(*) FROM recordings") == 0
    assert await pool.fetchval("SELECT count(*) FROM jobs") == 0


async def test_with_mapping_paths_outside_asterisk_dir_are_rejected(pool, mapped, root: Path,
                                                                   tmp_path: Path) -> None:
    files = mixmonitor_files(root, CALL)
    (tmp_path / "secret.wav").write_bytes(read_bytes(files["mix"]))
    (root / "link-in.wav").symlink_to(tmp_path / "secret.wav")
    rows = {r["direction"]: r for r in await mapped.call_ended(CALL, {
        "mix": f"{ASTERISK}/../../../../{tmp_path}/secret.wav",  # `..` out of RECDIR
        "agent": files["agent"],  # this machine's path: not a name Asterisk uses
        "citizen": f"{ASTERISK}/link-in.wav",  # inside RECDIR, but a symlink out of it here
    })}
    assert {d: r["state"] for d, r in rows.items()} == {
        "mix": "rejected", "agent": "rejected", "citizen": "rejected"}
    assert "outside Asterisk's recordings directory" in rows["agent"]["last_error"]
    assert "outside the recordings directory" in rows["citizen"]["last_error"]
    assert sorted(a["kind"] for a in await mapped.alerts()) == ["path_rejected"] * 3
    await drain(mapped.queue, {REGISTER_KIND: mapped.handle_register})
    assert {r["state"] for r in await mapped.files(CALL)} == {"rejected"}
    assert await pool.fetchval("SELECT count(*) FROM jobs WHERE kind = $1", TRANSCRIBE_KIND) == 0


def test_asterisk_dir_setting(tmp_path: Path) -> None:
    from hotline.settings import SettingsError, load_settings

    s = load_settings({"HOTLINE_RECORDINGS_DIR": "/mnt/pbx1-monitor"})
    assert s.recordings.asterisk_dir is None  # default: the same directory as `dir`
    s = load_settings({"HOTLINE_RECORDINGS_ASTERISK_DIR": ASTERISK})
    assert s.recordings.asterisk_dir == Path(ASTERISK)
    cfg = tmp_path / "hotline.toml"
    cfg.write_text(f'[recordings]\ndir = "/mnt/rec"\nasterisk_dir = "{ASTERISK}"\n')
    assert load_settings({}, cfg).recordings.asterisk_dir == Path(ASTERISK)
    for env, toml, name in [
        ({"HOTLINE_RECORDINGS_ASTERISK_DIR": "spool/monitor"}, None,
         "HOTLINE_RECORDINGS_ASTERISK_DIR"),
        ({}, '[recordings]\nasterisk_dir = "monitor"\n', "[recordings] asterisk_dir"),
        ({}, '[recordings]\nasterisk_dir = 5\n', "[recordings] asterisk_dir"),
    ]:
        if toml is not None:
            cfg.write_text(toml)
        with pytest.raises(SettingsError) as err:
            load_settings(env, cfg if toml is not None else None)
        assert err.value.setting == name
