"""Shared driver of the analytics API tests: logged-in people and the platform clock."""

from __future__ import annotations

import datetime as dt
from typing import Any

from workflow.keys import ORDER_SERVICE


async def ok(resp: Any, status: int = 200) -> Any:
    """The JSON body of ``resp`` after checking its status."""
    body = await resp.json()
    assert resp.status == status, body
    return body


class ApiWorld:
    """Logged-in people (created on first use from ``people``: name → (username, role, unit))
    and the platform clock (the work-order service's ``now``), starting at ``now``."""

    def __init__(self, client: Any, users: Any, people: dict[str, tuple[str, str, str | None]],
                 now: dt.datetime) -> None:
        self.users = users
        self.people = people
        self.clients: dict[str, Any] = {}
        self.clock = {"now": now}
        self.service = client.app[ORDER_SERVICE]
        self.service.now = lambda: self.clock["now"]

    async def __call__(self, name: str) -> Any:
        if name not in self.clients:
            username, role, unit = self.people[name]
            self.clients[name] = await self.users.create_client(username, role, unit_code=unit)
        return self.clients[name]
