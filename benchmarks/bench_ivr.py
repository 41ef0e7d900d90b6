"""Benchmark: N concurrent IVR sessions over loopback FastAGI; command round-trip percentiles.

The server runs the real main flow (``ivr.main_menu``) with an in-memory store; a separate
process plays N fake Asterisk channels at once (tests/fakes/fake_agi.py), each choosing 2 (投诉).
The round trip of a command is measured in the server, from writing the command line to parsing
its reply — what a flow waits for.

Two modes:

* ``paced`` (default): like real calls, media commands (prompts, key input) take 1–3 s on
  the fake channel, so all N sessions are alive at once; the round trip is reported for the
  commands Asterisk answers at once (ANSWER's neighbours: VERBOSE, SET/GET VARIABLE), i.e. our
  server's own latency with N live calls.
* ``burst``: every command is answered at once, so N sessions fire commands back to back; this is
  a throughput stress test, its latency is queueing (Little's law: N outstanding / throughput).

    python benchmarks/bench_ivr.py [--sessions 500] [--rounds 3] [--mode paced|burst]

Target (issue 5): p99 < 10 ms at 500 concurrent sessions.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ivr.app import agi_routes  # noqa: E402
from ivr.call import IvrDeps  # noqa: E402
from ivr.ports import InMemoryOrderDirectory  # noqa: E402
from ivr.store import InMemoryIvrStore, ListJobSink  # noqa: E402
from pbx.agi import AgiServerConfig, AgiSession, FastAgiServer  # noqa: E402


async def clients(port: int, sessions: int, mode: str) -> None:
    """Run ``sessions`` fake channels at once; fail loudly if any did not reach the queue."""
    import random

    from tests.fakes.fake_agi import FakeCaller

    delay = (lambda: random.uniform(1.0, 3.0)) if mode == "paced" else None
    callers = [FakeCaller(["", "2"], media_delay=delay) for _ in range(sessions)]
    done = await asyncio.gather(*(c.call("127.0.0.1", port, wait=60) for c in callers))
    bad = sum(1 for c in done if c.variables.get("HOTLINE_QUEUE") != "hotline-complaint")
    if bad:
        raise SystemExit(f"{bad} sessions did not complete")


def pct(samples: list[float], q: float) -> float:
    """Percentile ``q`` (0-100) in milliseconds, nearest-rank."""
    ordered = sorted(samples)
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k] * 1000


async def bench(sessions: int, rounds: int, mode: str) -> None:
    samples: list[float] = []
    sent = [0]
    original = AgiSession.command
    instant = ("VERBOSE", "SET VARIABLE", "GET VARIABLE")

    async def timed(self: AgiSession, line: str):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        sent[0] += 1
        try:
            return await original(self, line)
        finally:
            if mode == "burst" or line.startswith(instant):
                samples.append(time.perf_counter() - started)

    AgiSession.command = timed  # type: ignore[method-assign]
    store = InMemoryIvrStore()
    deps = IvrDeps(store=store, orders=InMemoryOrderDirectory(), jobs=ListJobSink())
    config = AgiServerConfig(host="127.0.0.1", port=0, backlog=2048)
    async with FastAgiServer(agi_routes(deps), config) as server:
        for r in range(1, rounds + 1):
            samples.clear()
            sent[0] = 0
            cpu = time.process_time()
            started = time.perf_counter()
            proc = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--client", str(server.port), str(sessions), mode,
                cwd=ROOT)
            if await proc.wait() != 0:
                raise SystemExit("client process failed")
            elapsed = time.perf_counter() - started
            cpu_per_command = (time.process_time() - cpu) / max(1, sent[0]) * 1e6
            print(f"[{mode}] round {r}: {sessions} concurrent sessions, {len(samples)} "
                  f"commands timed, run {elapsed:.2f} s "
                  f"({sessions / elapsed:.0f} sessions/s) | round trip "
                  f"p50 {pct(samples, 50):.2f} ms  p90 {pct(samples, 90):.2f} ms  "
                  f"p99 {pct(samples, 99):.2f} ms  max {max(samples) * 1000:.2f} ms  "
                  f"mean {statistics.fmean(samples) * 1000:.2f} ms | server CPU "
                  f"{cpu_per_command:.0f} µs per command ({sent[0]} commands)")
        stats = server.stats.as_dict()
    print(f"server: {stats}")
    print(f"records saved: {len(store.sessions)}, all queued: "
          f"{all(rec.queue == 'hotline-complaint' for rec in store.sessions.values())}")


def main() -> None:
    """CLI entry point."""
    if len(sys.argv) == 5 and sys.argv[1] == "--client":
        asyncio.run(clients(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mode", choices=("paced", "burst"), default="paced")
    args = parser.parse_args()
    from machine import describe  # benchmarks/machine.py, beside this script

    print(describe())
    asyncio.run(bench(args.sessions, args.rounds, args.mode))


if __name__ == "__main__":
    main()
