"""Choosing the grading engine: which build runs, and the errors when the one asked for cannot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tierstream.streams import engine

_STATUS = "from tierstream.streams.engine import active_engine; print(active_engine().describe())"


def _python(code: str, builds: Path, mode: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != engine.ENGINE_ENV}
    env[engine.ENGINE_DIR_ENV] = str(builds)
    if mode is not None:
        env[engine.ENGINE_ENV] = mode
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)


def test_auto_without_a_build_runs_the_scorers_as_written(tmp_path: Path) -> None:
    done = _python(_STATUS + "; import tierstream.scorers.engine as e; print(e.__file__)", tmp_path, None)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("interpreted (scorer sources ")
    assert done.stdout.strip().endswith("scorers/engine.py")


def test_compiled_without_a_build_names_the_command_that_makes_one(tmp_path: Path) -> None:
    done = _python("import tierstream", tmp_path, "compiled")
    assert done.returncode != 0
    assert "TIERSTREAM_ENGINE=compiled: no compiled engine for these scorer sources" in done.stderr
    assert "run `tierstream engine build`" in done.stderr


def test_an_unfinished_build_is_never_used(tmp_path: Path) -> None:
    # a build directory without its BUILT mark: interrupted, or still being moved in place
    (tmp_path / engine.sources_hash() / "tierstream" / "scorers").mkdir(parents=True)
    auto = _python(_STATUS, tmp_path, "auto")
    assert auto.returncode == 0, auto.stderr
    assert auto.stdout.startswith("interpreted")
    assert _python("import tierstream", tmp_path, "compiled").returncode != 0


def test_a_build_of_other_sources_is_never_used(tmp_path: Path) -> None:
    stale = tmp_path / "0123456789abcdef"
    (stale / "tierstream" / "scorers").mkdir(parents=True)
    (stale / "BUILT").write_text("sources 0123456789abcdef\n")
    done = _python(_STATUS, tmp_path, None)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("interpreted")


def test_an_unknown_engine_is_refused_by_name(tmp_path: Path) -> None:
    done = _python("import tierstream", tmp_path, "turbo")
    assert done.returncode != 0
    assert "TIERSTREAM_ENGINE='turbo': expected one of auto, interpreted, compiled" in done.stderr


def test_the_sources_hash_follows_every_scorer_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "scorers"
    (copy / "messages").mkdir(parents=True)
    (copy / "__init__.py").write_text("")
    (copy / "tiering.py").write_text("X = 1\n")
    (copy / "messages" / "en.py").write_text("Y = 'a'\n")
    monkeypatch.setattr(engine, "_SCORERS", copy)
    assert [p.relative_to(copy).as_posix() for p in engine.scorer_sources()] == ["messages/en.py", "tiering.py"]
    first = engine.sources_hash()
    (copy / "messages" / "en.py").write_text("Y = 'b'\n")
    second = engine.sources_hash()
    (copy / "__init__.py").write_text("# the package's own __init__ is not compiled\n")
    assert first != second
    assert engine.sources_hash() == second
