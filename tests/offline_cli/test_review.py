"""``tierstream review`` over a hand-made file: the expected rows derived by hand below.

The default rules, time zone UTC; as of 2026-03-01T00:00:00Z (call it A):

* s1: override to ``good`` at A, expiring 2026-03-06T00:00Z = A + 5 days: within 14 days -> a row,
  due 2026-03-06, tier good (the override grades a supplier with no delivery).
* s2: override to ``good``, expiring 2026-04-10T00:00Z = A + 40 days: not within 14 days, within 40.
* s4: override expired 2026-02-28 (before A): no longer in force -> no row.
* c1: prospect 80 for a customer with no order (a newcomer) from 2026-02-01, expiring
  2026-03-10 = A + 9 days -> a row, tier key (80 >= 70).
* s3: delivery 1 on 02-20, on time, 100/100/100: quality 1 -> 100, on-time 1/1 -> 100,
  accuracy 1 -> 100, score 100, ``excellent``. Delivery 2 on 02-25, promised 02-24 (late),
  100/100/100: quality 200/200 -> 100, on-time 1/2 = 0.5 -> 0 (scale [[0.5, 0], ...]),
  accuracy 100; price and service have no evidence, so the weights 0.30, 0.25, 0.15 are
  rescaled over 0.70: (30 + 0 + 15) / 0.70 = 64.2857 -> 64.29, under excellent's 85 (and
  good's 70). The last day whose end-of-day score reached 85 is 02-24; on 03-01 that is
  5 days back, under min_days_in_tier 14: excellent is kept by hysteresis -> a row due A.
  Its score alone gives qualified (64.29 >= 55): a supplier_watch (excellent -> qualified) is in force
  -> a row due A. Excellent is kept until q + 14 = 2026-03-10 (the grace, h + 7 = 03-03, is shorter
  than that): the downgrade takes effect on 2026-03-10.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from tests.offline_cli.helpers import invoke

AS_OF = "2026-03-01T00:00:00Z"


def _override(eid: str, sid: str, at: str, expires: str, tier: str = "good") -> dict[str, Any]:
    return {"type": "assessment", "event_id": eid, "occurred_at": at, "entity_type": "supplier",
            "entity_id": sid, "tier_override": tier, "reason": f"audit of {sid}", "expires_at": expires,
            "author": "ana"}


def _delivery(eid: str, at: str, promised: str) -> dict[str, Any]:
    return {"type": "delivery", "event_id": eid, "occurred_at": at, "supplier_id": "s3", "order_id": eid,
            "promised_at": promised, "quantity_ordered": 100, "quantity_delivered": 100,
            "quantity_accepted": 100}


EVENTS: list[dict[str, Any]] = [
    _override("a1", "s1", "2026-03-01T00:00:00Z", "2026-03-06T00:00:00Z"),
    _override("a2", "s2", "2026-02-15T00:00:00Z", "2026-04-10T00:00:00Z"),
    _override("a4", "s4", "2026-02-01T00:00:00Z", "2026-02-28T00:00:00Z"),
    {"type": "assessment", "event_id": "p1", "occurred_at": "2026-02-01T00:00:00Z", "entity_type": "customer",
     "entity_id": "c1", "prospect_score": 80, "reason": "strong references", "expires_at": "2026-03-10T00:00:00Z",
     "author": "bo"},
    _delivery("d1", "2026-02-20T10:00:00Z", "2026-02-21T00:00:00Z"),
    _delivery("d2", "2026-02-25T10:00:00Z", "2026-02-24T00:00:00Z"),
]


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("review") / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in EVENTS))
    return path


def _json(events: Path, *extra: str) -> dict[str, Any]:
    result = invoke("review", events, "--as-of", AS_OF, "--format", "json", *extra)
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def test_rows_due_within_14_days(events: Path) -> None:
    doc = _json(events)
    assert doc["as_of"] == AS_OF and doc["count"] == 4
    got = [(r["due_date"], r["entity_id"], r["kind"], r["tier"]) for r in doc["rows"]]
    assert got == [
        ("2026-03-01", "s3", "held_by_hysteresis", "excellent"),
        ("2026-03-01", "s3", "supplier_watch", "excellent"),
        ("2026-03-06", "s1", "assessment_expiring", "good"),
        ("2026-03-10", "c1", "assessment_expiring", "key"),
    ]
    held, watch, s1, c1 = doc["rows"]
    assert watch["detail"] == ("on watch: its score left excellent for qualified; score 64.29 under excellent's "
                               "minimum 85; the downgrade takes effect on 2026-03-10 if nothing changes")
    assert held["detail"].startswith("held in excellent by hysteresis: score 64.29 is ")
    assert "points under its minimum 85" in held["detail"]
    assert held["due_at"] == AS_OF
    assert s1["detail"] == ("tier override to good by ana expires 2026-03-06 (in 5.0 days): audit of s1 [a1]")
    assert s1["due_at"] == "2026-03-06T00:00:00Z"
    assert c1["detail"].startswith("prospect assessment 80 by bo expires 2026-03-10 (in 9.0 days)")


def test_within_40_days_takes_the_later_override_too(events: Path) -> None:
    rows = _json(events, "--within-days", "40")["rows"]
    assert [r["entity_id"] for r in rows] == ["s3", "s3", "s1", "c1", "s2"]  # s2: A + 40 days exactly
    assert rows[-1]["due_date"] == "2026-04-10"


def test_entity_type_and_csv_shape(events: Path) -> None:
    result = invoke("review", events, "--as-of", AS_OF, "--format", "csv", "--entity-type", "supplier")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["due_date", "entity_type", "entity_id", "kind", "tier", "detail"]
    assert [r[:5] for r in rows[1:]] == [
        ["2026-03-01", "supplier", "s3", "held_by_hysteresis", "excellent"],
        ["2026-03-01", "supplier", "s3", "supplier_watch", "excellent"],
        ["2026-03-06", "supplier", "s1", "assessment_expiring", "good"],
    ]


def test_table_is_aligned_and_says_when_nothing_is_due(events: Path) -> None:
    result = invoke("review", events, "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["due_date", "entity_type", "entity_id", "kind", "tier", "detail"]
    assert len(lines) == 5
    assert len({line.index(line.split()[3]) for line in lines}) == 1  # the kind column aligned
    # As of 2026-05-01 every assessment has expired, and s3's hold is long over (60 hold days, grace 7).
    later = invoke("review", events, "--as-of", "2026-05-01T00:00:00Z")
    assert later.stdout == "nothing due for review as of 2026-05-01T00:00:00Z\n"


def test_help_teaches_with_an_example() -> None:
    result = invoke("review", "--help")
    assert result.exit_code == 0
    assert "tierstream review events.jsonl --as-of" in result.output
    for kind in ("held_by_hysteresis", "assessment_expiring", "rectification_open", "supplier_watch"):
        assert kind in result.output
