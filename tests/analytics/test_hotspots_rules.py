"""The pure parts of the hotspot analysis: the spike rule against a baseline, the wording of a
change, and the parsing of the query parameters with their defaults."""

from __future__ import annotations

import datetime as dt

import pytest

from analytics.hotspots_params import SpikeRule, parse_end, parse_query, parse_window
from analytics.hotspots_report import window_text
from analytics.hotspots_rules import assess, baseline_stats, change_text
from kit.errors import BadRequest
from workflow.clock import TZ

RULE = SpikeRule()  # min_count 5, k 3, ratio 1.5


@pytest.mark.parametrize(("current", "baseline", "threshold", "spike"), [
    (7, [1, 1, 1, 1], 5.0, True),     # flat baseline of 1: max(5, 1 + 3·1, 1.5) = 5
    (4, [1, 1, 1, 1], 5.0, False),    # below the minimum count
    (5, [0, 0, 0, 0], 5.0, True),     # new at the place: the minimum count decides
    (4, [0, 0, 0, 0], 5.0, False),
    (6, [6, 6, 6, 6], 13.35, False),  # steady: σ = 0, floored at √6
    (13, [6, 6, 6, 6], 13.35, False),
    (14, [6, 6, 6, 6], 13.35, True),
    (49, [10, 30, 10, 30], 50.0, False),  # noisy baseline: μ 20, σ 10 → 20 + 3·10
    (50, [10, 30, 10, 30], 50.0, True),
    (150, [100, 100, 100, 100], 150.0, True),   # large counts: the ratio rule decides
    (149, [100, 100, 100, 100], 150.0, False),
])  # fmt: skip
def test_spike_rule(current: int, baseline: list[int], threshold: float, spike: bool) -> None:
    a = assess(current, baseline, RULE)
    assert a.threshold == pytest.approx(threshold, abs=0.01)
    assert a.spike is spike


def test_assessment_figures() -> None:
    a = assess(7, [1, 1, 1, 1], RULE)
    assert (a.mean, a.sd, a.change, a.ratio, a.z) == (1.0, 0.0, 6.0, 7.0, 6.0)
    new = assess(5, [0, 0], RULE)
    assert new.ratio is None and new.z is None and new.change == 5
    assert baseline_stats([]) == (0.0, 0.0)
    assert baseline_stats([2, 4]) == (3.0, 1.0)
    # Parameters change the verdict: k = 0, ratio 1 and min 1 make any increase a spike …
    loose = SpikeRule(min_count=1, sigma=0, ratio=1)
    assert assess(2, [1, 1], loose).spike and not assess(1, [1, 1], loose).spike
    # … and a decrease is never one.
    assert not assess(5, [8, 8], SpikeRule(min_count=1, sigma=0, ratio=1)).spike


@pytest.mark.parametrize(("current", "mean", "text"), [
    (7, 1.0, "较基线均值 1.0 件增长 600%"),
    (2, 4.0, "较基线均值 4.0 件下降 50%"),
    (6, 6.0, "与基线均值 6.0 件持平"),
    (5, 0.0, "基线为0，新出现"),
    (0, 0.0, "与基线持平"),
])  # fmt: skip
def test_change_text(current: int, mean: float, text: str) -> None:
    assert change_text(current, mean) == text


def test_windows_and_defaults() -> None:
    assert parse_window("24h") == ("24h", dt.timedelta(hours=24))
    assert parse_window(" 7D ") == ("7d", dt.timedelta(days=7))
    assert parse_window(None) == ("7d", dt.timedelta(days=7))
    assert (window_text("24h"), window_text("30d")) == ("24小时", "30天")
    q = parse_query({})
    assert (q.window_label, q.by, q.baseline, q.top, q.end) == ("7d", "street", 4, 20, None)
    assert (q.spike.min_count, q.spike.sigma, q.spike.ratio) == (5, 3.0, 1.5)
    assert (q.burst.hours, q.burst.min_orders) == (6, 5)
    assert (q.persist.weeks, q.persist.min_weeks, q.persist.week_min) == (4, 3, 2)
    q = parse_query({"weeks": "2", "sigma": "2.5", "by": "City"})
    assert (q.persist.min_weeks, q.spike.sigma, q.by) == (2, 2.5, "city")


def test_end_is_local_time() -> None:
    assert parse_end("2026-11-15") == dt.datetime(2026, 11, 16, tzinfo=TZ)  # the whole day
    assert parse_end("2026-11-15T08:30") == dt.datetime(2026, 11, 15, 8, 30, tzinfo=TZ)
    assert parse_end("2026-11-15T00:30:00+00:00") == dt.datetime(2026, 11, 15, 0, 30,
                                                                  tzinfo=dt.UTC)  # fmt: skip
    assert parse_end("") is None


def test_format_only_on_the_report() -> None:
    with pytest.raises(BadRequest) as err:
        parse_query({"format": "md"})
    assert err.value.details == {"field": "format"}
    assert parse_query({"format": "md"}, allow_format=True).window_label == "7d"
