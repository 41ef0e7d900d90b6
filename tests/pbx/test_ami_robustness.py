"""AMI client robustness: protocol surprises and bugs never end the reconnect loop."""

from __future__ import annotations

import pytest

from pbx.ami import AmiClient, AmiError, AmiServerConfig
from tests.fakes.fake_ami import FakeAmi


@pytest.fixture
async def closing():
    """Register clients; they are closed even when the test fails."""
    items: list = []
    yield items.append
    for item in items:
        await item.close()


def cfg(fake: FakeAmi) -> AmiServerConfig:
    return AmiServerConfig(
        id="pbx1", host="127.0.0.1", port=fake.port, secret="s3cret", action_timeout=1.0,
        connect_timeout=1.0, ping_interval=30.0, backoff_initial=0.05, backoff_max=0.2,
    )  # fmt: skip


async def test_complete_before_response_of_a_wait_event_action(closing) -> None:
    """A ``…Complete`` with our ActionID overtaking the Response used to trip an assert in the
    reader and end the connection loop for good."""
    async with FakeAmi() as fake:
        client = AmiClient(cfg(fake))
        closing(client)
        await client.connect()
        fake.handlers["Originate"] = lambda a: [
            [("Event", "OriginateComplete"), ("EventList", "Complete")],
            [("Response", "Success"), ("Message", "Originate successfully queued")],
        ]
        res = await client.send_action(
            "Originate", {"Channel": "PJSIP/x"}, wait_event="OriginateResponse"
        )
        assert res.response["Message"] == "Originate successfully queued"
        assert res.complete is not None and res.complete.name == "OriginateComplete"
        # originate() needs the OriginateResponse: a clear error, not an assert
        with pytest.raises(AmiError, match="no OriginateResponse"):
            await client.originate({"Channel": "PJSIP/x"}, timeout=1.0)
        # the same session lives on
        assert client.connected and fake.logins == 1
        assert (await client.send_action("Ping")).response["Ping"] == "Pong"
        await client.close()


async def test_unexpected_exception_reconnects_with_backoff(closing) -> None:
    """Any exception in a session is logged and followed by a reconnect."""
    async with FakeAmi() as fake:
        client = AmiClient(cfg(fake))
        closing(client)
        real_resync = client._resync
        calls = 0

        async def flaky_resync() -> None:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise RuntimeError("bug in resync")
            await real_resync()

        client._resync = flaky_resync  # type: ignore[method-assign]
        client.start()
        await client.wait_connected(3.0)
        assert fake.logins == 2 and calls == 2
        assert (await client.send_action("Ping")).response["Ping"] == "Pong"
        await client.close()
