"""The small interface other features call (wired by ``hotline/features/workflow.py``).

* agents' screen-pop: :meth:`WorkflowApi.orders_for_phone`, :meth:`WorkflowApi.suggest_articles`
* agents / recordings: :meth:`WorkflowApi.create_order_from_call`,
  :meth:`WorkflowApi.attach_transcript`
* IVR: :meth:`WorkflowApi.order_status` (一号答 self-service), :meth:`WorkflowApi.record_survey`
  (好差评 / 办结回访, keys 1 / 2 / 3)
"""

from __future__ import annotations

from typing import Any

from workflow import commands as c
from workflow import store
from workflow.kb import KnowledgeBase
from workflow.machine import STATE_LABELS
from workflow.model import (
    CATEGORY_LABELS,
    SYSTEM_ACTOR,
    Actor,
    ActorKind,
    Order,
    Satisfaction,
    State,
)
from workflow.numbering import is_number
from workflow.service import OrderService

DTMF_SATISFACTION = {"1": Satisfaction.SATISFIED, "2": Satisfaction.BASICALLY,
                     "3": Satisfaction.DISSATISFIED}  # fmt: skip


class WorkflowApi:
    """Facade over the order service and the knowledge base for trusted internal callers."""

    def __init__(self, orders: OrderService, kb: KnowledgeBase) -> None:
        self.orders = orders
        self.kb = kb

    def summary(self, o: Order) -> dict[str, Any]:
        """A short, PII-free description of an order (for the screen-pop and the IVR)."""
        lead = o.lead_unit
        unit = self.orders.units.get(lead) if lead else None
        return {
            "number": o.number, "state": o.state.value, "state_label": STATE_LABELS[o.state],
            "category": o.category.value, "category_label": CATEGORY_LABELS[o.category],
            "topic": o.topic, "created_at": o.created_at, "reply_due": o.reply_due,
            "lead_unit": lead, "lead_unit_name": unit.short if unit else None,
            "closed_at": o.closed_at, "satisfaction": o.satisfaction.value if o.satisfaction
            else None, "open": o.closed_at is None, "overdue": o.reply_overdue,
            "summary": o.topic or o.content[:60],
        }  # fmt: skip

    async def create_order_from_call(
        self, *, call_id: str, caller_phone: str | None, category: str, content: str,
        agent: str = "agent", agent_user_id: int | None = None,
        transcript_id: str | None = None, topic: str | None = None, address: str | None = None,
        district: str | None = None, citizen_name: str | None = None, confidential: bool = False,
    ) -> dict[str, Any]:  # fmt: skip
        """Register an order from a phone call (channel ``phone``) linked to the call and,
        when known, its transcript. Raises ``kit.errors.BadRequest`` on bad input."""
        actor = Actor(ActorKind.PLATFORM, agent, None, agent_user_id)
        created = await self.orders.create(actor, {
            "channel": "phone", "category": category, "content": content, "topic": topic,
            "address": address, "district": district, "call_id": call_id,
            "transcript_id": transcript_id,
            "citizen": {"name": citizen_name, "phone": caller_phone, "confidential": confidential},
        })  # fmt: skip
        return self.summary(created.order) | {"id": created.id}

    async def attach_transcript(self, call_id: str, transcript_id: str) -> list[str]:
        """Attach a finished transcript to every order of the call; returns their numbers.
        Idempotent: attaching the same transcript again changes nothing."""
        numbers = []
        for s in await store.by_call(self.orders.pool, call_id):
            await self.orders.act(None, SYSTEM_ACTOR, s.order.number,
                                  c.AttachCall(call_id=call_id, transcript_id=transcript_id))
            numbers.append(s.order.number)
        return numbers

    async def orders_for_phone(self, phone: str, limit: int = 10) -> list[dict[str, Any]]:
        """A caller's earlier orders for the screen-pop: open ones first, newest first."""
        if not phone:
            return []
        return [self.summary(s.order) for s in await store.by_phone(self.orders.pool, phone,
                                                                       limit)]  # fmt: skip

    async def order_status(
        self, number: str, caller_phone: str | None = None
    ) -> dict[str, Any] | None:
        """Status for IVR self-service (一号答). None when the number is malformed, unknown, or
        (if ``caller_phone`` is given) belongs to another citizen — never disclose it."""
        if not is_number(number):
            return None
        found = await store.get(self.orders.pool, number.strip().upper())
        if found is None:
            return None
        if caller_phone is not None and found.order.citizen.phone != caller_phone:
            return None
        return self.summary(found.order)

    async def record_survey(
        self, number: str, result: str | Satisfaction, *, via: str = "ivr"
    ) -> dict[str, Any]:
        """Store a satisfaction result (DTMF "1"/"2"/"3" or a :class:`Satisfaction` value).

        While the order waits for its callback (待回访), satisfied / basically satisfied close it.
        Dissatisfied is recorded and the order stays in callback: an agent must decide whether
        the unit is at fault (核实整改, 第十一条(五)). In any other state the result is kept as an
        evaluation event (好差评 after a call). Raises ``ValueError`` for an unknown result and
        ``kit.errors.NotFound`` for an unknown order.
        """
        sat = DTMF_SATISFACTION.get(result) if isinstance(result, str) else result
        if sat is None:
            try:
                sat = Satisfaction(result)
            except ValueError:
                raise ValueError(f"unknown satisfaction result {result!r}") from None
        found = await self.orders.load(None, number)
        actor = Actor(ActorKind.PLATFORM, f"survey:{via}")
        cmd: c.Command
        if found.order.state is State.CALLBACK and sat is not Satisfaction.DISSATISFIED:
            cmd = c.RecordCallback(result=sat, via=via)
        else:
            cmd = c.Evaluate(result=sat, source=via)
        done = await self.orders.act(None, actor, found.order.number, cmd)
        return self.summary(done.order)

    async def suggest_articles(self, text: str, limit: int = 3) -> list[dict[str, Any]]:
        """Published knowledge-base articles matching ``text`` (screen-pop suggestions)."""
        return await self.kb.search(text, limit=limit)
