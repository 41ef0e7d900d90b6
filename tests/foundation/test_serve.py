"""``hotline serve`` as a newcomer runs it: embedded PostgreSQL, restart keeps its data, and
it recovers from a crash."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from hotline.pgembed import EmbeddedPostgres


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Service:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = _free_port()
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/root"),
            "HOTLINE_DATA_DIR": str(data_dir),
            "HOTLINE_HTTP_PORT": str(self.port),
            "HOTLINE_AGI_PORT": str(_free_port()),
            "HOTLINE_AUDIOSOCKET_PORT": str(_free_port()),
            "HOTLINE_STT_WORKERS": "0",
        }
        self.proc: asyncio.subprocess.Process | None = None
        self.base = f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "hotline.cli",
            "serve",
            env=self.env,
            cwd=self.data_dir.parent,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=open(self.data_dir.parent / "serve.log", "ab"),  # noqa: ASYNC230
        )
        async with aiohttp.ClientSession() as s:
            for _ in range(300):
                if self.proc.returncode is not None:
                    raise AssertionError(
                        f"serve exited: {(self.data_dir.parent / 'serve.log').read_text()[-3000:]}"
                    )
                try:
                    async with s.get(self.base + "/readyz") as r:
                        if r.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        raise AssertionError("service did not become ready")

    async def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        return await asyncio.wait_for(self.proc.wait(), 60)


@pytest.fixture
async def service() -> AsyncIterator[Service]:
    base = Path(tempfile.mkdtemp(prefix="hotline-serve-"))
    os.chmod(base, 0o755)
    svc = Service(base / "var")
    try:
        yield svc
    finally:
        if svc.proc and svc.proc.returncode is None:
            svc.proc.kill()
            await svc.proc.wait()
        EmbeddedPostgres(svc.data_dir / "pg").stop()
        shutil.rmtree(base, ignore_errors=True)


async def _login(base: str, user: str, password: str) -> int:
    async with (
        aiohttp.ClientSession() as s,
        s.post(base + "/api/auth/login", json={"username": user, "password": password}) as r,
    ):
        return r.status


async def test_serve_restart_and_crash_recovery(service: Service) -> None:
    await service.start()
    pw = (service.data_dir / "initial-admin-password").read_text().strip()
    assert oct((service.data_dir / "initial-admin-password").stat().st_mode)[-3:] == "600"
    async with aiohttp.ClientSession() as s:
        async with s.get(service.base + "/readyz") as r:
            body = await r.json()
            assert body["components"]["database"]["ok"]
        async with s.post(
            service.base + "/api/auth/tokens", json={"username": "admin", "password": pw}
        ) as r:
            token = (await r.json())["token"]
        async with s.post(
            service.base + "/api/users",
            headers={"Authorization": f"Bearer {token}"},
            json={"username": "wangwu", "password": "wangwu-pass-1", "role": "agent"},
        ) as r:
            assert r.status == 201
    cluster = EmbeddedPostgres(service.data_dir / "pg")
    assert cluster.status()

    # Graceful stop: the service exits 0 and stops the database it started.
    assert await service.stop() == 0
    assert not cluster.status()

    # Start again: the admin and the user created before are still there.
    await service.start()
    assert await _login(service.base, "admin", pw) == 200
    assert await _login(service.base, "wangwu", "wangwu-pass-1") == 200

    # Crash: kill -9 the service and the PostgreSQL postmaster, then start again.
    postmaster = int((cluster.datadir / "postmaster.pid").read_text().split()[0])
    await service.stop(signal.SIGKILL)
    os.kill(postmaster, signal.SIGKILL)
    for _ in range(50):
        try:
            os.kill(postmaster, 0)
        except ProcessLookupError:
            break
        await asyncio.sleep(0.1)
    await service.start()
    assert await _login(service.base, "wangwu", "wangwu-pass-1") == 200
    assert await service.stop() == 0
