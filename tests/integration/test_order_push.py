"""Work-order changes reach the console over the WebSocket: the unit sees an order dispatched to
it, the agent sees the unit sign for it, and another unit sees nothing (R5.9)."""

from __future__ import annotations

import asyncio

from tests.agents.conftest import WsReader
from tests.workflow.test_orders_api import CO, LEAD, OTHER, People, act, create, people  # noqa: F401


async def test_dispatch_and_sign_are_pushed_to_the_right_people(people: People) -> None:  # noqa: F811
    agent, lead, other = await people("agent", "lead", "other")
    agent_ws = WsReader(await agent.ws_connect("/api/ws"))
    lead_ws = WsReader(await lead.ws_connect("/api/ws"))
    other_ws = WsReader(await other.ws_connect("/api/ws"))
    for ws in (agent_ws, lead_ws, other_ws):
        await ws.wait("hello")
    o = await create(agent)
    o = await act(agent, o, "dispatch", lead=LEAD, co_units=[CO])
    pushed = await lead_ws.wait("order.updated", order_no=o["number"], state="dispatched")
    assert {u["unit_code"] for u in pushed["units"]} == {LEAD, CO}
    o = await act(lead, o, "sign")
    seen = await agent_ws.wait("order.updated", order_no=o["number"], state="handling")
    lead_unit = next(u for u in seen["units"] if u["unit_code"] == LEAD)
    assert lead_unit["state"] == "signed" and seen["version"] == o["version"]
    await asyncio.sleep(0.2)
    assert other_ws.of("order.updated") == []  # another unit learns nothing of this order
    for ws in (agent_ws, lead_ws, other_ws):
        await ws.close()
