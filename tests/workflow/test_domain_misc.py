"""Member units, numbering, codec round trip and the masked views (pure domain)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from workflow import commands as c
from workflow.codec import order_from_dict, order_to_dict
from workflow.machine import Transition, transition
from workflow.model import Actor, ActorKind, Category, Channel, Citizen, Order, State
from workflow.numbering import format_number, is_number, parse_number
from workflow.units import DEFAULT_SCHEDULE, MemberUnit, UnitDirectory, WorkSchedule, load_units
from workflow.views import mask_phone, order_view

TZ8 = dt.timezone(dt.timedelta(hours=8))


def test_shipped_member_units_load_as_a_tree():
    units = load_units()
    assert len(units) >= 60
    assert units.get("CZ-TN-HM").parent == "CZ-TN"
    assert "CZ-TN-HM" in units.subtree("CZ-TN")
    assert set(units.children("CZ-TN")) >= {"CZ-TN-HM", "CZ-TN-LL"}
    assert all(u.schedule == DEFAULT_SCHEDULE for u in units)
    assert units.get("CZ-ZJJ").duty_phone  # 第十三条 on-duty contact placeholder
    assert units.suggest("小区物业费太贵")[0] == "CZ-ZJJ"


def test_schedule_parse_and_errors():
    s = WorkSchedule.parse("08:30-12:00,13:30-17:30")
    assert s.day_seconds == 27000 and s.format() == "08:30-12:00,13:30-17:30"
    assert WorkSchedule.parse("00:00-24:00").day_seconds == 86400
    for bad in ("8:30-12:00", "12:00-08:30", "08:30-12:00,11:00-13:00", "25:00-26:00", ""):
        with pytest.raises(ValueError):
            WorkSchedule.parse(bad)


def test_directory_rejects_bad_trees():
    a = MemberUnit("A", "a", "a", "district")
    with pytest.raises(ValueError, match="duplicate"):
        UnitDirectory.of([a, a])
    with pytest.raises(ValueError, match="unknown parent"):
        UnitDirectory.of([MemberUnit("B", "b", "b", "street", parent="X")])
    with pytest.raises(ValueError, match="kind"):
        MemberUnit.from_dict({"code": "Z", "kind": "spaceship"})


def test_numbering():
    t = dt.datetime(2026, 11, 27, 17, 0, tzinfo=dt.UTC)  # 01:00 on the 28th in Shanghai
    assert format_number(t, 123) == "CZ20261128-000123"
    assert parse_number("CZ20261128-000123") == (dt.date(2026, 11, 28), 123)
    assert is_number("cz20261128-000123")
    for bad in ("CZ2026112-000123", "CZ20261328-000001", "X", "CZ20261128-00012a"):
        assert not is_number(bad)
    with pytest.raises(ValueError):
        format_number(t, 0)


def _order() -> Order:
    t = dt.datetime(2026, 11, 25, 10, tzinfo=TZ8)
    o = Order("CZ20261125-000001", State.INTAKE, Channel.PHONE, Category.COMPLAINT, "噪音", t,
              citizen=Citizen("李四", "13912345678", confidential=True))  # fmt: skip
    from workflow.calendar import StatutoryCalendar
    from workflow.clock import UnitClock

    r = transition(o, c.Dispatch(lead="CZ-ZJJ", co_units=("CZ-CGJ",)),
                   Actor(ActorKind.PLATFORM, "a"), t, UnitClock(load_units(), StatutoryCalendar()))
    assert isinstance(r, Transition)
    return r.order


def test_codec_round_trip_through_json():
    o = _order()
    back = order_from_dict(json.loads(json.dumps(order_to_dict(o))))
    assert back == o


def test_views_mask_and_hide():
    o = _order()
    assert order_view(o, platform=True)["citizen"]["phone"] == "13912345678"
    unit_view = order_view(o, platform=False)
    assert unit_view["citizen"] == {"name": "(保密)", "phone": None, "confidential": True}
    from dataclasses import replace

    open_view = order_view(replace(o, citizen=Citizen("王五", "13912345678")), platform=False)
    assert open_view["citizen"]["phone"] == "139****5678"
    assert mask_phone("12345") == "***45"
    assert mask_phone(None) is None


PURE = ["units", "calendar", "clock", "limits", "model", "commands", "machine", "handlers",
        "supervision", "recompute", "numbering", "codec", "command_codec", "views",
        "text"]  # fmt: skip


@pytest.mark.parametrize("name", PURE)
def test_domain_core_imports_no_io(name: str) -> None:
    """The core stays pure (ARCHITECTURE.md): no database, HTTP or telephony imports."""
    import ast
    from pathlib import Path

    import workflow

    path = Path(workflow.__file__).parent / f"{name}.py"
    tree = ast.parse(path.read_text("utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"asyncpg", "aiohttp", "panoramisk", "kit", "hotline", "pbx"}, imported
