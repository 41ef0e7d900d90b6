"""Work-order use cases: intake, every state-machine command, reads with isolation, the sweep.

The service loads the current row, runs the pure state machine, and writes the new row plus its
events in one transaction guarded by the version (optimistic concurrency: a stale version is a
409, never a lost update).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

import asyncpg

from kit.auth import SUPERVISOR_ROLES, Principal, Role
from kit.errors import ApiError, BadRequest, Conflict, Forbidden, NotFound, Unprocessable
from workflow import commands as c
from workflow import reference_store as refs
from workflow import store
from workflow.calendar import StatutoryCalendar
from workflow.clock import UnitClock
from workflow.codec import order_from_dict
from workflow.limits import next_check, source_limit_refusal
from workflow.machine import Transition, transition
from workflow.model import (
    OPEN_STATES,
    SYSTEM_ACTOR,
    Actor,
    ActorKind,
    Category,
    Channel,
    Citizen,
    Event,
    Order,
    Refusal,
    State,
)
from workflow.units import UnitDirectory
from workflow.views import doc_view, order_view

log = logging.getLogger(__name__)

OrderListener = Callable[[Order, Sequence[Event]], Awaitable[None]]
"""Told of every committed change: the order as it now is and the events the change caused."""

REFUSAL_STATUS = {
    "invalid_state": Conflict,
    "forbidden_actor": Forbidden,
    "not_assigned": Forbidden,
    "not_lead": Forbidden,
}


def utcnow() -> dt.datetime:
    """The current instant (aware, UTC)."""
    return dt.datetime.now(dt.UTC)


RECOMPUTE_AFTER_CONFIRM = dt.timedelta(minutes=10)
"""How long after a calendar year's confirmation the sweeper's follow-up pass looks for
provisional deadlines computed with a stale calendar (the provider's TTL is 30 s)."""


class CalendarProvider:
    """The statutory calendar with the admin overrides, reloaded after a change or a TTL
    (another instance may have changed the override table)."""

    def __init__(self, pool: asyncpg.Pool, ttl: float = 30.0) -> None:
        self.pool = pool
        self.ttl = ttl
        self._cal: StatutoryCalendar | None = None
        self._loaded = 0.0
        self._lock = asyncio.Lock()

    async def get(self) -> StatutoryCalendar:
        """The current calendar."""
        if self._cal is None or time.monotonic() - self._loaded > self.ttl:
            async with self._lock:
                if self._cal is None or time.monotonic() - self._loaded > self.ttl:
                    self._cal = StatutoryCalendar(await refs.load_overrides(self.pool))
                    self._loaded = time.monotonic()
        return self._cal

    def invalidate(self) -> None:
        """Reload on next use."""
        self._cal = None


def actor_of(who: Principal) -> Actor:
    """The state machine's view of an authenticated user."""
    kind = ActorKind.UNIT if who.role is Role.UNIT_STAFF else ActorKind.PLATFORM
    return Actor(kind, who.username, who.unit_code, who.user_id,
                 supervisor=who.role in SUPERVISOR_ROLES)  # fmt: skip


class OrderService:
    """Use cases on work orders."""

    def __init__(
        self, pool: asyncpg.Pool, units: UnitDirectory, calendars: CalendarProvider,
        now: Callable[[], dt.datetime] = utcnow, kb_lookup: Any = None,
    ) -> None:  # fmt: skip
        self.pool = pool
        self.units = units
        self.units_ttl = 60.0
        self._units_loaded = time.monotonic()
        self.calendars = calendars
        self.now = now
        self.kb_lookup = kb_lookup  # async (article_id) -> bool "published and valid"
        self._listeners: list[OrderListener] = []

    def add_listener(self, fn: OrderListener) -> None:
        """Call ``fn(order, events)`` after every committed change (creation included).

        Listeners tell the outside world (console pushes, survey dialling); they run after the
        commit, and a failing listener is logged without undoing or failing the change.
        """
        self._listeners.append(fn)

    async def _notify(self, order: Order, events: Sequence[Event]) -> None:
        for fn in self._listeners:
            try:
                await fn(order, events)
            except Exception:
                log.exception("order listener failed", extra={"order_id": order.number})

    async def refresh_units(self, force: bool = False) -> UnitDirectory:
        """Reload member units (working hours, duty contacts) when an admin changed them here
        (``force``) or, for changes made through another instance, after ``units_ttl``."""
        if force or time.monotonic() - self._units_loaded > self.units_ttl:
            self.units = await refs.load_unit_directory(self.pool)
            self._units_loaded = time.monotonic()
        return self.units

    # --- visibility (SPEC R5.9) ---------------------------------------------------------

    def visible_units(self, who: Principal) -> tuple[str, ...] | None:
        """None for platform-wide readers; else the unit and its sub-units (a district
        supervises its streets, 第七条(四))."""
        if who.role is not Role.UNIT_STAFF:
            return None
        return tuple(self.units.subtree(who.unit_code)) if who.unit_code else ()

    def can_see(self, who: Principal, order: Order) -> bool:
        """Whether ``who`` may see ``order`` at all (others get a 404, not a 403)."""
        allowed = self.visible_units(who)
        return allowed is None or any(u in allowed for u in order.units)

    def view(self, who: Principal | None, order: Order) -> dict[str, Any]:
        """The order as ``who`` may see it (None = trusted internal caller)."""
        return order_view(order, platform=who is None or who.is_platform)

    async def load(self, who: Principal | None, number: str) -> store.StoredOrder:
        """The order or a 404 (also when ``who`` may not see it)."""
        found = await store.get(self.pool, number.strip().upper())
        if found is None or (who is not None and not self.can_see(who, found.order)):
            raise NotFound(f"工单 {number} 不存在", code="order_not_found")
        return found

    # --- intake -------------------------------------------------------------------------

    async def create(self, actor: Actor, data: dict[str, Any]) -> store.StoredOrder:
        """Register a new order (state ``intake``) from a validated body."""
        now = self.now()
        try:
            channel = Channel(data.get("channel", "phone"))
            category = Category(data["category"])
        except (KeyError, ValueError) as exc:
            raise BadRequest("渠道或诉求类别不正确", code="invalid_fields",
                             details={"error": str(exc)}) from None  # fmt: skip
        content = (data.get("content") or "").strip()
        if not content:
            raise BadRequest("诉求内容不能为空", code="invalid_fields",
                             details=[{"field": "content", "problem": "required"}])  # fmt: skip
        cit = data.get("citizen") or {}
        source_due = data.get("source_due")
        if source_due is not None:
            # 第十一条(三): only provincial / national orders and urgent ones whose limit a
            # supervisor sets carry a limit of their own.
            why = source_limit_refusal(channel, bool(data.get("urgent")), actor.supervisor)
            if why:
                raise Unprocessable(why, code="source_due_not_allowed",
                                    details=[{"field": "source_due", "problem": "not allowed"}])
            if source_due <= now:
                problem = [{"field": "source_due", "problem": "in the past"}]
                raise BadRequest("来源时限已过", code="invalid_fields", details=problem)
        district = data.get("district")
        order = Order(
            number="", state=State.INTAKE, channel=channel, category=category,
            content=content, created_at=now, topic=data.get("topic"),
            citizen=Citizen(cit.get("name"), cit.get("phone"), bool(cit.get("confidential"))),
            address=data.get("address"), district=district, urgent=bool(data.get("urgent")),
            source_due=source_due, external_ref=data.get("external_ref"),
            call_ids=tuple(x for x in [data.get("call_id")] if x),
            transcript_ids=tuple(x for x in [data.get("transcript_id")] if x),
        )  # fmt: skip
        created = Event("created", now, actor, State.INTAKE, State.INTAKE, {
            k: v for k, v in {"channel": channel.value, "category": category.value,
                              "call_id": data.get("call_id"),
                              "source_due": source_due.isoformat() if source_due else None,
                              }.items() if v is not None})  # fmt: skip
        oid, number = await store.insert(self.pool, order, [created])
        order = replace(order, number=number)
        await self._notify(order, [created])
        return store.StoredOrder(oid, order)

    # --- commands -----------------------------------------------------------------------

    async def act(
        self, who: Principal | None, actor: Actor, number: str, cmd: c.Command,
        expected_version: int | None = None,
    ) -> store.StoredOrder:
        """Apply ``cmd``; 404 when ``who`` cannot see the order, 409 on a stale version or a
        state that forbids the command, 403/422 for other refusals (with the Chinese reason)."""
        for _attempt in range(5):
            found = await self.load(who, number)
            cur = found.order
            if expected_version is not None and cur.version != expected_version:
                raise Conflict(
                    f"工单已被他人修改(当前版本 {cur.version}),请刷新后重试",
                    code="stale_version", details={"version": cur.version},
                )
            await self.refresh_units()
            await self._check_refs(who, cur, cmd)
            now = self.now()
            clock = UnitClock(self.units, await self.calendars.get())
            result = transition(cur, cmd, actor, now, clock)
            if isinstance(result, Refusal):
                if result.code == "unchanged":
                    return found
                raise _refusal_error(result)
            if not await self._write(found.id, cur, result, cmd, actor, now, clock):
                if expected_version is not None:
                    raise Conflict("工单已被他人修改,请刷新后重试", code="stale_version")
                continue  # an internal caller: reload and apply again
            await self._notify(result.order, result.events)
            return store.StoredOrder(found.id, result.order)
        raise Conflict("工单正被频繁修改,请稍后重试", code="busy")

    async def _write(
        self, oid: int, cur: Order, result: Transition, cmd: c.Command, actor: Actor,
        now: dt.datetime, clock: UnitClock,
    ) -> bool:  # fmt: skip
        """One statement (row + events) normally; a transaction when a merge also records the
        duplicate on its target."""
        if not isinstance(cmd, c.Merge | c.Link):
            return await store.update(self.pool, oid, cur.version, result.order, result.events,
                                      now)  # fmt: skip
        # R5.10: a merge or a link is recorded on both orders, in one transaction.
        target = cmd.into if isinstance(cmd, c.Merge) else cmd.other
        note = "重复诉求已合并至本工单" if isinstance(cmd, c.Merge) else "关联工单"
        async with self.pool.acquire() as conn, conn.transaction():
            if not await store.update(conn, oid, cur.version, result.order, result.events, now):
                return False
            await self._link_target(conn, target, cur.number, actor, now, clock, note)
        return True

    async def _check_refs(self, who: Principal | None, cur: Order, cmd: c.Command) -> None:
        """References a pure command cannot check: units exist, targets exist, KB article."""
        unit_refs: list[str] = []
        if isinstance(cmd, c.Dispatch | c.Coordinate):
            unit_refs = [cmd.lead, *cmd.co_units]
        elif isinstance(cmd, c.ThreeWayCall | c.RecordNotice | c.Sign) and cmd.unit:
            unit_refs = [cmd.unit]
        for u in unit_refs:
            if u and u not in self.units:
                raise Unprocessable(f"未知的成员单位 {u}", code="unknown_unit")
        if isinstance(cmd, c.Merge | c.Link):
            target_no = cmd.into if isinstance(cmd, c.Merge) else cmd.other
            if target_no and target_no.upper() != cur.number:
                target = await self.load(who, target_no)
                if isinstance(cmd, c.Merge) and target.order.state in (State.MERGED,
                                                                       State.NOT_ACCEPTED):
                    raise Unprocessable("目标工单已合并或不予受理", code="bad_target")
        if isinstance(cmd, c.DirectAnswer) and cmd.kb_article_id is not None and self.kb_lookup:
            if not await self.kb_lookup(cmd.kb_article_id):
                raise Unprocessable(
                    "引用的知识库条目不存在或未发布/已失效", code="kb_not_published"
                )

    async def _link_target(
        self, conn: asyncpg.Connection, target_no: str, source_no: str, actor: Actor,
        now: dt.datetime, clock: UnitClock, note: str,
    ) -> None:  # fmt: skip
        """Record the link on the other order too (same transaction): the merge target learns
        of its duplicate, a linked order of its relative."""
        target = await conn.fetchrow(
            "SELECT id, doc FROM work_orders WHERE number = $1 FOR UPDATE", target_no.upper()
        )
        if target is None:
            raise NotFound(f"工单 {target_no} 不存在", code="order_not_found")
        t = order_from_dict(target["doc"])
        r = transition(t, c.Link(other=source_no, note=note), actor, now, clock)
        if isinstance(r, Transition):
            await store.update(conn, target["id"], t.version, r.order, r.events, now)

    # --- calendar confirmation (第十一条(三)(四)) ---------------------------------------

    async def confirm_year(self, actor: Actor, year: int, note: str = "") -> int:
        """Confirm ``year``'s holiday notice and, in the same transaction, recompute every
        provisional deadline of the open orders with the calendar as it now is (one
        ``deadlines_recomputed`` event and a version bump per changed order); returns the number
        of orders changed. Confirming again with the same data changes nothing."""
        now = self.now()
        units = await self.refresh_units()
        done: list[Transition] = []
        async with self.pool.acquire() as conn, conn.transaction():
            await refs.confirm_year(conn, year, note, actor.name)
            clock = UnitClock(units, StatutoryCalendar(await refs.load_overrides(conn)))
            cmd = c.RecomputeDeadlines(year=year, note=note or None)
            for s in await store.lock_provisional(conn, OPEN_STATES):
                r = transition(s.order, cmd, actor, now, clock)
                if isinstance(r, Transition):
                    if not await store.update(conn, s.id, s.order.version, r.order, r.events,
                                              now):  # fmt: skip
                        raise Conflict("工单正被修改,请稍后重试", code="busy")  # row is locked
                    done.append(r)
        self.calendars.invalidate()
        for r in done:
            await self._notify(r.order, r.events)
        if done:
            log.info("calendar year %s confirmed: %d order(s) had provisional deadlines "
                     "recomputed", year, len(done))  # fmt: skip
        return len(done)

    async def recompute_confirmed(self) -> int:
        """Follow-up of :meth:`confirm_year`, run by the sweeper: recompute the provisional
        deadlines that a confirmed year now decides, with the calendar read afresh from the
        database. It catches orders written after the confirmation by an instance whose
        calendar was still cached (up to the provider's TTL) or by a command that had loaded
        the calendar just before it. Only recomputations that confirm at least one deadline are
        written: override rows of a year not yet confirmed move nothing. Returns the number of
        orders changed. A no-op unless a year was confirmed in the last
        ``RECOMPUTE_AFTER_CONFIRM`` (far longer than any calendar cache or command): the sweeper
        calls it every pass, and most passes must cost one lookup in a tiny table."""
        recent = await self.pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM calendar_years"
            " WHERE confirmed_at > now() - $1::interval)", RECOMPUTE_AFTER_CONFIRM)  # fmt: skip
        if not recent:
            return 0
        now = self.now()
        units = await self.refresh_units()
        done: list[Transition] = []
        async with self.pool.acquire() as conn, conn.transaction():
            clock = UnitClock(units, StatutoryCalendar(await refs.load_overrides(conn)))
            cmd = c.RecomputeDeadlines()
            for s in await store.lock_provisional(conn, OPEN_STATES, skip_locked=True):
                r = transition(s.order, cmd, SYSTEM_ACTOR, now, clock)
                if not isinstance(r, Transition):
                    continue
                was = {(b.target, b.unit) for b in s.order.due_basis if b.provisional}
                still = {(b.target, b.unit) for b in r.order.due_basis if b.provisional}
                if not was - still:
                    continue  # nothing newly confirmed for this order
                if await store.update(conn, s.id, s.order.version, r.order, r.events, now):
                    done.append(r)
        for r in done:
            await self._notify(r.order, r.events)
        if done:
            log.info("provisional deadlines of %d order(s) recomputed after a confirmation",
                     len(done))  # fmt: skip
        return len(done)

    # --- reads --------------------------------------------------------------------------

    async def timeline(self, who: Principal, number: str) -> list[dict[str, Any]]:
        """Every event of the order, oldest first."""
        found = await self.load(who, number)
        return await store.events_of(self.pool, found.id)

    async def list(
        self, who: Principal, f: store.OrderFilter, limit: int, cursor: str | None
    ) -> dict[str, Any]:
        """A page of orders visible to ``who`` and the cursor of the next page."""
        allowed = self.visible_units(who)
        if allowed is not None:
            f = replace(f, only_units=allowed)
            if f.phone:
                raise Forbidden("成员单位不能按来电号码检索", code="forbidden")
        before = _parse_cursor(cursor) if cursor else None
        rows = await store.list_orders(self.pool, f, limit + 1, before)
        more = len(rows) > limit
        rows = rows[:limit]
        nxt = None
        if more and rows:
            oid, created, _ = rows[-1]
            micros = (created - _EPOCH) // dt.timedelta(microseconds=1)
            nxt = f"{micros}-{oid}"  # opaque, URL-safe
        platform = who.is_platform
        return {"items": [doc_view(doc, platform=platform) | {"id": oid}
                          for oid, _, doc in rows],
                "next_cursor": nxt}  # fmt: skip

    # --- deadline sweep -----------------------------------------------------------------

    async def sweep_once(self, now: dt.datetime | None = None, batch: int = 200) -> int:
        """Apply the deadline sweep to every due order (claimed with SKIP LOCKED, so several
        instances share the work); returns the number of orders changed."""
        now = now or self.now()
        clock = UnitClock(await self.refresh_units(), await self.calendars.get())
        changed = 0
        while True:
            done: list[Transition] = []
            async with self.pool.acquire() as conn, conn.transaction():
                due = await store.claim_due(conn, now, batch)
                for s in due:
                    r = transition(s.order, c.Sweep(), SYSTEM_ACTOR, now, clock)
                    if isinstance(r, Transition):
                        await store.update(conn, s.id, s.order.version, r.order, r.events, now)
                        done.append(r)
                        changed += 1
                    else:  # nothing due after all (e.g. stale next_check_at): recompute it
                        nxt = next_check(s.order)
                        if nxt is not None and nxt <= now:
                            # a limit falling exactly on `now` is overdue only strictly after
                            # it: look again in a moment rather than never
                            nxt = now + dt.timedelta(seconds=1)
                        await conn.execute(
                            "UPDATE work_orders SET next_check_at = $3::timestamptz"
                            " WHERE id = $1::bigint AND next_check_at <= $2::timestamptz",
                            s.id, now, nxt)  # fmt: skip
            for r in done:  # after the commit: overdue marks and 催办 reach the console too
                await self._notify(r.order, r.events)
            if len(due) < batch:
                return changed


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _refusal_error(r: Refusal) -> ApiError:
    cls = REFUSAL_STATUS.get(r.code, Unprocessable)
    return cls(r.reason, code=r.code)


def _parse_cursor(cursor: str) -> tuple[dt.datetime, int]:
    try:
        micros, oid = (int(x) for x in cursor.split("-", 1))
        return _EPOCH + dt.timedelta(microseconds=micros), oid
    except (ValueError, OverflowError, OSError):
        raise BadRequest("分页游标不正确", code="invalid_query",
                         details={"field": "cursor"}) from None  # fmt: skip
