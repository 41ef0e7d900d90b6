"""Screen-pop latency benchmark (issue 7): ``--agents`` agents connected over WebSocket,
``--calls`` calls ringing within ``--window`` seconds; latency from the ``AgentCalled`` event
leaving the fake Asterisk (written to its AMI socket) to the ``call.ringing`` message arriving
on the rung agent's socket. Prints p50 / p99 / max (target p99 < 100 ms).

    python benchmarks/bench_screenpop.py [--agents 200] [--calls 200] [--window 1.0]

The backend (aiohttp app + AMI client + tracker + console service) runs in its own process on
a real TCP port; the fake Asterisk and the 200 WebSocket clients run in this process, so both
timestamps come from one clock. The pop includes the (in-memory) order look-up and knowledge
suggestions. Uses ``DATABASE_URL`` when set (a scratch database), else a temporary embedded
PostgreSQL cluster that is removed afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import shutil
import socket
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402

from tests.agents.scripted import ScriptedCall  # noqa: E402
from tests.fakes.fake_ami import FakeAmi  # noqa: E402

QUEUE = "hotline-general"


def pct(samples: list[float], q: float) -> float:
    """Nearest-rank percentile, in milliseconds."""
    s = sorted(samples)
    k = max(0, min(len(s) - 1, round(q / 100 * len(s) + 0.5) - 1))
    return s[k] * 1000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the backend process ------------------------------------------------------------------


class BenchOrders:
    """Two earlier orders for every caller (one open)."""

    async def orders_for_caller(self, number: str, limit: int = 10) -> list[dict[str, Any]]:
        return [
            {"order_no": f"CZ20261101-{number[-4:]}", "state": "closed", "category": "咨询",
             "summary": "停水", "deadline": None, "overdue": False, "open": False},
            {"order_no": f"CZ20261120-{number[-4:]}", "state": "handling", "category": "投诉",
             "summary": "噪音", "deadline": "2026-11-30T17:00:00+08:00", "overdue": False,
             "open": True},
        ]


class BenchKnowledge:
    async def suggest(self, *, caller: str | None, queue: str | None, ivr_choice: str | None,
                      limit: int = 5) -> list[dict[str, Any]]:
        return [{"id": 1, "title": "停水查询", "snippet": "…", "unit": "CZ-SW"}]


def serve(dsn: str, ami_port: int, http_port: int, data_dir: str, ready: Any) -> None:
    """Child process: the backend wired to the fake Asterisk."""
    from dataclasses import replace

    from aiohttp import web

    from agents.keys import CONSOLE_CONFIG, KNOWLEDGE, ORDER_LOOKUP, PBX
    from agents.service import ConsoleConfig
    from hotline.settings import DatabaseSettings, HttpSettings, Settings
    from hotline.web.app import build_app
    from pbx.ami import AmiServerConfig
    from pbx.calls.service import Telephony

    async def main() -> None:
        base = Settings()
        settings = Settings(
            data_dir=Path(data_dir), http=HttpSettings(port=http_port),
            database=DatabaseSettings(url=dsn, pool_max=10),
            recordings=replace(base.recordings, dir=Path(data_dir) / "rec"),
            prompts_dir=Path(data_dir) / "sounds",
        )
        tel = Telephony([AmiServerConfig(id="pbx1", host="127.0.0.1", port=ami_port,
                                         secret="s3cret", ping_interval=60.0)])
        app = build_app(settings, dsn, frozenset({"web"}))
        app[PBX] = tel
        app[ORDER_LOOKUP] = BenchOrders()
        app[KNOWLEDGE] = BenchKnowledge()
        app[CONSOLE_CONFIG] = ConsoleConfig(stats_interval_s=1.0)
        await tel.start()
        await tel.wait_connected(10.0)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", http_port).start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


# --- the driver ---------------------------------------------------------------------------


async def prepare_db(dsn: str, agents: int) -> list[str]:
    """Migrate, create ``agents`` agent users with tokens; returns the tokens."""
    from hotline.auth.passwords import hash_password
    from hotline.auth.store import UserStore
    from hotline.migrate import migrate
    from kit.db import create_pool

    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    pool = await create_pool(dsn, min_size=1, max_size=4)
    tokens: list[str] = []
    try:
        pw = hash_password("bench-password-12345")
        store = UserStore(pool)
        for i in range(agents):
            ext = str(3000 + i)
            uid = await pool.fetchval(
                "INSERT INTO users (username, password_hash, role, extension) "
                "VALUES ($1, $2, 'agent', $3) RETURNING id", f"bench{ext}", pw, ext)
            await pool.execute(
                "INSERT INTO agents (user_id, server, interface, extension, member_name) "
                "VALUES ($1, 'pbx1', $2, $3, $4)", uid, f"PJSIP/agent{ext}", ext, f"Agent {ext}")
            token, _ = await store.create_session(uid, "bearer", timedelta(hours=2))
            tokens.append(token)
    finally:
        await pool.close()
    return tokens


async def drive(dsn: str, agents: int, calls: int, window: float) -> None:
    tokens = await prepare_db(dsn, agents)
    async with FakeAmi() as fake:
        http_port = free_port()
        ctx = mp.get_context("spawn")
        ready = ctx.Event()
        data_dir = tempfile.mkdtemp(prefix="bench-screenpop-")
        proc = ctx.Process(target=serve, args=(dsn, fake.port, http_port, data_dir, ready),
                           daemon=True)
        proc.start()
        try:
            await asyncio.get_running_loop().run_in_executor(None, ready.wait, 60)
            # every agent logged in to the queue (as QueueAdd would report it)
            for i in range(agents):
                ext = str(3000 + i)
                fake.send_event([("Event", "QueueMemberAdded"), ("Queue", QUEUE),
                                 ("MemberName", f"Agent {ext}"),
                                 ("Interface", f"PJSIP/agent{ext}"), ("Status", "1"),
                                 ("Paused", "0"), ("PausedReason", "")])
            arrived: dict[str, float] = {}
            hellos = 0
            all_hello, all_arrived = asyncio.Event(), asyncio.Event()
            # WebSockets keep their connection: lift the default limit of 100 per session.
            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
            sockets = []
            for t in tokens:
                sockets.append(await session.ws_connect(
                    f"http://127.0.0.1:{http_port}/api/ws",
                    headers={"Authorization": f"Bearer {t}"}))

            async def reader(ws: Any) -> None:
                nonlocal hellos
                async for m in ws:
                    now = time.perf_counter()
                    if '"call.ringing"' in m.data:
                        arrived.setdefault(json.loads(m.data)["call_id"], now)
                        if len(arrived) >= calls:
                            all_arrived.set()
                    elif '"hello"' in m.data:
                        hellos += 1
                        if hellos >= agents:
                            all_hello.set()

            readers = [asyncio.create_task(reader(ws)) for ws in sockets]
            await asyncio.wait_for(all_hello.wait(), 60)
            script = [ScriptedCall(i + 1, f"138{i:08d}", str(3000 + i % agents))
                      for i in range(calls)]
            for c in script:
                for e in c.arrive():
                    fake.send_event(e)
            await asyncio.sleep(1.0)
            sent: dict[str, float] = {}
            gap = window / calls
            t0 = time.perf_counter()
            for k, c in enumerate(script):
                new, called = c.ring()
                fake.send_event(new)
                fake.send_event(called)
                sent[c.call_id] = time.perf_counter()
                delay = t0 + (k + 1) * gap - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            spread = time.perf_counter() - t0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(all_arrived.wait(), 10)
            lat = [arrived[cid] - t for cid, t in sent.items() if cid in arrived]
            print(f"screen-pop: {agents} agents connected, {calls} calls rung in {spread:.2f} s")
            if lat:
                print(f"  delivered {len(lat)}/{calls}; latency AMI event → agent socket: "
                      f"p50 {pct(lat, 50):.1f} ms, p99 {pct(lat, 99):.1f} ms, "
                      f"max {max(lat) * 1000:.1f} ms (target p99 < 100 ms)")
            else:
                print("  no pop arrived")
            for r in readers:
                r.cancel()
            for ws in sockets:
                await ws.close()
            await session.close()
        finally:
            proc.terminate()
            proc.join(10)
            shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--agents", type=int, default=200)
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--window", type=float, default=1.0)
    args = ap.parse_args()
    from machine import describe  # benchmarks/machine.py, beside this script

    print(describe())
    dsn = os.environ.get("DATABASE_URL")
    if dsn:
        asyncio.run(drive(dsn, args.agents, args.calls, args.window))
        return
    from hotline.pgembed import EmbeddedPostgres

    base = tempfile.mkdtemp(prefix="bench-screenpop-pg-")
    os.chmod(base, 0o755)
    cluster = EmbeddedPostgres(Path(base) / "pg")
    cluster.start()
    try:
        asyncio.run(drive(cluster.url(), args.agents, args.calls, args.window))
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
