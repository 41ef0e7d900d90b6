"""Page routes of the web console (SPEC R3.5): HTML shells and their static assets.

The pages are public shells: each one asks ``/api/auth/me`` on load and goes to the login page
on 401. Every piece of data comes from the authenticated APIs and the ``/api/ws`` socket, so
nothing here needs a session. Assets are read from ``static/`` next to this module; only the
files that exist there are served (no path ever leaves that directory).
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from aiohttp import web

from kit.errors import NotFound
from kit.http import Handler, Routes

routes = Routes(tag="console")

STATIC_DIR = Path(__file__).resolve().parent / "static"
"""Where the HTML, JS and CSS of the console live (shipped as package data)."""

PAGES = {
    "/console/login": "login.html",
    "/console/": "console.html",
    "/console/wallboard": "wallboard.html",
    "/console/unit": "unit.html",
}
"""URL → HTML shell."""

CONTENT_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}

# Everything comes from this origin: no CDN, no external fonts, no inline script. The socket is
# same-origin too ('self' covers ws:/wss: of this host in current Chromium, Firefox and Safari).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def _asset_index() -> dict[str, Path]:
    """Every servable file under ``static/`` by its name (flat directory, known types only)."""
    return {
        p.name: p
        for p in STATIC_DIR.iterdir()
        if p.is_file() and p.suffix in CONTENT_TYPES and not p.name.startswith(".")
    }


ASSETS = _asset_index()


def _file_response(path: Path, *, cache: bool) -> web.Response:
    ctype = CONTENT_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0]
    headers = dict(SECURITY_HEADERS)
    # Pages must always be re-validated (a new deploy changes the JS they load); assets are
    # small and cached briefly.
    headers["Cache-Control"] = "max-age=300" if cache else "no-cache"
    return web.Response(
        body=path.read_bytes(),
        content_type=ctype or "application/octet-stream",
        charset="utf-8" if (ctype and ctype.startswith("text/")) or path.suffix == ".svg" else None,
        headers=headers,
    )


def _page(name: str) -> Handler:
    """The handler serving the shell ``name``."""

    async def handler(request: web.Request) -> web.Response:
        return _file_response(STATIC_DIR / name, cache=False)

    handler.__name__ = f"page_{name.split('.')[0]}"
    return handler


for _url, _file in PAGES.items():
    routes.get(_url, roles="public", summary=f"Console page shell ({_file})")(_page(_file))


@routes.get("/console", roles="public", summary="Redirect to the agent console")
async def console_root(request: web.Request) -> web.Response:
    """``/console`` → ``/console/``."""
    raise web.HTTPFound("/console/")


@routes.get(
    "/console/static/{name}", roles="public", summary="Console static asset (JS, CSS, images)"
)
async def static_asset(request: web.Request) -> web.Response:
    """One file of ``static/`` by its exact name; anything else is a 404."""
    path = ASSETS.get(request.match_info["name"])
    if path is None:
        raise NotFound("没有这个文件 (no such asset)")
    return _file_response(path, cache=True)
