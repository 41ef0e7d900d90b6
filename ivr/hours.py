"""Allowed calling hours for outbound dialling (citizens are not called at night)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


def next_allowed(at: datetime, windows: Sequence[tuple[time, time]], tz: str) -> datetime:
    """``at`` if it falls inside one of the local ``windows`` (start inclusive, end exclusive),
    otherwise the start of the next window. ``at`` must be timezone-aware; the answer is in
    the same timezone as ``at``.
    """
    if at.tzinfo is None:
        raise ValueError("next_allowed needs an aware datetime")
    if not windows or any(start >= end for start, end in windows):
        raise ValueError("calling windows must be non-empty (start, end) pairs with start < end")
    zone = ZoneInfo(tz)
    local = at.astimezone(zone)
    for day in range(8):
        date = (local + timedelta(days=day)).date()
        for start, end in sorted(windows):
            begin = datetime.combine(date, start, zone)
            finish = datetime.combine(date, end, zone)
            if day == 0 and begin <= local < finish:
                return at
            if begin > local:
                return begin.astimezone(at.tzinfo)
    raise AssertionError("unreachable: a window starts within a week")
