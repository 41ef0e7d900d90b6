"""Accepting a unit's reply plans the citizen's satisfaction callback (办结回访, 第十一条(五)):
the workflow change reaches the IVR's durable survey dialling queue."""

from __future__ import annotations

from tests.workflow.test_orders_api import People, act, create, people  # noqa: F401


async def test_accepted_reply_schedules_survey_call(people: People, pool) -> None:  # noqa: F811
    agent, lead, sup = await people("agent", "lead", "sup")
    o = await create(agent)
    o = await act(agent, o, "dispatch", lead="CZ-ZJJ")
    o = await act(lead, o, "sign")
    o = await act(lead, o, "reply", text="已责令施工单位停止夜间施工,并处以罚款,后续加强巡查")
    assert await pool.fetchval("SELECT count(*) FROM ivr_surveys") == 0  # not before review
    o = await act(sup, o, "accept_reply")
    assert o["state"] == "callback"
    rows = await pool.fetch("SELECT order_number, phone FROM ivr_surveys")
    assert [(r["order_number"], r["phone"]) for r in rows] == [(o["number"], "13812345678")]
    jobs = await pool.fetch("SELECT kind FROM jobs WHERE kind LIKE 'ivr.survey%'")
    assert len(jobs) == 1
