"""The compiled engine grades exactly as the scorers as written: the same bytes, the same golden tests.

The build is kept under ``~/.cache/tierstream/test-engine`` (``TIERSTREAM_TEST_ENGINE_DIR``),
apart from the builds ``TIERSTREAM_ENGINE=auto`` picks up, so this test never changes the
engine the rest of the suite runs on; it builds once per version of the scorer sources.
Whichever engine the suite runs on, the golden scorer tests and the property tests run here
again on the other.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tierstream.streams.engine import ENGINE_DIR_ENV, ENGINE_ENV, active_engine

pytestmark = [
    pytest.mark.slow_build,
    pytest.mark.skipif(shutil.which(os.environ.get("CC", "cc")) is None,
                       reason="no C compiler: only the interpreted engine can run here"),
]

_ROOT = Path(__file__).resolve().parent.parent
_OUTPUTS = ("state", "changes", "notices", "cases", "audit", "rejects")


def _builds() -> Path:
    configured = os.environ.get("TIERSTREAM_TEST_ENGINE_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "tierstream" / "test-engine"


def _env(mode: str) -> dict[str, str]:
    env = dict(os.environ)
    env[ENGINE_DIR_ENV] = str(_builds())
    env[ENGINE_ENV] = mode
    return env


def _tierstream(mode: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tierstream", *args], env=_env(mode), cwd=cwd,
                          capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the compiled engine (once per version of the scorer sources) and check that it is the one used."""
    cwd = tmp_path_factory.mktemp("engine")
    done = _tierstream("auto", "engine", "build", cwd=cwd)
    assert done.returncode == 0, done.stderr
    status = _tierstream("compiled", "engine", "status", cwd=cwd)
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith("compiled by mypyc"), status.stdout
    return cwd


def _score(mode: str, events: Path, out: Path, *more: str) -> str:
    out.mkdir()
    files = [arg for name in _OUTPUTS for arg in (f"--{'out' if name == 'state' else name}", str(out / name))]
    done = _tierstream(mode, "score", str(events), "--workers", "1", *files, *more, cwd=out)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("language", ["en", "es"])
def test_score_writes_the_same_bytes_on_both_engines(built: Path, tmp_path: Path, language: str) -> None:
    events = tmp_path / "events.jsonl"
    made = _tierstream("interpreted", "sample", "--customers", "600", "--suppliers", "60", "--days", "200",
                       "--seed", "11", "--out", str(events), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    summaries = {mode: _score(mode, events, tmp_path / mode, "--language", language)
                 for mode in ("interpreted", "compiled")}
    assert summaries["compiled"] == summaries["interpreted"]
    for name in _OUTPUTS:
        interpreted = (tmp_path / "interpreted" / name).read_bytes()
        assert interpreted, name
        assert (tmp_path / "compiled" / name).read_bytes() == interpreted, name


def test_the_golden_and_property_tests_pass_on_the_other_engine(built: Path) -> None:
    other = "interpreted" if active_engine().kind == "compiled" else "compiled"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0",
         "tests/scorers", "tests/properties"],
        env=_env(other), cwd=_ROOT, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-4000:]
    assert " passed" in done.stdout.splitlines()[-1]
