"""asyncpg pool creation with our codecs, and the application key under which it lives."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
from aiohttp import web


async def init_connection(conn: asyncpg.Connection) -> None:
    """Install JSON codecs so json/jsonb columns read and write Python objects."""
    for typ in ("json", "jsonb"):
        await conn.set_type_codec(
            typ,
            encoder=lambda v: json.dumps(v, ensure_ascii=False, default=str),
            decoder=json.loads,
            schema="pg_catalog",
        )


async def create_pool(
    dsn: str, *, min_size: int = 1, max_size: int = 10, **kw: Any
) -> asyncpg.Pool:
    """A pool whose connections carry :func:`init_connection` codecs."""
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=init_connection, **kw
    )
    assert pool is not None
    return pool


POOL: web.AppKey[asyncpg.Pool] = web.AppKey("pool", asyncpg.Pool)
"""The application's database pool."""

DSN: web.AppKey[str] = web.AppKey("dsn", str)
"""Connection URL of the application's database (for worker processes that open their own)."""
