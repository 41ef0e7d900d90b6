"""``hotline serve``: run the chosen roles in one process until SIGINT / SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

from aiohttp import web

from hotline.bootstrap import ensure_admin
from hotline.database import KEEP_RUNNING_MARK, embedded
from hotline.migrate import migrate_dsn
from hotline.settings import Settings
from hotline.web.app import build_app
from kit.db import POOL

log = logging.getLogger(__name__)


async def run_service(settings: Settings, roles: frozenset[str], dsn: str) -> None:
    """Migrate, start the application and wait for a stop signal; then shut down gracefully
    (features stop their tasks; claimed jobs finish or are released for another worker)."""
    applied = await migrate_dsn(dsn)
    if applied:
        log.info("migrations applied", extra={"migrations": applied})
    app = build_app(settings, dsn, roles)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    await ensure_admin(app[POOL], Path(settings.data_dir))
    if "web" in roles:
        site = web.TCPSite(runner, settings.http.host, settings.http.port)
        await site.start()
        log.info("listening", extra={"url": f"http://{settings.http.host}:{settings.http.port}"})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("service started", extra={"roles": sorted(roles)})
    await stop.wait()
    log.info("stopping")
    await runner.cleanup()
    log.info("stopped")


def serve(settings: Settings, roles: frozenset[str]) -> None:
    """Start the embedded database if needed, run the service, stop what we started."""
    pg = None
    if settings.embedded_db:
        pg = embedded(settings)
        pg.start()
        log.info("embedded PostgreSQL running", extra={"cluster": str(pg.root)})
        dsn = pg.url()
    else:
        assert settings.database.url
        dsn = settings.database.url
    try:
        asyncio.run(run_service(settings, roles, dsn))
    finally:
        if pg is not None and not (pg.root / KEEP_RUNNING_MARK).exists():
            pg.stop()
            log.info("embedded PostgreSQL stopped")
