"""The page routes over plain HTTP: shells, assets, security headers, no path escapes."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from agents.web.pages import ASSETS


async def test_pages_are_public_html_with_a_strict_csp(client: TestClient) -> None:
    for path in ("/console/login", "/console/", "/console/wallboard", "/console/unit"):
        resp = await client.get(path)
        assert resp.status == 200, path
        assert resp.content_type == "text/html"
        text = await resp.text()
        assert '<html lang="zh-CN">' in text
        csp = resp.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp
        assert resp.headers["Cache-Control"] == "no-cache"
        # No CDN, no external fonts: every referenced asset is ours.
        assert "http://" not in text and "https://" not in text


async def test_console_root_redirects(client: TestClient) -> None:
    resp = await client.get("/console", allow_redirects=False)
    assert resp.status == 302
    assert resp.headers["Location"] == "/console/"


async def test_assets_are_served_with_their_types(client: TestClient) -> None:
    resp = await client.get("/console/static/lib.js")
    assert resp.status == 200
    assert resp.content_type == "text/javascript"
    assert "export async function api" in await resp.text()
    resp = await client.get("/console/static/common.css")
    assert resp.content_type == "text/css"


async def test_every_referenced_asset_exists(client: TestClient) -> None:
    import re

    for name in [n for n in ASSETS if n.endswith((".html", ".js"))]:
        text = ASSETS[name].read_text(encoding="utf-8")
        for ref in re.findall(r"/console/static/([\w.\-]+)", text):
            assert ref in ASSETS, f"{name} references missing {ref}"
        for ref in re.findall(r'from "\./([\w.\-]+)"', text):
            assert ref in ASSETS, f"{name} imports missing {ref}"


async def test_unknown_or_escaping_asset_paths_are_404(client: TestClient) -> None:
    for path in (
        "/console/static/nope.js",
        "/console/static/..%2Fpages.py",
        "/console/static/%2e%2e%2f__init__.py",
        "/console/static/pages.py",
    ):
        resp = await client.get(path)
        assert resp.status == 404, path
        body = await resp.json()
        assert body["error"]["code"] == "not_found"
