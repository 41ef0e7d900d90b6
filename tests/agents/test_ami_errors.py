"""AMI failures become API errors the console can show in Chinese."""

from __future__ import annotations

import pytest

from agents.amierrors import api_error
from pbx.ami import AmiError, AmiNotConnected, AmiTimeout, OriginateFailed


@pytest.mark.parametrize(("exc", "status", "code", "message"), [
    (OriginateFailed(3, server="pbx1"), 502, "pbx_call_failed", "监听失败: 无人接听"),
    (OriginateFailed(5, server="pbx1"), 502, "pbx_call_failed", "监听失败: 对方忙(占线)"),
    (OriginateFailed(8, server="pbx1"), 502, "pbx_call_failed", "监听失败: 线路拥塞"),
    (OriginateFailed(None, server="pbx1"), 502, "pbx_call_failed", "监听失败: 呼叫未接通"),
    (AmiError("Channel not found", action="Redirect", server="pbx1"), 502, "pbx_refused",
     "监听失败: 交换机拒绝 (Channel not found)"),
    (AmiTimeout("timeout", action="Originate"), 504, "pbx_timeout",
     "监听失败: 交换机未在规定时间内响应"),
    (AmiNotConnected("down", action="Originate"), 503, "pbx_unavailable",
     "监听失败: 与交换机的连接已断开"),
])
def test_api_error(exc: AmiError, status: int, code: str, message: str) -> None:
    err = api_error(exc, "监听")
    assert (err.status, err.code, err.message) == (status, code, message)
    assert err.details["server"] == exc.server


def test_originate_reason_is_kept_for_the_logs() -> None:
    err = api_error(OriginateFailed(5, server="pbx2"), "回拨")
    assert err.details == {"action": "Originate", "server": "pbx2",
                           "asterisk": "originate failed (reason 5)", "reason": 5}
