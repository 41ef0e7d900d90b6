"""Bad input into parser + tracker: logged, counted, no crash, no event (so nothing is written)."""

from __future__ import annotations

import logging

import pytest

from pbx.ami.message import AmiMessage, AmiParser, parse_block
from pbx.calls.events import CallEnded
from pbx.calls.tracker import CallTracker, local_target


def feed(tracker: CallTracker, raw: bytes) -> list:
    parser = AmiParser(expect_banner=False)
    out = []
    for m in parser.feed(raw):
        m.server = "pbx1"
        out += tracker.handle(m)
    return out


def msg(text: str) -> AmiMessage:
    m = parse_block(text.replace("\n", "\r\n"))
    assert m is not None
    m.server = "pbx1"
    return m


def test_unknown_events_and_responses_are_ignored() -> None:
    t = CallTracker()
    assert feed(t, b"Event: SomethingNew\r\nFoo: bar\r\n\r\nResponse: Success\r\n\r\n") == []
    assert t.stats["messages"] == 0


def test_events_for_unknown_channels_are_counted_not_written(caplog) -> None:
    t = CallTracker()
    caplog.set_level(logging.DEBUG, "pbx.calls.tracker")
    raw = (
        b"Event: Hangup\r\nChannel: PJSIP/x-1\r\nUniqueid: nope.1\r\nLinkedid: nope.1\r\n"
        b"Cause: 16\r\n\r\n"
        b"Event: AgentConnect\r\nUniqueid: nope.2\r\nLinkedid: nope.2\r\nDestUniqueid: d\r\n"
        b"Interface: PJSIP/agent1001\r\n\r\n"
        b"Event: VarSet\r\nUniqueid: nope.3\r\nVariable: HOTLINE_CHOICE\r\nValue: 1\r\n\r\n"
        b"Event: UserEvent\r\nUniqueid: nope.4\r\nUserEvent: HotlineRecording\r\nMixed: /a\r\n\r\n"
    )
    assert feed(t, raw) == []
    assert t.stats["unknown_channel"] == 4
    assert t.open_calls() == []
    assert "unknown channel" in caplog.text


def test_missing_fields_are_logged_and_change_nothing(caplog) -> None:
    t = CallTracker()
    # Newchannel without Linkedid / Uniqueid
    assert t.handle(msg("Event: Newchannel\nChannel: PJSIP/a-1\nUniqueid: u1")) == []
    assert t.handle(msg("Event: Newchannel\nChannel: PJSIP/a-1")) == []
    assert t.stats["bad"] == 2 and "ignored Newchannel" in caplog.text
    # a real call, then an AgentCalled without DestUniqueid / Interface
    start = "Event: Newchannel\nChannel: PJSIP/c-1\nChannelState: 4\nContext: from-trunk\n"
    start += "Exten: 12345\nCallerIDNum: 139\nUniqueid: u1\nLinkedid: u1"
    assert [e.kind for e in t.handle(msg(start))] == ["CallStarted"]
    assert t.handle(msg("Event: AgentCalled\nUniqueid: u1\nLinkedid: u1")) == []
    call = t.open_calls()[0]
    assert call.agents_rung == [] and call.ringing == {}
    # non-numeric values where numbers are expected: stored as None, no crash
    t.handle(msg("Event: QueueCallerJoin\nUniqueid: u1\nQueue: q\nPosition: first"))
    assert call.queue == "q"
    ended = t.handle(msg("Event: Hangup\nUniqueid: u1\nLinkedid: u1\nCause: sixteen"))
    assert isinstance(ended[-1], CallEnded) and ended[-1].record.hangup_cause is None


def test_garbage_timestamp_falls_back_to_the_clock() -> None:
    t = CallTracker(clock=lambda: 42.0)
    (e,) = t.handle(
        msg(
            "Event: Newchannel\nTimestamp: yesterday\nChannel: PJSIP/c-1\n"
            "ChannelState: 4\nContext: from-trunk\nExten: 12345\nUniqueid: u\n"
            "Linkedid: u"
        )
    )
    assert e.at == 42.0


def test_one_megabyte_line_then_a_real_call() -> None:
    t = CallTracker()
    raw = b"Event: Newchannel\r\nChannel: " + b"A" * (1 << 20) + b"\r\n\r\n"
    raw += (
        b"Event: Newchannel\r\nChannel: PJSIP/c-1\r\nChannelState: 4\r\nContext: from-trunk"
        b"\r\nExten: 12345\r\nUniqueid: u1\r\nLinkedid: u1\r\n\r\n"
    )
    events = feed(t, raw)
    assert [e.kind for e in events] == ["CallStarted"]


def test_non_hotline_channels_open_no_call() -> None:
    t = CallTracker()
    # an agent dialling a colleague: root channel in from-agents
    assert (
        t.handle(
            msg(
                "Event: Newchannel\nChannel: PJSIP/agent1001-1\nChannelState: 4\n"
                "Context: from-agents\nExten: 1002\nUniqueid: a\nLinkedid: a"
            )
        )
        == []
    )
    assert (
        t.handle(
            msg("Event: Hangup\nChannel: PJSIP/agent1001-1\nUniqueid: a\nLinkedid: a\nCause: 16")
        )
        == []
    )
    assert t.open_calls() == []


@pytest.mark.parametrize(
    ("channel", "target"),
    [
        ("Local/2001@hotline-internal-00000000;1", "2001@hotline-internal"),
        ("Local/2001@hotline-internal;2", "2001@hotline-internal"),
        ("PJSIP/unit2001-0000000f", "PJSIP/unit2001-0000000f"),
    ],
)
def test_local_target(channel: str, target: str) -> None:
    assert local_target(channel) == target


def test_originate_variables_before_the_outbound_marker_are_kept() -> None:
    t = CallTracker()
    base = "Channel: PJSIP/carrier-trunk-1\nUniqueid: cb1\nLinkedid: cb1\nContext: from-trunk"
    assert t.handle(msg(f"Event: Newchannel\nChannelState: 0\nExten: s\n{base}")) == []
    t.handle(msg(f"Event: VarSet\n{base}\nVariable: HOTLINE_CALLBACK_FOR\nValue: pbx1-1.0"))
    t.handle(msg(f"Event: VarSet\n{base}\nVariable: NOT_OURS\nValue: x"))
    (started,) = t.handle(
        msg(f"Event: VarSet\n{base}\nVariable: HOTLINE_OUTBOUND\nValue: callback")
    )
    assert started.kind == "CallStarted" and started.direction == "outbound"
    (call,) = t.open_calls()
    assert call.extra == {"HOTLINE_CALLBACK_FOR": "pbx1-1.0", "HOTLINE_OUTBOUND": "callback"}
    (ended,) = t.handle(msg(f"Event: Hangup\n{base}\nCause: 19"))
    assert ended.disposition == "no_answer" and ended.record.hangup_cause == 19
