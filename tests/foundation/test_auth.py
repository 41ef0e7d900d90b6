"""Authentication and authorization: 401 / 403 / 429, cookies with CSRF, bearer tokens."""

from __future__ import annotations

from hotline.auth.passwords import hash_password, verify_password


def test_password_hash_is_argon2_and_verifies() -> None:
    h = hash_password("long-enough-pw")
    assert h.startswith("$argon2id$")
    assert verify_password(h, "long-enough-pw")
    assert not verify_password(h, "wrong-password")
    assert not verify_password(None, "anything")


async def test_protected_route_needs_login(client) -> None:
    resp = await client.get("/api/users")
    assert resp.status == 401
    body = await resp.json()
    assert body["error"]["code"] == "unauthorized"
    assert set(body["error"]) == {"code", "message", "details"}


async def test_wrong_role_is_403(users) -> None:
    agent = await users.create_client("agent1", "agent")
    resp = await agent.get("/api/users")
    assert resp.status == 403
    assert (await resp.json())["error"]["details"]["role"] == "agent"
    resp = await agent.post(
        "/api/users", json={"username": "x", "password": "12345678", "role": "agent"}
    )
    assert resp.status == 403


async def test_admin_creates_user_and_user_logs_in(users, client) -> None:
    admin = await users.create_client("root1", "admin")
    resp = await admin.post(
        "/api/users",
        json={
            "username": "zhang.san",
            "password": "pw-zhangsan-1",
            "role": "agent",
            "display_name": "张三",
            "extension": "1001",
        },
    )
    assert resp.status == 201, await resp.text()
    created = await resp.json()
    assert created["display_name"] == "张三" and "password_hash" not in created
    resp = await client.post(
        "/api/auth/login", json={"username": "zhang.san", "password": "pw-zhangsan-1"}
    )
    assert resp.status == 200
    assert (await resp.json())["user"]["extension"] == "1001"
    again = await admin.post(
        "/api/users", json={"username": "zhang.san", "password": "pw-zhangsan-2", "role": "agent"}
    )
    assert again.status == 409


async def test_unit_staff_requires_unit(users) -> None:
    admin = await users.create_client("root2", "admin")
    resp = await admin.post(
        "/api/users", json={"username": "u1", "password": "12345678ab", "role": "unit_staff"}
    )
    assert resp.status == 422


async def test_cookie_session_requires_csrf_for_writes(users, client) -> None:
    await users.create("boss", "admin")
    resp = await client.post(
        "/api/auth/login", json={"username": "boss", "password": users.PASSWORD}
    )
    assert resp.status == 200
    set_cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie and "Max-Age=" in set_cookie
    csrf = (await resp.json())["csrf_token"]
    # Reads work with the cookie alone.
    me = await client.get("/api/auth/me")
    assert me.status == 200 and (await me.json())["user"]["username"] == "boss"
    body = {"username": "newbie", "password": "12345678ab", "role": "auditor"}
    no_token = await client.post("/api/users", json=body)
    assert no_token.status == 403 and (await no_token.json())["error"]["code"] == "csrf"
    wrong = await client.post("/api/users", json=body, headers={"X-CSRF-Token": "nope"})
    assert wrong.status == 403
    ok = await client.post("/api/users", json=body, headers={"X-CSRF-Token": csrf})
    assert ok.status == 201
    out = await client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf})
    assert out.status == 200
    client.session.cookie_jar.clear()
    assert (await client.get("/api/auth/me")).status == 401


async def test_bad_and_revoked_tokens(users, client) -> None:
    c = await users.create_client("tok", "supervisor")
    assert (await c.get("/api/auth/me")).status == 200
    assert (
        await client.get("/api/auth/me", headers={"Authorization": "Bearer nope"})
    ).status == 401
    assert (await client.get("/api/auth/me", headers={"Authorization": "Basic abc"})).status == 401
    assert (await c.post("/api/auth/logout")).status == 200
    assert (await c.get("/api/auth/me")).status == 401


async def test_repeated_failed_logins_are_rate_limited(users, client, pool) -> None:
    await users.create("victim", "agent")
    for _ in range(5):
        r = await client.post(
            "/api/auth/login", json={"username": "victim", "password": "wrong-guess"}
        )
        assert r.status == 401
    r = await client.post(
        "/api/auth/login", json={"username": "victim", "password": users.PASSWORD}
    )
    assert r.status == 429
    assert (await r.json())["error"]["code"] == "too_many_requests"
    # the right password did not get through, and no session was created
    assert await pool.fetchval("SELECT count(*) FROM sessions") == 0


async def test_disabled_user_loses_sessions(users) -> None:
    admin = await users.create_client("adm", "admin")
    worker = await users.create_client("temp", "agent")
    assert (await worker.get("/api/auth/me")).status == 200
    r = await admin.patch(f"/api/users/{worker.user['id']}", json={"active": False})
    assert r.status == 200
    assert (await worker.get("/api/auth/me")).status == 401


async def test_parallel_guesses_cannot_slip_under_the_limit(users, client) -> None:
    import asyncio

    await users.create("target", "agent")
    statuses = await asyncio.gather(*(
        client.post("/api/auth/login", json={"username": "target", "password": f"guess-{i}"})
        for i in range(20)
    ))
    codes = sorted(r.status for r in statuses)
    assert codes.count(401) <= 5 and codes.count(429) >= 15, codes
