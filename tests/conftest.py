"""Session-wide test harness: a real PostgreSQL started from the system binaries, a template
database migrated once, a fresh database per test, and the application with its test client."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hotline.auth.store import UserStore
from hotline.migrate import migrate
from hotline.pgembed import EmbeddedPostgres
from hotline.settings import DatabaseSettings, HttpSettings, Settings
from hotline.web.app import build_app
from kit.db import create_pool

TEMPLATE = "hotline_template"
TRACES = Path(__file__).resolve().parent / "traces"
"""Raw AMI / FastAGI / AudioSocket traffic captured from a real Asterisk 22 (see its README.md)."""
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


class PgHarness:
    """The session's PostgreSQL server."""

    def __init__(self, cluster: EmbeddedPostgres) -> None:
        self.cluster = cluster
        self._n = itertools.count(1)

    def dsn(self, dbname: str) -> str:
        """URL of ``dbname`` on this server."""
        return self.cluster.url(dbname)

    async def new_database(self, template: str = TEMPLATE) -> str:
        """A fresh database copied from the migrated template; returns its DSN."""
        name = f"t_{os.getpid()}_{next(self._n)}"
        conn = await asyncpg.connect(self.dsn("postgres"))
        try:
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        finally:
            await conn.close()
        return self.dsn(name)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[EmbeddedPostgres]:
    """Start a throw-away cluster (as the postgres user when root)."""
    base = tempfile.mkdtemp(prefix="hotline-test-pg-")
    os.chmod(base, 0o755)  # the postgres user must reach the cluster below it
    cluster = EmbeddedPostgres(Path(base) / "pg")
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
async def pg(pg_cluster: EmbeddedPostgres) -> PgHarness:
    """The server with the template database created and migrated once."""
    harness = PgHarness(pg_cluster)
    conn = await asyncpg.connect(harness.dsn("postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
        await conn.execute(
            f"CREATE DATABASE \"{TEMPLATE}\" ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' "
            "LC_CTYPE 'C.UTF-8' TEMPLATE template0"
        )
    finally:
        await conn.close()
    conn = await asyncpg.connect(harness.dsn(TEMPLATE))
    try:
        await migrate(conn)
    finally:
        await conn.close()
    return harness


@pytest.fixture
async def db_dsn(pg: PgHarness) -> str:
    """DSN of a fresh migrated database for this test."""
    return await pg.new_database()


@pytest.fixture
async def pool(db_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on this test's database."""
    p = await create_pool(db_dsn, min_size=1, max_size=5)
    try:
        yield p
    finally:
        await p.close()


@pytest.fixture
def settings(db_dsn: str, tmp_path: Path) -> Settings:
    """Settings of this test: its own database and data directory, web role only."""
    return Settings(
        data_dir=tmp_path / "var",
        http=HttpSettings(port=0, login_max_failures=5),
        database=DatabaseSettings(url=db_dsn, pool_max=5),
        recordings=replace(Settings().recordings, dir=tmp_path / "recordings"),
        prompts_dir=tmp_path / "sounds",
    )


@pytest.fixture
def app_roles() -> frozenset[str]:
    """Roles the test application runs (override in a module to start AMI / AGI / workers)."""
    return frozenset({"web"})


@pytest.fixture
def app(settings: Settings, db_dsn: str, app_roles: frozenset[str]) -> web.Application:
    """The full application of this test (not started)."""
    return build_app(settings, db_dsn, app_roles)


@pytest.fixture
async def client(app: web.Application) -> AsyncIterator[TestClient]:
    """Test client of the started application."""
    async with TestClient(TestServer(app)) as c:
        yield c


class AuthedClient:
    """A test client that sends one user's bearer token."""

    def __init__(self, client: TestClient, token: str, user: dict[str, Any]) -> None:
        self.client, self.token, self.user = client, token, user
        self.headers = {"Authorization": f"Bearer {token}"}

    def _h(self, kw: dict[str, Any]) -> dict[str, Any]:
        kw["headers"] = {**self.headers, **kw.get("headers", {})}
        return kw

    def get(self, path: str, **kw: Any):  # type: ignore[no-untyped-def]
        return self.client.get(path, **self._h(kw))

    def post(self, path: str, **kw: Any):  # type: ignore[no-untyped-def]
        return self.client.post(path, **self._h(kw))

    def put(self, path: str, **kw: Any):  # type: ignore[no-untyped-def]
        return self.client.put(path, **self._h(kw))

    def patch(self, path: str, **kw: Any):  # type: ignore[no-untyped-def]
        return self.client.patch(path, **self._h(kw))

    def delete(self, path: str, **kw: Any):  # type: ignore[no-untyped-def]
        return self.client.delete(path, **self._h(kw))

    def ws_connect(self, path: str, **kw: Any):  # type: ignore[no-untyped-def]
        return self.client.ws_connect(path, **self._h(kw))


class Users:
    """Create users in this test's database and log them in."""

    PASSWORD = "correct-horse-12345"

    def __init__(self, pool: asyncpg.Pool, client: TestClient) -> None:
        self.store = UserStore(pool)
        self.http = client
        self.passwords: dict[str, str] = {}

    async def create(
        self,
        username: str,
        role: str,
        *,
        unit_code: str | None = None,
        password: str | None = None,
        **kw: Any,
    ) -> dict[str, Any]:
        pw = password or self.PASSWORD
        self.passwords[username] = pw
        return await self.store.create_user(username, pw, role, unit_code=unit_code, **kw)

    async def client(self, username: str) -> AuthedClient:
        resp = await self.http.post(
            "/api/auth/tokens", json={"username": username, "password": self.passwords[username]}
        )
        body = await resp.json()
        assert resp.status == 201, body
        return AuthedClient(self.http, body["token"], body["user"])

    async def create_client(self, username: str, role: str, **kw: Any) -> AuthedClient:
        await self.create(username, role, **kw)
        return await self.client(username)


@pytest.fixture
async def users(pool: asyncpg.Pool, client: TestClient) -> Users:
    """User factory bound to this test's database and client."""
    return Users(pool, client)


@pytest.fixture(autouse=True)
async def _fail_on_loop_errors() -> AsyncIterator[None]:
    """Fail a test that leaves an unhandled exception in the event loop."""
    errors: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, ctx: errors.append(ctx))
    try:
        yield
    finally:
        loop.set_exception_handler(previous)
    if errors:
        msgs = "; ".join(str(e.get("exception") or e.get("message")) for e in errors)
        pytest.fail(f"unhandled exception(s) in the event loop: {msgs}")
