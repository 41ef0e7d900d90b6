"""Commands from JSON bodies: parsing with clear field errors, and their JSON Schemas (OpenAPI)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import math
import typing
from typing import Any

from workflow import commands as c

MAX_TEXT = 20_000


class CommandError(ValueError):
    """A body that does not make a valid command; ``field`` names the culprit."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


_FIELDS: dict[str, list[tuple[str, Any]]] = {}


def _fields(cls: type[c.Command]) -> list[tuple[str, Any]]:
    # Cached per command: get_type_hints compiles the (postponed) annotations on every call.
    cached = _FIELDS.get(cls.KIND)
    if cached is None:
        hints = typing.get_type_hints(cls)
        cached = _FIELDS[cls.KIND] = [(f.name, hints[f.name]) for f in dataclasses.fields(cls)]
    return cached


def _base(tp: Any) -> tuple[Any, bool]:
    """Strip ``X | None``; returns (X, nullable)."""
    args = typing.get_args(tp)
    if args and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return rest[0], True
    return tp, False


def _schema_of(tp: Any) -> dict[str, Any]:
    base, nullable = _base(tp)
    if isinstance(base, type) and issubclass(base, enum.Enum):
        s: dict[str, Any] = {"type": "string", "enum": [m.value for m in base]}
    elif base is str:
        s = {"type": "string", "maxLength": MAX_TEXT}
    elif base is bool:
        s = {"type": "boolean"}
    elif base is int:
        s = {"type": "integer", "minimum": 1}
    elif base is float:
        s = {"type": "number", "minimum": 0}
    elif base is dt.datetime:
        s = {"type": "string", "format": "date-time"}
    elif typing.get_origin(base) is tuple:
        s = {"type": "array", "items": {"type": "string", "maxLength": 64}, "maxItems": 20}
    else:  # pragma: no cover - a new field type must be added here
        raise TypeError(f"unsupported command field type {base!r}")
    if nullable:
        s = {**s, "type": [s["type"], "null"]}
    return s


def body_schema(cls: type[c.Command]) -> dict[str, Any]:
    """JSON Schema of the body of ``cls`` (plus ``version`` for optimistic concurrency)."""
    props = {name: _schema_of(tp) for name, tp in _fields(cls)}
    props["version"] = {"type": "integer", "minimum": 1}
    return {"type": "object", "properties": props, "additionalProperties": False}


def parse_command(kind: str, body: dict[str, Any]) -> c.Command:
    """Build the command ``kind`` from a JSON object; raises :class:`CommandError`."""
    cls = c.COMMANDS_BY_KIND.get(kind)
    if cls is None:
        raise CommandError("kind", f"unknown action {kind!r}")
    kw: dict[str, Any] = {}
    known = dict(_fields(cls))
    for key, value in body.items():
        if key == "version":
            continue
        if key not in known:
            raise CommandError(key, "unknown field")
        kw[key] = _convert(key, known[key], value)
    return cls(**kw)


MAX_DAYS = 250
"""Longest extension, in working days (about a working year)."""
ORDER_REFS = frozenset({"into", "other"})
"""Command fields that name another work order."""


def _convert(name: str, tp: Any, value: Any) -> Any:
    base, nullable = _base(tp)
    if value is None:
        if nullable:
            return None
        raise CommandError(name, "must not be null")
    if isinstance(base, type) and issubclass(base, enum.Enum):
        try:
            return base(value)
        except ValueError:
            raise CommandError(name, f"must be one of {[m.value for m in base]}") from None
    if base is str:
        if not isinstance(value, str):
            raise CommandError(name, "must be a string")
        if len(value) > MAX_TEXT:
            raise CommandError(name, f"longer than {MAX_TEXT}")
        if name in ORDER_REFS:  # order numbers are compared and stored in one canonical form
            return value.strip().upper()
        return value
    if base is bool:
        if not isinstance(value, bool):
            raise CommandError(name, "must be true or false")
        return value
    if base in (int, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CommandError(name, "must be a number")
        if base is int and not isinstance(value, int):
            raise CommandError(name, "must be an integer")
        if not math.isfinite(value) or value < 0 or (base is int and value < 1):
            raise CommandError(name, "out of range")
        if name == "days" and value > MAX_DAYS:  # an extension of 5000 working days is nonsense
            raise CommandError(name, f"greater than {MAX_DAYS}")
        return value
    if base is dt.datetime:
        return parse_instant(name, value)
    if typing.get_origin(base) is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise CommandError(name, "must be a list of strings")
        if len(value) > 20:
            raise CommandError(name, "more than 20 items")
        return tuple(value)
    raise CommandError(name, "unsupported")  # pragma: no cover


def parse_instant(name: str, value: Any) -> dt.datetime:
    """An ISO 8601 instant with a UTC offset (naive times are refused: ambiguous)."""
    if not isinstance(value, str):
        raise CommandError(name, "must be an ISO 8601 date-time string")
    try:
        t = dt.datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(name, "must be an ISO 8601 date-time string") from None
    if t.tzinfo is None:
        raise CommandError(name, "must carry a UTC offset, e.g. 2026-10-10T16:00:00+08:00")
    return t
