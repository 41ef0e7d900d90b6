"""The `hotline` console command: user administration, `check`, and the embedded database."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def _hotline(*args: str, env: dict[str, str], stdin: str | None = None,
             cwd: Path | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/")}
    cmd = [sys.executable, "-m", "hotline.cli", *args]
    return subprocess.run(cmd, env={**base, **env}, input=stdin, capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def test_user_add_list_passwd_and_check(db_dsn: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": db_dsn, "HOTLINE_DATA_DIR": str(tmp_path / "var"),
           "HOTLINE_HTTP_PORT": "0", "HOTLINE_AGI_PORT": "0", "HOTLINE_LOG_LEVEL": "WARNING",
           "HOTLINE_RECORDINGS_DIR": str(tmp_path / "rec")}  # fmt: skip
    r = _hotline("user", "add", "zhao.liu", "--role", "unit_staff", "--unit", "CZ-ZJJ",
                 "--name", "赵六", "--password-stdin", env=env, stdin="pw-zhaoliu-1\n")
    assert r.returncode == 0, r.stderr
    assert "created zhao.liu (unit_staff)" in r.stdout
    again = _hotline("user", "add", "zhao.liu", "--role", "agent", "--password-stdin", env=env,
                     stdin="pw-zhaoliu-2\n")
    assert again.returncode == 1 and "已存在" in again.stderr
    short = _hotline("user", "add", "x1", "--role", "agent", "--password-stdin", env=env,
                     stdin="short\n")
    assert short.returncode == 1 and "8" in short.stderr
    listed = _hotline("user", "list", env=env)
    assert listed.returncode == 0
    line = next(ln for ln in listed.stdout.splitlines() if ln.startswith("zhao.liu"))
    assert "unit_staff" in line and "CZ-ZJJ" in line and "赵六" in line
    r = _hotline("user", "passwd", "zhao.liu", "--password-stdin", env=env, stdin="pw-new-123\n")
    assert r.returncode == 0, r.stderr
    assert _hotline("user", "passwd", "nobody", "--password-stdin", env=env,
                    stdin="pw-new-123\n").returncode == 1

    check = _hotline("check", env=env)
    lines = check.stdout.splitlines()
    assert check.returncode == 0, check.stdout + check.stderr
    assert any(ln.startswith("ok   database") and "C.UTF-8" in ln for ln in lines)
    assert any(ln.startswith("ok   stt") for ln in lines)
    bad = _hotline("check", env={**env, "HOTLINE_AMI": "pbx1=hotline:x@127.0.0.1:1",
                                 "HOTLINE_STT_MODEL_DIR": str(tmp_path)})  # fmt: skip
    assert bad.returncode == 1
    assert any(ln.startswith("FAIL ami:pbx1") for ln in bad.stdout.splitlines())
    assert any(ln.startswith("FAIL stt") and "HOTLINE_STT_MODEL_DIR" in ln
               for ln in bad.stdout.splitlines())  # fmt: skip


@pytest.fixture
def data_dir() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="hotline-cli-"))
    os.chmod(base, 0o755)  # reachable by the postgres user
    yield base / "var"
    _hotline("db", "stop", env={"HOTLINE_DATA_DIR": str(base / "var")})
    shutil.rmtree(base, ignore_errors=True)


def test_embedded_db_commands(data_dir: Path) -> None:
    env = {"HOTLINE_DATA_DIR": str(data_dir), "HOTLINE_LOG_LEVEL": "WARNING"}
    assert _hotline("db", "status", env=env).returncode == 3  # not created yet
    started = _hotline("db", "start", env=env)
    assert started.returncode == 0, started.stderr
    assert _hotline("db", "status", env=env).returncode == 0
    url = _hotline("db", "url", env=env).stdout.strip()
    assert url.startswith("postgresql://postgres@/hotline?host=")
    migrated = _hotline("migrate", env=env)
    assert migrated.returncode == 0 and "applied" in migrated.stdout
    assert "applied 0 migration(s)" in _hotline("migrate", env=env).stdout  # idempotent
    assert _hotline("db", "stop", env=env).returncode == 0
    assert _hotline("db", "status", env=env).returncode == 3
    # with DATABASE_URL the embedded database is not used
    assert _hotline("db", "start", env={**env, "DATABASE_URL": url}).returncode == 1
