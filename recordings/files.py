"""Recording files on disk: safe paths inside the recordings directory and their facts."""

from __future__ import annotations

import hashlib
import posixpath
import wave
from dataclasses import dataclass
from pathlib import Path, PurePosixPath


class PathEscapeError(ValueError):
    """A path from Asterisk that points outside the recordings directory."""


def relative_path(root: Path, path: str, asterisk_dir: str | None = None) -> str:
    """The path of a recording relative to ``root``, or PathEscapeError.

    Asterisk announces absolute paths in its own file system (``RECDIR``, by default
    ``/var/spool/asterisk/monitor``). Without ``asterisk_dir`` that is the directory ``root``
    itself: an absolute path must lie inside ``root``. With ``asterisk_dir`` (Asterisk's name of
    the directory mounted at ``root`` on this machine) an absolute path must lie inside
    ``asterisk_dir`` (after collapsing ``..``) and is mapped onto ``root``; any other absolute
    path is refused. Relative paths are taken relative to ``root``. In every case the result is
    resolved (symlinks followed) and must stay inside ``root``."""
    if not path or "\x00" in path:
        raise PathEscapeError(f"invalid recording path {path!r}")
    p = PurePosixPath(path)
    if asterisk_dir and p.is_absolute():
        base = PurePosixPath(posixpath.normpath(asterisk_dir))
        mapped = PurePosixPath(posixpath.normpath(path))
        if not mapped.is_relative_to(base) or mapped == base:
            raise PathEscapeError(f"recording path {path!r} is outside Asterisk's recordings "
                                  f"directory {asterisk_dir}")
        p = mapped.relative_to(base)
    root_r = root.resolve()
    full = (root_r / p).resolve() if not p.is_absolute() else Path(str(p)).resolve()
    if not full.is_relative_to(root_r) or full == root_r:
        raise PathEscapeError(f"recording path {path!r} is outside the recordings directory")
    return full.relative_to(root_r).as_posix()


def absolute_path(root: Path, relative: str) -> Path:
    """The absolute path of a stored relative path (checked again: the database is not trusted
    more than Asterisk)."""
    return root.resolve() / relative_path(root, relative)


@dataclass(frozen=True)
class FileFacts:
    """What the registry records about a file."""

    size_bytes: int
    duration_s: float
    sample_rate: int
    sha256: str


def inspect(path: Path) -> FileFacts:
    """Size, WAV duration and rate, sha256. Raises FileNotFoundError, or ValueError when the file
    is not a readable WAV (the header of a file still being written may be incomplete)."""
    size = path.stat().st_size
    try:
        with wave.open(str(path), "rb") as w:
            rate = w.getframerate()
            duration = w.getnframes() / rate if rate else 0.0
    except (wave.Error, EOFError) as exc:
        raise ValueError(f"{path.name}: not a readable WAV file ({exc})") from exc
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 16), b""):
            digest.update(block)
    return FileFacts(size, round(duration, 3), rate, digest.hexdigest())
