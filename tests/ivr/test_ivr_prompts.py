"""Prompt manifest completeness and real placeholder synthesis (espeak-ng + sox)."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from ivr.app import FLOWS
from ivr.call import run_flow
from ivr.prompts import P, all_ids, load_manifest
from ivr.prompts.build import PromptBuildError, build_prompts, to_pinyin
from tests.ivr.fake_channel import FakeChannel
from tests.ivr.scenarios import SCENARIOS, make_deps


def test_every_prompt_constant_is_in_the_manifest() -> None:
    manifest = load_manifest()
    assert set(all_ids()) - set(manifest) == set()
    # ...and the manifest has no entry nobody can refer to.
    assert set(manifest) - set(all_ids()) == set()


async def test_every_prompt_the_flows_play_is_in_the_manifest() -> None:
    manifest = load_manifest()
    played: set[str] = set()
    for sc in SCENARIOS:
        deps = make_deps(known=sc.known)
        channel = FakeChannel(sc.keys, env=sc.env(), variables=sc.channel_vars)
        await run_flow(FLOWS[sc.script], sc.script, channel, deps)
        played.update(channel.prompts)
    assert played - set(manifest) == set()
    # The scenarios exercise nearly every prompt (callback-greeting is the dialplan's).
    assert set(manifest) - played - {P.CALLBACK_GREETING} <= {
        P.status(s) for s in ("accepted", "replied", "not-accepted")} | {P.ALREADY_RATED}


def test_pinyin_reads_digits_one_by_one() -> None:
    assert to_pinyin("拨打110") == "bo1 da3 yao1 yao1 ling2"
    assert to_pinyin("您好，再见。") == "nin2 hao3, zai4 jian4,"


def test_build_two_prompts_for_real(tmp_path: Path) -> None:
    written = build_prompts(tmp_path, [P.GREETING, P.MONTH])
    assert sorted(p.name for p in written) == ["greeting.wav", "month.wav"]
    for path in written:
        with wave.open(str(path)) as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
            assert w.getnframes() > 8000 * 0.2
    # An operator's recording is never overwritten unless asked.
    (tmp_path / "greeting.wav").write_bytes(b"studio recording")
    assert build_prompts(tmp_path, [P.GREETING]) == []
    assert (tmp_path / "greeting.wav").read_bytes() == b"studio recording"


def test_build_refuses_unknown_prompt_and_missing_tools(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(KeyError, match="nope"):
        build_prompts(tmp_path, ["nope"])
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PromptBuildError, match="espeak-ng"):
        build_prompts(tmp_path / "out", [P.DAY])
    assert not (tmp_path / "out").exists()
