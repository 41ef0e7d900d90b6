"""Self-service work-order status (一号答, 第十五条; SPEC R2.2): read back state and deadline."""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo

from ivr.call import IvrCall
from ivr.ports import OrderSummary
from ivr.prompts import P

Next = Literal["menu", "agent", "end"]
"""Where the caller goes after hearing a status."""


async def read_back(call: IvrCall, order: OrderSummary) -> Next:
    """Say the order's number, state and (while open) its reply deadline; then ask what next:
    ``*`` main menu, ``0`` agent, anything else / nothing ends the call politely."""
    ch = call.channel
    call.record.order_number = order.number
    call.enter("status-readback")
    await call.play(P.ORDER_INTRO)
    if order.keyed_digits:
        await ch.say_digits(order.keyed_digits)
    await call.play(P.status(order.status.value))
    if order.deadline is not None and order.is_open:
        local = order.deadline.astimezone(ZoneInfo(call.config.timezone))
        await call.play(P.DEADLINE_INTRO)
        await ch.say_number(local.month)
        await call.play(P.MONTH)
        await ch.say_number(local.day)
        await call.play(P.DAY)
    call.enter("status-after")
    key = await ch.get_data(call.config.prompt(P.STATUS_AFTER), call.config.menu_timeout_ms, 1)
    call.record.note_input(key or None)
    return "menu" if key == "*" else "agent" if key == "0" else "end"


async def status_by_number(call: IvrCall) -> Next:
    """Ask for an order number (digits, ``#`` ends), look it up, read it back.

    Not found / nothing keyed is repeated up to ``max_attempts``; then the caller goes to an agent.
    """
    ch = call.channel
    call.enter("status-enter")
    for _ in range(call.config.max_attempts):
        digits = await ch.get_data(call.config.prompt(P.ENTER_ORDER_NUMBER),
                                   call.config.number_timeout_ms, 20)
        digits = digits.rstrip("#")
        call.record.note_input(digits or None)
        if digits.isdigit():
            # Only the caller's own orders are read out, never another citizen's (an anonymous
            # caller gets none).
            order = await call.deps.orders.order_by_digits(digits, call.record.caller)
            if order is not None:
                return await read_back(call, order)
            await call.play(P.ORDER_NOT_FOUND)
        else:
            await call.play(P.INVALID_INPUT if digits else P.NO_INPUT)
    return "agent"
