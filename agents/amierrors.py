"""Mapping AMI failures to API errors: Asterisk refusing → 502, no answer in time → 504,
link down → 503. The Asterisk ``Message:`` is passed on in ``details``."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from kit.errors import ApiError, ServiceUnavailable, UpstreamError, UpstreamTimeout
from pbx.ami.errors import AmiError, AmiNotConnected, AmiTimeout, OriginateFailed

T = TypeVar("T")

ORIGINATE_REASONS: dict[int | None, str] = {
    3: "无人接听",  # no answer within the Originate timeout
    5: "对方忙(占线)",  # busy
    8: "线路拥塞",  # congestion / all circuits busy
    0: "呼叫失败(号码或话机不可用)",  # failure / no such device
    1: "呼叫失败(对方已挂断)",  # hung up before answer
}
"""OriginateResponse ``Reason`` → what the console shows."""


def api_error(exc: AmiError, what: str) -> ApiError:
    """The API error for an AMI failure of ``what`` (a Chinese description of the action)."""
    details = {"action": exc.action, "server": exc.server, "asterisk": exc.message}
    if isinstance(exc, AmiTimeout):
        return UpstreamTimeout(f"{what}失败: 交换机未在规定时间内响应", code="pbx_timeout",
                               details=details)
    if isinstance(exc, AmiNotConnected):
        return ServiceUnavailable(f"{what}失败: 与交换机的连接已断开", code="pbx_unavailable",
                                  details=details)
    if isinstance(exc, OriginateFailed):
        # The exchange accepted the Originate but its first leg (a supervisor's phone, the unit
        # called into a three-way call) did not come up: say why in words an agent understands.
        why = ORIGINATE_REASONS.get(exc.reason, "呼叫未接通")
        return UpstreamError(f"{what}失败: {why}", code="pbx_call_failed",
                             details={**details, "reason": exc.reason})
    return UpstreamError(f"{what}失败: 交换机拒绝 ({exc.message})", code="pbx_refused",
                         details=details)


async def ami(call: Awaitable[T], what: str) -> T:
    """Await an AMI call, turning ``AmiError`` into the matching API error."""
    try:
        return await call
    except AmiError as exc:
        raise api_error(exc, what) from None
