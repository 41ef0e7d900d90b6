"""Pure tests of the FastAGI wire format (pbx.agi.protocol)."""

from __future__ import annotations

import pytest

from pbx.agi.protocol import (
    AgiProtocolError,
    parse_environment,
    parse_success,
    quote_arg,
    reply_code,
    value_arg,
)
from tests.fakes.fake_agi import load_sessions


def env_lines(raw: bytes) -> list[str]:
    return [line for line in raw.decode().split("\n") if line]


def test_trace_environment_parses_with_empty_values_and_args() -> None:
    (session,) = load_sessions("02-inbound-answered")
    env = parse_environment(env_lines(session.environment))
    assert env.script == "ivr"
    assert env.uniqueid == "pbx1-1795837952.0"
    assert env.callerid == "13800138000"
    assert env.channel == "PJSIP/citizen-trunk-00000000"
    assert env.args == ("13800138000",)
    # "agi_accountcode: " keeps nothing after the one separating space.
    assert env.get("accountcode") == ""
    assert env.get("agi_dnid") == "12345"


def test_survey_trace_environment_carries_order_number() -> None:
    (session,) = load_sessions("10-callback-survey")
    env = parse_environment(env_lines(session.environment))
    assert env.script == "survey"
    assert env.args == ("WO20251128001",)
    assert env.uniqueid == "b8048fc9-3c99-40e8-9e90-6b067b560731"


@pytest.mark.parametrize(
    ("raw", "script", "query"),
    [
        ("ivr", "ivr", {}),
        ("/ivr", "ivr", {}),
        ("ivr?x=1", "ivr", {"x": "1"}),
        ("survey?order=WO1&lang=zh&empty=", "survey", {"order": "WO1", "lang": "zh", "empty": ""}),
        ("/post-call-survey/", "post-call-survey", {}),
    ],
)
def test_script_path_ignores_query_and_slashes(raw: str, script: str, query: dict) -> None:
    env = parse_environment([f"agi_network_script: {raw}", "agi_arg_1: a", "agi_arg_2: b b"])
    assert env.script == script
    assert env.query == query
    assert env.args == ("a", "b b")


@pytest.mark.parametrize(
    "lines",
    [
        ["GET / HTTP/1.1"],
        ["agi_network_script ivr"],
        ["agi_network: yes"],  # no script to route on
        ["\x00\x01\x02: x", "agi_network_script: ivr"],
        ["agi network: yes", "agi_network_script: ivr"],
    ],
)
def test_bad_environment_is_refused(lines: list[str]) -> None:
    with pytest.raises(AgiProtocolError):
        parse_environment(lines)


@pytest.mark.parametrize(
    ("line", "result", "raw", "data", "extras"),
    [
        ("200 result=0", 0, "0", None, {}),
        ("200 result=0 endpos=11234", 0, "0", None, {"endpos": "11234"}),
        ("200 result=-1 endpos=31840", -1, "-1", None, {"endpos": "31840"}),
        ("200 result=49", 49, "49", None, {}),
        ("200 result=1 (pbx1-1795838224.27)", 1, "1", "pbx1-1795838224.27", {}),
        ("200 result= (timeout)", None, "", "timeout", {}),
        ("200 result=007 (timeout)", 7, "007", "timeout", {}),
        ("200 result=12*", None, "12*", None, {}),
        ("200 result=1 (value with (parens) inside)", 1, "1", "value with (parens) inside", {}),
    ],
)
def test_success_replies(line: str, result: int | None, raw: str, data: str | None,
                         extras: dict) -> None:
    reply = parse_success(line, "X")
    assert (reply.result, reply.raw_result, reply.data, reply.extras) == (result, raw, data, extras)


@pytest.mark.parametrize("line", ["200 ok", "200 result=1 junk", "HTTP/1.1 200 OK"])
def test_unparsable_success_reply(line: str) -> None:
    with pytest.raises(AgiProtocolError):
        parse_success(line, "X")


def test_reply_codes() -> None:
    assert reply_code("520-Invalid command syntax.  Proper usage follows:") == (
        520, True, "Invalid command syntax.  Proper usage follows:")
    assert reply_code("510 Invalid or unknown command") == (
        510, False, "Invalid or unknown command")
    with pytest.raises(AgiProtocolError):
        reply_code("garbage")


def test_argument_quoting_refuses_injection() -> None:
    assert quote_arg('say "hi" \\o/') == '"say \\"hi\\" \\\\o/"'
    assert value_arg("hotline-general") == "hotline-general"
    assert value_arg("投诉 2") == '"投诉 2"'
    with pytest.raises(ValueError):
        quote_arg("x\nHANGUP")
    with pytest.raises(ValueError):
        value_arg("x\r\nEXEC Dial")
