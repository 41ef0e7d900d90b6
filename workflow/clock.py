"""The working-time clock: the one function every deadline of the platform is computed with.

What the regulation asks (常政办发〔2020〕91号):

* 第十一条(三) 限时办理: a member unit signs for (签收) a work order "within 1 working hour";
  answers a consultation (咨询) "within 3 working days" and any other category "within 5 working
  days"; provincial orders and urgent orders that carry their own limit follow that limit.
* 第十一条(四) 答复认定: a unit applies for return (退回) "within 1 working day" (consultation) or
  "2 working days" (others), and asks for an extension (延时) before the limit expires.

How we count (the definition every test and every document relies on):

* Working time is the time inside the unit's working periods (default 08:30-12:00 and 13:30-17:30,
  Asia/Shanghai) on working days of the statutory calendar (:mod:`workflow.calendar`: holidays are
  off, make-up weekends 调休 are working days, admin overrides win).
* "N working hours" = N x 3600 seconds of working time.
* "N working days" = N x (the unit's working seconds per day) of working time, i.e. N *full*
  working days of working time counted from the start instant. Because a unit has the same periods
  every working day this is "the same position in the working day, N working days later":
  dispatched Wednesday 16:00, 3 working days end on the third following working day at 16:00.
* An instant outside working time (night, lunch break, weekend, holiday) starts counting at the
  beginning of the next working period.
* The deadline is the *earliest* instant at which the amount of working time has elapsed, so a count
  that ends exactly at the end of a period ends there (17:30), not at the next morning's 08:30.
* A deadline whose count passes over a date the calendar has not confirmed (a year
  ``chinesecalendar`` does not know and no admin has confirmed) is computed with the weekday rule
  and marked ``provisional``; it never raises.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol
from zoneinfo import ZoneInfo

from workflow.calendar import StatutoryCalendar
from workflow.units import DEFAULT_SCHEDULE, UnitDirectory, WorkSchedule

TZ = ZoneInfo("Asia/Shanghai")
"""The platform's time zone; every working period is local time here."""

_US = 1_000_000
_SCALED: dict[WorkSchedule, tuple[tuple[tuple[int, int], ...], int]] = {}
_MAX_DAYS_SCANNED = 3660  # ten years: a schedule with no working day at all must not loop forever


@dataclass(frozen=True, slots=True)
class WorkAmount:
    """An amount of working time: ``WorkAmount.hours(1)`` or ``WorkAmount.days(3)``."""

    value: float
    unit: str  # "hours" | "days"

    @classmethod
    def hours(cls, n: float) -> WorkAmount:
        """N working hours."""
        return cls(n, "hours")

    @classmethod
    def days(cls, n: float) -> WorkAmount:
        """N working days (see the module docstring for the precise meaning)."""
        return cls(n, "days")

    def seconds(self, schedule: WorkSchedule) -> int:
        """Working seconds this amount represents under ``schedule``."""
        if self.value < 0:
            raise ValueError("a working-time amount cannot be negative")
        if self.unit == "hours":
            return round(self.value * 3600)
        if self.unit == "days":
            return round(self.value * schedule.day_seconds)
        raise ValueError(f"unknown working-time unit {self.unit!r}")

    def label(self) -> str:
        """Chinese label for messages, e.g. ``3个工作日``."""
        n = int(self.value) if float(self.value).is_integer() else self.value
        return f"{n}个工作小时" if self.unit == "hours" else f"{n}个工作日"


@dataclass(frozen=True, slots=True)
class Deadline:
    """A computed limit. ``provisional`` when it relied on unconfirmed calendar days."""

    at: dt.datetime
    provisional: bool = False


def add_working_time(
    start: dt.datetime,
    amount: WorkAmount | int,
    schedule: WorkSchedule = DEFAULT_SCHEDULE,
    calendar: StatutoryCalendar | None = None,
) -> Deadline:
    """Add working time to an aware instant (the one clock function; 第十一条(三)(四)).

    ``amount`` is a :class:`WorkAmount` or a number of working seconds. Returns the earliest
    instant (in Asia/Shanghai) at which that much working time has elapsed since ``start``.
    Raises ``ValueError`` for a naive ``start`` or a negative amount.
    """
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    cal = calendar if calendar is not None else _default_calendar()
    scaled = _SCALED.get(schedule)
    if scaled is None:
        scaled = _SCALED[schedule] = (
            tuple((s * _US, e * _US) for s, e in schedule.periods),
            schedule.day_seconds * _US,
        )
    periods, day_len = scaled
    # Count in integer microseconds so that a start such as 16:00:00.250 stays exact.
    if isinstance(amount, int):
        left = amount * _US
    elif amount.unit == "days" and amount.value >= 0:
        left = round(amount.value * day_len)
    else:
        left = amount.seconds(schedule) * _US
    if left < 0:
        raise ValueError("a working-time amount cannot be negative")
    local = start.astimezone(TZ)
    if left == 0:
        return Deadline(local, False)
    ordinal = local.toordinal()
    pos = (local.hour * 3600 + local.minute * 60 + local.second) * _US + local.microsecond
    provisional = False
    flags = cal.flags
    for _ in range(_MAX_DAYS_SCANNED):
        workday, confirmed = flags.get(ordinal) or cal.flags_of(ordinal)
        if not confirmed:
            provisional = True
        if workday:
            if pos == 0 and left > day_len:
                left -= day_len  # a whole working day (fast path)
            else:
                for p_start, p_end in periods:
                    if pos >= p_end:
                        continue
                    begin = p_start if pos < p_start else pos
                    avail = p_end - begin
                    if left <= avail:
                        return Deadline(_at(ordinal, begin + left), provisional)
                    left -= avail
                    pos = p_end
        ordinal += 1
        pos = 0
    raise ValueError("the schedule has no working time in ten years")


def _at(ordinal: int, pos_us: int) -> dt.datetime:
    day = dt.date.fromordinal(ordinal)
    secs, micro = divmod(pos_us, _US)
    if secs >= 86400:  # a period ending at 24:00
        return dt.datetime(day.year, day.month, day.day, tzinfo=TZ) + dt.timedelta(seconds=secs)
    hour, rest = divmod(secs, 3600)
    return dt.datetime(
        day.year, day.month, day.day, hour, rest // 60, rest % 60, micro, tzinfo=TZ
    )


_DEFAULT: list[StatutoryCalendar] = []


def _default_calendar() -> StatutoryCalendar:
    # A calendar without overrides, shared by callers that pass none (pure: no I/O inside).
    if not _DEFAULT:
        _DEFAULT.append(StatutoryCalendar())
    return _DEFAULT[0]


def in_working_time(
    instant: dt.datetime,
    schedule: WorkSchedule = DEFAULT_SCHEDULE,
    calendar: StatutoryCalendar | None = None,
) -> bool:
    """True when ``instant`` lies inside a working period of a working day (else 第十三条 duty)."""
    cal = calendar if calendar is not None else _default_calendar()
    local = instant.astimezone(TZ)
    if not cal.is_workday(local.date()):
        return False
    sod = local.hour * 3600 + local.minute * 60 + local.second
    return any(s <= sod < e for s, e in schedule.periods)


class WorkClock(Protocol):
    """What the state machine needs: deadlines for a unit (or the platform when unit is None)."""

    def add(self, unit: str | None, start: dt.datetime, amount: WorkAmount) -> Deadline:
        """``start`` plus ``amount`` of the unit's working time."""
        ...

    def working_now(self, unit: str | None, instant: dt.datetime) -> bool:
        """Whether ``instant`` is inside the unit's working time (else 第十三条 duty rules)."""
        ...


class UnitClock:
    """:class:`WorkClock` over a unit directory and a statutory calendar."""

    def __init__(self, units: UnitDirectory, calendar: StatutoryCalendar) -> None:
        self.units = units
        self.calendar = calendar

    def add(self, unit: str | None, start: dt.datetime, amount: WorkAmount) -> Deadline:
        """``start`` plus ``amount`` of working time in ``unit``'s hours."""
        return add_working_time(start, amount, self.units.schedule(unit), self.calendar)

    def working_now(self, unit: str | None, instant: dt.datetime) -> bool:
        """Whether ``instant`` is inside the unit's working time."""
        return in_working_time(instant, self.units.schedule(unit), self.calendar)
