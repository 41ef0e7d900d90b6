"""Transcription worker processes.

Vosk is CPU-bound, so transcription runs in separate processes: N per machine
(``[stt] workers``), any number of machines, all claiming ``recordings.transcribe`` jobs from
PostgreSQL. Each process loads the model once at start. `WorkerPool` starts and supervises them
from the service (restarting one that dies); ``python -m recordings.worker`` is the process.

The database URL is passed in the environment (``HOTLINE_WORKER_DSN``), not on the command line,
so it does not show in ``ps``.

A worker has no metrics registry of its own: with ``--report`` (what `WorkerPool` passes when it
is given ``on_report``) it writes one line per job it settled on stdout,
``recordings-worker job {"outcome": "done"|"failed"|"dead", ...}``, and the supervising backend
process counts them (`recordings.metrics`). Nothing else is read from a worker's stdout after the
ready line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg

from kit.db import create_pool
from kit.jobs import DEAD, JobQueue, JobRunner, default_worker_id
from recordings.registry import TRANSCRIBE_KIND
from recordings.stt import MODEL_SETTING, SttModelError, VoskTranscriber, load_model
from recordings.transcription import TranscriptionHandler
from recordings.units import UnitCatalogue

log = logging.getLogger(__name__)
DSN_ENV = "HOTLINE_WORKER_DSN"
READY = "recordings-worker ready"
REPORT = "recordings-worker job "
_PROJECT_ROOT = str(Path(__file__).resolve().parents[1])
_REPORTED_RESULT = ("audio_seconds", "cpu_seconds", "wall_seconds", "reused")

Report = Callable[[dict[str, Any]], object]


def format_report(report: Mapping[str, Any]) -> str:
    """One report line as a worker writes it."""
    return REPORT + json.dumps(dict(report), separators=(",", ":")) + "\n"


def parse_report(line: bytes | str) -> dict[str, Any] | None:
    """The report of a line a worker wrote, or None for any other line (or a garbled one)."""
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    if not text.startswith(REPORT):
        return None
    try:
        value = json.loads(text[len(REPORT):])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _report_on_stdout(report: dict[str, Any]) -> None:
    try:
        sys.stdout.write(format_report(report))
        sys.stdout.flush()
    except (OSError, ValueError):  # the supervisor is gone: the job's outcome is in PostgreSQL
        pass


class ReportingQueue(JobQueue):
    """The worker's job queue: reports every outcome it actually recorded (a job taken over by
    another worker meanwhile is reported by that worker, not twice)."""

    def __init__(self, pool: asyncpg.Pool, report: Report) -> None:
        super().__init__(pool)
        self.report = report

    async def complete(self, job_id: int, worker: str, result: Any = None) -> bool:
        """Mark done, then report ``done`` with the result's timings."""
        done = await super().complete(job_id, worker, result)
        if done:
            facts = result if isinstance(result, dict) else {}
            self.report({"outcome": "done", "job_id": job_id,
                         **{k: facts[k] for k in _REPORTED_RESULT if k in facts}})
        return done

    async def fail(self, job_id: int, worker: str, error: str, *,
                   retry: bool = True) -> str | None:
        """Record the failure, then report ``failed`` (queued again) or ``dead``."""
        state = await super().fail(job_id, worker, error, retry=retry)
        if state is not None:
            self.report({"outcome": "dead" if state == DEAD else "failed", "job_id": job_id})
        return state


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
    queue = ReportingQueue(pool, _report_on_stdout) if args.report else JobQueue(pool)
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
    p.add_argument("--report", action="store_true",
                   help="write a line per settled job on stdout for the supervisor")
    args = p.parse_args(argv)
    if not args.fake and not args.model_dir:
        p.error("--model-dir is required (or --fake)")
    return args


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    sys.exit(asyncio.run(run(parse_args(argv))))


class WorkerPool:
    """Starts N worker processes and restarts any that dies, until `stop`. With ``on_report``
    the workers report each settled job and ``on_report`` is called with it, in this process."""

    def __init__(self, dsn: str, root: Path, *, count: int, model_dir: Path | None = None,
                 fake: bool = False, fake_rtf: float = 0.0, units: Path | None = None,
                 lease: float = 60.0, poll: float = 0.5, restart_delay: float = 1.0,
                 on_report: Report | None = None) -> None:
        self.dsn, self.root, self.count = dsn, Path(root), count
        self.model_dir, self.fake, self.fake_rtf = model_dir, fake, fake_rtf
        self.units, self.lease, self.poll = units, lease, poll
        self.restart_delay = restart_delay
        self.on_report = on_report
        self.procs: list[asyncio.subprocess.Process | None] = [None] * count
        self.restarts = 0
        self.reports = 0
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
        if self.on_report is not None:
            argv.append("--report")
        return argv

    async def spawn(self, i: int) -> asyncio.subprocess.Process:
        """Start worker ``i`` and wait until it has loaded its model."""
        env = {**os.environ, DSN_ENV: self.dsn,
               "PYTHONPATH": os.pathsep.join([_PROJECT_ROOT,
                                              os.environ.get("PYTHONPATH", "")])}
        proc = await asyncio.create_subprocess_exec(*self._argv(i), env=env,
                                                    stdout=asyncio.subprocess.PIPE)
        assert proc.stdout is not None
        try:
            line = await proc.stdout.readline()
        except BaseException:  # cancelled while the model loads: leave no orphan behind
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise
        if READY not in line.decode(errors="replace"):
            await proc.wait()
            raise RuntimeError(f"transcription worker {i} failed to start (exit {proc.returncode})")
        self.procs[i] = proc
        return proc

    async def start(self) -> None:
        """Start every worker (model loading happens in parallel) and their supervisors."""
        await asyncio.gather(*(self.spawn(i) for i in range(self.count)))
        self._tasks = [asyncio.create_task(self._watch(i), name=f"stt-worker-{i}")
                       for i in range(self.count)]

    async def read_reports(self, stream: asyncio.StreamReader) -> None:
        """Hand every report line of a worker's stdout to ``on_report`` until it closes. Other
        lines, garbled ones and lines over the stream's limit are skipped."""
        while True:
            try:
                line = await stream.readline()
            except ValueError:  # a line longer than the limit (dropped by the reader)
                log.warning("skipped an over-long line from a transcription worker")
                continue
            if not line:
                return
            report = parse_report(line)
            if report is None:
                log.warning("unexpected output from a transcription worker: %r", line[:200])
                continue
            self.reports += 1
            if self.on_report is not None:
                try:
                    self.on_report(report)
                except Exception:
                    log.exception("could not count a transcription worker report")

    async def _watch(self, i: int) -> None:
        while True:
            proc = self.procs[i]
            assert proc is not None and proc.stdout is not None
            # The pipe is read until the worker exits, so it never fills up and blocks it.
            await self.read_reports(proc.stdout)
            await proc.wait()
            if self._stopping:
                return
            log.error("transcription worker %d (pid %s) exited with %s; restarting",
                      i, proc.pid, proc.returncode)
            self.restarts += 1
            await asyncio.sleep(self.restart_delay)
            if self._stopping:
                return
            with contextlib.suppress(RuntimeError):
                await self.spawn(i)

    def status(self) -> dict[str, Any]:
        """For /readyz."""
        alive = [p.pid for p in self.procs if p is not None and p.returncode is None]
        return {"ok": len(alive) == self.count, "workers": self.count, "alive": alive,
                "restarts": self.restarts, "reports": self.reports}

    async def stop(self, grace: float = 10.0) -> None:
        """SIGTERM every worker (they release their jobs), SIGKILL after ``grace`` seconds.
        The supervisors keep reading the workers' last reports until they have exited."""
        self._stopping = True
        await self._terminate(grace)
        if self._tasks:
            done, pending = await asyncio.wait(self._tasks, timeout=2.0)
            for t in pending:  # e.g. one waiting to restart a worker
                t.cancel()
            for t in pending:
                with contextlib.suppress(asyncio.CancelledError):
                    await t
            for t in done:
                if not t.cancelled() and t.exception() is not None:
                    log.error("transcription worker supervisor failed", exc_info=t.exception())
            self._tasks.clear()
        await self._terminate(grace)  # a worker started while stopping

    async def _terminate(self, grace: float) -> None:
        for p in self.procs:
            if p is not None and p.returncode is None:
                with contextlib.suppress(ProcessLookupError):
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
