"""One line describing the machine a benchmark ran on (figures differ between machines)."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model() -> str:
    """The CPU model from /proc/cpuinfo (Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe() -> str:
    """``cpu: <model> x<n>, load average <1 min>, Python <version>``."""
    return (f"machine: {cpu_model()} x{os.cpu_count()}, load average {os.getloadavg()[0]:.2f}, "
            f"Python {platform.python_version()}")
