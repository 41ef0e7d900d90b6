"""``hotline check``: validate settings and reach every configured service, one line per check."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from pathlib import Path

import asyncpg

from hotline.database import database_url, embedded
from hotline.settings import AmiServer, Settings, redacted

CheckResult = tuple[bool, str]


async def check_database(settings: Settings) -> CheckResult:
    if settings.embedded_db and not embedded(settings).status():
        return (
            False,
            f"embedded cluster in {embedded(settings).root} is not running (hotline db start)",
        )
    try:
        conn = await asyncio.wait_for(asyncpg.connect(database_url(settings)), 5)
    except Exception as exc:
        return False, f"cannot connect: {type(exc).__name__}: {exc}"
    try:
        version = await conn.fetchval("SHOW server_version")
        ctype = await conn.fetchval(
            "SELECT datctype FROM pg_database WHERE datname = current_database()"
        )
        pending = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NULL")
    finally:
        await conn.close()
    if "UTF-8" not in ctype.upper() and "UTF8" not in ctype.upper():
        return (
            False,
            f"PostgreSQL {version} but lc_ctype is {ctype} (needs a UTF-8 locale for Chinese)",
        )
    return True, f"PostgreSQL {version}, lc_ctype {ctype}{', not migrated yet' if pending else ''}"


async def check_ami(server: AmiServer) -> CheckResult:
    """TCP connect, banner, Login, Logoff — proves address and credentials."""
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(server.host, server.port), server.timeout
        )
    except Exception as exc:
        return False, f"{server.host}:{server.port} unreachable: {exc}"
    try:
        banner = (
            (await asyncio.wait_for(reader.readline(), server.timeout))
            .decode(errors="replace")
            .strip()
        )
        if not banner.startswith("Asterisk Call Manager"):
            return False, f"not an AMI server (banner {banner[:60]!r})"
        writer.write(
            f"Action: Login\r\nActionID: check\r\nUsername: {server.username}\r\n"
            f"Secret: {server.secret}\r\nEvents: off\r\n\r\n".encode()
        )
        await writer.drain()
        block = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), server.timeout + 2)).decode(
            errors="replace"
        )
        if "Response: Success" not in block:
            return False, f"login refused for user {server.username} ({banner})"
        writer.write(b"Action: Logoff\r\n\r\n")
        await writer.drain()
        return True, f"{banner}, login ok as {server.username}"
    except Exception as exc:
        return False, f"AMI dialogue failed: {type(exc).__name__}: {exc}"
    finally:
        writer.close()


def check_port(host: str, port: int, what: str) -> CheckResult:
    """The listener can bind (or is already ours: then something answers)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            try:
                socket.create_connection((host, port), timeout=1).close()
            except OSError:
                return False, f"{what} cannot listen on {host}:{port}: {exc.strerror}"
            return True, f"{what} port {host}:{port} is in use and answers (service running?)"
    return True, f"{what} can listen on {host}:{port}"


def check_dir(path: Path, what: str) -> CheckResult:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return False, f"{what} {path}: {exc.strerror}"
    if not os.access(path, os.W_OK | os.X_OK):
        return False, f"{what} {path} is not writable"
    return True, f"{what} {path} writable"


def check_vosk(settings: Settings) -> CheckResult:
    model = settings.stt.model_dir
    if model is None:
        return True, "no model configured (HOTLINE_STT_MODEL_DIR); transcription disabled"
    for rel in ("am/final.mdl", "conf/model.conf"):
        if not (model / rel).is_file():
            return False, f"HOTLINE_STT_MODEL_DIR={model} is not a Vosk model (missing {rel})"
    return True, f"Vosk model {model}"


async def run_checks(settings: Settings, print_fn: Callable[[str], None] = print) -> bool:
    """Run every check, print one line each, return True when all pass."""
    results: list[tuple[str, CheckResult]] = [
        ("settings", (True, f"data_dir={redacted(settings)['data_dir']}"))
    ]
    results.append(("database", await check_database(settings)))
    for s in settings.ami:
        results.append((f"ami:{s.id}", await check_ami(s)))
    if not settings.ami:
        results.append(("ami", (True, "no Asterisk server configured (HOTLINE_AMI)")))
    results.append(("fastagi", check_port(settings.agi.host, settings.agi.port, "FastAGI")))
    results.append(("http", check_port(settings.http.host, settings.http.port, "HTTP")))
    if settings.audiosocket.enabled:
        results.append(
            (
                "audiosocket",
                check_port(settings.audiosocket.host, settings.audiosocket.port, "AudioSocket"),
            )
        )
    results.append(("recordings", check_dir(Path(settings.recordings.dir), "recordings dir")))
    results.append(("stt", check_vosk(settings)))
    ok = True
    for name, (passed, detail) in results:
        ok &= passed
        print_fn(f"{'ok  ' if passed else 'FAIL'} {name:<14} {detail}")
    return ok
