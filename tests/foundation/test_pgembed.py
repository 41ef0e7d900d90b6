"""The embedded cluster when the data directory is not reachable by the postgres user (a
checkout under /root, mode 0700, started as root): it moves to a postgres-owned place."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path

import asyncpg
import pytest

from hotline.pgembed import RELOCATED_BASE, EmbeddedPostgres


@pytest.mark.skipif(os.geteuid() != 0, reason="the postgres user only matters when run as root")
async def test_unreachable_data_dir_is_relocated() -> None:
    private = Path(tempfile.mkdtemp(prefix="hotline-private-"))  # mode 0700, like /root
    cluster = EmbeddedPostgres(private / "var" / "pg")
    assert cluster.root.parent == RELOCATED_BASE and cluster.requested == private / "var" / "pg"
    try:
        await asyncio.to_thread(cluster.start)
        assert cluster.status()
        assert "cluster is in" in (private / "var" / "pg" / "LOCATION").read_text()
        again = EmbeddedPostgres(private / "var" / "pg")  # another process finds the same one
        assert again.root == cluster.root and again.status()
        conn = await asyncpg.connect(cluster.url())
        try:
            assert await conn.fetchval("SELECT current_database()") == "hotline"
        finally:
            await conn.close()
    finally:
        await asyncio.to_thread(cluster.stop)
        shutil.rmtree(cluster.root, ignore_errors=True)
        shutil.rmtree(private, ignore_errors=True)
