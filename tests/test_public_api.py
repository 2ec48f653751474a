"""The public API (``tierstream/__init__.py``), ``score_file``, and the README's "Python API" that shows them.

``score_file`` is checked against ``tierstream score`` itself: the same sample,
the same bytes in ``--out`` and ``--changes``, for one process and several.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import io
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner

import tierstream
from tierstream.schemas.errors import InputError, TierstreamError
from tierstream.streams.cli.main import main
from tierstream.streams.dev.sample import write_sample

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def readme_blocks(section: str) -> list[str]:
    """The ```python blocks of one ``## section`` of the README, in order."""
    text = README.read_text("utf-8")
    start = text.index(f"\n## {section}\n")
    end = text.find("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", text[start : end if end != -1 else len(text)], re.S)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("api") / "events.jsonl"
    write_sample(path, customers=150, suppliers=20, days=90, seed=5, invalid_ratio=0.01)  # some invalid lines
    return path


@pytest.fixture(scope="module")
def cli_score(sample: Path) -> tuple[bytes, bytes]:
    """``tierstream score --out --changes`` on the sample: (state bytes, changes bytes)."""
    state, changes = sample.with_name("cli-state.jsonl"), sample.with_name("cli-changes.jsonl")
    res = CliRunner().invoke(main, ["score", str(sample), "--out", str(state), "--changes", str(changes),
                                    "--workers", "1"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return state.read_bytes(), changes.read_bytes()


# --------------------------------------------------------------------------- import tierstream


def test_import_tierstream_loads_nothing_until_a_name_is_used() -> None:
    probe = (
        "import json, sys\n"
        "def loaded():\n"
        "    return sorted({m.split('.')[0] for m in sys.modules} & {'faust', 'kafka', 'aiokafka', 'pydantic'})\n"
        "import tierstream\n"
        "steps = [loaded(), sorted(m for m in sys.modules if m.startswith('tierstream.'))]\n"
        "tierstream.score_file, tierstream.load_rules, tierstream.Settings, tierstream.Grader\n"
        "steps.append(loaded())\n"
        "tierstream.TierChangeSubscriber\n"
        "steps.append(loaded())\n"
        "print(json.dumps(steps))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "TIERSTREAM_ENGINE": "interpreted"}
    out = subprocess.run([sys.executable, "-c", probe], env=env, cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    bare, submodules, offline, client = json.loads(out)
    # only the engine's choice (standard library only), made before any scorer is imported
    assert bare == [] and submodules == ["tierstream.streams", "tierstream.streams.engine"]
    assert offline == ["pydantic"]  # the offline names never load the Kafka client or Faust
    assert "kafka" in client and "faust" not in client


#: where each public name is defined (the client's modules may be split further)
HOMES = {
    "EntitySnapshot": "tierstream.schemas.outputs",
    "Grader": "tierstream.scorers.engine",
    "Rules": "tierstream.schemas.rules",
    "ScoreResult": "tierstream.streams.offline.scoring",
    "Settings": "tierstream.schemas.settings",
    "TierChange": "tierstream.schemas.outputs",
    "TierChangeSubscriber": "tierstream.streams.client",
    "TierstreamError": "tierstream.schemas.errors",
    "load_rules": "tierstream.schemas.rules",
    "publish": "tierstream.streams.client",
    "score_file": "tierstream.streams.offline.scoring",
    "snapshot": "tierstream.streams.client",
    "watch": "tierstream.streams.client",
}


def test_all_is_the_public_api() -> None:
    assert sorted(tierstream.__all__) == sorted([*HOMES, "__version__"])


@pytest.mark.parametrize("name", sorted(HOMES))
def test_every_public_name_is_the_object_defined_in_its_home(name: str) -> None:
    obj = getattr(tierstream, name)
    assert obj.__name__ == name and obj.__module__.startswith(HOMES[name])
    assert getattr(importlib.import_module(obj.__module__), name) is obj
    assert vars(tierstream)[name] is obj  # kept after the first use


def test_version_dir_and_unknown_names() -> None:
    assert tierstream.__version__ == importlib.metadata.version("tierstream")
    assert set(tierstream.__all__) <= set(dir(tierstream))
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        tierstream.no_such_name  # noqa: B018


# --------------------------------------------------------------------------- score_file


@pytest.mark.parametrize("workers", [1, 2])
def test_score_file_writes_what_the_cli_writes(sample: Path, cli_score: tuple[bytes, bytes], workers: int) -> None:
    changes, state = io.BytesIO(), io.BytesIO()
    read: list[int] = []
    res = tierstream.score_file(sample, workers=workers, changes_out=changes, on_progress=read.append)
    res.write_state(state)
    assert (state.getvalue(), changes.getvalue()) == cli_score
    assert res.processes == workers and res.fell_back is None
    assert sum(read) == sample.stat().st_size and all(n > 0 for n in read)
    snaps = list(res.snapshots())
    assert [(s.entity_type, s.entity_id) for s in snaps] == [key for key, _, _ in res.rows]
    assert sum(res.tiers().values()) == len(snaps) and res.report.invalid > 0


def test_score_file_takes_as_of_as_an_aware_datetime_or_epoch_seconds(sample: Path) -> None:
    when = datetime(2026, 9, 1, tzinfo=UTC)
    by_datetime = tierstream.score_file(str(sample), tierstream.load_rules(), as_of=when, workers=1)
    by_epoch = tierstream.score_file(sample, as_of=int(when.timestamp()), workers=1)
    assert by_datetime.as_of == by_epoch.as_of == int(when.timestamp())
    assert by_datetime.rows == by_epoch.rows and by_datetime.report.after_as_of > 0
    with pytest.raises(ValueError, match="no timezone"):
        tierstream.score_file(sample, as_of=datetime(2026, 9, 1), workers=1)


def test_score_file_strict_raises_at_the_first_invalid_line(sample: Path) -> None:
    with pytest.raises(InputError, match=r"^line \d+: ") as info:
        tierstream.score_file(sample, strict=True, workers=4)  # strict runs in one process
    assert isinstance(info.value, TierstreamError)


# --------------------------------------------------------------------------- the README


def test_readme_python_api_offline_example_runs(sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    offline, _ = readme_blocks("Python API")
    shutil.copy(sample, tmp_path / "events.jsonl")
    shutil.copy(str(resources.files("tierstream.schemas").joinpath("default_rules.yaml")), tmp_path / "my_rules.yaml")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(offline, "README.md (Python API, offline)", "exec"), namespace)
    result = namespace["result"]
    assert isinstance(result, tierstream.ScoreResult)
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == result.report.summary()
    assert len(printed) == 1 + len(result.tiers())
    keys = {s.entity_id for s in result.snapshots() if s.tier == "key"}
    assert namespace["key_customers"] == sorted(keys) and keys


def test_readme_python_api_streaming_example_compiles_and_uses_public_names() -> None:
    _, streaming = readme_blocks("Python API")
    compile(streaming, "README.md (Python API, streaming)", "exec")
    imported = {alias.name for node in ast.walk(ast.parse(streaming)) if isinstance(node, ast.ImportFrom)
                for alias in node.names if node.module == "tierstream"}
    assert imported == {"Settings", "TierChangeSubscriber", "publish"}
    assert imported <= set(tierstream.__all__)
