"""Allowed calling hours for outbound dialling."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from ivr.hours import next_allowed

WINDOWS = ((time(9), time(12)), (time(14), time(20)))
TZ = "Asia/Shanghai"


def local(h: int, m: int = 0, day: int = 28) -> datetime:
    """``h:m`` Changzhou time on 2026-11-``day``, as UTC."""
    return datetime(2026, 11, day, h - 8, m, tzinfo=UTC) if h >= 8 else \
        datetime(2026, 11, day - 1, h + 16, m, tzinfo=UTC)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (local(9), local(9)),              # start is inclusive
        (local(11, 59), local(11, 59)),
        (local(12), local(14)),            # end is exclusive → next window
        (local(13, 30), local(14)),
        (local(19, 59), local(19, 59)),
        (local(20), local(9, day=29)),     # evening → next morning
        (local(3), local(9)),              # small hours → same morning
    ],
)
def test_next_allowed(at: datetime, expected: datetime) -> None:
    assert next_allowed(at, WINDOWS, TZ) == expected


def test_next_allowed_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_allowed(datetime(2026, 11, 28, 10), WINDOWS, TZ)
    with pytest.raises(ValueError, match="windows"):
        next_allowed(local(10), ((time(12), time(9)),), TZ)
    with pytest.raises(ValueError, match="windows"):
        next_allowed(local(10), (), TZ)
