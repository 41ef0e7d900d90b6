"""Which database the service uses: ``DATABASE_URL``, or the embedded cluster under the data dir."""

from __future__ import annotations

from pathlib import Path

from hotline.pgembed import EmbeddedPostgres
from hotline.settings import Settings

KEEP_RUNNING_MARK = "keep-running"
"""File in the cluster directory: present after ``hotline db start`` (the operator owns the
server's lifetime); absent when ``serve`` started it (then ``serve`` stops it on exit)."""


def embedded(settings: Settings) -> EmbeddedPostgres:
    """The embedded cluster of these settings."""
    return EmbeddedPostgres(Path(settings.data_dir) / "pg")


def database_url(settings: Settings) -> str:
    """URL of the configured database (the embedded one need not be running yet)."""
    return settings.database.url or embedded(settings).url()
