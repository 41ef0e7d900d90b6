"""Login / logout / tokens and user administration routes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web

from hotline.auth.client_address import client_address, parse_networks
from hotline.auth.store import SESSION_COOKIE
from hotline.keys import USERS
from hotline.settings import SETTINGS
from kit.auth import ALL_ROLES, Principal, Role
from kit.errors import BadRequest
from kit.http import CSRF_KEY, Routes, json_response, principal, read_json

routes = Routes(tag="auth")

LOGIN_BODY = {
    "type": "object",
    "required": ["username", "password"],
    "properties": {
        "username": {"type": "string", "minLength": 1, "maxLength": 64},
        "password": {"type": "string", "minLength": 1, "maxLength": 256},
    },
    "additionalProperties": False,
}


def _remote(request: web.Request) -> str:
    """The client address the login limit counts (see :mod:`hotline.auth.client_address`)."""
    proxies = parse_networks(request.app[SETTINGS].http.trusted_proxies)
    return client_address(request.remote, request.headers.getall("X-Forwarded-For", ()), proxies)


async def _check_login(request: web.Request, body: dict[str, Any]) -> Principal:
    """Verify the credentials under the login rate limit (429 after repeated failures)."""
    cfg = request.app[SETTINGS].http
    return await request.app[USERS].authenticate(
        body["username"],
        body["password"],
        _remote(request),
        max_failures=cfg.login_max_failures,
        window_s=cfg.login_window_seconds,
    )


@routes.post(
    "/api/auth/login", roles="public", summary="Log in; sets the session cookie", body=LOGIN_BODY
)
async def login(request: web.Request) -> web.Response:
    body = await read_json(request, LOGIN_BODY)
    cfg = request.app[SETTINGS].http
    users = request.app[USERS]
    who = await _check_login(request, body)
    ttl = timedelta(hours=cfg.session_hours)
    token, csrf = await users.create_session(who.user_id, "cookie", ttl)
    resp = json_response(
        {"user": _me(who), "csrf_token": csrf, "expires_in_s": int(ttl.total_seconds())}
    )
    resp.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(ttl.total_seconds()),
        httponly=True,
        samesite="Strict",
        secure=cfg.cookie_secure,
        path="/",
    )
    return resp


TOKEN_BODY = {
    "type": "object",
    "required": ["username", "password"],
    "properties": {**LOGIN_BODY["properties"], "label": {"type": "string", "maxLength": 100}},  # type: ignore[dict-item]
    "additionalProperties": False,
}


@routes.post(
    "/api/auth/tokens",
    roles="public",
    summary="Issue a bearer token for an API client",
    body=TOKEN_BODY,
)
async def issue_token(request: web.Request) -> web.Response:
    body = await read_json(request, TOKEN_BODY)
    cfg = request.app[SETTINGS].http
    users = request.app[USERS]
    who = await _check_login(request, body)
    ttl = timedelta(days=cfg.token_days)
    token, _ = await users.create_session(who.user_id, "bearer", ttl, body.get("label"))
    return json_response(
        {
            "token": token,
            "token_type": "bearer",
            "expires_in_s": int(ttl.total_seconds()),
            "user": _me(who),
        },
        status=201,
    )


@routes.post("/api/auth/logout", roles=ALL_ROLES, summary="End this session or token")
async def logout(request: web.Request) -> web.Response:
    auth = request.headers.get("Authorization", "")
    token = auth.partition(" ")[2].strip() if auth else request.cookies.get(SESSION_COOKIE, "")
    if token:
        await request.app[USERS].revoke(token)
    resp = json_response({"ok": True})
    resp.del_cookie(SESSION_COOKIE, path="/")
    return resp


def _me(who: Principal) -> dict[str, object]:
    return {
        "id": who.user_id,
        "username": who.username,
        "display_name": who.display_name,
        "role": who.role.value,
        "unit_code": who.unit_code,
        "extension": who.extension,
    }


@routes.get("/api/auth/me", roles=ALL_ROLES, summary="Who am I")
async def me(request: web.Request) -> web.Response:
    return json_response({"user": _me(principal(request)), "csrf_token": request.get(CSRF_KEY)})


USER_BODY = {
    "type": "object",
    "required": ["username", "password", "role"],
    "properties": {
        "username": {"type": "string", "maxLength": 64},
        "password": {"type": "string", "minLength": 8, "maxLength": 256},
        "role": {"type": "string", "enum": [r.value for r in Role]},
        "unit_code": {"type": ["string", "null"], "maxLength": 64},
        "display_name": {"type": "string", "maxLength": 100},
        "extension": {"type": ["string", "null"], "maxLength": 32},
    },
    "additionalProperties": False,
}


@routes.get("/api/users", roles={Role.ADMIN, Role.SUPERVISOR}, summary="List users")
async def list_users(request: web.Request) -> web.Response:
    return json_response({"items": await request.app[USERS].list_users()})


@routes.post("/api/users", roles={Role.ADMIN}, summary="Create a user", body=USER_BODY)
async def create_user(request: web.Request) -> web.Response:
    b = await read_json(request, USER_BODY)
    user = await request.app[USERS].create_user(
        b["username"],
        b["password"],
        b["role"],
        unit_code=b.get("unit_code"),
        display_name=b.get("display_name", ""),
        extension=b.get("extension"),
    )
    return json_response(user, status=201)


ACTIVE_BODY = {
    "type": "object",
    "required": ["active"],
    "properties": {"active": {"type": "boolean"}},
    "additionalProperties": False,
}


@routes.patch(
    "/api/users/{user_id}", roles={Role.ADMIN}, summary="Enable or disable a user", body=ACTIVE_BODY
)
async def patch_user(request: web.Request) -> web.Response:
    try:
        uid = int(request.match_info["user_id"])
    except ValueError:
        raise BadRequest("user_id 必须是整数") from None
    b = await read_json(request, ACTIVE_BODY)
    return json_response(await request.app[USERS].set_active(uid, b["active"]))
