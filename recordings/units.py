"""Member-unit catalogue and keyword matching used to suggest the unit for a drafted order.

The catalogue is passed in (the workflow feature owns the authoritative list,
`workflow/data/member-units.json`); this module only reads the ``{"units": [...]}`` shape:
``code``, ``name``, ``short``, ``kind`` (department / district / street / utility), ``parent`` and
``keywords``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FUNCTIONAL_KINDS = frozenset({"department", "utility"})
"""Units that handle a *kind* of matter (住建, 城管, 供电 …), as opposed to a place."""
PLACE_KINDS = frozenset({"district", "street"})
"""Units that own a *place* (区, 街道/镇)."""


@dataclass(frozen=True)
class Unit:
    """One member unit (成员单位) as the drafting rules need it."""

    code: str
    name: str
    short: str
    kind: str
    parent: str | None
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class UnitMatch:
    """A unit whose keywords occur in a text, with the keywords that matched and a score
    (sum of matched keyword lengths: a longer, more specific keyword weighs more)."""

    code: str
    name: str
    kind: str
    score: int
    keywords: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"code": self.code, "name": self.name, "kind": self.kind, "score": self.score,
                "keywords": list(self.keywords)}


class CatalogueError(ValueError):
    """The member-unit catalogue is malformed."""


class UnitCatalogue:
    """Immutable set of member units with keyword lookup."""

    def __init__(self, units: Iterable[Unit]) -> None:
        self._units = {u.code: u for u in units}
        if not self._units:
            raise CatalogueError("member-unit catalogue is empty")

    @classmethod
    def from_data(cls, data: Mapping[str, Any] | list[Any]) -> UnitCatalogue:
        """Build from the parsed JSON (either ``{"units": [...]}`` or the bare list)."""
        rows = data.get("units") if isinstance(data, Mapping) else data
        if not isinstance(rows, list):
            raise CatalogueError("member-unit catalogue must be a list or {'units': [...]}")
        units = []
        for i, row in enumerate(rows):
            try:
                units.append(Unit(code=str(row["code"]), name=str(row["name"]),
                                  short=str(row.get("short") or row["name"]),
                                  kind=str(row.get("kind") or "department"),
                                  parent=row.get("parent"),
                                  keywords=tuple(str(k) for k in row.get("keywords") or ())))
            except (KeyError, TypeError) as exc:
                raise CatalogueError(f"member unit #{i} is malformed: {exc!r}") from exc
        return cls(units)

    @classmethod
    def from_file(cls, path: str | Path) -> UnitCatalogue:
        """Load a catalogue JSON file."""
        with open(path, encoding="utf-8") as fh:
            return cls.from_data(json.load(fh))

    def get(self, code: str) -> Unit | None:
        """The unit with this code, or None."""
        return self._units.get(code)

    def __iter__(self) -> Iterator[Unit]:
        return iter(self._units.values())

    def match(self, text: str, kinds: frozenset[str] | None = None) -> list[UnitMatch]:
        """Units whose keywords occur in ``text``, best first.

        A keyword occurrence that lies inside an occurrence of a longer keyword of any unit is
        ignored (``加装电梯`` is a housing matter, not the market regulator's ``电梯``)."""
        spans: list[tuple[int, int, str, str]] = []  # start, end, keyword, unit code
        for unit in self._units.values():
            if kinds is not None and unit.kind not in kinds:
                continue
            for kw in unit.keywords:
                start = text.find(kw)
                while start >= 0:
                    spans.append((start, start + len(kw), kw, unit.code))
                    start = text.find(kw, start + 1)
        # Drop occurrences strictly covered by a longer keyword occurrence.
        kept = [s for s in spans
                if not any(o[0] <= s[0] and s[1] <= o[1] and (o[1] - o[0]) > (s[1] - s[0])
                           for o in spans)]
        by_unit: dict[str, set[str]] = {}
        for _start, _end, kw, code in kept:
            by_unit.setdefault(code, set()).add(kw)
        matches = []
        for code, kws in by_unit.items():
            unit = self._units[code]
            ordered = tuple(sorted(kws, key=lambda k: (-len(k), k)))
            matches.append(UnitMatch(code=code, name=unit.name, kind=unit.kind,
                                     score=sum(len(k) for k in kws), keywords=ordered))
        # Higher score first; streets before districts at equal score (more precise place);
        # code as the final tie-break keeps the order deterministic.
        kind_rank = {"street": 0, "district": 1, "department": 0, "utility": 0}
        matches.sort(key=lambda m: (-m.score, kind_rank.get(m.kind, 2), m.code))
        return matches
