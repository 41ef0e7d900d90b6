"""Per-route authentication, role and CSRF checks, applied before the handler runs."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web

from hotline.auth.store import SESSION_COOKIE, UserStore
from hotline.keys import USERS
from kit.errors import Forbidden, Unauthorized
from kit.http import (
    AUTH_KIND_KEY,
    CSRF_KEY,
    PRINCIPAL_KEY,
    STILL_VALID_KEY,
    Handler,
    RouteSpec,
)

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "X-CSRF-Token"


async def authenticate(request: web.Request) -> None:
    """Resolve a bearer token or the session cookie into ``request["principal"]``."""
    users = request.app[USERS]
    auth = request.headers.get("Authorization", "")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized(
                "Authorization 头格式应为 'Bearer <token>'", code="bad_authorization"
            )
        sess = await users.resolve(token.strip(), "bearer")
        if sess is None:
            raise Unauthorized("令牌无效或已过期 (invalid or expired token)", code="invalid_token")
        request[PRINCIPAL_KEY] = sess.principal
        request[AUTH_KIND_KEY] = "bearer"
        request[STILL_VALID_KEY] = _checker(users, token.strip(), "bearer")
        return
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        sess = await users.resolve(cookie, "cookie")
        if sess is not None:
            request[PRINCIPAL_KEY] = sess.principal
            request[AUTH_KIND_KEY] = "cookie"
            request[STILL_VALID_KEY] = _checker(users, cookie, "cookie")
            if sess.csrf_token:
                request[CSRF_KEY] = sess.csrf_token


def _checker(users: UserStore, token: str, kind: str) -> Callable[[], Awaitable[bool]]:
    async def still_valid() -> bool:
        return await users.resolve(token, kind) is not None

    return still_valid


def guarded(spec: RouteSpec) -> Handler:
    """Wrap ``spec.handler`` with the checks its declaration asks for."""

    async def handler(request: web.Request) -> web.StreamResponse:
        await authenticate(request)
        if spec.roles is not None:
            who = request.get(PRINCIPAL_KEY)
            if who is None:
                raise Unauthorized("请先登录 (login required)")
            if who.role not in spec.roles:
                raise Forbidden(
                    "无权执行此操作 (your role may not do this)",
                    details={
                        "role": who.role.value,
                        "allowed": sorted(r.value for r in spec.roles),
                    },
                )
            # Cookie sessions are ambient credentials: writes must prove they come from our page.
            if spec.csrf and request.method in UNSAFE and request.get(AUTH_KIND_KEY) == "cookie":
                sent = request.headers.get(CSRF_HEADER, "")
                if not sent or not hmac.compare_digest(sent, request.get(CSRF_KEY) or ""):
                    raise Forbidden(
                        "缺少或错误的 CSRF 令牌 (CSRF token missing or wrong)", code="csrf"
                    )
        return await spec.handler(request)

    handler.__name__ = spec.handler.__name__
    handler.__doc__ = spec.handler.__doc__
    return handler
