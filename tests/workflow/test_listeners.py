"""Order listeners: told of every committed change, never of a refused one, and a failing
listener does not undo or fail the change."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from kit.errors import ApiError
from tests.workflow.test_service_db import AGENT, LEAD_STAFF, T0, Clock, make
from workflow import commands as c


async def test_listeners_see_committed_changes_only(pool: asyncpg.Pool) -> None:
    svc, _ = await make(pool, Clock(T0))
    seen: list[tuple[str, str, list[str]]] = []

    async def record(order: Any, events: Any) -> None:
        seen.append((order.number, order.state.value, [e.kind for e in events]))

    async def broken(order: Any, events: Any) -> None:
        raise RuntimeError("listener bug")

    svc.add_listener(broken)
    svc.add_listener(record)
    s = await svc.create(AGENT, {"category": "complaint", "content": "夜间施工噪音"})
    number = s.order.number
    await svc.act(None, AGENT, number, c.Dispatch(lead="CZ-ZJJ"))
    with pytest.raises(ApiError):
        await svc.act(None, AGENT, number, c.Dispatch(lead="CZ-ZJJ"))  # not allowed now
    await svc.act(None, LEAD_STAFF, number, c.Sign())
    assert [x[1] for x in seen] == ["intake", "dispatched", "handling"]
    assert seen[0][2] == ["created"] and all(x[0] == number for x in seen)
    # the broken listener changed nothing: the order is stored as signed
    assert (await svc.load(None, number)).order.state.value == "handling"


async def test_sweep_changes_are_told_to_listeners(pool: asyncpg.Pool) -> None:
    import datetime as dt

    from tests.workflow.test_service_db import new_dispatched

    svc, _ = await make(pool, Clock(T0))
    seen: list[list[str]] = []

    async def record(order: Any, events: Any) -> None:
        seen.append([e.kind for e in events])

    number = await new_dispatched(svc)
    svc.add_listener(record)
    assert await svc.sweep_once(T0 + dt.timedelta(hours=2)) == 1  # sign-for 1 working hour
    assert len(seen) == 1 and seen[0]  # the overdue mark was announced
    assert number
