"""First start: make sure an administrator exists, so a fresh install can be logged into."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

import asyncpg

from hotline.auth.store import UserStore
from kit.errors import Conflict

log = logging.getLogger(__name__)


async def ensure_admin(pool: asyncpg.Pool, data_dir: Path) -> str | None:
    """Create user ``admin`` when there is no active admin. The password is
    ``$HOTLINE_ADMIN_PASSWORD`` or a random one written to ``<data_dir>/initial-admin-password``
    (mode 0600). Returns the password file's path when one was written."""
    if await pool.fetchval("SELECT count(*) FROM users WHERE role = 'admin' AND active"):
        return None
    if await pool.fetchval("SELECT count(*) FROM users WHERE username = 'admin'"):
        log.error("no active administrator: user 'admin' exists but is disabled or not an "
                  "admin; create one with `hotline user add NAME --role admin`")
        return None
    password = os.environ.get("HOTLINE_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
    try:
        await UserStore(pool).create_user("admin", password, "admin", display_name="系统管理员")
    except Conflict:
        return None  # another process starting at the same moment created it

    if os.environ.get("HOTLINE_ADMIN_PASSWORD"):
        log.warning("created user admin with the password from HOTLINE_ADMIN_PASSWORD")
        return None
    path = data_dir / "initial-admin-password"
    _write_secret(path, password)
    log.warning(
        "created user admin; its password is in %s (change it: hotline user passwd admin)", path
    )
    return str(path)


def _write_secret(path: Path, secret: str) -> None:
    """Write ``secret`` to a file only its owner can read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret + "\n")
