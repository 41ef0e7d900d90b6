"""Migrations: ordered, transactional, recorded, and applied once under concurrency."""

from __future__ import annotations

import asyncio
import sys

import asyncpg

from hotline.migrate import available


async def _empty_db(pg) -> str:  # type: ignore[no-untyped-def]
    return await pg.new_database(template="template0")


async def test_two_processes_migrate_at_once(pg) -> None:
    dsn = await _empty_db(pg)
    code = "import asyncio,sys; from hotline.migrate import migrate_dsn; " \
           "print(len(asyncio.run(migrate_dsn(sys.argv[1]))))"
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", code, dsn, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(3)
    ]
    outs = [await p.communicate() for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1].decode()[-500:] for o in outs]
    counts = sorted(int(o[0]) for o in outs)
    n = len(available())
    assert counts == [0, 0, n]  # one process applied everything, the others found it done
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT name FROM schema_migrations ORDER BY name")
        assert [r["name"] for r in rows] == [m.name for m in available()]
    finally:
        await conn.close()


async def test_failed_migration_leaves_nothing_half_done(pg, tmp_path) -> None:
    from hotline.migrate import migrate

    dsn = await _empty_db(pg)
    (tmp_path / "0001_ok.sql").write_text("CREATE TABLE a (x int);")
    (tmp_path / "0002_bad.sql").write_text("CREATE TABLE b (x int); SELECT nope FROM nowhere;")
    conn = await asyncpg.connect(dsn)
    try:
        try:
            await migrate(conn, tmp_path)
        except asyncpg.PostgresError:
            pass
        else:
            raise AssertionError("the bad migration should fail")
        assert await conn.fetchval("SELECT to_regclass('a') IS NOT NULL")
        assert await conn.fetchval("SELECT to_regclass('b') IS NULL")
        names = [r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")]
        assert names == ["0001_ok.sql"]
    finally:
        await conn.close()


def test_migration_files_are_numbered_uniquely() -> None:
    names = [m.name for m in available()]
    prefixes = [n.split("_", 1)[0] for n in names]
    assert len(prefixes) == len(set(prefixes)), names
    assert all(p.isdigit() and len(p) == 4 for p in prefixes)
