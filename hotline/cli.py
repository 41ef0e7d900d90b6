"""The ``hotline`` console command."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from hotline.database import KEEP_RUNNING_MARK, database_url, embedded
from hotline.logs import setup_logging
from hotline.pgembed import EmbeddedDbError
from hotline.settings import ROLES, Settings, SettingsError, load_settings

EXIT_BAD_SETTINGS = 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hotline", description="12345 政务服务便民热线 backend")
    p.add_argument(
        "--config",
        type=Path,
        help="TOML settings file (default: $HOTLINE_CONFIG or ./hotline.toml)",
    )
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("serve", help="run the service")
    s.add_argument(
        "--role",
        action="append",
        choices=ROLES,
        help="run only these parts (repeatable; default all: web, ami, agi, workers)",
    )
    sub.add_parser("migrate", help="apply database migrations")
    sub.add_parser("check", help="validate settings and reach every configured service")

    u = sub.add_parser("user", help="manage users").add_subparsers(dest="ucmd", required=True)
    ua = u.add_parser("add", help="create a user")
    ua.add_argument("username")
    ua.add_argument(
        "--role", required=True, choices=["admin", "supervisor", "agent", "unit_staff", "auditor"]
    )
    ua.add_argument("--unit", help="member unit code (unit_staff only)")
    ua.add_argument("--name", default="", help="display name")
    ua.add_argument("--extension", help="agent's phone extension, e.g. 1001")
    ua.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    up = u.add_parser("passwd", help="change a password")
    up.add_argument("username")
    up.add_argument("--password-stdin", action="store_true")
    u.add_parser("list", help="list users")

    d = sub.add_parser("db", help="the embedded PostgreSQL").add_subparsers(
        dest="dcmd", required=True
    )
    for name, help_ in [
        ("start", "start (and create) the cluster"),
        ("stop", "stop it"),
        ("status", "is it running"),
        ("url", "print its connection URL"),
    ]:
        d.add_parser(name, help=help_)

    pr = sub.add_parser("prompts", help="IVR prompts").add_subparsers(dest="pcmd", required=True)
    pb = pr.add_parser("build", help="synthesize placeholder prompts for every manifest entry")
    pb.add_argument("--out", type=Path, help="output directory (default: prompts_dir setting)")
    pb.add_argument("--force", action="store_true", help="rebuild existing files")
    return p


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise SystemExit("passwords differ")
    return first


async def _with_pool(settings: Settings, fn: Callable[[Any], Awaitable[Any]]) -> Any:
    from hotline.migrate import migrate_dsn
    from kit.db import create_pool

    dsn = database_url(settings)
    await migrate_dsn(dsn)
    pool = await create_pool(dsn, min_size=1, max_size=2)
    try:
        return await fn(pool)
    finally:
        await pool.close()


def _need_db(settings: Settings) -> None:
    if settings.embedded_db:
        embedded(settings).start()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hotline`` command."""
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(config_file=args.config)
    except SettingsError as exc:
        print(f"hotline: {exc}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    setup_logging(settings.log.level, settings.log.format)
    try:
        return _dispatch(args, settings)
    except SettingsError as exc:  # found while starting a component (e.g. the STT model)
        print(f"hotline: {exc}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    except EmbeddedDbError as exc:
        print(f"hotline: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    from hotline.auth.store import UserStore
    from kit.errors import ApiError

    if args.cmd == "serve":
        from hotline.serve import serve

        serve(settings, frozenset(args.role or ROLES))
        return 0
    if args.cmd == "migrate":
        from hotline.migrate import migrate_dsn

        _need_db(settings)
        applied = asyncio.run(migrate_dsn(database_url(settings)))
        print(f"applied {len(applied)} migration(s): {', '.join(applied) or '-'}")
        return 0
    if args.cmd == "check":
        from hotline.check import run_checks

        return 0 if asyncio.run(run_checks(settings)) else 1
    if args.cmd == "db":
        if not settings.embedded_db:
            print("DATABASE_URL is set: the embedded database is not used", file=sys.stderr)
            return 1
        pg = embedded(settings)
        if args.dcmd == "start":
            pg.start()
            (pg.root / KEEP_RUNNING_MARK).touch()
            print(f"running: {pg.url()}")
        elif args.dcmd == "stop":
            (pg.root / KEEP_RUNNING_MARK).unlink(missing_ok=True)
            pg.stop()
            print("stopped")
        elif args.dcmd == "status":
            up = pg.status()
            print(f"{'running' if up else 'stopped'}: {pg.root}")
            return 0 if up else 3
        else:
            print(pg.url())
        return 0
    if args.cmd == "user":
        _need_db(settings)
        try:
            if args.ucmd == "add":
                pw = _read_password(args.password_stdin)
                u = asyncio.run(
                    _with_pool(
                        settings,
                        lambda pool: UserStore(pool).create_user(
                            args.username,
                            pw,
                            args.role,
                            unit_code=args.unit,
                            display_name=args.name,
                            extension=args.extension,
                        ),
                    )
                )
                print(f"created {u['username']} ({u['role']})")
            elif args.ucmd == "passwd":
                pw = _read_password(args.password_stdin)
                asyncio.run(
                    _with_pool(
                        settings, lambda pool: UserStore(pool).set_password(args.username, pw)
                    )
                )
                print(f"password changed for {args.username}")
            else:
                users = asyncio.run(_with_pool(settings, lambda pool: UserStore(pool).list_users()))
                for u in users:
                    print(
                        f"{u['username']:<20} {u['role']:<11} {u['unit_code'] or '-':<12} "
                        f"{'active' if u['active'] else 'disabled'}  {u['display_name']}"
                    )
        except ApiError as exc:
            print(f"hotline: {exc.message}", file=sys.stderr)
            return 1
        return 0
    if args.cmd == "prompts":
        from ivr.prompts import build_prompts
        from ivr.prompts.build import PromptBuildError

        out = args.out or Path(settings.prompts_dir)
        try:
            built = build_prompts(out, force=args.force)
        except PromptBuildError as exc:
            print(f"hotline: {exc}", file=sys.stderr)
            return 1
        print(f"built {len(built)} prompt(s) into {out}")
        return 0
    logging.getLogger(__name__).error("unknown command %s", args.cmd)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
