"""Helpers of the recordings tests: fake MixMonitor files and a job drain loop."""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from kit.jobs import Job, JobQueue, PermanentJobError
from tests.recordings.conftest import write_wav


def tone(seconds: float, rate: int = 8000, freq: float = 440.0) -> bytes:
    """A quiet sine tone (not silence, so files differ in content)."""
    n = int(seconds * rate)
    return b"".join(struct.pack("<h", int(3000 * math.sin(2 * math.pi * freq * i / rate)))
                    for i in range(n))


def mixmonitor_files(root: Path, call_id: str, *, seconds: float = 2.0,
                     citizen: list[tuple[str, float, float]] | None = None,
                     agent: list[tuple[str, float, float]] | None = None,
                     subdir: str = "") -> dict[str, str]:
    """Write the three files MixMonitor leaves (same length, 8 kHz mono 16-bit) with sidecar
    scripts for the fake recognizer; returns direction → absolute path."""
    d = root / subdir if subdir else root
    d.mkdir(parents=True, exist_ok=True)
    base = d / call_id
    paths = {"mix": Path(f"{base}.wav"), "citizen": Path(f"{base}-in.wav"),
             "agent": Path(f"{base}-out.wav")}
    for i, (direction, p) in enumerate(paths.items()):
        write_wav(p, tone(seconds, freq=300 + 100 * i))
        script = {"citizen": citizen, "agent": agent}.get(direction)
        if script:
            p.with_name(p.name + ".words.json").write_text(json.dumps(
                [{"text": t, "start": s, "end": e} for t, s, e in script], ensure_ascii=False),
                encoding="utf-8")
    return {k: str(v) for k, v in paths.items()}


Handler = Callable[[Job], Awaitable[Any]]


async def drain(queue: JobQueue, handlers: dict[str, Handler], worker: str = "test",
                max_jobs: int = 50) -> list[tuple[Job, str]]:
    """Run due jobs of ``handlers`` in this task until none is due (like JobRunner, without
    its timing): returns (job, outcome) pairs."""
    ran: list[tuple[Job, str]] = []
    for _ in range(max_jobs):
        job = await queue.claim(list(handlers), worker)
        if job is None:
            break
        try:
            result = await handlers[job.kind](job)
        except PermanentJobError as exc:
            await queue.fail(job.id, worker, str(exc), retry=False)
            ran.append((job, "dead"))
        except Exception as exc:
            state = await queue.fail(job.id, worker, f"{type(exc).__name__}: {exc}")
            ran.append((job, state or "lost"))
        else:
            await queue.complete(job.id, worker, result)
            ran.append((job, "done"))
    return ran


async def make_due(pool) -> None:
    """Skip the back-off of queued jobs."""
    await pool.execute("UPDATE jobs SET run_at = now() WHERE state = 'queued'")


def read_bytes(path: str | Path) -> bytes:
    """Sync file read (tests only; tiny files)."""
    return Path(path).read_bytes()


def write_bytes(path: str | Path, data: bytes) -> None:
    """Sync file write (tests only)."""
    Path(path).write_bytes(data)


def remove(path: str | Path) -> None:
    """Sync unlink (tests only)."""
    Path(path).unlink()
