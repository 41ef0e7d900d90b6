"""A fake recognizer for tests and for running without a model (``[stt] model_dir`` unset in
development). It reads the WAV exactly like the real one (so a corrupt file fails the same way)
and takes its words from a sidecar file ``<recording>.words.json``:
``[{"text": "...", "start": 0.5, "end": 2.0}, ...]`` (one entry per utterance)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

from recordings.stt import Partial, Segment, Word, read_pcm


def sidecar(path: Path) -> Path:
    """The scripted words of ``path``."""
    return path.with_name(path.name + ".words.json")


class FakeTranscriber:
    """Scripted transcription; ``cpu_seconds_per_audio_second`` makes it take time like Vosk."""

    def __init__(self, cpu_seconds_per_audio_second: float = 0.0) -> None:
        self.rtf = cpu_seconds_per_audio_second

    def transcribe(self, path: Path) -> list[Segment]:
        """Segments from the sidecar; AudioFormatError for unreadable audio."""
        path = Path(path)
        rate, pcm = read_pcm(path)
        if self.rtf:
            time.sleep(self.rtf * len(pcm) / 2 / rate)
        side = sidecar(path)
        if not side.exists():
            return []
        out = []
        for u in json.loads(side.read_text(encoding="utf-8")):
            tokens = str(u["text"]).split()
            start, end = float(u["start"]), float(u["end"])
            step = (end - start) / max(len(tokens), 1)
            words = tuple(Word(t, start + i * step, start + (i + 1) * step)
                          for i, t in enumerate(tokens))
            out.append(Segment(str(u["text"]), words, start, end))
        return out


class FakeStream:
    """Live fake: one scripted word per ``bytes_per_word`` of audio, a final every
    ``words_per_final`` words."""

    def __init__(self, words: Sequence[str], bytes_per_word: int = 8000,
                 words_per_final: int = 3) -> None:
        self._words = list(words)
        self._per_word = bytes_per_word
        self._per_final = words_per_final
        self._bytes = 0
        self._pending: list[str] = []
        self._t = 0.0

    def accept(self, pcm: bytes) -> list[Segment | Partial]:
        """Feed audio."""
        out: list[Segment | Partial] = []
        self._bytes += len(pcm)
        while self._bytes >= self._per_word and self._words:
            self._bytes -= self._per_word
            self._pending.append(self._words.pop(0))
            if len(self._pending) >= self._per_final:
                out.append(self._final())
            else:
                out.append(Partial(" ".join(self._pending)))
        return out

    def _final(self) -> Segment:
        seconds = self._per_word / 16000
        words = tuple(Word(w, self._t + i * seconds, self._t + (i + 1) * seconds)
                      for i, w in enumerate(self._pending))
        seg = Segment(" ".join(self._pending), words, words[0].start, words[-1].end)
        self._t = words[-1].end
        self._pending = []
        return seg

    def finish(self) -> list[Segment]:
        """Whatever is pending."""
        return [self._final()] if self._pending else []
