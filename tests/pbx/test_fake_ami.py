"""The fake Asterisk itself: annotated-trace replay, pacing, state kept for CoreShowChannels."""

from __future__ import annotations

import asyncio
import time

from pbx.ami import AmiClient, AmiServerConfig
from pbx.ami.message import AmiMessage
from pbx.calls.tracker import CallTracker
from tests.fakes.fake_ami import TRACES, FakeAmi, live_event_blocks


def test_annotated_and_wire_traces_give_the_same_events() -> None:
    for name in ("02-inbound-answered", "07-attended-transfer", "10-callback-survey"):
        wire = live_event_blocks(TRACES / f"{name}.ami.wire.txt")
        annotated = live_event_blocks(TRACES / f"{name}.ami.txt")
        assert wire == annotated and len(wire) > 20


async def test_paced_replay_of_an_annotated_trace_through_the_client() -> None:
    async with FakeAmi() as fake:
        tracker = CallTracker()
        got: list[AmiMessage] = []

        def on_event(msg: AmiMessage) -> None:
            got.append(msg)
            tracker.handle(msg)

        client = AmiClient(
            AmiServerConfig(id="pbx1", host="127.0.0.1", port=fake.port, secret="s3cret"),
            on_event=on_event,
        )
        try:
            await client.connect()
            t0 = time.monotonic()
            sent = await fake.replay("05-agent-hangs-up-first.ami.txt", speed=20.0)
            # the trace spans ~10 s of events: at 20x it takes ~0.5 s, not 0
            assert 0.3 < time.monotonic() - t0 < 3.0
            for _ in range(100):
                if len(got) >= sent + 1:
                    break
                await asyncio.sleep(0.02)
            assert got[0].name == "FullyBooted"  # the fake's own, after Login
            assert len(got) == sent + 1
            assert tracker.open_calls() == [] and tracker.stats["unknown_channel"] == 0
            # the fake kept its channel list: nothing left after the call ended
            assert fake.channels == {}
        finally:
            await client.close()
