"""SQL for users, sessions and login attempts."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg

from hotline.auth.passwords import hash_password, verify_password
from kit.auth import Principal, Role
from kit.errors import Conflict, NotFound, TooManyRequests, Unauthorized, Unprocessable

SESSION_COOKIE = "hotline_session"
SESSION_CACHE_S = 5.0
"""Seconds a resolved session is trusted without asking the database again."""


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _principal(r: asyncpg.Record) -> Principal:
    return Principal(
        user_id=r["id"],
        username=r["username"],
        role=Role(r["role"]),
        unit_code=r["unit_code"],
        display_name=r["display_name"] or r["username"],
        extension=r["extension"],
    )


def user_json(r: asyncpg.Record | dict[str, Any]) -> dict[str, Any]:
    """Public view of a user row (never the hash)."""
    return {
        k: r[k]
        for k in (
            "id",
            "username",
            "display_name",
            "role",
            "unit_code",
            "extension",
            "active",
            "created_at",
        )
    }


@dataclass(frozen=True)
class Session:
    """A resolved session or bearer token."""

    principal: Principal
    kind: str
    csrf_token: str | None


class UserStore:
    """Users, sessions and login attempts in PostgreSQL."""

    def __init__(self, pool: asyncpg.Pool, cache_seconds: float = SESSION_CACHE_S) -> None:
        self.pool = pool
        self.cache_seconds = cache_seconds
        self._cache: dict[tuple[bytes, str], tuple[float, Session]] = {}

    def forget_sessions(self) -> None:
        """Drop the resolved-session cache (after a revocation, a password change, ...)."""
        self._cache.clear()

    async def create_user(
        self,
        username: str,
        password: str,
        role: str,
        *,
        unit_code: str | None = None,
        display_name: str = "",
        extension: str | None = None,
    ) -> dict[str, Any]:
        """Add a user; 409 when the name is taken, 422 on invalid role / unit / password."""
        try:
            role_v = Role(role)
        except ValueError:
            raise Unprocessable(
                f"未知角色 {role!r}", details={"roles": [r.value for r in Role]}
            ) from None
        if (role_v is Role.UNIT_STAFF) != (unit_code is not None):
            raise Unprocessable(
                "成员单位人员必须且只有他们需要指定 unit_code (unit_staff needs unit_code)"
            )
        try:
            pw = await asyncio.to_thread(hash_password, password)  # argon2: off the event loop
        except ValueError as exc:
            raise Unprocessable(str(exc)) from None
        try:
            row = await self.pool.fetchrow(
                """INSERT INTO users
                       (username, password_hash, role, unit_code, display_name, extension)
                   VALUES ($1, $2, $3, $4, $5, $6) RETURNING *""",
                username,
                pw,
                role_v.value,
                unit_code,
                display_name,
                extension,
            )
        except asyncpg.UniqueViolationError:
            raise Conflict(f"用户 {username} 已存在", code="user_exists") from None
        except asyncpg.CheckViolationError:
            raise Unprocessable("用户名只能包含字母、数字和 _.@- (2-64 位)") from None
        except asyncpg.ForeignKeyViolationError:
            raise Unprocessable(f"成员单位 {unit_code} 不存在", code="unknown_unit") from None
        assert row is not None
        return user_json(row)

    async def set_password(self, username: str, password: str) -> None:
        """Change a password and end the user's sessions."""
        try:
            pw = await asyncio.to_thread(hash_password, password)  # argon2: off the event loop
        except ValueError as exc:
            raise Unprocessable(str(exc)) from None
        async with self.pool.acquire() as conn, conn.transaction():
            uid = await conn.fetchval(
                "UPDATE users SET password_hash = $2, updated_at = now()"
                " WHERE username = $1 RETURNING id",
                username,
                pw,
            )
            if uid is None:
                raise NotFound(f"用户 {username} 不存在")
            await conn.execute(
                "UPDATE sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
                uid,
            )
        self.forget_sessions()

    async def list_users(self) -> list[dict[str, Any]]:
        """Every user, by name."""
        return [
            user_json(r) for r in await self.pool.fetch("SELECT * FROM users ORDER BY username")
        ]

    async def get_user(self, user_id: int) -> dict[str, Any]:
        """One user."""
        row = await self.pool.fetchrow("SELECT * FROM users WHERE id = $1", user_id)
        if row is None:
            raise NotFound("用户不存在")
        return user_json(row)

    async def set_active(self, user_id: int, active: bool) -> dict[str, Any]:
        """Enable or disable a user (users are never deleted); disabling ends their sessions."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "UPDATE users SET active = $2, updated_at = now() WHERE id = $1 RETURNING *",
                user_id,
                active,
            )
            if row is None:
                raise NotFound("用户不存在")
            if not active:
                await conn.execute(
                    "UPDATE sessions SET revoked_at = now()"
                    " WHERE user_id = $1 AND revoked_at IS NULL",
                    user_id,
                )
        self.forget_sessions()
        return user_json(row)

    async def authenticate(
        self, username: str, password: str, remote: str, *, max_failures: int, window_s: int
    ) -> Principal:
        """Check a login; 429 after too many recent failures for this name or address.

        The attempt is recorded as a failure *before* anything is checked and the count
        includes it, so a burst of parallel guesses cannot all slip under the limit; a correct
        password turns the row into a success afterwards. The argon2 check runs in a thread:
        it takes ~0.2 s of CPU and must not stall calls and screen-pops on the event loop.
        """
        attempt = await self.pool.fetchval(
            "INSERT INTO login_attempts (username, remote, ok) VALUES ($1, $2, false) RETURNING id",
            username,
            remote,
        )
        recent = await self.pool.fetchval(
            """SELECT count(*) FROM login_attempts
               WHERE NOT ok AND at > now() - make_interval(secs => $3)
                 AND (username = $1 OR remote = $2)""",
            username,
            remote,
            window_s,
        )
        if recent > max_failures:
            raise TooManyRequests(
                "登录失败次数过多,请稍后再试 (too many failed logins)",
                details={"retry_after_seconds": window_s},
            )
        row = await self.pool.fetchrow("SELECT * FROM users WHERE username = $1", username)
        stored = row["password_hash"] if row else None
        ok = await asyncio.to_thread(verify_password, stored, password)
        if not ok or row is None or not row["active"]:
            raise Unauthorized(
                "用户名或密码错误 (wrong username or password)", code="bad_credentials"
            )
        await self.pool.execute("UPDATE login_attempts SET ok = true WHERE id = $1", attempt)
        return _principal(row)

    async def create_session(
        self, user_id: int, kind: str, ttl: timedelta, label: str | None = None
    ) -> tuple[str, str | None]:
        """New cookie session (with CSRF token) or bearer token; returns (secret, csrf)."""
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24) if kind == "cookie" else None
        await self.pool.execute(
            """INSERT INTO sessions (token_hash, user_id, kind, csrf_token, label, expires_at)
               VALUES ($1, $2, $3, $4, $5, now() + $6::interval)""",
            _digest(token),
            user_id,
            kind,
            csrf,
            label,
            ttl,
        )
        return token, csrf

    async def resolve(self, token: str, kind: str) -> Session | None:
        """The live session of ``token`` (not expired, not revoked, user active).

        A resolved session is remembered for a few seconds, which saves a database round trip
        on most requests; revocations in this process take effect at once, in other instances
        within ``cache_seconds``.
        """
        key = (_digest(token), kind)
        hit = self._cache.get(key)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return hit[1]
        row = await self.pool.fetchrow(
            """SELECT u.*, s.kind AS s_kind, s.csrf_token
               FROM sessions s JOIN users u ON u.id = s.user_id
               WHERE s.token_hash = $1 AND s.kind = $2 AND s.revoked_at IS NULL
                 AND s.expires_at > now() AND u.active""",
            _digest(token),
            kind,
        )
        if row is None:
            self._cache.pop(key, None)
            return None
        sess = Session(_principal(row), row["s_kind"], row["csrf_token"])
        if self.cache_seconds > 0:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (now + self.cache_seconds, sess)
        return sess

    async def revoke(self, token: str) -> None:
        """End a session or token."""
        await self.pool.execute(
            "UPDATE sessions SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL",
            _digest(token),
        )
        self.forget_sessions()
