"""`tierstream bench` end to end with tiny sizes: it runs and writes every headline key (no timing checks)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tierstream.streams.cli.main import main

pytestmark = pytest.mark.integration

KEYS = ("raw_eps", "pipeline_eps", "ratio", "quix_eps", "vs_quix", "offline_eps", "p50_ms", "p99_ms",
        "bytes_per_entity", "ready_s", "recovery_s", "two_workers_eps", "rekeyed_eps", "rekeyed_ratio", "machine",
        "versions")


def test_bench_smoke(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(main, [
        "bench", "--customers", "150", "--suppliers", "10", "--days", "30", "--modes", "batch",
        "--latency-seconds", "1", "--recovery-entities", "500", "--two-workers-max-s", "10",
        "--rekeyed", "--budget-s", "240", "--workdir", str(tmp_path / "work"), "--json", str(out),
    ])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert all(k in doc for k in KEYS), sorted(set(KEYS) - set(doc))
    assert {"cpu_count", "cpu_model", "python", "platform"} <= set(doc["machine"])
    assert {"faust", "aiokafka", "kafka-python", "tansu"} <= set(doc["versions"])
    assert doc["phases"]["pipeline-batch"]["complete"] is True
    assert doc["phases"]["pipeline-batch"]["events_rekeyed"] == 0  # keyed by entity: no hop
    rekeyed = doc["phases"]["rekeyed"]
    assert rekeyed["complete"] is True and rekeyed["hops"] > 0
    assert rekeyed["events_rekeyed"] == rekeyed["hops"]  # every event off its partition took the hop once
    pipeline = doc["phases"]["pipeline-batch"]
    quix = doc["phases"]["quix"]  # Quix Streams running the same Processor over the same topics
    assert quix["complete"] is True, quix
    assert quix["events"] == pipeline["published"]  # every inbound message, each once
    assert quix["per_topic"] == pipeline["published_per_topic"]
    assert quix["tier_changes"] > 0 and quix["events_rekeyed"] == 0
    assert doc["quix_eps"] is not None and doc["vs_quix"] is not None
    assert "pipeline (batch, 1 worker)" in result.stdout and "re-keyed (batch, 1 worker)" in result.stdout
    assert "Quix Streams, same Processor" in result.stdout


def test_offline_floor_smoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks.offline_floor import main as floor

    assert floor(["--customers", "60", "--suppliers", "5", "--days", "20", "--workdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    grades = int(out.split(" grades)")[0].rsplit("events/s, ", 1)[1].replace(",", ""))
    assert grades > 0
    assert "floor (1 + 2 + 3)" in out and "budget at 100,000 events/s" in out
