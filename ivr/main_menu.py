"""The main 12345 flow (``agi://…/ivr``, SPEC R2.1, R2.2, R2.5).

greeting → emergency notice (第九条(五), transfer offered) → known caller's open order offered
(一号答) → main menu (1 咨询 2 投诉 3 举报 4 求助 5 建议 6 营商环境专席 (第十五条) 8 工单查询
0 人工) → channel variables for the dialplan's ``Queue()``.

Channel variables set: ``HOTLINE_CHOICE`` (menu key), ``HOTLINE_CATEGORY`` (``complaint`` …),
``HOTLINE_QUEUE``, ``HOTLINE_LANG``; ``HOTLINE_EMERGENCY`` (110/119/120) when the caller accepted
an emergency transfer; ``HOTLINE_DONE=1`` when self-service served the caller;
``HOTLINE_IVR_ABANDONED=1`` when the caller hung up inside the IVR.
"""

from __future__ import annotations

from ivr.call import IvrCall
from ivr.config import EMERGENCY_KEY, EMERGENCY_SERVICES, STATUS_KEY, MenuChoice
from ivr.prompts import P
from ivr.records import Outcome
from ivr.status import Next, read_back, status_by_number

MAX_MENU_ROUNDS = 4
"""Menu → status → menu loops allowed before the caller is sent to an agent."""


async def main_flow(call: IvrCall) -> None:
    """The whole inbound IVR; ends with the queue variables set or the channel hung up."""
    ch = call.channel
    call.enter("answer")
    await ch.answer()
    await ch.verbose(f"12345 IVR: call from {call.record.caller or 'unknown'}")
    call.enter("greeting")
    await call.play(P.GREETING)
    if await _emergency_notice(call):
        return
    caller = call.record.caller
    if caller:
        orders = await call.deps.orders.open_orders_by_phone(caller)
        if orders:
            call.enter("known-caller")
            if await call.ask(P.KNOWN_CALLER_OFFER, {"1", "2"}) == "1":
                if await _after_status(call, await read_back(call, orders[0])):
                    return
    for _ in range(MAX_MENU_ROUNDS):
        call.enter("menu")
        key = await call.ask(P.MAIN_MENU, set(call.config.menu) | {STATUS_KEY})
        if key is None:
            # R2.5: repeated invalid / missing input → an agent.
            call.record.events.append({"step": "menu", "fallback": "no-valid-input"})
            await route(call, call.config.menu["0"])
            return
        if key == STATUS_KEY:
            if await _after_status(call, await status_by_number(call)):
                return
            continue
        await route(call, call.config.menu[key])
        return
    await route(call, call.config.menu["0"])


async def _after_status(call: IvrCall, nxt: Next) -> bool:
    """Carry out what the caller chose after a status read-back; True if the call is done."""
    if nxt == "agent":
        await route(call, call.config.menu["0"])
        return True
    if nxt == "end":
        call.enter("goodbye")
        # The dialplan ends the call instead of queueing it (asterisk-config: HOTLINE_DONE).
        await call.set_vars(HOTLINE_DONE="1")
        call.record.finish(Outcome.SELF_SERVICE)
        await call.play(P.GOODBYE)
        await call.channel.hangup()
        return True
    return False


async def _emergency_notice(call: IvrCall) -> bool:
    """第九条(五): 110/119/120 matters are not handled by 12345; offer a transfer (key 9).
    True if the caller was handed over."""
    ch = call.channel
    call.enter("emergency-notice")
    key = await ch.get_data(call.config.prompt(P.EMERGENCY_NOTICE),
                            call.config.notice_timeout_ms, 1)
    call.record.note_input(key or None)
    if key != EMERGENCY_KEY:
        return False
    call.enter("emergency-menu")
    choice = await call.ask(P.EMERGENCY_MENU, EMERGENCY_SERVICES)
    if choice is None:
        return False  # nothing valid chosen: carry on with the normal menu
    call.record.category = "emergency"
    await call.set_vars(HOTLINE_EMERGENCY=EMERGENCY_SERVICES[choice])
    await ch.verbose(f"12345 IVR: emergency transfer to {EMERGENCY_SERVICES[choice]}")
    call.enter("emergency-transfer")
    await call.play(P.EMERGENCY_TRANSFER)
    call.record.finish(Outcome.EMERGENCY)
    return True


async def route(call: IvrCall, choice: MenuChoice) -> None:
    """Record the choice on the call and set the queue variables for the dialplan."""
    rec = call.record
    call.enter("route")
    rec.choice, rec.category, rec.queue = choice.key, choice.category, choice.queue
    await call.set_vars(HOTLINE_CHOICE=choice.key, HOTLINE_CATEGORY=choice.category,
                        HOTLINE_QUEUE=choice.queue, HOTLINE_LANG=rec.language)
    await call.channel.verbose(f"12345 IVR: choice {choice.key} -> queue {choice.queue}")
    call.enter("transfer")
    await call.play(P.TO_AGENT if choice.key == "0" else P.QUEUE_TRANSFER)
    rec.finish(Outcome.AGENT if choice.key == "0" else Outcome.QUEUED)
