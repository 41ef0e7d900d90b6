"""Ordered SQL migrations applied under an advisory lock.

Files ``hotline/migrations/NNNN_name.sql`` run in name order, each in its own transaction, and
are recorded in ``schema_migrations`` with their checksum. The whole run holds a session-level
advisory lock, so two processes starting at once apply each migration exactly once: the second
waits, then finds nothing left to do.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import asyncpg

log = logging.getLogger(__name__)

LOCK_KEY = 0x12345_0001  # pg_advisory_lock key of the migration run


@dataclass(frozen=True)
class Migration:
    """One migration file."""

    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available(directory: Path | None = None) -> list[Migration]:
    """All migration files in order."""
    if directory is None:
        root = resources.files("hotline") / "migrations"
        files = [
            (p.name, p.read_text(encoding="utf-8"))
            for p in root.iterdir()
            if p.name.endswith(".sql")
        ]
    else:
        files = [(p.name, p.read_text(encoding="utf-8")) for p in directory.glob("*.sql")]
    return [Migration(n, s) for n, s in sorted(files)]


async def migrate(conn: asyncpg.Connection, directory: Path | None = None) -> list[str]:
    """Apply every pending migration; returns the names applied by this call."""
    applied_now: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   name text PRIMARY KEY, checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = {
            r["name"]: r["checksum"] for r in await conn.fetch("SELECT * FROM schema_migrations")
        }
        for m in available(directory):
            if m.name in done:
                if done[m.name] != m.checksum:
                    log.warning("migration %s changed after it was applied", m.name)
                continue
            async with conn.transaction():
                await conn.execute(m.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)",
                    m.name,
                    m.checksum,
                )
            log.info("migration applied", extra={"migration": m.name})
            applied_now.append(m.name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
    return applied_now


async def migrate_dsn(dsn: str) -> list[str]:
    """Connect, migrate, disconnect."""
    conn = await asyncpg.connect(dsn)
    try:
        return await migrate(conn)
    finally:
        await conn.close()
