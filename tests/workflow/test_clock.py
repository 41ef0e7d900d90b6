"""Working-time clock with real dates (第十一条(三)(四)), including 调休 and unknown years."""

from __future__ import annotations

import datetime as dt

import pytest

from workflow.calendar import CalendarOverrides, StatutoryCalendar
from workflow.clock import TZ, WorkAmount, add_working_time, in_working_time
from workflow.units import WorkSchedule


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, us: int = 0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, s, us, tzinfo=TZ)


H = WorkAmount.hours
D = WorkAmount.days

CASES = [
    # Wed 2026-09-30 16:00, just before National Day (10-01..10-07 off, Sat 10-10 is 调休 work).
    ("sign-for before the holiday", at(2026, 9, 30, 16), H(1), at(2026, 9, 30, 17)),
    ("2 h span the whole holiday", at(2026, 9, 30, 16), H(2), at(2026, 10, 8, 9)),
    ("return consult 1 day", at(2026, 9, 30, 16), D(1), at(2026, 10, 8, 16)),
    ("return other 2 days", at(2026, 9, 30, 16), D(2), at(2026, 10, 9, 16)),
    ("reply consult 3 days ends on the 调休 Saturday", at(2026, 9, 30, 16), D(3),
     at(2026, 10, 10, 16)),
    ("reply other 5 days skips Sunday 10-11", at(2026, 9, 30, 16), D(5), at(2026, 10, 13, 16)),
    # Friday 17:20: 10 minutes left on Friday, the rest on Monday.
    ("Fri 17:20 sign-for", at(2026, 11, 27, 17, 20), H(1), at(2026, 11, 30, 9, 20)),
    ("Fri 17:20 3 days", at(2026, 11, 27, 17, 20), D(3), at(2026, 12, 2, 17, 20)),
    # During the holiday: counting starts at 10-08 08:30.
    ("holiday sign-for", at(2026, 10, 3, 10), H(1), at(2026, 10, 8, 9, 30)),
    ("holiday 3 days end at 17:30 of the 3rd day, not next 08:30", at(2026, 10, 3, 10), D(3),
     at(2026, 10, 10, 17, 30)),
    # Lunch break 12:00-13:30.
    ("across lunch", at(2026, 11, 26, 11, 30), H(1), at(2026, 11, 26, 14)),
    ("start in lunch", at(2026, 11, 26, 12, 30), H(1), at(2026, 11, 26, 14, 30)),
    ("ends exactly at noon", at(2026, 11, 26, 11), H(1), at(2026, 11, 26, 12)),
    ("night start", at(2026, 11, 26, 22), H(1), at(2026, 11, 27, 9, 30)),
    ("exactly at end of day", at(2026, 11, 26, 17, 30), H(1), at(2026, 11, 27, 9, 30)),
    ("sub-second exact", at(2026, 11, 26, 16, 0, 0, 250000), H(1),
     at(2026, 11, 26, 17, 0, 0, 250000)),
    ("sub-second across night", at(2026, 11, 26, 17, 29, 59, 500000), H(1),
     at(2026, 11, 27, 9, 29, 59, 500000)),
    # Mid-Autumn 2026-09-25 (Fri) off, Sunday 09-20 a make-up working day.
    ("make-up Sunday counts", at(2026, 9, 19, 10), H(1), at(2026, 9, 20, 9, 30)),
    ("Mid-Autumn Friday skipped", at(2026, 9, 24, 17), H(1), at(2026, 9, 28, 9)),
]  # fmt: skip


@pytest.mark.parametrize(("label", "start", "amount", "expected"), CASES, ids=[c[0] for c in CASES])
def test_real_dates(label: str, start: dt.datetime, amount: WorkAmount, expected: dt.datetime):
    got = add_working_time(start, amount, calendar=StatutoryCalendar())
    assert got.at == expected, label
    assert got.provisional is False


def test_utc_input_is_converted_to_shanghai():
    start = dt.datetime(2026, 9, 30, 8, 0, tzinfo=dt.UTC)  # 16:00 in Shanghai
    got = add_working_time(start, D(3))
    assert got.at == at(2026, 10, 10, 16)
    assert got.at.utcoffset() == dt.timedelta(hours=8)


def test_zero_amount_is_the_start():
    assert add_working_time(at(2026, 10, 3, 10), 0).at == at(2026, 10, 3, 10)


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="timezone-aware"):
        add_working_time(dt.datetime(2026, 9, 30, 16), H(1))
    with pytest.raises(ValueError, match="negative"):
        add_working_time(at(2026, 9, 30, 16), H(-1))
    with pytest.raises(ValueError, match="negative"):
        add_working_time(at(2026, 9, 30, 16), -5)


def test_unit_schedule_without_lunch_break():
    sched = WorkSchedule.parse("09:00-17:00")
    assert add_working_time(at(2026, 11, 26, 11, 30), H(1), sched).at == at(2026, 11, 26, 12, 30)
    # 1 working day of an 8-hour unit is 8 hours.
    assert add_working_time(at(2026, 11, 26, 10), D(1), sched).at == at(2026, 11, 27, 10)


# --- 2027: chinesecalendar raises NotImplementedError for it ------------------------------


def test_2027_without_override_is_provisional_weekday_rule():
    got = add_working_time(at(2026, 12, 30, 10), D(5), calendar=StatutoryCalendar())
    # 12-31, (01-01 is 元旦 on a fixed date, a day off even without data), 01-04 .. 01-07.
    assert got.at == at(2027, 1, 7, 10)
    assert got.provisional is True


def test_2027_with_confirmed_override_row():
    overrides = CalendarOverrides.of([(dt.date(2027, 1, 1), False)], confirmed_years=[2027])
    got = add_working_time(at(2026, 12, 30, 10), D(5), calendar=StatutoryCalendar(overrides))
    # New Year's Day is off: 12-31, 01-04, 01-05, 01-06, 01-07.
    assert got.at == at(2027, 1, 7, 10)
    assert got.provisional is False


def test_2027_override_rows_but_year_not_confirmed_stay_provisional():
    overrides = CalendarOverrides.of([(dt.date(2027, 1, 1), False)])
    got = add_working_time(at(2026, 12, 30, 10), D(5), calendar=StatutoryCalendar(overrides))
    assert got.at == at(2027, 1, 7, 10)
    assert got.provisional is True


def test_override_make_up_saturday_in_2027():
    overrides = CalendarOverrides.of([(dt.date(2027, 1, 9), True)], confirmed_years=[2027])
    got = add_working_time(at(2027, 1, 8, 17), H(1), calendar=StatutoryCalendar(overrides))
    assert got.at == at(2027, 1, 9, 9)
    assert got.provisional is False


def test_override_wins_over_library_in_known_year():
    # A local decision: 2026-11-27 (Fri) declared a day off.
    overrides = CalendarOverrides.of([(dt.date(2026, 11, 27), False)])
    got = add_working_time(at(2026, 11, 26, 17), H(1), calendar=StatutoryCalendar(overrides))
    assert got.at == at(2026, 11, 30, 9)
    assert got.provisional is False


def test_deadline_inside_2026_is_not_provisional():
    assert add_working_time(at(2026, 12, 21, 10), D(5)).provisional is False


def test_in_working_time():
    assert in_working_time(at(2026, 11, 26, 10))
    assert not in_working_time(at(2026, 11, 26, 12, 30))  # lunch
    assert not in_working_time(at(2026, 11, 28, 10))  # Saturday
    assert in_working_time(at(2026, 10, 10, 10))  # 调休 Saturday
    assert not in_working_time(at(2026, 10, 5, 10))  # National Day


def test_working_days_equal_same_position_n_days_later():
    """Property of the definition: N working days land on the same local time N working days on."""
    cal = StatutoryCalendar()
    start = at(2026, 3, 2, 8, 30)
    for minutes in range(0, 450, 37):
        t = start + dt.timedelta(minutes=minutes if minutes < 210 else minutes + 90)
        for n in (1, 2, 3, 5):
            got = add_working_time(t, D(n), calendar=cal).at
            assert got.time() == t.time() or (t.time() == dt.time(8, 30) and got.time()
                                              == dt.time(17, 30))  # fmt: skip


def test_2027_fallback_knows_fixed_date_holidays_only():
    cal = StatutoryCalendar()
    for d in (dt.date(2027, 1, 1), dt.date(2027, 10, 1)):  # both Fridays
        assert not cal.is_workday(d), d
    assert cal.is_workday(dt.date(2027, 5, 3))  # Monday; lunar holidays need the override table
