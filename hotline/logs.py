"""Structured JSON logs: one object per line with time, level, logger, message, the fields bound
with :func:`kit.logctx.bind` (``call_id``, ``order_id``, ...) and any ``extra=`` fields."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from kit import logctx

_STD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_SECRET_KEYS = ("secret", "password", "token")


class JsonFormatter(logging.Formatter):
    """Format records as JSON lines."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        out.update(logctx.current())
        for k, v in vars(record).items():
            if k not in _STD and not k.startswith("_"):
                out[k] = "***" if any(s in k.lower() for s in _SECRET_KEYS) else v
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """Human-readable lines with the bound context appended."""

    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        ctx = logctx.current()
        return base + ("  " + " ".join(f"{k}={v}" for k, v in ctx.items()) if ctx else "")


def setup_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Install the root handler (idempotent)."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_hotline", False):
            root.removeHandler(h)
    h = logging.StreamHandler(sys.stderr)
    h._hotline = True  # type: ignore[attr-defined]
    h.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root.addHandler(h)
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
