"""Benchmark of the work-order engine (issue 3). Prints three figures:

1. working-time additions per second (the clock every deadline uses; target >= 100k/s);
2. orders created and dispatched per second through the HTTP API, with p50 / p99 latency of each
   request (target >= 300 orders/s, p99 < 50 ms on 2 cores) — the server runs in its own process
   on a real TCP port, the client (``--concurrency`` connections) in this one;
3. a filtered list over ``--orders`` rows (default 1,000,000; target < 50 ms): rows are
   bulk-inserted with SQL, then ``GET /api/orders`` with filters is timed over HTTP.

    python benchmarks/bench_workflow.py [--orders 1000000] [--http-orders 2000]
                                        [--concurrency 16] [--servers 1]

Uses ``DATABASE_URL`` when set (a scratch database: tables are filled), else a temporary
embedded PostgreSQL cluster that is removed afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import multiprocessing as mp
import os
import random
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402

from workflow.calendar import StatutoryCalendar  # noqa: E402
from workflow.clock import TZ, WorkAmount, add_working_time  # noqa: E402


def pct(samples: list[float], q: float) -> float:
    """Nearest-rank percentile in milliseconds."""
    s = sorted(samples)
    k = max(0, min(len(s) - 1, round(q / 100 * len(s) + 0.5) - 1))
    return s[k] * 1000


# --- 1. the clock -------------------------------------------------------------------------


def bench_clock(n: int = 300_000) -> None:
    rng = random.Random(12345)
    cal = StatutoryCalendar()
    base = dt.datetime(2026, 1, 1, tzinfo=TZ)
    amounts = [WorkAmount.hours(1), WorkAmount.days(1), WorkAmount.days(2), WorkAmount.days(3),
               WorkAmount.days(5)]  # fmt: skip
    starts = [base + dt.timedelta(minutes=rng.randrange(0, 360 * 24 * 60)) for _ in range(4096)]
    work = [(starts[i % 4096], amounts[i % 5]) for i in range(n)]
    for s, a in work[:5000]:  # warm the day cache (a long-running process has it warm)
        add_working_time(s, a, calendar=cal)
    t0 = time.perf_counter()
    for s, a in work:
        add_working_time(s, a, calendar=cal)
    el = time.perf_counter() - t0
    print(f"[clock] {n} working-time additions (1h / 1-5 working days, random 2026 starts): "
          f"{n / el:,.0f} per second ({el * 1e6 / n:.2f} µs each)")  # fmt: skip


# --- server process -----------------------------------------------------------------------


def serve(dsn: str, data_dir: str, port: int, port_q: Any) -> None:
    """Child process: the real application on a TCP port (web role only); several children
    share the port with SO_REUSEPORT, like several backend instances behind one address."""
    import logging
    from dataclasses import replace

    from aiohttp import web

    from hotline.settings import DatabaseSettings, HttpSettings, Settings
    from hotline.web.app import build_app

    logging.disable(logging.INFO)

    async def main() -> None:
        settings = Settings(
            data_dir=Path(data_dir), http=HttpSettings(port=0),
            database=DatabaseSettings(url=dsn, pool_max=10),
            recordings=replace(Settings().recordings, dir=Path(data_dir) / "rec"),
            prompts_dir=Path(data_dir) / "sounds",
        )  # fmt: skip
        app = build_app(settings, dsn, frozenset({"web"}))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port, reuse_port=True)
        await site.start()
        port_q.put(port)
        await asyncio.Event().wait()

    asyncio.run(main())


# --- database -------------------------------------------------------------------------------


async def prepare_db(dsn: str) -> None:
    from hotline.migrate import migrate

    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()


async def token(session: aiohttp.ClientSession, base: str, dsn: str, username: str,
                role: str, unit: str | None = None) -> str:  # fmt: skip
    from hotline.auth.store import UserStore
    from kit.db import create_pool

    pool = await create_pool(dsn, min_size=1, max_size=2)
    try:
        await UserStore(pool).create_user(username, "bench-password-12345", role, unit_code=unit)
    finally:
        await pool.close()
    async with session.post(f"{base}/api/auth/tokens", json={
            "username": username, "password": "bench-password-12345"}) as r:  # fmt: skip
        body = await r.json()
        assert r.status == 201, body
        return str(body["token"])


# --- 2. create + dispatch over HTTP ---------------------------------------------------------


async def bench_http(base: str, dsn: str, n: int, concurrency: int) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as s:
        tok = await token(s, base, dsn, "bench_agent", "agent")
        hdr = {"Authorization": f"Bearer {tok}"}
        create_lat: list[float] = []
        dispatch_lat: list[float] = []
        units = ["CZ-ZJJ", "CZ-CGJ", "CZ-SCJG", "CZ-RSJ", "CZ-TN", "CZ-WJ"]
        counter = iter(range(n))

        async def worker() -> None:
            for i in counter:
                body = {"category": "complaint" if i % 3 else "consultation",
                        "content": f"第{i}号诉求:小区夜间施工噪音扰民,路灯不亮",
                        "citizen": {"name": "张三", "phone": f"138{i % 10**8:08d}"}}  # fmt: skip
                t0 = time.perf_counter()
                async with s.post(f"{base}/api/orders", json=body, headers=hdr) as r:
                    o = await r.json()
                    assert r.status == 201, o
                t1 = time.perf_counter()
                async with s.post(f"{base}/api/orders/{o['number']}/dispatch", headers=hdr,
                                  json={"version": o["version"], "lead": units[i % 6],
                                        "co_units": [units[(i + 1) % 6]]}) as r:  # fmt: skip
                    d = await r.json()
                    assert r.status == 200, d
                t2 = time.perf_counter()
                create_lat.append(t1 - t0)
                dispatch_lat.append(t2 - t1)

        warm = min(100, n // 10)
        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        el = time.perf_counter() - t0
        create_lat, dispatch_lat = create_lat[warm:], dispatch_lat[warm:]
        print(f"[http] {n} orders created + dispatched with {concurrency} connections in "
              f"{el:.1f} s: {n / el:,.0f} orders/s ({2 * n / el:,.0f} requests/s)")  # fmt: skip
        for name, lat in (("create", create_lat), ("dispatch", dispatch_lat)):
            print(f"[http]   {name:8s} p50 {pct(lat, 50):6.1f} ms   p99 {pct(lat, 99):6.1f} ms   "
                  f"mean {statistics.fmean(lat) * 1000:6.1f} ms")  # fmt: skip


# --- 3. filtered list over many orders --------------------------------------------------------


async def fill(dsn: str, total: int) -> None:
    """Bulk-insert synthetic orders (SQL only; the doc is a real serialized Order)."""
    conn = await asyncpg.connect(dsn)
    try:
        have = await conn.fetchval("SELECT count(*) FROM work_orders")
        missing = total - have
        if missing <= 0:
            return
        tmpl = await conn.fetchval("SELECT doc::text FROM work_orders ORDER BY id LIMIT 1")
        states = ["dispatched", "handling", "replied", "callback", "closed", "closed", "closed"]
        units = ["CZ-ZJJ", "CZ-CGJ", "CZ-SCJG", "CZ-RSJ", "CZ-GAJ", "CZ-TN", "CZ-WJ", "CZ-XB",
                 "CZ-JTJ", "CZ-JYJ", "CZ-WJW", "CZ-ZRGH", "CZ-TN-HM", "CZ-WJ-HT",
                 "CZ-GDGS"]  # fmt: skip
        texts = ["小区 夜间 施工 噪音 扰民 夜间施工", "路灯 不亮 路 灯不亮 路灯",
                 "物业 物业费 太贵 物业", "拖欠 工资 欠薪 工资",
                 "公积金 提取 公积 积金"]  # fmt: skip
        t0 = time.perf_counter()
        batch = 100_000
        start = have
        while start < total:
            end = min(total, start + batch)
            await conn.execute(
                """
                INSERT INTO work_orders (number, version, state, channel, category, urgent,
                    confidential, lead_unit, units, citizen_phone, district, call_ids, created_at,
                    updated_at, reply_due, reply_overdue, supervision, next_check_at, closed_at,
                    search_tokens, doc)
                SELECT 'CZB' || lpad(i::text, 9, '0'), 3,
                       ($3::text[])[1 + i % 7], 'phone',
                       CASE WHEN i % 3 = 0 THEN 'consultation' ELSE 'complaint' END, false, false,
                       ($4::text[])[1 + i % 15],
                       ARRAY[($4::text[])[1 + i % 15], ($4::text[])[1 + (i + 1) % 15]],
                       '139' || lpad((i % 100000000)::text, 8, '0'), NULL, '{}',
                       ts, ts, ts + interval '5 days', i % 11 = 0, 'none', NULL,
                       CASE WHEN i % 7 >= 4 THEN ts + interval '6 days' END,
                       ($5::text[])[1 + i % 5],
                       jsonb_set(jsonb_set($6::jsonb, '{number}',
                                           to_jsonb('CZB' || lpad(i::text, 9, '0'))),
                                 '{state}', to_jsonb(($3::text[])[1 + i % 7]))
                FROM generate_series($1::bigint, $2::bigint) AS i,
                     LATERAL (SELECT now() - (i || ' seconds')::interval * 20 AS ts) t
                """,
                start, end - 1, states, units, texts, tmpl,
            )  # fmt: skip
            start = end
            print(f"[list]   inserted {end:,} / {total:,} ({time.perf_counter() - t0:.0f} s)",
                  flush=True)  # fmt: skip
        await conn.execute("ANALYZE work_orders")
    finally:
        await conn.close()


async def bench_list(base: str, dsn: str, total: int) -> None:
    await fill(dsn, total)
    async with aiohttp.ClientSession() as s:
        tok = await token(s, base, dsn, "bench_sup", "supervisor")
        unit_tok = await token(s, base, dsn, "bench_unit", "unit_staff", "CZ-ZJJ")
        queries = [
            ("platform: state=handling&lead_unit=CZ-ZJJ", tok,
             "state=handling&lead_unit=CZ-ZJJ&limit=20"),
            ("platform: category+overdue", tok, "category=complaint&overdue=true&limit=20"),
            ("platform: full-text q=路灯 + state", tok, "q=路灯&state=dispatched&limit=20"),
            ("platform: phone (screen-pop style)", tok, "phone=13900012345&limit=20"),
            ("unit staff (isolation) state=handling", unit_tok, "state=handling&limit=20"),
            ("platform: unfiltered newest page", tok, "limit=50"),
        ]  # fmt: skip
        for label, t, qs in queries:
            hdr = {"Authorization": f"Bearer {t}"}
            lat = []
            cursor = None
            for i in range(40):
                url = f"{base}/api/orders?{qs}" + (f"&cursor={cursor}" if cursor and i % 2 else "")
                t0 = time.perf_counter()
                async with s.get(url, headers=hdr) as r:
                    body = await r.json()
                    assert r.status == 200, body
                lat.append(time.perf_counter() - t0)
                cursor = body["next_cursor"]
            print(f"[list] {total:,} orders, {label:42s} p50 {pct(lat, 50):6.1f} ms  "
                  f"p99 {pct(lat, 99):6.1f} ms  ({len(body['items'])} rows/page)")  # fmt: skip


# --- main -----------------------------------------------------------------------------------


async def run(args: argparse.Namespace, dsn: str, data_dir: str) -> None:
    await prepare_db(dsn)
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    procs = [ctx.Process(target=serve, args=(dsn, data_dir, port, q), daemon=True)
             for _ in range(args.servers)]  # fmt: skip
    for proc in procs:
        proc.start()
    try:
        for _ in procs:
            await asyncio.get_running_loop().run_in_executor(None, q.get, True, 60)
        print(f"[http] {args.servers} server process(es) on port {port}")
        base = f"http://127.0.0.1:{port}"
        await bench_http(base, dsn, args.http_orders, args.concurrency)
        if args.orders:
            await bench_list(base, dsn, args.orders)
    finally:
        for proc in procs:
            proc.terminate()
            proc.join(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=1_000_000, help="rows for the list benchmark")
    ap.add_argument("--http-orders", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--clock-ops", type=int, default=300_000)
    ap.add_argument("--servers", type=int, default=1, help="backend processes sharing the port")
    args = ap.parse_args()
    from machine import describe  # benchmarks/machine.py, beside this script

    print(describe())
    bench_clock(args.clock_ops)
    dsn = os.environ.get("DATABASE_URL")
    tmp = tempfile.mkdtemp(prefix="bench-workflow-")
    os.chmod(tmp, 0o755)
    cluster = None
    try:
        if not dsn:
            from hotline.pgembed import EmbeddedPostgres

            cluster = EmbeddedPostgres(Path(tmp) / "pg")
            cluster.start()
            dsn = cluster.url()
        asyncio.run(run(args, dsn, tmp))
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
