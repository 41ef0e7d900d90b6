"""Health, readiness, metrics, the error shape, body limits and the OpenAPI document."""

from __future__ import annotations

import re

from hotline.web.app import collect_routes


async def test_healthz_and_readyz(client) -> None:
    assert (await client.get("/healthz")).status == 200
    r = await client.get("/readyz")
    body = await r.json()
    assert r.status == 200 and body["ready"] is True
    assert body["components"]["database"]["ok"] is True


async def test_readyz_is_503_when_database_is_gone(client, app) -> None:
    from kit.db import POOL

    await app[POOL].close()
    r = await client.get("/readyz")
    assert r.status == 503
    assert (await r.json())["components"]["database"]["ok"] is False


async def test_metrics_prometheus_text(client) -> None:
    await client.get("/healthz")
    r = await client.get("/metrics")
    text = await r.text()
    assert r.status == 200 and r.content_type == "text/plain"
    assert "# TYPE hotline_http_requests_total counter" in text
    assert re.search(
        r'hotline_http_requests_total\{method="GET",route="/healthz",status="200"\} 1', text
    )
    assert "hotline_database_up 1" in text


async def test_malformed_json_is_400_and_writes_nothing(users, pool) -> None:
    admin = await users.create_client("adm", "admin")
    before = await pool.fetchval("SELECT count(*) FROM users")
    hostile = (b'{"username": "a\\u0000b"}', b'{"username": "\\ud800"}', b"[" * 100_000,
               b'{"n": NaN}')
    for payload in (b"{not json", b"[1,2]", b"", b"\xff\xfe", b'{"username": 5}', *hostile):
        r = await admin.post(
            "/api/users", data=payload, headers={"Content-Type": "application/json"}
        )
        assert r.status == 400, payload
        err = (await r.json())["error"]
        assert err["code"] in {"invalid_json", "invalid_fields"} and err["message"]
    r = await admin.post(
        "/api/users", json={"username": "a", "password": "12345678", "role": "boss"}
    )
    assert r.status == 400
    assert any(d["field"] == "role" for d in (await r.json())["error"]["details"])
    assert await pool.fetchval("SELECT count(*) FROM users") == before


async def test_body_size_limit(users) -> None:
    admin = await users.create_client("adm", "admin")
    big = b'{"username": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    r = await admin.post("/api/users", data=big, headers={"Content-Type": "application/json"})
    assert r.status == 413
    assert (await r.json())["error"]["code"] == "payload_too_large"


async def test_unknown_route_and_method_use_error_shape(client) -> None:
    r = await client.get("/api/nope")
    assert r.status == 404 and (await r.json())["error"]["code"] == "not_found"
    r = await client.delete("/healthz")
    assert r.status == 405 and (await r.json())["error"]["code"] == "method_not_allowed"


async def test_openapi_lists_every_route(client, app) -> None:
    doc = await (await client.get("/api/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    mounted = set()
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        info = route.resource.get_info()
        path = info.get("path") or info.get("formatter")
        mounted.add((route.method, re.sub(r"{(\w+):[^}]*}", r"{\1}", path)))
    assert mounted == documented
    for p, ops in doc["paths"].items():
        for m, op in ops.items():
            assert op["summary"], (m, p)
            assert op["x-roles"], (m, p)
            names = [q["name"] for q in op.get("parameters", ()) if q["in"] == "query"]
            # an object schema given as `query=` is expanded into its properties
            assert not {"type", "properties", "required"} & set(names), (m, p, names)
    orders = {q["name"] for q in doc["paths"]["/api/orders"]["get"]["parameters"]}
    assert {"state", "lead_unit", "phone"} <= orders


def test_every_declared_route_states_roles() -> None:
    for spec in collect_routes():
        assert spec.roles is None or len(spec.roles) > 0
        assert spec.summary
