"""Spike detection against a baseline (热点发现, 第十八条 自主发现、动态跟踪) — pure arithmetic.

A topic × place has ``c`` orders in the current window and ``b1 … bN`` in the N windows of the
same length just before it (a window without orders counts as 0). With the baseline mean
``μ = Σb / N`` and population standard deviation ``σ``:

* ``σ' = max(σ, √μ)`` — counts of independent demands vary at least like a Poisson count
  (variance = mean), so a baseline that happens to be perfectly flat (σ = 0) does not turn a
  change of one order into a spike;
* ``threshold = max(min_count, μ + k·σ', ratio·μ)``;
* **spike** when ``c ≥ threshold`` and ``c > μ``.

With an empty baseline (μ = 0) the rule reduces to ``c ≥ min_count``: a topic new at a place is a
spike once it has ``min_count`` orders. Defaults: ``min_count = 5``, ``k = 3``, ``ratio = 1.5``
(:class:`analytics.hotspots_params.SpikeRule`). The regulation asks for the discovery and
tracking of hotspots (第十八条) and quick reports (第十九条) but sets no figures; these are this
product's choice, all of them request parameters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from analytics.hotspots_params import SpikeRule


@dataclass(frozen=True, slots=True)
class Assessment:
    """The current count of one topic × place against its baseline."""

    current: int
    baseline: tuple[int, ...]  # previous windows, oldest first
    mean: float
    sd: float  # population standard deviation of the baseline
    threshold: float  # the count from which it is a spike
    spike: bool

    @property
    def change(self) -> float:
        """``c − μ`` (orders more than the baseline mean; negative: fewer)."""
        return self.current - self.mean

    @property
    def ratio(self) -> float | None:
        """``c / μ``; None when the baseline is empty (a new topic at the place)."""
        return self.current / self.mean if self.mean else None

    @property
    def z(self) -> float | None:
        """``(c − μ) / σ'``; None when the baseline is empty."""
        floor = max(self.sd, math.sqrt(self.mean))
        return (self.current - self.mean) / floor if floor else None


def baseline_stats(counts: Sequence[int]) -> tuple[float, float]:
    """Mean and population standard deviation of the baseline windows (0, 0 when none)."""
    if not counts:
        return 0.0, 0.0
    mean = sum(counts) / len(counts)
    var = sum((x - mean) ** 2 for x in counts) / len(counts)
    return mean, math.sqrt(var)


def assess(current: int, baseline: Sequence[int], rule: SpikeRule) -> Assessment:
    """Apply the spike rule of this module to one count."""
    mean, sd = baseline_stats(baseline)
    threshold = max(float(rule.min_count), mean + rule.sigma * max(sd, math.sqrt(mean)),
                    rule.ratio * mean)  # fmt: skip
    spike = current >= threshold and current > mean
    return Assessment(current, tuple(baseline), mean, sd, threshold, spike)


def change_text(current: int, mean: float) -> str:
    """The change against the baseline as a briefing says it: ``较基线均值 2.0 件增长 250%``,
    ``与基线持平``, ``较基线均值 4.0 件下降 50%``, ``基线为0，新出现``."""
    if mean == 0:
        return "基线为0，新出现" if current else "与基线持平"
    pct = (current - mean) / mean * 100
    if round(pct) == 0:
        return f"与基线均值 {mean:.1f} 件持平"
    word = "增长" if pct > 0 else "下降"
    return f"较基线均值 {mean:.1f} 件{word} {abs(pct):.0f}%"
