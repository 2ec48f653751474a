"""Suppliers on watch and open rectification cases, in ``score --out`` and ``review``: derived by hand below.

The default rules with the supplier section replaced: graded on the on-time rate alone (0..1 -> 0..100),
tiers good 70, qualified 40, unqualified 0; hysteresis: margin 5 (hold lines good 65, qualified 35),
no minimum days, no grace, held at most 30 days; a rectification case has 10 days. Time zone UTC.
Each delivery is of 10, all accepted; "late" is delivered a day after its promise.

* s1: 2025-01-01 two on time (1.0, score 100): good. 2025-01-11 12:00 one late: 2/3 = 66.67, under
  good's 70 but on its hold line 65: held in good, the score alone gives qualified: at_risk (good) and
  supplier_watch (good -> qualified) are in force. q, the last day whose end-of-day score reached 70,
  is 2025-01-10; on the hold line the hold lasts 30 days from q: it lapses on 2025-02-09.
* s2: 2025-01-01 two on time: good. 2025-01-06 12:00 four late, one by one: 2/3 = 66.67 (held in good,
  its watch starts), 2/4 = 50 under the hold line 65: qualified (the watch ends), 2/5 = 40: qualified,
  2/6 = 33.33 under qualified's hold line 35: unqualified, the lowest tier: case sc:s2:1 opens at
  2025-01-06T12:00Z, deadline 00:00 ten days after the opening day: 2025-01-16T00:00Z.

As of 2025-01-12T00:00Z (A): s1 held in good (a held_by_hysteresis row and a supplier_watch row, both
due A), s2's case open (a rectification_open row due at its deadline, in 4.0 days).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.offline_cli.helpers import invoke
from tierstream.schemas.rules import load_rules

AS_OF = "2025-01-12T00:00:00Z"


def _delivery(eid: str, sid: str, at: str, promised: str) -> dict[str, Any]:
    return {"type": "delivery", "event_id": eid, "occurred_at": at, "supplier_id": sid, "order_id": eid,
            "promised_at": promised, "quantity_ordered": 10, "quantity_delivered": 10, "quantity_accepted": 10}


def _on_time(eid: str, sid: str) -> dict[str, Any]:
    return _delivery(eid, sid, "2025-01-01T12:00:00Z", "2025-01-02T00:00:00Z")


EVENTS = [
    _on_time("s1-a", "s1"), _on_time("s1-b", "s1"), _on_time("s2-a", "s2"), _on_time("s2-b", "s2"),
    *(_delivery(f"s2-l{i}", "s2", "2025-01-06T12:00:00Z", "2025-01-05T12:00:00Z") for i in range(4)),
    _delivery("s1-l", "s1", "2025-01-11T12:00:00Z", "2025-01-10T12:00:00Z"),
]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("watch")
    rules = yaml.safe_load(load_rules().model_dump_json())
    rules["version"] = "watch-test"
    rules["supplier"] = {
        "window_days": 180,
        "dimensions": {"on_time": {"metric": "on_time_rate", "weight": 1, "scale": [[0, 0], [1, 100]]}},
        "tiers": [{"name": "good", "min_score": 70}, {"name": "qualified", "min_score": 40},
                  {"name": "unqualified", "min_score": 0}],
        "hysteresis": {"downgrade_margin": 5, "min_days_in_tier": 0, "grace_days": 0, "hold_days": 30},
        "rectification": {"deadline_days": 10},
    }
    (root / "rules.yaml").write_text(yaml.safe_dump(rules))
    (root / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in EVENTS))
    return root / "events.jsonl", root / "rules.yaml"


def test_state_lines_show_the_notices_in_force_and_the_open_case(files: tuple[Path, Path], tmp_path: Path) -> None:
    events, rules = files
    out = tmp_path / "state.jsonl"
    result = invoke("score", events, "--rules", rules, "--as-of", AS_OF, "--out", out)
    assert result.exit_code == 0, result.output
    lines = {d["entity_id"]: d for d in map(json.loads, out.read_text().splitlines())}
    s1, s2 = lines["s1"], lines["s2"]
    assert (s1["tier"], s1["score"], s1["open_case"]) == ("good", 66.67, None)
    assert s1["notices"] == [
        {"kind": "at_risk", "tier": "good", "target_tier": None, "assessment_id": None, "expires_at": None},
        {"kind": "supplier_watch", "tier": "good", "target_tier": "qualified", "assessment_id": None,
         "expires_at": None},
    ]
    assert (s2["tier"], s2["score"], s2["notices"]) == ("unqualified", 33.33, [])
    assert s2["open_case"] == {"case_id": "sc:s2:1", "opened_at": "2025-01-06T12:00:00Z",
                               "deadline": "2025-01-16T00:00:00Z"}


def test_review_lists_the_open_case_and_the_supplier_on_watch(files: tuple[Path, Path]) -> None:
    events, rules = files
    result = invoke("review", events, "--rules", rules, "--as-of", AS_OF, "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]
    assert [(r["due_date"], r["entity_id"], r["kind"], r["tier"]) for r in rows] == [
        ("2025-01-12", "s1", "held_by_hysteresis", "good"),
        ("2025-01-12", "s1", "supplier_watch", "good"),
        ("2025-01-16", "s2", "rectification_open", "unqualified"),
    ]
    _, watch, case = rows
    assert watch["due_at"] == AS_OF
    assert watch["detail"] == ("on watch: its score left good for qualified; score 66.67 under good's minimum 70; "
                               "the downgrade takes effect on 2025-02-09 if nothing changes")
    assert case["due_at"] == "2025-01-16T00:00:00Z"
    assert case["detail"] == ("rectification case sc:s2:1 opened 2025-01-06: re-assessed at its deadline 2025-01-16 "
                              "(in 4.0 days); score 33.33 in unqualified")


def test_after_the_deadline_and_the_lapse_nothing_is_due(files: tuple[Path, Path]) -> None:
    # As of 2025-03-01: s2's case was re-assessed on 2025-01-16 (still unqualified: escalated, closed);
    # s1's hold lapsed on 2025-02-09 (qualified, no longer on watch).
    events, rules = files
    result = invoke("review", events, "--rules", rules, "--as-of", "2025-03-01T00:00:00Z", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["due_date,entity_type,entity_id,kind,tier,detail"]
