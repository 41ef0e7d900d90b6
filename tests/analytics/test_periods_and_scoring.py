"""Pure parts of the evaluation: periods (第二十一条), weights, the composite score, ranking."""

from __future__ import annotations

import datetime as dt

import pytest

from analytics.evaluation import evaluate, ranked
from analytics.evaluation_store import UnitCounts
from analytics.periods import PeriodError, parse_period
from analytics.scoring import (
    DEFAULT_WEIGHTS,
    Weights,
    WeightsError,
    component_rates,
    composite_score,
    weights_from,
)
from workflow.clock import TZ


def test_month_and_year_bounds_in_local_time() -> None:
    p = parse_period("2026-12")
    assert (p.kind, p.start, p.end) == ("month", dt.datetime(2026, 12, 1, tzinfo=TZ),
                                        dt.datetime(2027, 1, 1, tzinfo=TZ))  # fmt: skip
    # 2026-11-30 16:00 UTC is already December 1st in Shanghai.
    assert p.start == dt.datetime(2026, 11, 30, 16, 0, tzinfo=dt.UTC)
    y = parse_period(" 2026 ")
    assert (y.label, y.kind, y.start.month, y.end.year) == ("2026", "year", 1, 2027)
    now = dt.datetime(2026, 12, 31, 23, 59, tzinfo=TZ)
    assert p.started(now) and not p.finished(now) and not y.finished(now)
    assert y.finished(dt.datetime(2027, 1, 1, tzinfo=TZ))


@pytest.mark.parametrize("text", [None, "", "2026-00", "2026-13", "2026-1", "1999", "2101",
                                  "2026/11", "2026-11-01", "２０２６", "2026-11x"])  # fmt: skip
def test_bad_periods(text: str | None) -> None:
    with pytest.raises(PeriodError) as err:
        parse_period(text)
    assert str(err.value)  # a Chinese message for the user


def test_weights_validation() -> None:
    assert sum(DEFAULT_WEIGHTS.as_dict().values()) == 100
    w = weights_from({"sign_on_time": 10, "reply_on_time": 20, "satisfaction": 60,
                      "no_return": 10, "no_extension": 0})  # fmt: skip
    assert w == Weights(10, 20, 60, 10, 0)
    with pytest.raises(WeightsError) as err:
        weights_from({"sign_on_time": 10, "reply_on_time": 20, "satisfaction": 60,
                      "no_return": 10, "no_extension": 1})  # fmt: skip
    assert "101" in str(err.value)
    with pytest.raises(WeightsError) as err:
        weights_from({"sign_on_time": True, "reply_on_time": 101})
    fields = [d["field"] for d in err.value.details]
    assert fields == ["sign_on_time", "reply_on_time", "satisfaction", "no_return",
                      "no_extension"]  # fmt: skip


def test_score_rescales_over_components_with_data() -> None:
    full = component_rates(1.0, 0.5, 0.75, 0.25, 0.0)
    assert full == {"sign_on_time": 1.0, "reply_on_time": 0.5, "satisfaction": 0.75,
                    "no_return": 0.75, "no_extension": 1.0}  # fmt: skip
    # 20 + 15 + 30 + 3.75 + 5
    assert composite_score(full, DEFAULT_WEIGHTS) == 73.75
    # no callback yet: satisfaction is left out and the other 60 points scaled to 100
    part = component_rates(1.0, 0.5, None, 0.25, 0.0)
    assert composite_score(part, DEFAULT_WEIGHTS) == round((20 + 15 + 3.75 + 5) * 100 / 60, 2)
    # only a component weighted 0 has data: no score
    only = component_rates(None, None, None, None, 0.5)
    assert composite_score(only, Weights(25, 25, 25, 25, 0)) is None


def _counts(unit: str, on_time: int) -> UnitCounts:
    return UnitCounts(unit, unit, unit, 2, 2, 0, 2, on_time, 0, 0, 0, 0, 0, 0, 0)


def test_ranking_shares_ranks_and_puts_unscored_last() -> None:
    rows = [evaluate(c, DEFAULT_WEIGHTS) for c in (
        _counts("U3", 1), _counts("U1", 2), _counts("U2", 2),
        UnitCounts("U0", "U0", "U0", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))]  # fmt: skip
    out = ranked(rows)
    assert [(r.counts.unit, r.rank, r.score) for r in out] == [
        ("U1", 1, 100.0), ("U2", 1, 100.0), ("U3", 3, round(50 * 20 / 30 + 100 * 10 / 30, 2)),
        ("U0", None, None)]  # fmt: skip
