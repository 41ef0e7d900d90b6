"""The composite score (综合得分) of a member unit and its weights (pure, no I/O).

The regulation asks for a quantified, periodic evaluation of the member units (第十八条 定期量化
评估; 第二十条 satisfaction data combined with 办件质效; 第二十三条 办理效能) but sets no weights.
The defaults below are this product's choice, documented in docs/analytics.md: the citizen's
satisfaction weighs most (第二十条 makes it the core of the evaluation), then timeliness of the
reply and of the sign-for (第十一条(三)), then few returns and few extensions (第十一条(四)).
An administrator changes them through the API; they always sum to 100.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


class WeightsError(ValueError):
    """Weights that are not integers 0..100 summing to 100 (``details`` names the fields)."""

    def __init__(self, message: str, details: list[dict[str, str]]) -> None:
        super().__init__(message)
        self.details = details


@dataclass(frozen=True, slots=True)
class Weights:
    """Points of each component out of 100."""

    sign_on_time: int  # 签收及时率 (第十一条(三) 1个工作小时内签收)
    reply_on_time: int  # 答复及时率 (第十一条(三) 3/5个工作日内答复)
    satisfaction: int  # 满意率 (第十一条(五), 第二十条)
    no_return: int  # 1 − 退回率 (第十一条(四))
    no_extension: int  # 1 − 延时率 (第十一条(四))

    def as_dict(self) -> dict[str, int]:
        """``{field: points}``."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


WEIGHT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Weights))
WEIGHT_LABELS: dict[str, str] = {
    "sign_on_time": "签收及时率",
    "reply_on_time": "答复及时率",
    "satisfaction": "满意率",
    "no_return": "未退回率(1−退回率)",
    "no_extension": "未延时率(1−延时率)",
}
DEFAULT_WEIGHTS = Weights(sign_on_time=20, reply_on_time=30, satisfaction=40, no_return=5,
                          no_extension=5)  # fmt: skip
"""Used while no administrator has set weights (see the module docstring)."""


def weights_from(data: dict[str, Any]) -> Weights:
    """Validated :class:`Weights` from a request body; raises :class:`WeightsError`."""
    problems: list[dict[str, str]] = []
    values: dict[str, int] = {}
    for name in WEIGHT_FIELDS:
        v = data.get(name)
        if v is None:
            problems.append({"field": name, "problem": "required"})
        elif not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= 100:
            problems.append({"field": name, "problem": "must be an integer 0..100"})
        else:
            values[name] = v
    if problems:
        raise WeightsError("权重应为 0 至 100 的整数 (invalid weights)", problems)
    total = sum(values.values())
    if total != 100:
        raise WeightsError(f"各项权重之和应为 100,当前为 {total}",
                           [{"field": "$", "problem": f"sum is {total}, must be 100"}])
    return Weights(**values)


def component_rates(
    sign_on_time: float | None, reply_on_time: float | None, satisfaction: float | None,
    return_rate: float | None, extension_rate: float | None,
) -> dict[str, float | None]:  # fmt: skip
    """The five scored components (each 0..1 or None when undefined), keyed like
    :class:`Weights`: return and extension rates are scored as their complement."""
    return {
        "sign_on_time": sign_on_time,
        "reply_on_time": reply_on_time,
        "satisfaction": satisfaction,
        "no_return": None if return_rate is None else 1 - return_rate,
        "no_extension": None if extension_rate is None else 1 - extension_rate,
    }


def composite_score(components: dict[str, float | None], weights: Weights) -> float | None:
    """Weighted score 0..100, rounded to 2 decimals.

    A component without data (no callback yet, no reply due) is left out and the weights of the
    others are rescaled to 100, so a unit is neither rewarded nor punished for what did not
    happen; None when no weighted component has data.
    """
    w = weights.as_dict()
    used = {k: v for k, v in components.items() if v is not None and w.get(k, 0) > 0}
    total_weight = sum(w[k] for k in used)
    if total_weight == 0:
        return None
    return round(sum(w[k] * v for k, v in used.items()) * 100 / total_weight, 2)
