"""The statutory calendar: which dates are working days in China.

Sources, in order of precedence:

1. the admin override table (:class:`CalendarOverrides`): one row per date with ``is_workday``;
   used for years ``chinesecalendar`` does not know yet (it raises ``NotImplementedError`` for
   2027 in version 1.x) and for local corrections;
2. ``chinesecalendar``: statutory holidays and make-up working weekends (调休, e.g. Saturday
   2026-10-10 is a working day after National Day);
3. a fallback for unknown years: Monday-Friday working, Saturday/Sunday off.

A date is *confirmed* when the year is known to ``chinesecalendar`` or an admin has marked the year
confirmed (the State Council notice has been entered as override rows). Deadlines whose working
time passes over an unconfirmed date are marked provisional (see :mod:`workflow.clock`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import chinese_calendar


@dataclass(frozen=True)
class CalendarOverrides:
    """Admin-entered working-day decisions.

    ``days`` maps a date to True (working day, e.g. a 调休 Saturday) or False (day off, e.g. a
    holiday). ``confirmed_years`` lists years whose holiday notice has been fully entered, so that
    deadlines in them are no longer provisional.
    """

    days: Mapping[dt.date, bool] = field(default_factory=dict)
    confirmed_years: frozenset[int] = frozenset()

    @classmethod
    def of(
        cls, rows: Iterable[tuple[dt.date, bool]], confirmed_years: Iterable[int] = ()
    ) -> CalendarOverrides:
        """Build from ``(date, is_workday)`` rows."""
        return cls(dict(rows), frozenset(confirmed_years))


@dataclass(frozen=True, slots=True)
class DayStatus:
    """Whether a date is a working day and whether that is confirmed."""

    workday: bool
    confirmed: bool
    source: str  # "override" | "statutory" | "weekday-fallback"


class StatutoryCalendar:
    """Working-day lookups with a per-date cache (hot path of every deadline computation)."""

    def __init__(self, overrides: CalendarOverrides | None = None) -> None:
        self.overrides = overrides or CalendarOverrides()
        self._cache: dict[dt.date, DayStatus] = {}
        self.flags: dict[int, tuple[bool, bool]] = {}
        """Hot-path cache: date ordinal -> (workday, confirmed)."""

    def day(self, date: dt.date) -> DayStatus:
        """The status of ``date``; never raises for a valid date."""
        status = self._cache.get(date)
        if status is None:
            status = self._compute(date)
            self._cache[date] = status
        return status

    def flags_of(self, ordinal: int) -> tuple[bool, bool]:
        """``(workday, confirmed)`` for a date ordinal (used by the clock's inner loop)."""
        flags = self.flags.get(ordinal)
        if flags is None:
            status = self.day(dt.date.fromordinal(ordinal))
            flags = self.flags[ordinal] = (status.workday, status.confirmed)
        return flags

    def is_workday(self, date: dt.date) -> bool:
        """Shortcut for ``day(date).workday``."""
        return self.day(date).workday

    def is_public_holiday(self, date: dt.date) -> bool:
        """True on a statutory holiday (法定节假日, the weekend days inside a holiday period
        included), False on working days and ordinary weekends. Used to keep courtesy calls
        (办结回访) off holidays; deadlines use :meth:`day`."""
        override = self.overrides.days.get(date)
        if override is not None:
            if override:
                return False
            if date.weekday() < 5:
                return True  # a weekday off is a holiday (or a bridge day of one)
        try:
            is_holiday, name = chinese_calendar.get_holiday_detail(date)
        except NotImplementedError:
            return (date.month, date.day) in FIXED_DATE_HOLIDAYS
        return bool(is_holiday and name)

    def _compute(self, date: dt.date) -> DayStatus:
        year_confirmed = date.year in self.overrides.confirmed_years
        override = self.overrides.days.get(date)
        if override is not None:
            known = year_confirmed or _library_knows(date)
            return DayStatus(override, known, "override")
        try:
            return DayStatus(bool(chinese_calendar.is_workday(date)), True, "statutory")
        except NotImplementedError:
            # The library has no data for this year (2027 and later in chinesecalendar 1.x):
            # fall back to the weekday rule minus the holidays whose dates never move;
            # provisional unless an admin confirmed the year (the State Council's notice also
            # moves days around them and adds the lunar holidays, which only an override knows).
            fixed_holiday = (date.month, date.day) in FIXED_DATE_HOLIDAYS
            return DayStatus(date.weekday() < 5 and not fixed_holiday, year_confirmed,
                             "weekday-fallback")  # fmt: skip


FIXED_DATE_HOLIDAYS: frozenset[tuple[int, int]] = frozenset(
    {(1, 1), (5, 1), (5, 2), (10, 1), (10, 2), (10, 3)}
)
"""Statutory holidays on fixed Gregorian dates (《全国年节及纪念日放假办法》, 2024 revision):
元旦 1-1, 劳动节 5-1 and 5-2, 国庆节 10-1 to 10-3. Spring Festival, Qingming, Dragon Boat and
Mid-Autumn follow the lunar calendar and come only from the override table."""


def _library_knows(date: dt.date) -> bool:
    try:
        chinese_calendar.is_workday(date)
    except NotImplementedError:
        return False
    return True
