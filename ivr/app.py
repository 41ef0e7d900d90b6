"""Assembly of the IVR: FastAGI routes and durable job handlers, from one :class:`IvrDeps`."""

from __future__ import annotations

from typing import Any

from ivr.call import Flow, IvrDeps, run_flow
from ivr.callback import CALLBACK_JOB, CallbackService, callback_offer_flow
from ivr.main_menu import main_flow
from ivr.survey import callback_survey_flow, post_call_survey_flow
from ivr.survey_dialer import SURVEY_JOB, SurveyService
from pbx.agi.server import Handler
from pbx.agi.session import AgiSession

FLOWS: dict[str, Flow] = {
    "ivr": main_flow,
    "survey": callback_survey_flow,
    "post-call-survey": post_call_survey_flow,
    "callback-offer": callback_offer_flow,
}
"""Script path (``agi://host:4573/<path>``) → flow."""


def agi_routes(deps: IvrDeps) -> dict[str, Handler]:
    """Route table for :class:`pbx.agi.FastAgiServer`."""

    def bind(name: str, flow: Flow) -> Handler:
        async def handler(session: AgiSession) -> None:
            await run_flow(flow, name, session, deps)

        handler.__name__ = f"agi_{name.replace('-', '_')}"
        return handler

    return {name: bind(name, flow) for name, flow in FLOWS.items()}


def job_handlers(deps: IvrDeps) -> dict[str, Any]:
    """``kit.jobs.JobRunner`` handlers for the dialling jobs (kind → coroutine(job))."""

    async def survey(job: Any) -> dict[str, Any]:
        return await SurveyService(deps).dial(int(job.payload["survey_id"]))

    async def callback(job: Any) -> dict[str, Any]:
        return await CallbackService(deps).dial_next()

    return {SURVEY_JOB: survey, CALLBACK_JOB: callback}
