"""Adapters from :class:`workflow.api.WorkflowApi` to the small Protocols other features declared
(``agents.ports.OrderLookup`` and ``agents.ports.KnowledgeSuggest``). Structural: nothing here
imports those features; ``hotline/features/workflow.py`` puts them under the features' keys.
"""

from __future__ import annotations

from typing import Any

from workflow.api import WorkflowApi

IVR_CHOICE_TEXT = {
    "consultation": "咨询", "complaint": "投诉", "report": "举报", "help": "求助",
    "suggestion": "建议", "business": "营商环境",
}  # fmt: skip


class ScreenPopOrders:
    """``agents.ports.OrderLookup``: a caller's earlier orders for the screen-pop."""

    def __init__(self, api: WorkflowApi) -> None:
        self.api = api

    async def orders_for_caller(self, number: str, limit: int = 10) -> list[dict[str, Any]]:
        """Dicts with ``order_no``, ``state``, ``category``, ``summary``, ``deadline`` (ISO 8601
        or None), ``overdue``, ``open``; open orders first."""
        out = []
        for d in await self.api.orders_for_phone(number, limit):
            due = d["reply_due"]
            out.append({
                "order_no": d["number"], "state": d["state"], "state_label": d["state_label"],
                "category": d["category_label"], "summary": d["summary"],
                "deadline": due.isoformat() if due else None, "overdue": d["overdue"],
                "open": d["open"], "lead_unit": d["lead_unit_name"],
            })  # fmt: skip
        return out


class ScreenPopKnowledge:
    """``agents.ports.KnowledgeSuggest``: articles likely to answer this call, from the caller's
    latest open order (topic and content) and the IVR menu choice."""

    def __init__(self, api: WorkflowApi) -> None:
        self.api = api

    async def suggest(
        self, *, caller: str | None, queue: str | None, ivr_choice: str | None, limit: int = 5
    ) -> list[dict[str, Any]]:
        """Dicts with ``id``, ``title``, ``snippet``, ``unit``; empty when nothing is known."""
        text = ""
        if caller:
            for d in await self.api.orders_for_phone(caller, 1):
                if d["open"]:
                    text = d["summary"] or ""
        if not text and ivr_choice:
            text = IVR_CHOICE_TEXT.get(ivr_choice, "")
        if not text:
            return []
        return [
            {"id": a["id"], "title": a["title"], "snippet": a["snippet"], "unit": a["unit_code"]}
            for a in await self.api.suggest_articles(text, limit)
        ]


class UnitNumbers:
    """``agents.ports.UnitDirectory``: the dialable number of a member unit for transfers and
    three-way calls (三方通话, 第十一条(二)). Uses the unit's on-duty phone (第十三条) when it is
    a dialable number; placeholders such as ``0519-8xxxxxxx`` are not dialable."""

    def __init__(self, directory: Any) -> None:
        self.directory = directory  # () -> workflow.units.UnitDirectory (kept fresh by the service)

    def number_for(self, unit_code: str) -> str | None:
        """Digits to dial, or None when the unit is unknown or has no usable number."""
        unit = self.directory().get(unit_code)
        if unit is None or not unit.duty_phone:
            return None
        digits = "".join(ch for ch in unit.duty_phone if ch.isdigit())
        cleaned = unit.duty_phone.replace("-", "").replace(" ", "")
        return digits if digits and digits == cleaned else None
