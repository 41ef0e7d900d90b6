"""Context fields (call_id, order_id, ...) added to every structured log line."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_EMPTY: dict[str, Any] = {}  # never mutated: bind() always stores a new dict
_fields: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar(
    "log_fields", default=_EMPTY
)


@contextmanager
def bind(**fields: Any) -> Iterator[None]:
    """Add ``fields`` to every log record emitted inside the block (task-local)."""
    token = _fields.set({**_fields.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _fields.reset(token)


def current() -> dict[str, Any]:
    """The fields bound in the current context."""
    return _fields.get()
