"""Build the compiled engine: the scorer modules compiled by mypyc, kept under their sources' hash.

mypyc compiles the same ``.py`` files the interpreted engine runs (typed
classes and functions become C); nothing is written next to the sources, so
an editable checkout never shadows an edited module with an old build. The
build runs in a scratch copy of the package and is moved into place whole
(``BUILT`` marks it complete), so an interrupted build is never picked up.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import tierstream
from tierstream.streams.engine import build_root, sources_hash

__all__ = ["BuildError", "build_engine", "remove_builds"]

#: the type checker's settings for the build: the pydantic plugin, as the project's mypy runs
#: only the scorers are compiled: what they import is read for its types, its own errors (a library
#: without stubs, say) are not the build's
_MYPY_INI = ("[mypy]\nplugins = pydantic.mypy\nwarn_no_return = False\nignore_missing_imports = True\n"
             "follow_imports = silent\n")


class BuildError(RuntimeError):
    """The compiled engine could not be built (no mypy, no C compiler, a compile error)."""


def _require_tools() -> None:
    try:
        import mypyc  # noqa: F401
    except ImportError as exc:
        raise BuildError("mypyc is not installed: pip install -e '.[compiled]' (it comes with mypy)") from exc
    cc = os.environ.get("CC", "cc")
    if shutil.which(cc.split()[0]) is None:
        raise BuildError(f"no C compiler ({cc!r} not found): install gcc, or keep the interpreted engine")


def build_engine(force: bool = False, say: Callable[[str], None] = lambda line: None) -> Path:
    """Compile the scorers (unless a build of these sources exists) and return the build's directory."""
    digest = sources_hash()
    target = build_root() / digest
    if (target / "BUILT").is_file() and not force:
        say(f"already built for these scorer sources: {target}")
        return target
    _require_tools()
    package = Path(tierstream.__file__).resolve().parent
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tierstream-engine-") as tmp:
        work = Path(tmp)
        shutil.copytree(package, work / "tierstream", symlinks=False,
                        ignore=shutil.ignore_patterns("__pycache__", "*.so", "assets", "sample"))
        (work / "mypy.ini").write_text(_MYPY_INI)
        scorers = work / "tierstream" / "scorers"
        files = sorted(str(p.relative_to(work)) for p in scorers.rglob("*.py") if p != scorers / "__init__.py")
        say(f"compiling {len(files)} scorer modules with mypyc (a few minutes: type check, C, link)")
        log = work / "mypyc.log"
        with log.open("wb") as fh:
            done = subprocess.run([sys.executable, "-m", "mypyc", "--config-file", "mypy.ini", *files],
                                  cwd=work, stdout=fh, stderr=subprocess.STDOUT, check=False)
        if done.returncode != 0:
            tail = log.read_text(errors="replace").strip().splitlines()[-15:]
            raise BuildError("mypyc failed:\n  " + "\n  ".join(tail))
        staging = build_root() / f".{digest}.{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        for so in work.rglob("*.so"):
            rel = so.relative_to(work)
            if rel.parts[0] == "build":
                continue
            (staging / rel.parent).mkdir(parents=True, exist_ok=True)
            shutil.copy2(so, staging / rel)
        shutil.copy2(log, staging / "mypyc.log")
    (staging / "BUILT").write_text(f"sources {digest}\npython {sys.version.split()[0]}\n"
                                   f"modules {len(files)}\nseconds {time.monotonic() - started:.0f}\n")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    say(f"built in {time.monotonic() - started:.0f} s: {target}")
    return target


def remove_builds() -> int:
    """Delete every build (each sources hash); return how many there were."""
    root = build_root()
    if not root.is_dir():
        return 0
    builds = [p for p in root.iterdir() if p.is_dir()]
    for p in builds:
        shutil.rmtree(p)
    return len(builds)
