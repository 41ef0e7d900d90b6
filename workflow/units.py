"""Member units (成员单位, 第三条): the tree of departments, districts with their streets and public
utilities, each with its working hours and its on-duty contact for urgent matters (第十三条).

Pure domain code: no I/O except :func:`load_units`, which reads the JSON file shipped with the
package (``workflow/data/member-units.json``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

UNIT_KINDS = frozenset({"department", "district", "street", "utility", "platform"})

_PERIOD_RE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


@dataclass(frozen=True, slots=True)
class WorkSchedule:
    """Working periods of one working day, in seconds after local midnight (Asia/Shanghai).

    Every working day (as decided by the statutory calendar) has the same periods. The default is
    Chinese government office hours with a lunch break: 08:30-12:00 and 13:30-17:30 (7.5 h).
    A 24-hour unit (e.g. a utility's emergency desk) uses ``00:00-24:00``.
    """

    periods: tuple[tuple[int, int], ...]

    def __post_init__(self) -> None:
        if not self.periods:
            raise ValueError("a work schedule needs at least one period")
        last_end = -1
        for start, end in self.periods:
            if not (0 <= start < end <= 86400):
                raise ValueError(f"bad working period {start}-{end}")
            if start < last_end:
                raise ValueError("working periods must be sorted and must not overlap")
            last_end = end

    @property
    def day_seconds(self) -> int:
        """Working seconds in one working day (27000 for the default 7.5 h)."""
        return sum(end - start for start, end in self.periods)

    @classmethod
    def parse(cls, text: str | Iterable[str]) -> WorkSchedule:
        """Parse ``"08:30-12:00,13:30-17:30"`` (or a list of such periods).

        Raises ``ValueError`` with a clear message on malformed input.
        """
        parts = [p.strip() for p in text.split(",")] if isinstance(text, str) else list(text)
        periods: list[tuple[int, int]] = []
        for part in parts:
            m = _PERIOD_RE.match(part)
            if not m:
                raise ValueError(f"working period {part!r} is not HH:MM-HH:MM")
            h1, m1, h2, m2 = (int(g) for g in m.groups())
            if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
                raise ValueError(f"working period {part!r} has an invalid time")
            periods.append((h1 * 3600 + m1 * 60, h2 * 3600 + m2 * 60))
        return cls(tuple(periods))

    def format(self) -> str:
        """The inverse of :meth:`parse`."""
        return ",".join(f"{_hhmm(s)}-{_hhmm(e)}" for s, e in self.periods)


def _hhmm(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


DEFAULT_SCHEDULE = WorkSchedule.parse("08:30-12:00,13:30-17:30")
"""Government office hours of Changzhou with the lunch break (configurable per unit)."""


@dataclass(frozen=True, slots=True)
class MemberUnit:
    """One member unit (成员单位)."""

    code: str
    name: str
    short: str
    kind: str
    parent: str | None = None
    keywords: tuple[str, ...] = ()
    schedule: WorkSchedule = DEFAULT_SCHEDULE
    # 第十三条: units arrange on-duty staff for urgent matters outside working time.
    duty_phone: str | None = None
    duty_contact: str | None = None
    active: bool = True

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly representation."""
        return {
            "code": self.code,
            "name": self.name,
            "short": self.short,
            "kind": self.kind,
            "parent": self.parent,
            "keywords": list(self.keywords),
            "working_hours": self.schedule.format(),
            "duty_phone": self.duty_phone,
            "duty_contact": self.duty_contact,
            "active": self.active,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MemberUnit:
        """Build from the JSON seed / database row shape; raises ``ValueError`` on bad data."""
        code = d.get("code")
        if not isinstance(code, str) or not code:
            raise ValueError("unit code is required")
        kind = d.get("kind", "department")
        if kind not in UNIT_KINDS:
            raise ValueError(f"unit {code}: unknown kind {kind!r}")
        hours = d.get("working_hours")
        return cls(
            code=code,
            name=str(d.get("name") or code),
            short=str(d.get("short") or d.get("name") or code),
            kind=kind,
            parent=d.get("parent"),
            keywords=tuple(d.get("keywords") or ()),
            schedule=WorkSchedule.parse(hours) if hours else DEFAULT_SCHEDULE,
            duty_phone=d.get("duty_phone") or d.get("duty_phone_placeholder"),
            duty_contact=d.get("duty_contact"),
            active=bool(d.get("active", True)),
        )


@dataclass(frozen=True)
class UnitDirectory:
    """All member units by code, with tree navigation."""

    units: Mapping[str, MemberUnit]
    _children: Mapping[str, tuple[str, ...]] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, units: Iterable[MemberUnit]) -> UnitDirectory:
        """Build a directory; raises ``ValueError`` on duplicate codes or unknown parents."""
        by_code: dict[str, MemberUnit] = {}
        for u in units:
            if u.code in by_code:
                raise ValueError(f"duplicate unit code {u.code}")
            by_code[u.code] = u
        children: dict[str, list[str]] = {}
        for u in by_code.values():
            if u.parent is not None:
                if u.parent not in by_code:
                    raise ValueError(f"unit {u.code}: unknown parent {u.parent}")
                children.setdefault(u.parent, []).append(u.code)
        return cls(by_code, {k: tuple(v) for k, v in children.items()})

    def __contains__(self, code: object) -> bool:
        return code in self.units

    def __iter__(self) -> Iterator[MemberUnit]:
        return iter(self.units.values())

    def __len__(self) -> int:
        return len(self.units)

    def get(self, code: str) -> MemberUnit | None:
        """The unit or None."""
        return self.units.get(code)

    def schedule(self, code: str | None) -> WorkSchedule:
        """Working hours of a unit; the default government hours for unknown / no unit."""
        unit = self.units.get(code) if code else None
        return unit.schedule if unit else DEFAULT_SCHEDULE

    def children(self, code: str) -> tuple[str, ...]:
        """Direct children (e.g. the streets of a district)."""
        return self._children.get(code, ())

    def subtree(self, code: str) -> list[str]:
        """The unit and all its descendants."""
        out, stack = [], [code]
        while stack:
            c = stack.pop()
            out.append(c)
            stack.extend(self._children.get(c, ()))
        return out

    def roots(self) -> list[MemberUnit]:
        """Units without a parent."""
        return [u for u in self.units.values() if u.parent is None]

    def suggest(self, text: str, limit: int = 3) -> list[str]:
        """Unit codes whose keywords occur in ``text``, best first (a hint for dispatch)."""
        scored = []
        for u in self.units.values():
            hits = sum(len(k) for k in u.keywords if k and k in text)
            if hits:
                scored.append((-hits, u.code))
        scored.sort()
        return [code for _, code in scored[:limit]]


def load_units(path: str | Path | None = None) -> UnitDirectory:
    """Load member units from JSON (``{"units": [...]}``); the shipped file by default."""
    if path is None:
        raw = resources.files("workflow").joinpath("data/member-units.json").read_text("utf-8")
    else:
        raw = Path(path).read_text("utf-8")
    data = json.loads(raw)
    items = data["units"] if isinstance(data, dict) else data
    return UnitDirectory.of(MemberUnit.from_dict(d) for d in items)
