"""AMI client against the fake Asterisk over real TCP: login, actions, timeouts, faults."""

from __future__ import annotations

import asyncio
import time

import pytest

from pbx.ami import (
    AmiAuthError,
    AmiClient,
    AmiError,
    AmiNotConnected,
    AmiServerConfig,
    AmiTimeout,
    OriginateFailed,
)
from pbx.ami.message import AmiMessage
from pbx.calls.events import AmiLinkChanged, CallEnded
from pbx.calls.service import Telephony
from tests.fakes.fake_ami import FakeAmi


@pytest.fixture
async def closing():
    """Register clients / Telephony objects; they are closed even when the test fails."""
    items: list = []
    yield items.append
    for item in items:
        await item.close()


def cfg(fake: FakeAmi, **kw: object) -> AmiServerConfig:
    base: dict = dict(
        id="pbx1",
        host="127.0.0.1",
        port=fake.port,
        secret="s3cret",
        action_timeout=1.0,
        connect_timeout=1.0,
        ping_interval=30.0,
        backoff_initial=0.1,
        backoff_max=0.5,
    )
    base.update(kw)
    return AmiServerConfig(**base)


async def test_login_and_actions(closing) -> None:
    async with FakeAmi() as fake:
        events: list[AmiMessage] = []
        client = AmiClient(cfg(fake), on_event=events.append)
        closing(client)
        await client.connect()
        try:
            assert client.connected and client.version == "11.0.0"
            assert client.status()["ok"] is True
            res = await client.send_action("Ping")
            assert res.response["Ping"] == "Pong"
            login = fake.actions[0]
            assert login["Action"] == "Login" and login["Events"] == "on"
            # the resync ran after login
            assert [a["Action"] for a in fake.actions[1:3]] == ["CoreShowChannels", "QueueStatus"]
            # an Error response is a clear AmiError with Asterisk's message
            fake.handlers["QueueRemove"] = lambda a: [
                [("Response", "Error"), ("Message", "Unable to remove interface: Not there")]
            ]
            with pytest.raises(AmiError, match="Not there") as err:
                await client.send_action("QueueRemove", {"Queue": "q", "Interface": "PJSIP/x"})
            assert err.value.action == "QueueRemove" and err.value.server == "pbx1"
            # no answer at all: AmiTimeout within the timeout
            fake.handlers["Hangup"] = lambda a: []
            t0 = time.monotonic()
            with pytest.raises(AmiTimeout):
                await client.send_action("Hangup", {"Channel": "PJSIP/x"}, timeout=0.2)
            assert time.monotonic() - t0 < 0.5
            assert client._pending == {}
            # live events reach on_event with the server id
            fake.send_event({"Event": "PeerStatus", "Peer": "PJSIP/agent1001"})
            await asyncio.sleep(0.05)
            assert [(e.name, e.server) for e in events][-1] == ("PeerStatus", "pbx1")
        finally:
            await client.close()
        assert not client.connected
        with pytest.raises(AmiNotConnected):
            await client.send_action("Ping")


async def test_wrong_secret_is_an_error(closing) -> None:
    async with FakeAmi() as fake:
        client = AmiClient(cfg(fake, secret="wrong"))
        closing(client)
        with pytest.raises(AmiAuthError, match="Authentication failed"):
            await client.connect()
        assert not client.connected and "Authentication failed" in client.last_error
        await client.close()


async def test_unreachable_server_is_not_connected(closing) -> None:
    async with FakeAmi() as fake:
        port = fake.port
    client = AmiClient(
        AmiServerConfig(id="x", host="127.0.0.1", port=port, secret="s", backoff_initial=0.05)
    )
    closing(client)
    with pytest.raises(AmiNotConnected):
        await client.connect()
    await client.close()


async def test_list_action_and_originate(closing) -> None:
    async with FakeAmi() as fake:
        client = AmiClient(cfg(fake))
        closing(client)
        await client.connect()
        fake.channels["u1"] = {"Channel": "PJSIP/c-1", "Uniqueid": "u1", "Linkedid": "u1"}
        res = await client.send_action("CoreShowChannels")
        assert [m["Uniqueid"] for m in res.items] == ["u1"]
        assert res.complete is not None and res.complete["ListItems"] == "1"

        def originate(action: dict[str, str]) -> list:
            ok = action["Channel"] == "PJSIP/unit2001"
            return [
                [("Response", "Success"), ("Message", "Originate successfully queued")],
                [
                    ("Event", "OriginateResponse"),
                    ("Response", "Success" if ok else "Failure"),
                    ("Channel", action["Channel"]),
                    ("Reason", "4" if ok else "3"),
                    ("Uniqueid", "u9" if ok else "<unknown>"),
                ],
            ]

        fake.handlers["Originate"] = originate
        ev = await client.originate(
            {
                "Channel": "PJSIP/unit2001",
                "Context": "hotline-conf",
                "Exten": "room-x",
                "Priority": 1,
            }
        )
        assert ev.name == "OriginateResponse" and ev["Uniqueid"] == "u9"
        assert fake.actions[-1]["Async"] == "true"
        with pytest.raises(AmiError, match="reason 3") as failed:
            await client.originate({"Channel": "PJSIP/13900000000@citizen-trunk"})
        assert isinstance(failed.value, OriginateFailed) and failed.value.reason == 3
        await client.close()


async def test_event_handler_exception_does_not_kill_the_link(closing) -> None:
    async with FakeAmi() as fake:

        def boom(msg: AmiMessage) -> None:
            raise RuntimeError("consumer bug")

        client = AmiClient(cfg(fake), on_event=boom)
        closing(client)
        await client.connect()
        fake.send_event({"Event": "Whatever"})
        await asyncio.sleep(0.05)
        assert (await client.send_action("Ping")).response["Ping"] == "Pong"
        await client.close()


async def test_watchdog_aborts_a_silent_server_and_reconnects(closing) -> None:
    async with FakeAmi() as fake:
        client = AmiClient(cfg(fake, ping_interval=0.2, ping_timeout=0.2))
        closing(client)
        await client.connect()
        fake.silent = True
        t0 = time.monotonic()
        while client.connected and time.monotonic() - t0 < 3:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        assert not client.connected
        assert time.monotonic() - t0 < 1.5  # interval + timeout + slack
        assert "watchdog" in client.last_error
        fake.silent = False
        await client.wait_connected(3.0)
        assert client.sessions == 2
        await client.close()


async def test_drop_mid_call_and_restart_closes_the_call_once(closing) -> None:
    """Asterisk dies mid-call and comes back without the call: the link is back within 2 s
    and the call is closed exactly once, as ended_during_disconnect."""
    async with FakeAmi() as fake:
        tel = Telephony([cfg(fake)])
        closing(tel)
        sub = tel.subscribe({"CallEnded", "AmiLinkChanged"})
        await tel.start()
        await tel.wait_connected(2.0)
        await fake.replay(
            "02-inbound-answered.ami.wire.txt",
            until=lambda b: b.startswith(b"Event: AgentComplete\r\n"),
        )
        await asyncio.sleep(0.1)
        (call,) = tel.tracker.open_calls()
        assert call.agent == "PJSIP/agent1001"
        t0 = time.monotonic()
        await fake.restart()
        await fake.wait_login(2, timeout=2.0)
        await tel.wait_connected(2.0)
        assert time.monotonic() - t0 < 2.0
        got = []
        while (e := sub.get_nowait()) is not None or not got:
            if e is None:
                await asyncio.sleep(0.02)
                continue
            got.append(e)
        ended = [e for e in got if isinstance(e, CallEnded)]
        assert len(ended) == 1
        assert ended[0].disposition == "ended_during_disconnect"
        assert ended[0].record.agent == "PJSIP/agent1001"
        links = [(e.up, e.reason) for e in got if isinstance(e, AmiLinkChanged)]
        assert [up for up, _ in links] == [True, False, True]
        assert links[-1] == (True, "resynced")
        # another reconnect does not close it again, and stragglers are ignored
        fake.drop()
        await fake.wait_login(3, timeout=2.0)
        await tel.wait_connected(2.0)
        fake.send_blocks(
            fake.remaining(
                "02-inbound-answered.ami.wire.txt",
                lambda b: b.startswith(b"Event: AgentComplete\r\n"),
            )
        )
        await asyncio.sleep(0.1)
        more = []
        while (e := sub.get_nowait()) is not None:
            more.append(e)
        assert not [e for e in more if isinstance(e, CallEnded)]
        assert tel.tracker.open_calls() == []
        sub.close()
        await tel.close()


async def test_drop_mid_call_with_the_call_still_up_keeps_it(closing) -> None:
    async with FakeAmi() as fake:
        tel = Telephony([cfg(fake)])
        closing(tel)
        sub = tel.subscribe({"CallEnded"})
        await tel.start()
        await tel.wait_connected(2.0)
        cut = lambda b: b.startswith(b"Event: AgentComplete\r\n")  # noqa: E731
        await fake.replay("02-inbound-answered.ami.wire.txt", until=cut)
        await asyncio.sleep(0.05)
        fake.drop()  # link lost, Asterisk still has the call (CoreShowChannels lists it)
        await fake.wait_login(2, timeout=2.0)
        await tel.wait_connected(2.0)
        assert len(tel.tracker.open_calls()) == 1
        fake.send_blocks(fake.remaining("02-inbound-answered.ami.wire.txt", cut))
        ended = await asyncio.wait_for(sub.get(), 2.0)
        assert isinstance(ended, CallEnded) and ended.disposition == "answered"
        assert ended.record.talk_seconds == 6
        sub.close()
        await tel.close()


async def test_several_servers_at_once(closing) -> None:
    async with FakeAmi() as a, FakeAmi() as b:
        tel = Telephony([cfg(a, id="pbx1"), cfg(b, id="pbx2")])
        closing(tel)
        sub = tel.subscribe({"CallEnded"})
        await tel.start()
        await tel.wait_connected(2.0)
        await a.replay("05-agent-hangs-up-first.ami.wire.txt")
        await b.replay("05-agent-hangs-up-first.ami.wire.txt")
        first = await asyncio.wait_for(sub.get(), 2.0)
        second = await asyncio.wait_for(sub.get(), 2.0)
        assert isinstance(first, CallEnded) and isinstance(second, CallEnded)
        assert {first.server, second.server} == {"pbx1", "pbx2"}
        assert first.linkedid == second.linkedid
        with pytest.raises(AmiError, match="unknown Asterisk server"):
            await tel.send_action("pbx9", "Ping")
        assert (await tel.send_action("pbx2", "Ping")).response["Ping"] == "Pong"
        assert set(tel.status()) == {"pbx1", "pbx2"}
        sub.close()
        await tel.close()
