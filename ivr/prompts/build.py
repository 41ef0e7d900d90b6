"""Placeholder prompt synthesis: Chinese text → pinyin → espeak-ng → 8 kHz mono 16-bit WAV.

espeak-ng's ``cmn`` voice reads many characters as English letter names, so the text is first
converted to tone-numbered pinyin (pypinyin ``Style.TONE3``) and spoken with ``cmn-latn-pinyin``;
sox then resamples to what Asterisk plays without transcoding (ARCHITECTURE.md, "Known traps").
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

from ivr.prompts import load_manifest

log = logging.getLogger(__name__)

_DIGIT_NAMES = dict(zip("0123456789", ["ling2", "yao1", "er4", "san1", "si4", "wu3", "liu4",
                                       "qi1", "ba1", "jiu3"], strict=True))


class PromptBuildError(RuntimeError):
    """A required tool is missing or failed; the message says which and why."""


def to_pinyin(text: str) -> str:
    """Tone-numbered pinyin for espeak-ng; digits are read one by one, hotline style
    (``12345`` → ``yao1 er4 san1 si4 wu3``), punctuation becomes a pause."""
    from pypinyin import Style, lazy_pinyin

    out: list[str] = []
    for token in lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True,
                             errors="default"):
        if re.fullmatch(r"[a-z]+[1-5]", token):
            out.append(token)
            continue
        for ch in token:  # a non-Han run such as "110，" comes back as one token
            if ch.isdigit():
                out.append(_DIGIT_NAMES[ch])
            elif ch in "，。；：、！？,.;:!?":
                out.append(",")
            elif ch.isalnum():
                out.append(ch)
    return " ".join(out).replace(" ,", ",")


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if not path:
        raise PromptBuildError(f"{tool} not found on PATH (apt-get install {tool})")
    return path


def _run(cmd: list[str]) -> None:
    try:
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    except subprocess.CalledProcessError as exc:
        raise PromptBuildError(f"{cmd[0]} failed: {exc.stderr.decode(errors='replace')}") from exc
    except subprocess.TimeoutExpired as exc:
        raise PromptBuildError(f"{cmd[0]} timed out") from exc


def build_prompts(out_dir: str | Path, ids: Iterable[str] | None = None, *,
                  force: bool = False) -> list[Path]:
    """Synthesize ``<out_dir>/<id>.wav`` for every manifest prompt (or only ``ids``).

    Existing files are kept unless ``force`` (operators replace placeholders with
    recordings). Returns the files written. Raises :class:`PromptBuildError` when espeak-ng or
    sox is missing or fails, and ``KeyError`` for an id that is not in the manifest.
    """
    manifest = load_manifest()
    wanted = list(manifest) if ids is None else list(ids)
    for pid in wanted:
        if pid not in manifest:
            raise KeyError(f"prompt {pid!r} is not in the manifest")
    _need("espeak-ng"), _need("sox")  # fail before touching the output directory
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for pid in wanted:
        target = out / f"{pid}.wav"
        if target.exists() and not force:
            continue
        synthesize(manifest[pid], target)
        written.append(target)
        log.info("prompt %s built", target)
    return written


def synthesize(text: str, target: str | Path, *, speed: int = 150) -> Path:
    """Speak Chinese ``text`` into ``target`` as an 8 kHz mono 16-bit WAV (Asterisk's format).

    espeak-ng's ``cmn`` voice reads many characters as English letter names, so the text is
    turned into pinyin with tone numbers and spoken with ``cmn-latn-pinyin``. The file appears
    whole or not at all.
    """
    espeak, sox = _need("espeak-ng"), _need("sox")
    target = Path(target)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        _run([espeak, "-v", "cmn-latn-pinyin", "-s", str(speed), "-w", str(raw),
              to_pinyin(text)])
        partial = Path(tmp) / "out.wav"
        _run([sox, str(raw), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer",
              str(partial)])
        shutil.move(str(partial), target)  # never leave a half-written file behind
    return target
