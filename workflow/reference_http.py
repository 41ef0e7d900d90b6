"""REST API of reference data: member units, the deadline preview and the calendar overrides."""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from kit.auth import ALL_ROLES, SUPERVISOR_ROLES, Role
from kit.db import POOL
from kit.errors import BadRequest, NotFound
from kit.http import Routes, json_response, principal, read_json
from workflow import reference_store as refs
from workflow.clock import TZ, UnitClock, WorkAmount, in_working_time
from workflow.command_codec import CommandError, parse_instant
from workflow.keys import CALENDARS, KNOWLEDGE_BASE, ORDER_SERVICE
from workflow.service import actor_of
from workflow.units import WorkSchedule

routes = Routes(tag="workflow")


@routes.get("/api/workflow/units", roles=ALL_ROLES, summary="成员单位 Member units (tree)")
async def list_units(request: web.Request) -> web.Response:
    """Every member unit with its parent, working hours and on-duty contact (第十三条)."""
    units = request.app[ORDER_SERVICE].units
    return json_response({"units": [u.to_dict() for u in units]})


UNIT_BODY = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "working_hours": {"type": "string", "maxLength": 200},
        "duty_phone": {"type": ["string", "null"], "maxLength": 32},
        "duty_contact": {"type": ["string", "null"], "maxLength": 100},
        "active": {"type": "boolean"},
    },
}  # fmt: skip


@routes.patch("/api/workflow/units/{code}", roles={Role.ADMIN}, body=UNIT_BODY,
              summary="单位工作时间/值班联系人 Unit working hours, duty contact")  # fmt: skip
async def patch_unit(request: web.Request) -> web.Response:
    """E.g. ``{"working_hours": "09:00-12:00,13:00-17:00"}``; deadlines computed from now on use
    it (other instances within a minute). ``duty_*`` is the 第十三条 on-duty contact."""
    body = await read_json(request, UNIT_BODY)
    if "working_hours" in body:
        try:
            body["working_hours"] = WorkSchedule.parse(body["working_hours"]).format()
        except ValueError as exc:
            raise BadRequest(f"工作时间格式不正确: {exc}", code="invalid_fields",
                             details=[{"field": "working_hours", "problem": str(exc)}]) from None
    code = request.match_info["code"]
    if not await refs.update_unit(request.app[POOL], code, body):
        raise NotFound(f"未知的成员单位 {code}", code="unknown_unit")
    svc = request.app[ORDER_SERVICE]
    units = await svc.refresh_units(force=True)
    request.app[KNOWLEDGE_BASE].units = units
    unit = units.get(code)
    return json_response(unit.to_dict() if unit else {})


@routes.get("/api/workflow/deadline", roles=ALL_ROLES,
            summary="时限计算 Preview a working-time deadline",
            query={"type": "object", "properties": {
                "unit": {"type": "string"}, "start": {"type": "string"},
                "hours": {"type": "number"}, "days": {"type": "number"}}})  # fmt: skip
async def preview_deadline(request: web.Request) -> web.Response:
    """``start`` (default now) plus ``hours`` or ``days`` of the unit's working time."""
    q = request.query
    svc = request.app[ORDER_SERVICE]
    unit = q.get("unit") or None
    if unit is not None and unit not in svc.units:
        raise NotFound(f"未知的成员单位 {unit}", code="unknown_unit")
    try:
        start = parse_instant("start", q["start"]) if q.get("start") else svc.now()
    except CommandError as exc:
        raise BadRequest(str(exc), code="invalid_query", details={"field": "start"}) from None
    try:
        if ("hours" in q) == ("days" in q):
            raise ValueError("give exactly one of hours / days")
        amount = (WorkAmount.hours(float(q["hours"])) if "hours" in q
                  else WorkAmount.days(float(q["days"])))  # fmt: skip
        if not 0 <= amount.value <= 365:
            raise ValueError("amount must be 0..365")
    except ValueError as exc:
        raise BadRequest(f"参数不正确: {exc}", code="invalid_query") from None
    cal = await request.app[CALENDARS].get()
    d = UnitClock(svc.units, cal).add(unit, start, amount)
    return json_response({
        "unit": unit, "start": start.astimezone(TZ), "amount": amount.label(), "due": d.at,
        "provisional": d.provisional,
        "start_in_working_time": in_working_time(start, svc.units.schedule(unit), cal),
    })  # fmt: skip


def _day(raw: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise BadRequest("日期应为 YYYY-MM-DD", code="invalid_path") from None


def _year(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or not 2000 <= int(raw) <= 2100:
        raise BadRequest("年份应为 2000-2100", code="invalid_path")
    return int(raw)


@routes.get("/api/workflow/calendar", roles=ALL_ROLES, summary="节假日调整表 Calendar overrides",
            query={"type": "object", "properties": {"year": {"type": "integer"}}})  # fmt: skip
async def get_calendar(request: web.Request) -> web.Response:
    """Override rows (optionally of one year) and the confirmed years."""
    raw = request.query.get("year")
    year = _year(raw) if raw else None
    return json_response(await refs.list_calendar(request.app[POOL], year))


DAY_BODY = {"type": "object", "required": ["is_workday"], "additionalProperties": False,
            "properties": {"is_workday": {"type": "boolean"},
                           "note": {"type": "string", "maxLength": 200}}}  # fmt: skip


@routes.put("/api/workflow/calendar/days/{day}", roles=SUPERVISOR_ROLES,
            summary="设置工作日/休息日 Set a calendar override", body=DAY_BODY)  # fmt: skip
async def put_day(request: web.Request) -> web.Response:
    """Declare a date a working day (调休) or a day off; new deadlines use it at once."""
    who = principal(request)
    day = _day(request.match_info["day"])
    body = await read_json(request, DAY_BODY)
    await refs.put_day(request.app[POOL], day, body["is_workday"], body.get("note", ""),
                       who.username)  # fmt: skip
    request.app[CALENDARS].invalidate()
    return json_response({"day": day, "is_workday": body["is_workday"]})


@routes.delete("/api/workflow/calendar/days/{day}", roles=SUPERVISOR_ROLES,
               summary="删除调整 Remove a calendar override")  # fmt: skip
async def delete_day(request: web.Request) -> web.Response:
    """The statutory rule applies to that date again."""
    day = _day(request.match_info["day"])
    if not await refs.delete_day(request.app[POOL], day):
        raise NotFound(f"{day} 没有调整记录", code="not_found")
    request.app[CALENDARS].invalidate()
    return json_response({"day": day, "deleted": True})


YEAR_BODY = {"type": "object", "additionalProperties": False,
             "properties": {"note": {"type": "string", "maxLength": 200}}}  # fmt: skip


@routes.put("/api/workflow/calendar/years/{year}", roles=SUPERVISOR_ROLES,
            summary="确认年度安排 Confirm a year's holiday notice", body=YEAR_BODY)  # fmt: skip
async def confirm_year(request: web.Request) -> web.Response:
    """After the State Council notice is entered: deadlines in that year stop being provisional.

    In the same transaction every provisional deadline of the open orders (sign-for, return
    request, reply, reminder) is recomputed from its original start and amount with the
    confirmed calendar; each changed order gets a ``deadlines_recomputed`` event.
    ``recomputed`` is the number of orders changed (0 when confirming again)."""
    who = principal(request)
    year = _year(request.match_info["year"])
    body = await read_json(request, YEAR_BODY)
    n = await request.app[ORDER_SERVICE].confirm_year(actor_of(who), year, body.get("note", ""))
    return json_response({"year": year, "confirmed": True, "recomputed": n})


@routes.delete("/api/workflow/calendar/years/{year}", roles=SUPERVISOR_ROLES,
               summary="撤销年度确认 Withdraw a year's confirmation")  # fmt: skip
async def unconfirm_year(request: web.Request) -> web.Response:
    """Deadlines in that year become provisional again (unless the library knows the year)."""
    year = _year(request.match_info["year"])
    if not await refs.unconfirm_year(request.app[POOL], year):
        raise NotFound(f"{year} 年未确认", code="not_found")
    request.app[CALENDARS].invalidate()
    return json_response({"year": year, "confirmed": False})
