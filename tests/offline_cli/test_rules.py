"""``tierstream rules``: diff against the default, check; bad rules refused before any reading."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from tests.offline_cli.helpers import GOLDEN_ENTITIES, GOLDEN_TIERS, Scored, invoke


@pytest.fixture(scope="module")
def key80(workdir: Path, default_rules_path: Path) -> Path:
    doc = yaml.safe_load(default_rules_path.read_text("utf-8"))
    doc["version"] = "key-80"
    doc["customer"]["tiers"][0]["min_score"] = 80
    doc["customer"]["groups"]["wholesale"]["tiers"][0]["min_score"] = 80
    path = workdir / "key80.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    return path


def test_rules_diff_reports_fewer_key_customers(sample: Path, default_rules_path: Path, key80: Path,
                                                 scored: Scored) -> None:
    res = invoke("rules", "diff", default_rules_path, key80, sample, "--json")
    assert res.exit_code == 0, res.stderr
    doc = orjson.loads(res.stdout)
    assert doc["old_version"] == "2026.11-default" and doc["new_version"] == "key-80"
    assert doc["entities"] == GOLDEN_ENTITIES
    before, after = doc["before"], doc["after"]
    assert before == {f"{k}/{t}": n for (k, t), n in sorted(GOLDEN_TIERS.items())}
    assert after["customer/key"] < before["customer/key"]
    assert after["customer/general"] - before["customer/general"] == before["customer/key"] - after["customer/key"]
    assert {k: v for k, v in after.items() if k.startswith("supplier/")} == {
        k: v for k, v in before.items() if k.startswith("supplier/")}
    movers = doc["movers"]
    assert len(movers) == before["customer/key"] - after["customer/key"]
    key_now = {s["entity_id"] for s in scored.snapshots() if s["tier"] == "key"}
    for m in movers:
        assert (m["entity_type"], m["from"], m["to"]) == ("customer", "key", "general")
        assert m["entity_id"] in key_now
        assert m["score_before"] < 80

    text = invoke("rules", "diff", default_rules_path, key80, sample)
    assert text.exit_code == 0
    assert f"rules 2026.11-default -> key-80: {GOLDEN_ENTITIES:,} entities, {len(movers)} would move" in text.stdout
    assert re.search(rf"^\s+customer\s+key\s+{before['customer/key']}\s+{after['customer/key']}\s+-\d+$",
                     text.stdout, re.M)
    assert "movers (largest score change first):" in text.stdout
    for m in movers:
        assert f"customer {m['entity_id']}: key -> general" in text.stdout


def test_rules_diff_is_the_same_on_any_number_of_processes(sample: Path, default_rules_path: Path,
                                                           key80: Path) -> None:
    one = invoke("rules", "diff", default_rules_path, key80, sample, "--json", "--workers", "1")
    three = invoke("rules", "diff", default_rules_path, key80, sample, "--json", "--workers", "3")
    assert one.exit_code == three.exit_code == 0, one.stderr + three.stderr
    assert orjson.loads(one.stdout)["movers"]  # something moves, and identically
    assert one.stdout == three.stdout


def test_rules_diff_of_identical_rules_moves_nobody(sample: Path, default_rules_path: Path) -> None:
    res = invoke("rules", "diff", default_rules_path, default_rules_path, sample, "--json")
    doc = orjson.loads(res.stdout)
    assert doc["movers"] == [] and doc["before"] == doc["after"]


def test_rules_check_accepts_the_default(default_rules_path: Path) -> None:
    res = invoke("rules", "check", default_rules_path)
    assert res.exit_code == 0
    sha = hashlib.sha256(default_rules_path.read_bytes()).hexdigest()
    assert f"OK (version 2026.11-default, sha256 {sha[:12]}..., in force at once, regrade next_event)" in res.stdout
    assert "tiers key 70 > general 40 > potential 0" in res.stdout


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["customer"]["dimensions"]["recency"].update(weight=0.3),
         "customer: dimension weights must sum to 1"),
        (lambda d: d["supplier"]["dimensions"]["quality"].update(metric="defects"),
         "supplier.dimensions.quality: unknown metric 'defects'"),
        (lambda d: d["customer"]["tiers"][1].update(min_score=70), "customer.tiers: tiers overlap"),
    ],
    ids=["weights", "metric", "overlap"],
)
def test_rules_check_refuses_a_bad_file(tmp_path: Path, default_rules_path: Path, edit: Any, message: str) -> None:
    doc = yaml.safe_load(default_rules_path.read_text("utf-8"))
    edit(doc)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    res = invoke("rules", "check", bad)
    assert res.exit_code != 0
    assert f"{bad}: invalid rules" in res.stderr
    assert message in res.stderr


def test_rules_check_refuses_broken_yaml(tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text("customer: [\n", "utf-8")
    res = invoke("rules", "check", bad)
    assert res.exit_code != 0
    assert f"{bad}: not valid YAML" in res.stderr


def test_score_with_bad_rules_fails_before_reading(sample: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: x\n", "utf-8")
    res = invoke("score", sample, "--rules", bad, "--out", tmp_path / "s.jsonl")
    assert res.exit_code != 0
    assert "invalid rules" in res.stderr
    assert not (tmp_path / "s.jsonl").exists()
