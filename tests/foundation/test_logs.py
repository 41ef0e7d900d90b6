"""Structured logs: JSON lines carrying the bound call / order context, secrets masked."""

from __future__ import annotations

import json
import logging

from hotline.logs import JsonFormatter
from kit import logctx


def _record(msg: str, **extra: object) -> logging.LogRecord:
    rec = logging.makeLogRecord({"name": "t", "levelname": "INFO", "levelno": 20, "msg": msg})
    for k, v in extra.items():
        setattr(rec, k, v)
    return rec


def test_json_line_with_context_and_masked_secret() -> None:
    fmt = JsonFormatter()
    with logctx.bind(call_id="pbx1-1795838224.27", order_id="CZ20261128-000001"):
        line = fmt.format(_record("来电接入 %s", queue="hotline-general", secret="s3cr3t"))
    data = json.loads(line)
    assert data["msg"] == "来电接入 %s" or data["msg"].startswith("来电接入")
    assert data["call_id"] == "pbx1-1795838224.27" and data["order_id"] == "CZ20261128-000001"
    assert data["queue"] == "hotline-general" and data["secret"] == "***"
    outside = json.loads(fmt.format(_record("x")))
    assert "call_id" not in outside
