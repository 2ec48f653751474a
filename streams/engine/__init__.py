"""Choose the grading engine at import: the scorers as written, or their compiled build.

The compiled engine is the same ``scorers/`` modules compiled by mypyc
(:mod:`streams.engine.build`, ``tierstream engine build``): one source of
truth, no second implementation. A build is kept under a directory named by
the hash of the sources it was made from, so an edited scorer never runs
stale native code: its hash names no build, and the interpreted modules run
until the next build.

``TIERSTREAM_ENGINE`` picks: ``auto`` (the default: compiled when a build of
these sources exists), ``interpreted``, or ``compiled`` (an error when no build
of these sources exists). It is read here, from the environment, because it
must act before the first scorer is imported, before any settings object.
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = [
    "ENGINE_ENV",
    "EngineError",
    "EngineInfo",
    "active_engine",
    "build_root",
    "scorer_sources",
    "select_engine",
    "sources_hash",
]

ENGINE_ENV = "TIERSTREAM_ENGINE"
#: where builds are kept (default ``${XDG_CACHE_HOME:-~/.cache}/tierstream/engine``)
ENGINE_DIR_ENV = "TIERSTREAM_ENGINE_DIR"
_MODES = ("auto", "interpreted", "compiled")
#: the scorers package as installed (``tierstream/scorers``), found without importing it
_SCORERS = Path(__file__).resolve().parent.parent.parent / "scorers"

Engine = Literal["interpreted", "compiled"]


class EngineError(RuntimeError):
    """The engine asked for cannot run (no build of these sources, an unknown mode)."""


@dataclass(frozen=True)
class EngineInfo:
    """Which engine grades in this process, and the build it came from (compiled only)."""

    kind: Engine
    build: Path | None = None

    def describe(self) -> str:
        """Say it in one line, as ``tierstream engine status`` prints it."""
        if self.build is None:
            return f"interpreted (scorer sources {sources_hash()})"
        return f"compiled by mypyc (scorer sources {self.build.name}; build {self.build})"


def scorer_sources() -> list[Path]:
    """Return every scorer module compiled into the engine (the package's own ``__init__`` stays interpreted)."""
    return sorted(p for p in _SCORERS.rglob("*.py") if p != _SCORERS / "__init__.py")


def sources_hash() -> str:
    """Return the hash naming a build: the scorer sources, their paths, and the Python version."""
    h = hashlib.blake2b(digest_size=8)
    h.update(f"{sys.implementation.cache_tag}\n".encode())
    for p in scorer_sources():
        h.update(p.relative_to(_SCORERS).as_posix().encode() + b"\0")
        h.update(p.read_bytes() + b"\0")
    return h.hexdigest()


def build_root() -> Path:
    """Return the directory that holds the builds, one per sources hash."""
    configured = os.environ.get(ENGINE_DIR_ENV)
    if configured:
        return Path(configured)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "tierstream" / "engine"


def _complete(build: Path) -> bool:
    return (build / "BUILT").is_file()


_active: EngineInfo | None = None


def select_engine() -> EngineInfo:
    """Put the compiled build first on the scorers' import path when one fits (see the module); once per process.

    Raises :class:`EngineError` for ``TIERSTREAM_ENGINE=compiled`` without a build
    of these sources, or an unknown mode.
    """
    global _active
    if _active is not None:
        return _active
    mode = os.environ.get(ENGINE_ENV, "auto").strip().lower() or "auto"
    if mode not in _MODES:
        raise EngineError(f"{ENGINE_ENV}={mode!r}: expected one of {', '.join(_MODES)}")
    if mode == "interpreted" or (mode == "auto" and not build_root().is_dir()):
        _active = EngineInfo("interpreted")
        return _active
    digest = sources_hash()
    build = build_root() / digest
    if not _complete(build):
        if mode == "compiled":
            raise EngineError(f"{ENGINE_ENV}=compiled: no compiled engine for these scorer sources ({digest}) "
                              f"under {build_root()}; run `tierstream engine build`")
        _active = EngineInfo("interpreted")
        return _active
    import tierstream.scorers as package

    if any(name.startswith("tierstream.scorers.") for name in sys.modules):
        raise EngineError("the compiled engine must be chosen before any scorer module is imported")
    sys.path.append(str(build))  # the build's shared runtime library, a top-level module
    package.__path__.insert(0, str(build / "tierstream" / "scorers"))
    _active = EngineInfo("compiled", build)
    return _active


def active_engine() -> EngineInfo:
    """Return the engine of this process (chosen on first use if nothing imported a scorer yet)."""
    return select_engine()
