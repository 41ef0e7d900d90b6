"""Assembling the screen-pop (``call.ringing``) and the answer message (``call.answered``).

The pop must reach the agent within 100 ms of the AMI event (SPEC R3.2), so the workflow look-ups
run concurrently under a small time budget; whatever is not back by then is left out and the
pop says ``partial: true`` (the console can fetch the orders itself).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from agents.ports import DraftBuilder, KnowledgeSuggest, OrderLookup
from agents.states import call_id_of
from pbx.calls.events import AgentRinging, CallAnswered, CallKey
from pbx.calls.record import CallRecord

log = logging.getLogger(__name__)

CHOICE_LABELS: dict[str, str] = {
    "1": "咨询",
    "2": "投诉",
    "3": "举报",
    "4": "求助",
    "5": "建议",
    "6": "营商环境专席",  # 第十五条
    "8": "工单查询",
    "0": "人工服务",
}


def _order_sort_key(o: dict[str, Any]) -> tuple[int, int, str]:
    # Open orders first, overdue ones at the very top, then by deadline (earliest first).
    return (0 if o.get("open") else 1, 0 if o.get("overdue") else 1, str(o.get("deadline") or "~"))


class PopBuilder:
    """Builds WebSocket payloads for ringing / answered calls."""

    def __init__(
        self,
        orders: OrderLookup,
        knowledge: KnowledgeSuggest,
        drafts: DraftBuilder,
        *,
        budget_s: float = 0.05,
    ) -> None:
        self.orders = orders
        self.knowledge = knowledge
        self.drafts = drafts
        self.budget_s = budget_s

    @staticmethod
    def ivr_of(record: CallRecord | None, fallback_choice: str | None) -> dict[str, Any]:
        """The ``ivr`` object of the pop from the tracker's call record."""
        path = list(record.ivr_choices) if record is not None else []
        choice = path[-1] if path else fallback_choice
        return {
            "choice": choice,
            "choice_label": CHOICE_LABELS.get(choice or ""),
            "language": record.extra.get("HOTLINE_LANG") if record is not None else None,
            "path": path,
        }

    async def ringing(self, event: AgentRinging, record: CallRecord | None) -> dict[str, Any]:
        """The ``call.ringing`` message (without ``type``/``ts``)."""
        caller = event.caller or (record.caller if record is not None else None)
        ivr = self.ivr_of(record, event.ivr_choice)
        tasks: dict[str, asyncio.Task[list[dict[str, Any]]]] = {}
        if caller:
            tasks["orders"] = asyncio.create_task(self.orders.orders_for_caller(caller))
        tasks["suggestions"] = asyncio.create_task(
            self.knowledge.suggest(caller=caller, queue=event.queue, ivr_choice=ivr["choice"])
        )
        done, pending = await asyncio.wait(tasks.values(), timeout=self.budget_s)
        for t in pending:
            t.cancel()
        got: dict[str, list[dict[str, Any]]] = {"orders": [], "suggestions": []}
        partial = bool(pending)
        for name, t in tasks.items():
            if t in done:
                try:
                    got[name] = list(t.result())
                except Exception:
                    log.exception("screen-pop: %s look-up failed", name)
                    partial = True
        orders = sorted(got["orders"], key=_order_sort_key)
        return {
            "call_id": call_id_of(event.server, event.linkedid),
            "caller": caller,
            "dnid": record.dialled if record is not None else None,
            "queue": event.queue,
            "ivr": ivr,
            "wait_s": event.wait_seconds,
            "orders": orders,
            "suggestions": got["suggestions"],
            "partial": partial,
            "event_at": event.at,
        }

    async def answered(
        self, event: CallAnswered, record: CallRecord | None,
        seen: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The ``call.answered`` message with the draft work order. ``seen`` is what the pop
        knew (caller, ivr): the tracker may have closed the record by the time we get here."""
        cid = call_id_of(event.server, event.linkedid)
        seen = seen or {}
        ivr = self.ivr_of(record, None) if record is not None else seen.get("ivr") or {}
        caller = record.caller if record is not None else seen.get("caller")
        try:
            draft = await asyncio.wait_for(
                self.drafts.draft_for_call(
                    call_id=cid, caller=caller, queue=event.queue, ivr_choice=ivr.get("choice")
                ),
                1.0,
            )
        except Exception:
            log.exception("call.answered: draft builder failed for %s", cid)
            draft = {"call_id": cid, "citizen_phone": caller}
        return {"call_id": cid, "hold_s": event.hold_seconds, "caller": caller, "draft": draft}


def record_for(pbx_tracker: Any, server: str, linkedid: str) -> CallRecord | None:
    """The tracker's open record of a call, or None."""
    try:
        rec = pbx_tracker.get(CallKey(server, linkedid))
    except Exception:
        return None
    return rec if isinstance(rec, CallRecord) else None
