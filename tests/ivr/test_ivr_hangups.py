"""A caller hanging up at every single step of every flow (R2.5).

For each scenario the flow first runs to the end while we note which step was current at each
AGI command; then it runs again once per command with the caller hanging up during that command.
Each run must end cleanly (no exception escapes), the saved record must say the caller hung up
and at exactly that step, and the dialplan must get ``HOTLINE_IVR_ABANDONED=1``.
"""

from __future__ import annotations

import pytest

from ivr.app import FLOWS
from ivr.call import IvrCall, run_flow
from ivr.records import Outcome
from ivr.store import InMemoryIvrStore, SurveyStatus
from ivr.survey_dialer import SurveyService
from tests.ivr.fake_channel import FakeChannel
from tests.ivr.scenarios import SCENARIOS, Scenario, make_deps


class SteppingChannel(FakeChannel):
    """Notes the flow's current step, and whether the command is a media one, at each command."""

    record = None
    steps: list[tuple[str, bool]]

    def _cmd(self, name: str, arg: str = "", media: bool = True) -> None:
        self.steps.append((self.record.step if self.record else "?", media))
        super()._cmd(name, arg, media)


def noticed_at(steps: list[tuple[str, bool]], k: int) -> str | None:
    """A hang-up during VERBOSE / GET / SET VARIABLE still gets ``200`` (trace 11): the flow
    notices at the next media command. The step of that command, or None if there is none."""
    return next((step for step, media in steps[k:] if media), None)


async def steps_of(sc: Scenario, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    deps = make_deps(known=sc.known)
    if sc.script == "survey":
        await SurveyService(deps).schedule(sc.args[0], "13900000000")
    channel = SteppingChannel(sc.keys, env=sc.env(), variables=sc.channel_vars)
    channel.steps = []
    original = IvrCall.__init__

    def spy(self: IvrCall, ch: SteppingChannel, record: object, d: object) -> None:
        original(self, ch, record, d)  # type: ignore[arg-type]
        ch.record = record  # type: ignore[assignment]

    with monkeypatch.context() as m:
        m.setattr(IvrCall, "__init__", spy)
        record = await run_flow(FLOWS[sc.script], sc.script, channel, deps)
    assert record.outcome == sc.outcome
    return channel.steps


@pytest.mark.parametrize("sc", SCENARIOS, ids=lambda s: s.name)
async def test_hang_up_at_every_command(sc: Scenario, monkeypatch: pytest.MonkeyPatch) -> None:
    steps = await steps_of(sc, monkeypatch)
    assert steps, "flow sent no command"
    for k in range(len(steps)):
        expected_step = noticed_at(steps, k)
        deps = make_deps(known=sc.known)
        if sc.script == "survey":
            await SurveyService(deps).schedule(sc.args[0], "13900000000")
        channel = FakeChannel(sc.keys, env=sc.env(), variables=sc.channel_vars, hang_up_at=k)
        record = await run_flow(FLOWS[sc.script], sc.script, channel, deps)
        where = f"{sc.name}: hang-up at command {k} ({channel.log[k]})"
        if expected_step is None:
            assert not record.hung_up and record.outcome == sc.outcome, where
            continue
        assert record.hung_up, where
        assert record.left_at == expected_step, where
        assert record.outcome != Outcome.ERROR, f"{where}: {record.error}"
        assert record.ended_at is not None
        assert channel.variables.get("HOTLINE_IVR_ABANDONED") == "1", where
        # The flow stopped where it noticed the hang-up: no media command after that one.
        j = next(i for i in range(k, len(steps)) if steps[i][1])
        media_after = [n for n, _ in channel.log[j + 1:]
                       if n not in ("set_variable", "get_variable", "verbose")]
        assert media_after == [], where
        store = deps.store
        assert isinstance(store, InMemoryIvrStore)
        assert store.sessions[(record.call_id, sc.script)] is record, where
        if sc.script == "survey" and record.rating is None and record.outcome == Outcome.HANGUP:
            # Hung up before rating: the survey is rescheduled for another attempt.
            job = await store.survey_for_order(sc.args[0])
            assert job is not None and job.status == SurveyStatus.SCHEDULED, where
            assert job.next_attempt_at is not None and job.next_attempt_at > deps.clock()
