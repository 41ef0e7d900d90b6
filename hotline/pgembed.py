"""The embedded PostgreSQL cluster used when no ``DATABASE_URL`` is set.

A private cluster under ``<data_dir>/pg``: created on first use with UTF-8 encoding and a UTF-8
``lc_ctype`` (``C.UTF-8``; Chinese text functions and pg_trgm misbehave otherwise), listening on a
unix socket only (``listen_addresses=''``). ``initdb`` refuses to run as root, so when this process
is root every server command runs as the ``postgres`` system user (``runuser``) and the cluster
directory belongs to it. Crash recovery is PostgreSQL's own: after ``kill -9`` the next ``start``
replays the WAL; a stale ``postmaster.pid`` whose process is gone is handled by the server.
"""

from __future__ import annotations

import getpass
import glob
import hashlib
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

DB_NAME = "hotline"
PORT = 5432  # only names the socket file; nothing listens on TCP


class EmbeddedDbError(RuntimeError):
    """The embedded cluster could not be created or started; the message says what to do."""


def find_bindir() -> Path:
    """Directory with ``initdb`` and ``pg_ctl``: ``$HOTLINE_PG_BINDIR``, PATH, or the newest
    ``/usr/lib/postgresql/*/bin``."""
    env = os.environ.get("HOTLINE_PG_BINDIR")
    if env:
        return Path(env)
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    if candidates:
        return Path(candidates[-1]).parent
    raise EmbeddedDbError(
        "PostgreSQL server binaries (initdb, pg_ctl) were not found. Install PostgreSQL "
        "(Debian/Ubuntu: apt-get install postgresql) or set DATABASE_URL to an existing server."
    )


RELOCATED_BASE = Path("/var/lib/hotline")
"""Where clusters go when the requested directory is not reachable by the postgres user."""


def _reachable_by_postgres(path: Path) -> bool:
    """Can the postgres user traverse to ``path`` (checked at its deepest existing ancestor)?"""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return True  # no postgres user: _prepare_dirs reports that clearly
    done = subprocess.run(["runuser", "-u", "postgres", "--", "test", "-x", str(probe)],
                          capture_output=True)  # fmt: skip
    return done.returncode == 0


@dataclass
class EmbeddedPostgres:
    """Manage the cluster in ``root`` (``<data_dir>/pg``)."""

    root: Path

    def __post_init__(self) -> None:
        self.requested = self.root.resolve()
        self.root = self.requested
        # As root the server runs as `postgres`, which must be able to reach the cluster. A
        # checkout under /root (mode 0700) is not reachable: then the cluster lives in a
        # postgres-owned place derived from the requested path, so every process finds it.
        if self.as_root and not _reachable_by_postgres(self.requested):
            digest = hashlib.sha1(str(self.requested).encode()).hexdigest()[:12]
            self.root = RELOCATED_BASE / f"pg-{digest}"
        self.datadir = self.root / "data"
        self.logfile = self.root / "postgres.log"
        sock = self.root / "run"
        # A unix socket path is limited to ~107 bytes; deep checkouts get a short /tmp directory
        # derived from the cluster path, so every process finds the same one.
        if len(str(sock)) + len(f"/.s.PGSQL.{PORT}") > 100:
            digest = hashlib.sha1(str(self.root).encode()).hexdigest()[:12]
            sock = Path("/tmp") / f"hotline-pg-{digest}"
        self.sockdir = sock

    # -- who runs the server ----------------------------------------------------------------
    @property
    def as_root(self) -> bool:
        return os.geteuid() == 0

    def _owner(self) -> str:
        return "postgres" if self.as_root else getpass.getuser()

    def _run(self, args: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if check and proc.returncode != 0:
            raise EmbeddedDbError(
                f"{Path(args[0]).name} failed ({proc.returncode}): "
                f"{(proc.stderr or proc.stdout).strip()[-2000:]}"
            )
        return proc

    def _prepare_dirs(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.sockdir.mkdir(parents=True, exist_ok=True)
        if self.as_root:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise EmbeddedDbError(
                    "running as root needs the 'postgres' system user (created by the PostgreSQL "
                    "package) because initdb refuses root; install PostgreSQL or set DATABASE_URL"
                ) from None
            for d in (self.root, self.sockdir):
                os.chown(d, pw.pw_uid, pw.pw_gid)
            os.chmod(self.root, 0o700)
            probe = subprocess.run(
                ["runuser", "-u", "postgres", "--", "test", "-w", str(self.root)],
                capture_output=True,
            )
            if probe.returncode != 0:
                raise EmbeddedDbError(
                    f"the postgres user cannot reach {self.root} (a parent directory is not "
                    "searchable by others); choose another HOTLINE_DATA_DIR or set DATABASE_URL"
                )

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def initialized(self) -> bool:
        return (self.datadir / "PG_VERSION").is_file()

    def init(self) -> bool:
        """Create the cluster if it does not exist; True when it was created now."""
        if self.root != self.requested:
            self.requested.mkdir(parents=True, exist_ok=True)
            (self.requested / "LOCATION").write_text(
                f"The postgres user cannot reach this directory; the cluster is in {self.root}\n"
            )
        self._prepare_dirs()
        if self.initialized:
            return False
        bindir = find_bindir()
        self._run(
            [
                str(bindir / "initdb"),
                "-D",
                str(self.datadir),
                "-U",
                "postgres",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--auth=trust",
                "--no-instructions",
            ]
        )
        with open(self.datadir / "postgresql.conf", "a", encoding="utf-8") as fh:
            fh.write(
                "\n# hotline embedded cluster\nlisten_addresses = ''\n"
                f"unix_socket_directories = '{self.sockdir}'\n"
                "unix_socket_permissions = 0770\nmax_connections = 200\n"
                "fsync = on\nsynchronous_commit = on\n"
            )
        return True

    def status(self) -> bool:
        """True when the server of this cluster is running."""
        if not self.initialized:
            return False
        proc = self._run(
            [str(find_bindir() / "pg_ctl"), "status", "-D", str(self.datadir)], check=False
        )
        return proc.returncode == 0

    def start(self) -> None:
        """Create (first time) and start the server, then make sure the database exists."""
        self.init()
        self._prepare_dirs()  # the socket directory may live in /tmp, which a reboot empties
        if not self.status():
            self._run(
                [
                    str(find_bindir() / "pg_ctl"),
                    "start",
                    "-D",
                    str(self.datadir),
                    "-w",
                    "-t",
                    "60",
                    "-l",
                    str(self.logfile),
                    "-o",
                    f"-k {self.sockdir} -p {PORT}",
                ]
            )
        self._ensure_database()

    def stop(self) -> None:
        """Stop the server (fast shutdown: sessions end, data is safe)."""
        if self.status():
            self._run(
                [str(find_bindir() / "pg_ctl"), "stop", "-D", str(self.datadir), "-m", "fast", "-w"]
            )

    def _psql(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run psql as the superuser against the ``postgres`` maintenance database."""
        psql = find_bindir() / "psql"
        if not psql.exists():
            psql = Path(shutil.which("psql") or "psql")
        sock = ["-h", str(self.sockdir), "-p", str(PORT), "-U", "postgres", "-d", "postgres"]
        return self._run([str(psql), *sock, *args])

    def _ensure_database(self) -> None:
        found = self._psql("-Atc", f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}'")
        if found.stdout.strip() != "1":
            self._psql(
                "-c",
                f"CREATE DATABASE {DB_NAME} ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' "
                "LC_CTYPE 'C.UTF-8' TEMPLATE template0",
            )

    def url(self, dbname: str = DB_NAME) -> str:
        """libpq URL of the database over the unix socket."""
        return f"postgresql://postgres@/{dbname}?host={quote(str(self.sockdir))}&port={PORT}"

    def owner(self) -> str:
        """System user that runs the server."""
        return self._owner()
