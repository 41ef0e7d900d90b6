"""SQL of the reference data: member units (seeded from the shipped JSON) and calendar overrides."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg

from workflow.calendar import CalendarOverrides
from workflow.units import MemberUnit, UnitDirectory, load_units


async def seed_units(
    pool: asyncpg.Pool | asyncpg.Connection, units: UnitDirectory | None = None
) -> int:
    """Insert the shipped member units that are missing (idempotent: existing rows, possibly
    edited by an admin, are left alone). Parents are inserted before their children.
    Returns the number of rows inserted."""
    units = units or load_units()
    ordered = [u for root in units.roots() for c in units.subtree(root.code)
               if (u := units.get(c)) is not None]  # fmt: skip
    rows = [
        (u.code, u.name, u.short, u.kind, u.parent, list(u.keywords), u.schedule.format(),
         u.duty_phone, u.duty_contact)
        for u in ordered
    ]  # fmt: skip
    inserted = 0
    async with _conn(pool) as conn, conn.transaction():
        for r in rows:
            status = await conn.execute(
                """INSERT INTO member_units (code, name, short, kind, parent, keywords,
                       working_hours, duty_phone, duty_contact)
                   VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, $6::text[],
                           $7::text, $8::text, $9::text)
                   ON CONFLICT (code) DO NOTHING""",
                *r,
            )
            inserted += status == "INSERT 0 1"
    return inserted


class _conn:
    """``async with`` a connection from a pool, or the connection itself."""

    def __init__(self, src: asyncpg.Pool | asyncpg.Connection) -> None:
        self.src = src
        self.held: Any = None

    async def __aenter__(self) -> asyncpg.Connection:
        if isinstance(self.src, asyncpg.Pool):
            self.held = await self.src.acquire()
            return self.held
        return self.src

    async def __aexit__(self, *exc: object) -> None:
        if self.held is not None:
            await self.src.release(self.held)


async def load_unit_directory(pool: asyncpg.Pool) -> UnitDirectory:
    """All member units from the database."""
    rows = await pool.fetch("SELECT * FROM member_units ORDER BY code")
    return UnitDirectory.of(
        MemberUnit.from_dict({**dict(r), "keywords": list(r["keywords"])}) for r in rows
    )


async def load_overrides(pool: asyncpg.Pool | asyncpg.Connection) -> CalendarOverrides:
    """The admin calendar table (through ``pool`` or inside a connection's transaction)."""
    days = await pool.fetch("SELECT day, is_workday FROM calendar_days")
    years = await pool.fetch("SELECT year FROM calendar_years")
    return CalendarOverrides.of(
        [(r["day"], r["is_workday"]) for r in days], [r["year"] for r in years]
    )


async def list_calendar(pool: asyncpg.Pool, year: int | None) -> dict[str, Any]:
    """Override rows (of one year or all) and the confirmed years."""
    if year is None:
        days = await pool.fetch("SELECT * FROM calendar_days ORDER BY day")
    else:
        days = await pool.fetch(
            "SELECT * FROM calendar_days WHERE day >= $1 AND day < $2 ORDER BY day",
            dt.date(year, 1, 1), dt.date(year + 1, 1, 1),
        )
    years = await pool.fetch("SELECT * FROM calendar_years ORDER BY year")
    return {"days": [dict(r) for r in days], "confirmed_years": [dict(r) for r in years]}


async def put_day(pool: asyncpg.Pool, day: dt.date, is_workday: bool, note: str, by: str) -> None:
    """Create or replace an override row."""
    await pool.execute(
        """INSERT INTO calendar_days (day, is_workday, note, set_by)
           VALUES ($1::date, $2::boolean, $3::text, $4::text)
           ON CONFLICT (day) DO UPDATE SET is_workday = $2::boolean, note = $3::text,
               set_by = $4::text, set_at = now()""",
        day, is_workday, note, by,
    )


async def delete_day(pool: asyncpg.Pool, day: dt.date) -> bool:
    """Remove an override row (the statutory rule applies again); False when there was none."""
    return await pool.execute("DELETE FROM calendar_days WHERE day = $1", day) == "DELETE 1"


async def confirm_year(
    pool: asyncpg.Pool | asyncpg.Connection, year: int, note: str, by: str
) -> None:
    """Mark a year's holiday notice as fully entered (the order service's ``confirm_year``
    also recomputes the provisional deadlines, in the same transaction)."""
    await pool.execute(
        """INSERT INTO calendar_years (year, note, confirmed_by)
           VALUES ($1::integer, $2::text, $3::text)
           ON CONFLICT (year) DO UPDATE SET note = $2::text, confirmed_by = $3::text,
               confirmed_at = now()""",
        year, note, by,
    )


async def unconfirm_year(pool: asyncpg.Pool, year: int) -> bool:
    """Withdraw a year's confirmation."""
    return await pool.execute("DELETE FROM calendar_years WHERE year = $1", year) == "DELETE 1"


_UNIT_TYPES = {"working_hours": "text", "duty_phone": "text", "duty_contact": "text",
               "active": "boolean"}  # fmt: skip


async def update_unit(pool: asyncpg.Pool, code: str, changes: dict[str, Any]) -> bool:
    """Set working hours / duty contact / active of a unit; False when the unit is unknown.
    ``changes`` keys are already validated column names."""
    allowed = ("working_hours", "duty_phone", "duty_contact", "active")
    cols = [k for k in allowed if k in changes]
    if not cols:
        return await pool.fetchval("SELECT 1 FROM member_units WHERE code = $1", code) is not None
    sets = ", ".join(f"{c} = ${i}::{_UNIT_TYPES[c]}" for i, c in enumerate(cols, start=2))
    status = await pool.execute(
        f"UPDATE member_units SET {sets}, updated_at = now() WHERE code = $1",
        code, *(changes[c] for c in cols),
    )
    return bool(status == "UPDATE 1")
