"""Monthly and annual evaluation of the member units (成员单位考核, 第二十一条 to 第二十三条).

Which orders a period holds (第二十一条 在评估节点内办结的服务工单计入本期评估范围,未办结的
服务工单统一计入下一次评估范围): an order belongs to the period that contains its
``work_orders.closed_at`` — the instant it reached the state ``closed`` (已办结: the callback
recorded a result, or the citizen could not be reached) — read in Asia/Shanghai time, the period
being ``[first day 00:00, first day of the next period 00:00)``. An order still open at the
end of a period (待签收, 办理中, 待答复认定, 待回访, 核实整改 …) is not in it and is counted in the
period where it is eventually closed, with everything that happened to it before. Orders
closed without a dispatch (direct answer, three-way call, not accepted) have no unit to
evaluate; merged duplicates are not 办结 and are left out.

Per unit, over those orders (definitions of the counts in :mod:`analytics.evaluation_store`):

* ``dispatched`` 交办量 — lead dispatches (stints); ``orders`` the distinct orders among them;
* ``sign_on_time_rate`` 签收及时率 — stints (lead and co-handling) signed within 1 working hour
  (第十一条(三)) over the stints whose sign-for was due;
* ``reply_on_time_rate`` 答复及时率 — lead stints whose every reply came within the limit in force
  (extended or reopened limits included) and that never went overdue, over the lead stints that
  replied or went overdue (a returned stint owes no reply);
* ``return_rate`` 退回率 — lead stints ended by an approved return over lead stints;
* ``extension_rate`` 延时率 — lead stints with an approved extension over lead stints;
* ``satisfaction_rate`` 满意率 — callback results 满意 + 基本满意 over all callback results in the
  unit's lead stints (a reopened order that is called back twice counts twice; a callback that
  did not reach the citizen has no result and does not count);
* ``overdue`` 超期件数 — lead stints counted for the reply and not on time;
* ``score`` 综合得分 — :func:`analytics.scoring.composite_score` with the weights in force.

Limits recomputed when a calendar year is confirmed (``deadlines_recomputed``) are honoured: the
sign-for is judged against the latest limit recomputed for the unit, and an overdue mark a later
recomputation withdrew does not count.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from analytics import evaluation_store as store
from analytics.periods import Period, PeriodError, parse_period
from analytics.scoring import DEFAULT_WEIGHTS, Weights, component_rates, composite_score
from kit.auth import Principal, Role
from kit.errors import BadRequest, Forbidden

RATE_DIGITS = 4


def _rate(num: int, den: int) -> float | None:
    return num / den if den else None


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, RATE_DIGITS)


@dataclass(frozen=True, slots=True)
class UnitEvaluation:
    """One unit's row of the evaluation (rates 0..1 rounded to 4 decimals, score 0..100)."""

    counts: store.UnitCounts
    sign_on_time_rate: float | None
    reply_on_time_rate: float | None
    return_rate: float | None
    extension_rate: float | None
    satisfaction_rate: float | None
    overdue: int
    score: float | None
    rank: int | None = None

    @property
    def callbacks(self) -> int:
        """Callback results counted for the satisfaction rate."""
        c = self.counts
        return c.satisfied + c.basically_satisfied + c.dissatisfied

    def as_dict(self) -> dict[str, Any]:
        """JSON form (counts and rates side by side)."""
        c = self.counts
        return {
            "unit": c.unit, "name": c.name, "short": c.short, "rank": self.rank,
            "score": self.score, "orders": c.orders, "dispatched": c.dispatched,
            "co_dispatched": c.co_dispatched, "sign_counted": c.sign_counted,
            "sign_on_time": c.sign_on_time, "sign_on_time_rate": self.sign_on_time_rate,
            "reply_counted": c.reply_counted, "reply_on_time": c.reply_on_time,
            "reply_on_time_rate": self.reply_on_time_rate, "returned": c.returned,
            "return_rate": self.return_rate, "extended": c.extended,
            "extension_rate": self.extension_rate, "callbacks": self.callbacks,
            "satisfied": c.satisfied, "basically_satisfied": c.basically_satisfied,
            "dissatisfied": c.dissatisfied, "satisfaction_rate": self.satisfaction_rate,
            "overdue": self.overdue,
        }  # fmt: skip


def evaluate(c: store.UnitCounts, weights: Weights) -> UnitEvaluation:
    """Rates and composite score of one unit's counts (pure)."""
    sign = _rate(c.sign_on_time, c.sign_counted)
    reply = _rate(c.reply_on_time, c.reply_counted)
    ret = _rate(c.returned, c.dispatched)
    ext = _rate(c.extended, c.dispatched)
    sat = _rate(c.satisfied + c.basically_satisfied,
                c.satisfied + c.basically_satisfied + c.dissatisfied)  # fmt: skip
    score = composite_score(component_rates(sign, reply, sat, ret, ext), weights)
    return UnitEvaluation(c, _round(sign), _round(reply), _round(ret), _round(ext), _round(sat),
                          c.reply_counted - c.reply_on_time, score)  # fmt: skip


def ranked(rows: list[UnitEvaluation]) -> list[UnitEvaluation]:
    """Best score first (units without a score last, by code); equal scores share a rank."""
    scored = sorted((r for r in rows if r.score is not None),
                    key=lambda r: (-(r.score or 0.0), r.counts.unit))  # fmt: skip
    out: list[UnitEvaluation] = []
    for i, r in enumerate(scored):
        same = out and out[-1].score == r.score
        rank = out[-1].rank if same else i + 1
        out.append(_with_rank(r, rank))
    out.extend(sorted((r for r in rows if r.score is None), key=lambda r: r.counts.unit))
    return out


def _with_rank(r: UnitEvaluation, rank: int | None) -> UnitEvaluation:
    return UnitEvaluation(
        r.counts, r.sign_on_time_rate, r.reply_on_time_rate, r.return_rate, r.extension_rate,
        r.satisfaction_rate, r.overdue, r.score, rank,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    """The evaluation of one period as one reader may see it."""

    period: Period
    final: bool
    weights: store.StoredWeights
    rows: list[UnitEvaluation]

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        w = self.weights
        return {
            "period": self.period.label, "kind": self.period.kind,
            "from": self.period.start, "to": self.period.end, "final": self.final,
            "membership": "closed_at",
            "weights": w.weights.as_dict() | {"set_by": w.set_by, "set_at": w.set_at},
            "units": [r.as_dict() for r in self.rows],
        }  # fmt: skip


EVALUATION_READERS = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.AUDITOR, Role.UNIT_STAFF})
"""Platform supervisors / admins and the joint-meeting office (auditor role, 第二十二条) read every
unit; member-unit staff read their own unit's row only."""


class EvaluationService:
    """Use cases of the evaluation: compute a period, read and set the weights."""

    def __init__(self, pool: asyncpg.Pool, now: Callable[[], dt.datetime],
                 default_weights: Weights = DEFAULT_WEIGHTS) -> None:  # fmt: skip
        self.pool = pool
        self.now = now
        self.default_weights = default_weights

    def period(self, text: str | None) -> Period:
        """Parse ``text``; a bad or not yet started period is a 400 with the reason."""
        try:
            p = parse_period(text)
        except PeriodError as exc:
            raise BadRequest(str(exc), code="invalid_period",
                             details={"field": "period"}) from None  # fmt: skip
        if not p.started(self.now()):
            raise BadRequest(f"评估期 {p.label} 尚未开始", code="invalid_period",
                             details={"field": "period"})  # fmt: skip
        return p

    @staticmethod
    def scope(who: Principal, unit: str | None) -> str | None:
        """The one unit ``who`` may read (unit staff: their own), or None for all units."""
        if who.role is Role.UNIT_STAFF:
            if not who.unit_code:
                raise Forbidden("该账号未关联成员单位", code="no_unit")
            if unit and unit != who.unit_code:
                raise Forbidden("成员单位只能查看本单位的考核结果", code="forbidden_unit")
            return who.unit_code
        return unit or None

    async def report(self, who: Principal, period_text: str | None,
                     unit: str | None = None) -> EvaluationReport:  # fmt: skip
        """The evaluation of a period for ``who`` (see :meth:`scope`)."""
        period = self.period(period_text)
        only = self.scope(who, unit)
        weights = await store.current_weights(self.pool, self.default_weights)
        counts = await store.unit_counts(self.pool, period.start, period.end)
        # Ranked among every unit, then narrowed: a unit sees its own row with its true rank
        # (the joint-meeting office publishes the results anyway, 第二十二条), never another's.
        rows = ranked([evaluate(c, weights.weights) for c in counts])
        if only is not None:
            rows = [r for r in rows if r.counts.unit == only]
        return EvaluationReport(period, period.finished(self.now()), weights, rows)

    async def weights(self) -> store.StoredWeights:
        """The weights in force."""
        return await store.current_weights(self.pool, self.default_weights)

    async def history(self) -> list[store.StoredWeights]:
        """Every stored change of the weights, newest first."""
        return await store.weights_history(self.pool)

    async def set_weights(self, who: Principal, weights: Weights,
                          note: str = "") -> store.StoredWeights:  # fmt: skip
        """Put new weights in force (the old ones stay as history)."""
        return await store.add_weights(self.pool, weights, who.username, note, self.now())
