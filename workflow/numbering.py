"""Order numbers readable by people: ``CZ`` + local date of intake + ``-`` + 6-digit sequence.

Example: ``CZ20261128-000123`` is the 123rd order registered on 2026-11-28 (Asia/Shanghai). The
sequence restarts every day; the store draws it from a per-day counter row.
"""

from __future__ import annotations

import datetime as dt
import re

from workflow.clock import TZ

PREFIX = "CZ"
NUMBER_RE = re.compile(r"^CZ(\d{8})-(\d{6})$")


def format_number(created_at: dt.datetime, seq: int) -> str:
    """Number of the ``seq``-th order (1..999999) of the local day of ``created_at``."""
    if not 1 <= seq <= 999_999:
        raise ValueError("daily order sequence out of range 1..999999")
    return f"{PREFIX}{created_at.astimezone(TZ):%Y%m%d}-{seq:06d}"


def local_day(instant: dt.datetime) -> dt.date:
    """The Asia/Shanghai date that numbers an order created at ``instant``."""
    return instant.astimezone(TZ).date()


def parse_number(number: str) -> tuple[dt.date, int]:
    """``(day, seq)`` of a number; raises ``ValueError`` when it is not a well-formed number."""
    m = NUMBER_RE.match(number.strip().upper()) if isinstance(number, str) else None
    if not m:
        raise ValueError(f"not an order number: {number!r} (expected CZyyyymmdd-nnnnnn)")
    day = dt.datetime.strptime(m.group(1), "%Y%m%d").date()
    return day, int(m.group(2))


def is_number(text: str) -> bool:
    """True for a well-formed order number."""
    try:
        parse_number(text)
    except ValueError:
        return False
    return True
