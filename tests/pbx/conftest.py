"""Fixtures shared by the pbx tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest

from tests.pbx.test_resync_close import Instance


@pytest.fixture
async def instances(pool: asyncpg.Pool) -> AsyncIterator[Callable[..., Instance]]:
    """Make backend "instances" (a persister with its own bus) on ``pool`` or another pool;
    each is stopped at the end and must not have skipped an event."""
    made: list[Instance] = []

    def make(p: asyncpg.Pool | None = None, *, grace: float = 0.0) -> Instance:
        inst = Instance(p or pool, grace=grace)
        inst.sup.start()
        made.append(inst)
        return inst

    yield make
    for inst in made:
        await inst.sup.stop()
        assert inst.sup.health.skipped == 0, inst.sup.health.last_error
