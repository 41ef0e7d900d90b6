"""Browser test harness: the application with the console pages mounted, served on a real
loopback port, and Debian's Chromium driven through playwright (one browser per session, a fresh
context per user)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

import hotline.web.app as web_app
from hotline.features import console
from hotline.settings import Settings

PAGES_MODULE = "agents.web.pages"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip
VIEWPORT = {"width": 1366, "height": 768}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture
def app(
    settings: Settings,
    db_dsn: str,
    app_roles: frozenset[str],
    monkeypatch: pytest.MonkeyPatch,
) -> web.Application:
    """The full application with the console pages (until the lead lists them in
    ``hotline/features/console.py``)."""
    if PAGES_MODULE not in console.ROUTE_MODULES:
        monkeypatch.setattr(
            web_app, "CORE_ROUTE_MODULES", [*web_app.CORE_ROUTE_MODULES, PAGES_MODULE]
        )
    return web_app.build_app(settings, db_dsn, app_roles)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[object]:
    """Headless Debian Chromium for the whole session."""
    if not Path(CHROMIUM).exists():  # noqa: ASYNC240 (once per session)
        pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            await b.close()


class Site:
    """The served application as a browser sees it."""

    def __init__(self, client: TestClient, browser: object, users: object) -> None:
        self.client = client
        self.browser = browser
        self.users = users
        self.contexts: list[object] = []
        self.console_errors: list[str] = []

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` on the loopback server."""
        return str(self.client.server.make_url(path))

    async def page(self) -> object:
        """A page in a fresh browser context (its own cookies and sessionStorage)."""
        ctx = await self.browser.new_context(viewport=VIEWPORT, locale="zh-CN",  # type: ignore[attr-defined]
                                             timezone_id="Asia/Shanghai")  # fmt: skip
        self.contexts.append(ctx)
        page = await ctx.new_page()
        page.on("pageerror", lambda exc: self.console_errors.append(str(exc)))
        return page

    async def login(self, page: object, username: str, path: str = "/console/") -> None:
        """Open ``path``, get sent to the login page, log in, come back to ``path``."""
        await page.goto(self.url(path))  # type: ignore[attr-defined]
        await page.wait_for_url("**/console/login**")  # type: ignore[attr-defined]
        await page.fill("#username", username)  # type: ignore[attr-defined]
        await page.fill("#password", self.users.passwords[username])  # type: ignore[attr-defined]
        await page.click("#login-submit")  # type: ignore[attr-defined]
        await page.wait_for_url(self.url(path))  # type: ignore[attr-defined]
        await page.wait_for_selector("body[data-ready='1']")  # type: ignore[attr-defined]

    async def close(self) -> None:
        for ctx in self.contexts:
            await ctx.close()  # type: ignore[attr-defined]


@pytest.fixture
async def site(client: TestClient, browser: object, users: object) -> AsyncIterator[Site]:
    """Browser contexts against this test's application; fails on uncaught page errors."""
    s = Site(client, browser, users)
    try:
        yield s
    finally:
        await s.close()
    assert not s.console_errors, f"uncaught errors in the page: {s.console_errors}"


Shot = Callable[[object, str], Awaitable[None]]


@pytest.fixture
def shot() -> Shot:
    """Save a full-page screenshot to test-artifacts/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    async def take(page: object, name: str) -> None:
        await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))  # type: ignore[attr-defined]
        # Usable at 1366×768: the page itself never scrolls (panels scroll inside).
        w, h = await page.evaluate(  # type: ignore[attr-defined]
            "() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
        )
        assert w <= VIEWPORT["width"] and h <= VIEWPORT["height"], (
            f"{name}: page is {w}x{h}, larger than the 1366x768 screen"
        )

    return take
