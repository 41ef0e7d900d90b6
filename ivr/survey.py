"""Satisfaction surveys (SPEC R2.4): 1 满意, 2 基本满意, 3 不满意.

* ``agi://…/post-call-survey[,<call id>]`` — 好差评 after the agent hung up first, one rating per
  call (一事一评, 第十五条). The call id is the argument — the dialplan passes
  ``${HOTLINE_SERVER}:${HOTLINE_CALLID}``, the ``<server>:<Linkedid>`` name under which the
  backend stores the call and orders link it — else ``HOTLINE_CALLID``, else the Uniqueid.
* ``agi://…/survey,<order number>`` — 办结回访 (第十一条(五)) on a call originated by
  :class:`~ivr.survey_dialer.SurveyService`; the result is stored on the work order.

Both set ``SURVEY_RESULT`` (1/2/3) on the channel, as the lab script of trace 10 did.
"""

from __future__ import annotations

from ivr.call import IvrCall
from ivr.ports import SurveyRating
from ivr.prompts import P
from ivr.records import Outcome
from ivr.survey_dialer import SurveyService
from pbx.agi.protocol import CallerHungUp

RATING_KEYS = {"1", "2", "3"}


async def post_call_survey_flow(call: IvrCall) -> None:
    """好差评 for the call that just ended; a second attempt for the same call is refused."""
    ch, rec, env = call.channel, call.record, call.channel.env
    call.enter("post-call-check")
    arg = env.args[0].strip() if env.args else ""
    if arg.endswith(":"):  # "${HOTLINE_SERVER}:" with HOTLINE_CALLID unset: no call named
        arg = ""
    call_id = arg or await ch.get_variable("HOTLINE_CALLID") or env.uniqueid
    rec.events.append({"step": "post-call-check", "rated_call": call_id})
    if await call.deps.store.call_rating(call_id) is not None:
        rec.finish(Outcome.ALREADY_RATED)
        call.enter("already-rated")
        await call.play(P.ALREADY_RATED)
        await ch.hangup()
        return
    call.enter("post-call-intro")
    await call.play(P.POST_CALL_INTRO)
    call.enter("post-call-question")
    key = await call.ask(P.SURVEY_QUESTION, RATING_KEYS)
    if key is None:
        rec.finish(Outcome.NO_RATING)
        call.enter("survey-goodbye")
        await call.play(P.GOODBYE)
        await ch.hangup()
        return
    stored = await call.deps.store.rate_call(call_id, int(key), rec.caller)
    rec.rating = int(key)
    rec.finish(Outcome.RATED if stored else Outcome.ALREADY_RATED)
    await call.set_vars(SURVEY_RESULT=key)
    call.enter("survey-thanks")
    await call.play(P.SURVEY_THANKS)
    await ch.hangup()


async def callback_survey_flow(call: IvrCall) -> None:
    """办结回访 of one closed order (argument 1 = order number)."""
    ch, rec, env = call.channel, call.record, call.channel.env
    order = env.args[0].strip() if env.args else ""
    if not order:
        raise ValueError("survey AGI called without an order number argument")
    rec.order_number = order
    service = SurveyService(call.deps)
    try:
        await ch.verbose(f"survey callback for work order {order}")
        call.enter("survey-intro")
        await call.play(P.SURVEY_INTRO)
        call.enter("survey-question")
        key = await call.ask(P.SURVEY_QUESTION, RATING_KEYS)
        if key is None:
            # Anything but 1/2/3, repeated max_attempts times → recorded as no answer.
            await service.no_rating(order, env.uniqueid)
            rec.finish(Outcome.NO_RATING)
            call.enter("survey-goodbye")
            await call.play(P.GOODBYE)
            await ch.hangup()
            return
        rating = SurveyRating(int(key))
        await service.rated(order, rating, env.uniqueid)
        rec.rating = int(rating)
        rec.finish(Outcome.RATED)
        await call.set_vars(SURVEY_RESULT=key)
        call.enter("survey-thanks")
        await call.play(P.SURVEY_THANKS)
        await ch.hangup()
    except CallerHungUp:
        if rec.outcome is None:
            # Hung up before answering: counts as a failed attempt (retry rules apply).
            await service.hung_up_before_rating(order, env.uniqueid)
        raise
