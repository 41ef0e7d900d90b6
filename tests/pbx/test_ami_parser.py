"""AMI wire parser: real Asterisk 22 traces, chunking, duplicates, garbage."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from pbx.ami.message import AmiParser, encode_action, parse_block

TRACES = Path(__file__).resolve().parents[1] / "traces"
WIRE = sorted(TRACES.glob("*.ami.wire.txt"))


def test_every_trace_parses_completely() -> None:
    assert len(WIRE) == 15
    for path in WIRE:
        data = path.read_bytes()
        parser = AmiParser()
        msgs = parser.feed(data)
        assert parser.banner == "Asterisk Call Manager/11.0.0", path.name
        assert parser.version == "11.0.0"
        # every block of the stream became a message: nothing dropped, nothing left over
        body = data.split(b"\r\n", 1)[1]
        assert len(msgs) == body.count(b"\r\n\r\n"), path.name
        assert parser.dropped == parser.oversized == 0
        assert parser._buf == b""


def test_byte_by_byte_and_random_chunks_give_the_same_messages() -> None:
    data = (TRACES / "02-inbound-answered.ami.wire.txt").read_bytes()
    whole = [(m.kind, m.name, m.pairs) for m in AmiParser().feed(data)]
    rnd = random.Random(12345)
    for sizes in ([1], [7, 13, 64], [4096]):
        parser, got, pos = AmiParser(), [], 0
        while pos < len(data):
            n = rnd.choice(sizes)
            got += [(m.kind, m.name, m.pairs) for m in parser.feed(data[pos : pos + n])]
            pos += n
        assert got == whole


def test_originate_response_is_an_event_even_with_response_header() -> None:
    msgs = AmiParser().feed((TRACES / "10-callback-survey.ami.wire.txt").read_bytes())
    orr = [m for m in msgs if m.get("Response") and m.kind == "event"]
    assert [m.name for m in orr] == ["OriginateResponse", "OriginateResponse"]
    assert orr[0]["Reason"] == "4" and orr[1]["Uniqueid"] == "<unknown>"
    assert orr[0].action_id == "callback-survey-2"


def test_duplicate_keys_are_kept_and_empty_values_are_empty() -> None:
    msg = parse_block(
        "Event: UserEvent\r\nChannel: PJSIP/a-1\r\nAccountCode: \r\n"
        "UserEvent: X\r\nChannel: overwritten\r\nVariable: A=1\r\nVariable: B=2"
    )
    assert msg is not None and msg.kind == "event" and msg.name == "UserEvent"
    assert msg.getall("Channel") == ["PJSIP/a-1", "overwritten"]
    assert msg.getall("variable") == ["A=1", "B=2"]
    assert msg["AccountCode"] == ""
    assert msg.get("accountcode") == ""  # case-insensitive fallback
    assert msg.get("Missing") is None


def test_login_failure_response() -> None:
    parser = AmiParser()
    (msg,) = parser.feed((TRACES / "01b-login-failed.ami.wire.txt").read_bytes())
    assert msg.kind == "response" and msg.name == "Error"
    assert msg["Message"] == "Authentication failed"


def test_garbage_and_malformed_lines_never_raise() -> None:
    parser = AmiParser()
    junk = bytes(random.Random(7).randrange(256) for _ in range(20000))
    msgs = parser.feed(b"Asterisk Call Manager/11.0.0\r\n" + junk + b"\r\n\r\n")
    assert all(m.kind in ("event", "response") for m in msgs)
    msgs = parser.feed(b"no colon here\r\nstill none\r\n\r\nEvent: Ok\r\nbad line\r\nA: 1\r\n\r\n")
    assert [m.name for m in msgs] == ["Ok"] and msgs[0]["A"] == "1"
    assert parser.dropped >= 1
    # NUL bytes and invalid UTF-8 inside values
    (m,) = parser.feed(b"Event: X\r\nCallerIDName: \xe5\xbc\xa0\xff\x00\r\n\r\n")
    assert m["CallerIDName"].startswith("张")


def test_one_megabyte_line_is_dropped_and_parsing_resumes() -> None:
    parser = AmiParser()
    parser.feed(b"Asterisk Call Manager/11.0.0\r\n")
    big = b"Event: Huge\r\nData: " + b"x" * (1 << 20)
    out = []
    for i in range(0, len(big), 65536):
        out += parser.feed(big[i : i + 65536])
        assert len(parser._buf) <= parser.max_message + 65536
    out += parser.feed(b"\r\n\r\nEvent: After\r\nK: v\r\n\r\n")
    assert [m.name for m in out] == ["After"]
    assert parser.oversized == 1
    # and a complete oversized message delivered in one piece
    out = parser.feed(b"Event: Huge\r\nData: " + b"y" * (1 << 20) + b"\r\n\r\nEvent: Next\r\n\r\n")
    assert [m.name for m in out] == ["Next"] and parser.oversized == 2


def test_encode_action_repeats_lists_and_refuses_header_injection() -> None:
    data = encode_action(
        "Originate", {"Channel": "PJSIP/1001", "Variable": ["A=1", "B=2"], "Async": True}, "x-1"
    )
    assert data == (
        b"Action: Originate\r\nActionID: x-1\r\nChannel: PJSIP/1001\r\n"
        b"Variable: A=1\r\nVariable: B=2\r\nAsync: true\r\n\r\n"
    )
    with pytest.raises(ValueError, match="CR or LF"):
        encode_action("Redirect", {"Channel": "PJSIP/1\r\nAction: Hangup"})
