"""Rules rollout on a running worker (issue 12, point 7): the real broker, the real Redis.

The worker grades a history under the default rules; then its rules file is
replaced by easier rules with ``regrade: now`` effective at the history's last
event. The changes it makes, caused by ``rules <version>``, are exactly the
movers ``tierstream rules diff`` predicts as of that instant, and ``GET /rules``
serves both versions with their sha256.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.streaming import Stream, offline_snapshot, poll
from tierstream.schemas.outputs import TierChange
from tierstream.schemas.rules import load_rules
from tierstream.streams.client import publish
from tierstream.streams.dev.sample import write_sample
from tierstream.streams.kafka.read import read_to_end
from tierstream.streams.offline.rules_diff import diff_rules
from tierstream.streams.offline.score import OfflineScorer, read_lines, run

pytestmark = pytest.mark.integration

DEFAULT = resources.files("tierstream.schemas").joinpath("default_rules.yaml").read_text("utf-8")



def test_regrade_now_on_a_running_worker_makes_the_predicted_changes(stream: Stream, tmp_path: Path) -> None:
    sample = tmp_path / "events.jsonl"
    write_sample(sample, customers=150, suppliers=10, days=150, seed=12, late_ratio=0)
    latest = run(OfflineScorer(load_rules()), read_lines(sample))
    rules_path = tmp_path / "rules.yaml"
    rules_path.write_text(DEFAULT)
    worker = stream.start_worker(extra_env={"TIERSTREAM_RULES": str(rules_path)})
    assert publish(stream.settings, read_lines(sample)).failed == 0
    stream.wait_for_snapshot(offline_snapshot(sample), 120, "the history graded under the default rules")

    doc: dict[str, Any] = yaml.safe_load(DEFAULT)
    doc["customer"]["tiers"][0]["min_score"] = 60
    doc["customer"]["tiers"][1]["min_score"] = 30
    doc.update({"version": "easier-2027", "regrade": "now",
                "effective_from": datetime.fromtimestamp(latest, UTC).isoformat()})
    new_path = tmp_path / "new.yaml"
    new_path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    prediction = diff_rules(load_rules(rules_path), load_rules(new_path), sample, latest)
    predicted = {(m["entity_type"], m["entity_id"]): (m["from"], m["to"]) for m in prediction.movers}
    assert len(predicted) >= 5
    new_path.replace(rules_path)  # the push: the worker watches its rules file

    def made() -> dict[tuple[str, str], tuple[str | None, str]]:
        topic = stream.settings.topic("tier-changes")
        changes = [TierChange.model_validate_json(r.value) for r in read_to_end(stream.settings, topic, timeout_s=20)]
        return {(c.entity_type, c.entity_id): (c.previous_tier, c.tier) for c in changes
                if c.cause == "rules easier-2027"}

    poll(lambda: made() == predicted, 90, "the re-grade's changes == the rules diff's movers")
    with urllib.request.urlopen(f"http://127.0.0.1:{worker.port}/rules", timeout=5) as r:
        served = json.loads(r.read())
    assert served["rules_version"] == "easier-2027" and served["rules_pending"] is None
    # the file the worker started with is the packaged one, byte for byte: the same sha256
    assert [(v["version"], v["sha256"]) for v in served["history"]] == [
        (load_rules().version, load_rules().sha256), ("easier-2027", load_rules(rules_path).sha256)]
