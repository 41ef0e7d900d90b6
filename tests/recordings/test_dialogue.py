"""Merging the two directions into one dialogue; the scripted recognizer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recordings.fake_stt import FakeTranscriber, sidecar
from recordings.stt import (
    AudioFormatError,
    Segment,
    Word,
    citizen_text,
    merge_dialogue,
    read_pcm,
)
from tests.recordings.conftest import write_wav


def seg(text: str, start: float, end: float) -> Segment:
    return Segment(text, (Word(text, start, end),), start, end)


def test_merge_orders_by_time_with_labels() -> None:
    lines = merge_dialogue({
        "agent": [seg("您好", 0.0, 0.5), seg("好的", 3.0, 3.4)],
        "citizen": [seg("我要投诉", 0.8, 2.0), seg("谢谢", 3.0, 3.2)],
    })
    assert [(ln.speaker, ln.segment.text) for ln in lines] == [
        ("agent", "您好"), ("citizen", "我要投诉"), ("citizen", "谢谢"), ("agent", "好的")]
    assert citizen_text(lines) == "我要投诉。谢谢"
    assert lines[1].to_dict()["words"] == [{"word": "我要投诉", "start": 0.8, "end": 2.0,
                                            "conf": 1.0}]


def test_merge_of_one_side_only() -> None:
    assert [ln.speaker for ln in merge_dialogue({"citizen": [seg("喂", 0, 1)], "agent": []})] \
        == ["citizen"]


def test_segment_from_vosk_result() -> None:
    result = {"text": "안녕하세요 병원", "result": [
        {"word": "안녕하세요", "start": 0.24, "end": 1.47, "conf": 0.9},
        {"word": "병원", "start": 3.75, "end": 4.5, "conf": 1.0}]}
    s = Segment.from_vosk(result)
    assert s is not None and (s.start, s.end) == (0.24, 4.5) and len(s.words) == 2
    assert Segment.from_vosk({"text": ""}) is None


def test_fake_transcriber_reads_sidecar_and_rejects_corrupt(tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "x-in.wav", bytes(16000))
    sidecar(wav).write_text(json.dumps([{"text": "你好 请问", "start": 0.1, "end": 0.9}],
                                       ensure_ascii=False), encoding="utf-8")
    [s] = FakeTranscriber().transcribe(wav)
    assert [w.word for w in s.words] == ["你好", "请问"] and s.words[1].end == pytest.approx(0.9)
    assert read_pcm(wav) == (8000, bytes(16000))
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"\x00" * 10)
    with pytest.raises(AudioFormatError, match="not a readable WAV"):
        FakeTranscriber().transcribe(bad)
    with pytest.raises(AudioFormatError, match="not found"):
        FakeTranscriber().transcribe(tmp_path / "nope.wav")
    with pytest.raises(AudioFormatError, match="expected 16000"):
        read_pcm(wav, expected_rate=16000)
