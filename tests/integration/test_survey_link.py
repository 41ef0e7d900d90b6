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


async def test_missed_survey_is_planned_by_the_safety_net(people: People, pool, app) -> None:  # noqa: F811
    from hotline.features.ivr import IVR_DEPS
    from hotline.features.links import plan_missing_surveys
    from ivr.survey_dialer import SurveyService

    agent, lead, sup = await people("agent", "lead", "sup")
    o = await create(agent)
    o = await act(agent, o, "dispatch", lead="CZ-ZJJ")
    o = await act(lead, o, "sign")
    o = await act(lead, o, "reply", text="已责令施工单位停止夜间施工,并处以罚款,后续加强巡查")
    o = await act(sup, o, "accept_reply")
    # the process stopped right after the commit: the listener's survey never happened
    await pool.execute("DELETE FROM jobs WHERE kind LIKE 'ivr.survey%'")
    await pool.execute("DELETE FROM ivr_surveys")
    surveys = SurveyService(app[IVR_DEPS])
    assert await plan_missing_surveys(pool, surveys) == 1
    assert await pool.fetchval("SELECT order_number FROM ivr_surveys") == o["number"]
    assert await plan_missing_surveys(pool, surveys) == 0  # nothing planned twice
