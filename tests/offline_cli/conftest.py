"""The seed-3 sample and its default score, made once for the package's tests."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from tests.offline_cli.helpers import SAMPLE_ARGS, Scored, invoke, score


@pytest.fixture(scope="package")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("offline")


@pytest.fixture(scope="package")
def sample(workdir: Path) -> Path:
    path = workdir / "events.jsonl"
    result = invoke("sample", *SAMPLE_ARGS, "--out", path)
    assert result.exit_code == 0, result.output
    assert path.stat().st_size > 0
    return path


@pytest.fixture(scope="package")
def scored(sample: Path, workdir: Path) -> Scored:
    return score(sample, workdir / "default")


@pytest.fixture(scope="package")
def default_rules_path() -> Path:
    return Path(str(resources.files("tierstream.schemas").joinpath("default_rules.yaml")))
