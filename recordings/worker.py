"""Transcription worker processes.

Vosk is CPU-bound, so transcription runs in separate processes: N per machine
(``[stt] workers``), any number of machines, all claiming ``recordings.transcribe`` jobs from
PostgreSQL. Each process loads the model once at start. `WorkerPool` starts and supervises them
from the service (restarting one that dies); ``python -m recordings.worker`` is the process.

The database URL is passed in the environment (``HOTLINE_WORKER_DSN``), not on the command line,
so it does not show in ``ps``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from kit.db import create_pool
from kit.jobs import JobQueue, JobRunner, default_worker_id
from recordings.registry import TRANSCRIBE_KIND
from recordings.stt import MODEL_SETTING, SttModelError, VoskTranscriber, load_model
from recordings.transcription import TranscriptionHandler
from recordings.units import UnitCatalogue

log = logging.getLogger(__name__)
DSN_ENV = "HOTLINE_WORKER_DSN"
READY = "recordings-worker ready"
_PROJECT_ROOT = str(Path(__file__).resolve().parents[1])


def default_units_path() -> Path | None:
    """The member-unit catalogue shipped by the workflow feature (``--units`` overrides)."""
    candidate = Path(_PROJECT_ROOT) / "workflow" / "data" / "member-units.json"
    return candidate if candidate.is_file() else None


async def run(args: argparse.Namespace) -> int:
    """Load the model, then claim and run transcription jobs until SIGTERM/SIGINT."""
    dsn = os.environ.get(DSN_ENV)
    if not dsn:
        print(f"{DSN_ENV} is not set", file=sys.stderr)
        return 2
    try:
        if args.fake:
            from recordings.fake_stt import FakeTranscriber

            transcriber: Any = FakeTranscriber(args.fake_rtf)
            engine = "fake"
        else:
            transcriber = VoskTranscriber(load_model(args.model_dir, MODEL_SETTING))
            engine = f"vosk:{Path(args.model_dir).name}"
    except SttModelError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    units_path = Path(args.units) if args.units else default_units_path()
    units = UnitCatalogue.from_file(units_path) if units_path else None
    pool = await create_pool(dsn, min_size=1, max_size=3)
    queue = JobQueue(pool)
    handler = TranscriptionHandler(pool, queue, Path(args.root), transcriber, units, engine)
    runner = JobRunner(queue, {TRANSCRIBE_KIND: handler}, concurrency=1,
                       worker=args.worker_id or default_worker_id(),
                       lease=timedelta(seconds=args.lease), poll_interval=args.poll,
                       grace=args.grace)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runner.start()
    print(READY, flush=True)
    try:
        await stop.wait()
    finally:
        await runner.stop()
        await pool.close()
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line of one worker process."""
    p = argparse.ArgumentParser(prog="python -m recordings.worker")
    p.add_argument("--root", required=True, help="recordings directory")
    p.add_argument("--model-dir", help="Vosk model directory")
    p.add_argument("--fake", action="store_true", help="scripted recognizer (tests, no model)")
    p.add_argument("--fake-rtf", type=float, default=0.0)
    p.add_argument("--units", help="member-unit catalogue JSON")
    p.add_argument("--lease", type=float, default=60.0, help="job lease, seconds")
    p.add_argument("--poll", type=float, default=0.5)
    p.add_argument("--grace", type=float, default=5.0)
    p.add_argument("--worker-id")
    args = p.parse_args(argv)
    if not args.fake and not args.model_dir:
        p.error("--model-dir is required (or --fake)")
    return args


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    sys.exit(asyncio.run(run(parse_args(argv))))


class WorkerPool:
    """Starts N worker processes and restarts any that dies, until `stop`."""

    def __init__(self, dsn: str, root: Path, *, count: int, model_dir: Path | None = None,
                 fake: bool = False, fake_rtf: float = 0.0, units: Path | None = None,
                 lease: float = 60.0, poll: float = 0.5, restart_delay: float = 1.0) -> None:
        self.dsn, self.root, self.count = dsn, Path(root), count
        self.model_dir, self.fake, self.fake_rtf = model_dir, fake, fake_rtf
        self.units, self.lease, self.poll = units, lease, poll
        self.restart_delay = restart_delay
        self.procs: list[asyncio.subprocess.Process | None] = [None] * count
        self.restarts = 0
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []

    def _argv(self, i: int) -> list[str]:
        argv = [sys.executable, "-m", "recordings.worker", "--root", str(self.root),
                "--lease", str(self.lease), "--poll", str(self.poll),
                "--worker-id", f"{default_worker_id()}/stt{i}"]
        if self.fake:
            argv += ["--fake", "--fake-rtf", str(self.fake_rtf)]
        else:
            argv += ["--model-dir", str(self.model_dir)]
        if self.units:
            argv += ["--units", str(self.units)]
        return argv

    async def spawn(self, i: int) -> asyncio.subprocess.Process:
        """Start worker ``i`` and wait until it has loaded its model."""
        env = {**os.environ, DSN_ENV: self.dsn,
               "PYTHONPATH": os.pathsep.join([_PROJECT_ROOT,
                                              os.environ.get("PYTHONPATH", "")])}
        proc = await asyncio.create_subprocess_exec(*self._argv(i), env=env,
                                                    stdout=asyncio.subprocess.PIPE)
        assert proc.stdout is not None
        line = await proc.stdout.readline()
        if READY not in line.decode(errors="replace"):
            await proc.wait()
            raise RuntimeError(f"transcription worker {i} failed to start (exit {proc.returncode})")
        self.procs[i] = proc
        return proc

    async def start(self) -> None:
        """Start every worker (model loading happens in parallel) and their supervisors."""
        await asyncio.gather(*(self.spawn(i) for i in range(self.count)))
        self._tasks = [asyncio.create_task(self._watch(i)) for i in range(self.count)]

    async def _watch(self, i: int) -> None:
        while not self._stopping:
            proc = self.procs[i]
            assert proc is not None
            await proc.wait()
            if self._stopping:
                return
            log.error("transcription worker %d (pid %s) exited with %s; restarting",
                      i, proc.pid, proc.returncode)
            self.restarts += 1
            await asyncio.sleep(self.restart_delay)
            with contextlib.suppress(RuntimeError):
                await self.spawn(i)

    def status(self) -> dict[str, Any]:
        """For /readyz."""
        alive = [p.pid for p in self.procs if p is not None and p.returncode is None]
        return {"ok": len(alive) == self.count, "workers": self.count, "alive": alive,
                "restarts": self.restarts}

    async def stop(self, grace: float = 10.0) -> None:
        """SIGTERM every worker (they release their jobs), SIGKILL after ``grace`` seconds."""
        self._stopping = True
        for t in self._tasks:
            t.cancel()
        for p in self.procs:
            if p is not None and p.returncode is None:
                p.terminate()
        for p in self.procs:
            if p is None:
                continue
            try:
                await asyncio.wait_for(p.wait(), grace)
            except TimeoutError:
                p.kill()
                await p.wait()


if __name__ == "__main__":
    main()
