"""Settings: environment (``DATABASE_URL``, ``HOTLINE_*``) over a TOML file over defaults.

Parsed once into frozen dataclasses. Every field of section ``S`` is settable as
``HOTLINE_<S>_<FIELD>`` (e.g. ``HOTLINE_HTTP_PORT=8081``) or as ``[s] field = ...`` in the TOML
file named by ``HOTLINE_CONFIG`` (default ``./hotline.toml`` when it exists). An invalid value
raises :class:`SettingsError` naming the setting; the CLI turns that into exit code 2.

Asterisk servers are a list: ``[[ami]]`` tables in TOML, or
``HOTLINE_AMI="pbx1=user:secret@10.0.0.5:5038,pbx2=..."`` in the environment. Secrets can be read
from a file (``secret_file``) and are never printed: ``repr`` and :func:`redacted` hide them.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

ROLES = ("web", "ami", "agi", "workers")
"""What ``hotline serve --role`` can run; all of them by default."""


class SettingsError(Exception):
    """An invalid setting: ``setting`` is the name the user wrote (env var or TOML key)."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"invalid setting {setting}: {problem}")
        self.setting = setting
        self.problem = problem


def _check(cond: bool, problem: str) -> None:
    if not cond:
        raise ValueError(problem)


@dataclass(frozen=True)
class HttpSettings:
    """The web API and console."""

    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = 1_048_576
    cookie_secure: bool = False
    session_hours: float = 12.0
    token_days: float = 90.0
    login_max_failures: int = 5
    login_window_seconds: int = 900
    trusted_proxies: tuple[str, ...] = ()
    """Reverse proxies (addresses or networks) whose ``X-Forwarded-For`` names the client."""

    def validate(self) -> None:
        _check(0 <= self.port <= 65535, "port must be 0-65535")
        _check(1024 <= self.max_body_bytes <= 1 << 30, "max_body_bytes must be 1 KiB - 1 GiB")
        _check(0 < self.session_hours <= 24 * 31, "session_hours must be > 0 and <= 744")
        _check(0 < self.token_days <= 3660, "token_days must be > 0 and <= 3660")
        _check(self.login_max_failures >= 1, "login_max_failures must be >= 1")
        _check(
            1 <= self.login_window_seconds <= 86400, "login_window_seconds must be 1-86400"
        )
        for entry in self.trusted_proxies:
            try:
                ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                raise ValueError(
                    f"trusted_proxies: {entry!r} is not an IP address or network"
                ) from None


@dataclass(frozen=True)
class DatabaseSettings:
    """PostgreSQL: ``url`` (``DATABASE_URL``) or the embedded cluster under ``data_dir``."""

    url: str | None = field(default=None, repr=False)
    pool_min: int = 1
    pool_max: int = 10

    def validate(self) -> None:
        if self.url is not None:
            _check(
                re.match(r"^postgres(ql)?://", self.url) is not None,
                "must be a postgresql:// URL",
            )
        _check(1 <= self.pool_min <= self.pool_max <= 500, "need 1 <= pool_min <= pool_max <= 500")


@dataclass(frozen=True)
class AmiServer:
    """One Asterisk server's AMI endpoint."""

    id: str
    host: str
    port: int = 5038
    username: str = "hotline"
    secret: str = field(default="", repr=False)
    timeout: float = 5.0
    ping_interval: float = 10.0

    def validate(self) -> None:
        _check(re.match(r"^[A-Za-z0-9_-]{1,32}$", self.id) is not None, "id must be [A-Za-z0-9_-]")
        _check(0 < self.port <= 65535, "port must be 1-65535")
        _check(bool(self.secret), "secret is empty (set secret or secret_file)")
        _check(self.timeout > 0 and self.ping_interval > 0, "timeouts must be > 0")


@dataclass(frozen=True)
class AgiSettings:
    """The FastAGI server the dialplan calls (``agi://host:port/ivr``)."""

    host: str = "127.0.0.1"
    port: int = 4573
    allow: tuple[str, ...] = ()
    env_timeout: float = 5.0

    def validate(self) -> None:
        _check(0 <= self.port <= 65535, "port must be 0-65535")


_QUEUE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")


@dataclass(frozen=True)
class AudioSocketSettings:
    """Live audio for real-time transcripts (Asterisk AudioSocket).

    ``live_queues`` lists the queues (``asterisk-config/queues.conf`` section names) whose
    answered calls get a live transcript; empty means every queue while ``enabled``."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 9092
    live_queues: tuple[str, ...] = ()

    def validate(self) -> None:
        _check(0 <= self.port <= 65535, "port must be 0-65535")
        for queue in self.live_queues:
            _check(_QUEUE_NAME.match(queue) is not None,
                   f"live_queues: invalid queue name {queue!r} (letters, digits, '_', '.', '-')")


@dataclass(frozen=True)
class RecordingSettings:
    """Where Asterisk's MixMonitor writes and how long audio is kept.

    ``dir`` is the recordings directory as this machine sees it; ``asterisk_dir`` is the same
    directory as Asterisk names it (``RECDIR`` in ``extensions.conf``) when it is mounted
    elsewhere here. Unset: Asterisk's paths are taken as they are, inside ``dir``."""

    dir: Path = Path("var/recordings")
    retention_days: int = 365
    asterisk_dir: Path | None = None

    def validate(self) -> None:
        _check(self.retention_days >= 1, "retention_days must be >= 1")
        _check(self.asterisk_dir is None or self.asterisk_dir.is_absolute(),
               "asterisk_dir must be an absolute path (Asterisk's RECDIR)")


@dataclass(frozen=True)
class SttSettings:
    """Speech-to-text with Vosk: a Mandarin model directory in production."""

    model_dir: Path | None = None
    workers: int = 1
    sample_rate: int = 8000

    def validate(self) -> None:
        _check(0 <= self.workers <= 64, "workers must be 0-64")
        _check(self.sample_rate in (8000, 16000), "sample_rate must be 8000 or 16000")


@dataclass(frozen=True)
class LogSettings:
    """Structured logging."""

    level: str = "INFO"
    format: str = "json"

    def validate(self) -> None:
        _check(
            self.level.upper() in {"DEBUG", "INFO", "WARNING", "ERROR"},
            "level must be DEBUG, INFO, WARNING or ERROR",
        )
        _check(self.format in {"json", "text"}, "format must be json or text")


@dataclass(frozen=True)
class Settings:
    """Everything the service reads from its environment."""

    data_dir: Path = Path("var")
    http: HttpSettings = HttpSettings()
    database: DatabaseSettings = DatabaseSettings()
    ami: tuple[AmiServer, ...] = ()
    agi: AgiSettings = AgiSettings()
    audiosocket: AudioSocketSettings = AudioSocketSettings()
    recordings: RecordingSettings = RecordingSettings()
    stt: SttSettings = SttSettings()
    log: LogSettings = LogSettings()
    workers: int = 2
    prompts_dir: Path = Path("var/sounds/hotline")

    @property
    def embedded_db(self) -> bool:
        """True when no ``DATABASE_URL`` is given and the embedded cluster is used."""
        return self.database.url is None


SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _convert(name: str, raw: Any, typ: Any) -> Any:
    """Convert an env string or a TOML value to ``typ``; errors name the setting."""
    origin = typing.get_origin(typ)
    args = typing.get_args(typ)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if raw is None or raw == "":
            return None
        return _convert(name, raw, inner[0])
    try:
        if typ is bool:
            if isinstance(raw, bool):
                return raw
            s = str(raw).strip().lower()
            if s in {"1", "true", "yes", "on"}:
                return True
            if s in {"0", "false", "no", "off"}:
                return False
            raise ValueError(f"must be true or false, got {raw!r}")
        if typ is int:
            if isinstance(raw, bool):
                raise ValueError("must be an integer")
            return int(raw)
        if typ is float:
            return float(raw)
        if typ is Path:
            return Path(str(raw))
        if typ is str:
            if not isinstance(raw, str | int | float):
                raise ValueError(f"must be a string, got {type(raw).__name__}")
            return str(raw)
        if origin is tuple and args and args[0] is str:
            if isinstance(raw, str):
                return tuple(x.strip() for x in raw.split(",") if x.strip())
            if isinstance(raw, list) and all(isinstance(x, str) for x in raw):
                return tuple(raw)
            raise ValueError("must be a list of strings")
    except ValueError as exc:
        msg = str(exc)
        if "invalid literal" in msg or "could not convert" in msg:
            msg = f"must be a{'n integer' if typ is int else ' number'}, got {raw!r}"
        raise SettingsError(name, msg) from None
    raise SettingsError(name, f"unsupported type {typ}")


def _build(cls: type, values: Mapping[str, Any], names: Mapping[str, str]) -> Any:
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in values:
            kwargs[f.name] = _convert(names[f.name], values[f.name], hints[f.name])
    unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        key = sorted(unknown)[0]
        raise SettingsError(names.get(key, key), "unknown setting")
    obj = cls(**kwargs)
    if hasattr(obj, "validate"):
        try:
            obj.validate()
        except ValueError as exc:
            field_name = next((n for n in names.values()), cls.__name__)
            # The longest field name the message mentions ("asterisk_dir" also contains "dir").
            mentioned = [key for key in names if key in str(exc)]
            if mentioned:
                field_name = names[max(mentioned, key=len)]
            raise SettingsError(field_name, str(exc)) from None
    return obj


_AMI_RE = re.compile(
    r"^(?P<id>[A-Za-z0-9_-]+)=(?P<user>[^:@]+):(?P<secret>[^@]*)@(?P<host>[^:]+)(:(?P<port>\d+))?$"
)


def _parse_ami_env(raw: str) -> list[dict[str, Any]]:
    out = []
    for i, item in enumerate(x.strip() for x in raw.split(",") if x.strip()):
        m = _AMI_RE.match(item)
        if not m:
            raise SettingsError(
                "HOTLINE_AMI", f"entry {i + 1} must look like id=user:secret@host[:port]"
            )
        out.append(
            {
                "id": m["id"],
                "username": m["user"],
                "secret": m["secret"],
                "host": m["host"],
                "port": int(m["port"] or 5038),
            }
        )
    return out


def load_settings(
    env: Mapping[str, str] | None = None, config_file: Path | None = None
) -> Settings:
    """Read settings from ``env`` (default ``os.environ``) and the TOML file."""
    env = dict(os.environ if env is None else env)
    path = config_file or (Path(env["HOTLINE_CONFIG"]) if env.get("HOTLINE_CONFIG") else None)
    doc: dict[str, Any] = {}
    if path is None and Path("hotline.toml").is_file():
        path = Path("hotline.toml")
    if path is not None:
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError("HOTLINE_CONFIG", f"file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(str(path), f"not valid TOML: {exc}") from None

    hints = _hints(Settings)
    top: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        typ = hints[f.name]
        if f.name == "ami":
            servers = doc.get("ami", [])
            if not isinstance(servers, list):
                raise SettingsError(f"{path}: ami", "must be an array of tables [[ami]]")
            if env.get("HOTLINE_AMI"):
                servers = _parse_ami_env(env["HOTLINE_AMI"])
            built = []
            for i, s in enumerate(servers):
                if not isinstance(s, dict):
                    raise SettingsError(f"ami[{i}]", "must be a table with id, host, ...")
                s = dict(s)
                if "secret_file" in s:
                    try:
                        s["secret"] = Path(s.pop("secret_file")).read_text().strip()
                    except OSError as exc:
                        raise SettingsError(f"ami[{i}].secret_file", str(exc)) from None
                names = {
                    k: f"ami[{i}].{k}"
                    for k in [*s, *(x.name for x in dataclasses.fields(AmiServer))]
                }
                if "id" not in s or "host" not in s:
                    raise SettingsError(f"ami[{i}]", "needs id and host")
                built.append(_build(AmiServer, s, names))
            ids = [b.id for b in built]
            if len(set(ids)) != len(ids):
                raise SettingsError("ami", "server ids must be unique")
            top["ami"] = tuple(built)
            continue
        if dataclasses.is_dataclass(typ):
            raw_section = doc.get(f.name, {})
            if not isinstance(raw_section, dict):
                raise SettingsError(f"[{f.name}]", "must be a table")
            section = dict(raw_section)
            names = {k: f"[{f.name}] {k}" for k in section}
            for sf in dataclasses.fields(typ):
                env_name = f"HOTLINE_{f.name}_{sf.name}".upper()
                names.setdefault(sf.name, env_name)
                if env_name in env:
                    section[sf.name] = env[env_name]
                    names[sf.name] = env_name
            if f.name == "database" and env.get("DATABASE_URL"):
                section["url"] = env["DATABASE_URL"]
                names["url"] = "DATABASE_URL"
            top[f.name] = _build(typ, section, names)  # type: ignore[arg-type]
        else:
            env_name = f"HOTLINE_{f.name}".upper()
            if env_name in env:
                top[f.name] = _convert(env_name, env[env_name], typ)
            elif f.name in doc:
                top[f.name] = _convert(f.name, doc[f.name], typ)
    known = {f.name for f in dataclasses.fields(Settings)}
    for key in doc:
        if key not in known:
            raise SettingsError(f"{path}: {key}", "unknown setting")
    s = Settings(**top)
    if not 0 <= s.workers <= 64:
        raise SettingsError("HOTLINE_WORKERS", "must be 0-64")
    return s


def redacted(s: Settings) -> dict[str, Any]:
    """Settings as a dict with every secret replaced, for logs and ``hotline check``."""
    d = dataclasses.asdict(s)
    if d["database"]["url"]:
        d["database"]["url"] = re.sub(r"://([^:@/]+):[^@/]*@", r"://\1:***@", d["database"]["url"])
    for a in d["ami"]:
        a["secret"] = "***"
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in d.items()}
