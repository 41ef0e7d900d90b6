"""The unit number directory the console dials for transfers and three-way calls."""

from __future__ import annotations

from dataclasses import replace

from workflow.adapters import UnitNumbers
from workflow.units import UnitDirectory, load_units


def test_only_dialable_numbers_are_offered() -> None:
    base = load_units()
    zjj = base.get("CZ-ZJJ")
    assert zjj is not None and zjj.duty_phone and "x" in zjj.duty_phone  # shipped placeholder
    units = [u for c, u in base.units.items() if c not in {"CZ-ZJJ", "CZ-CGJ"}]
    units += [replace(zjj, duty_phone="0519-85681234"),
              replace(base.get("CZ-CGJ"), duty_phone="2001")]  # type: ignore[arg-type]
    numbers = UnitNumbers(lambda: UnitDirectory.of(units))
    assert numbers.number_for("CZ-ZJJ") == "051985681234"
    assert numbers.number_for("CZ-CGJ") == "2001"
    assert UnitNumbers(lambda: base).number_for("CZ-ZJJ") is None  # placeholder, not dialable
    assert numbers.number_for("NO-SUCH-UNIT") is None
