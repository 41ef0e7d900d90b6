"""The IVR's outbound dialling and queue probe over AMI (hotline/features/telephony.py)."""

from __future__ import annotations

from hotline.features.telephony import AmiOriginator, AmiQueueProbe
from ivr.ports import DialOutcome, OriginateRequest
from pbx.ami import AmiServerConfig
from pbx.calls.service import Telephony
from tests.fakes.fake_ami import FakeAmi


def originate_handler(action: dict[str, str]) -> list:
    answered = "13800138000" in action["Channel"]
    return [
        [("Response", "Success"), ("Message", "Originate successfully queued")],
        [("Event", "OriginateResponse"), ("Response", "Success" if answered else "Failure"),
         ("Channel", action["Channel"]), ("Reason", "4" if answered else "3")],
    ]  # fmt: skip


async def test_originator_and_queue_probe() -> None:
    async with FakeAmi() as fake:
        tel = Telephony(
            [
                AmiServerConfig(
                    id="pbx1", host="127.0.0.1", port=fake.port, secret="s3cret", action_timeout=1.0
                )
            ]
        )
        originator, probe = AmiOriginator(tel), AmiQueueProbe(tel)
        req = OriginateRequest(
            channel="PJSIP/13800138000@carrier-trunk",
            context="hotline-outbound",
            exten="survey",
            timeout_s=5,
            variables={"SURVEY_ORDER": "CZ20261128-000001"},
        )
        # not connected yet: a failed dial, not an exception
        assert await originator.originate(req) == DialOutcome.FAILED
        await tel.start()
        try:
            await tel.wait_connected(2.0)
            fake.handlers["Originate"] = originate_handler
            assert await originator.originate(req) == DialOutcome.ANSWERED
            sent = fake.actions[-1]
            assert sent["Context"] == "hotline-outbound" and sent["Timeout"] == "5000"
            # marks the leg as an outbound hotline call for the tracker (first Variable line)
            assert sent["Variable"] == "HOTLINE_OUTBOUND=survey"
            no = OriginateRequest(
                channel="PJSIP/13900000000@carrier-trunk",
                context="hotline-outbound",
                exten="survey",
                timeout_s=5,
            )
            assert await originator.originate(no) == DialOutcome.NO_ANSWER
            # queue probe: one idle, unpaused member -> True; paused or busy -> False
            member = [
                ("Event", "QueueMember"),
                ("Queue", "hotline-general"),
                ("Location", "PJSIP/agent1001"),
                ("Status", "1"),
                ("Paused", "0"),
            ]
            fake.queue_items = [member]
            assert await probe.has_free_agent("hotline-general") is True
            fake.queue_items = [
                [*member[:3], ("Status", "2"), ("Paused", "0")],
                [*member[:3], ("Status", "1"), ("Paused", "1")],
            ]
            assert await probe.has_free_agent("hotline-general") is False
        finally:
            await tel.close()
