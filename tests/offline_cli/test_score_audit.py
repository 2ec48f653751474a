"""``tierstream score --audit``: the audit record of every manual assessment graded, derived by hand below.

Default rules (supplier tiers excellent, good, qualified, unqualified; no assessed dimension declared;
events more than 24 h ahead of the receiving clock refused). The file, in this order:

* a1: s1 overridden to good: accepted.
* a1 again: a duplicate, recorded once (the first copy has its record).
* o1: an order: not an assessment, no record.
* a2: s1 overridden to gold, not a supplier tier: refused, and rejected with its line.
* p1: a prospect score 75 for c1: accepted.
* m1: a score for market_reputation, which the default rules do not declare: refused with its line.
* f1: a prospect score stamped in 2999: too new, refused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.offline_cli.helpers import invoke


def _assessment(eid: str, kind: str, entity: str, expires: str, at: str = "2025-01-10T00:00:00Z",
                **judgement: Any) -> dict[str, Any]:
    return {"type": "assessment", "event_id": eid, "occurred_at": at, "entity_type": kind, "entity_id": entity,
            "reason": f"review {eid}", "author": "ana", "expires_at": expires, **judgement}


EVENTS = [
    _assessment("a1", "supplier", "s1", "2025-01-15T00:00:00Z", tier_override="good"),
    _assessment("a1", "supplier", "s1", "2025-01-15T00:00:00Z", tier_override="good"),
    {"type": "order", "event_id": "o1", "occurred_at": "2025-01-10T01:00:00Z", "order_id": "o1",
     "customer_id": "c9", "amount": 100.0},
    _assessment("a2", "supplier", "s1", "2025-01-20T00:00:00Z", tier_override="gold"),
    _assessment("p1", "customer", "c1", "2025-01-19T00:00:00Z", prospect_score=75),
    _assessment("m1", "supplier", "s2", "2025-03-01T00:00:00Z", dimension="market_reputation", score=80),
    _assessment("f1", "customer", "c2", "2999-02-01T00:00:00Z", at="2999-01-01T00:00:00Z", prospect_score=60),
]


def _entry(eid: str, kind: str, entity: str, what: str, value: float | str, expires: str, status: str,
           at: str = "2025-01-10T00:00:00Z", dimension: str | None = None) -> dict[str, Any]:
    return {"type": "audit", "event_id": eid, "entity_type": kind, "entity_id": entity, "kind": what,
            "value": value, "dimension": dimension, "author": "ana", "reason": f"review {eid}", "occurred_at": at,
            "expires_at": expires, "status": status}


EXPECTED = [
    _entry("a1", "supplier", "s1", "tier_override", "good", "2025-01-15T00:00:00Z", "accepted"),
    _entry("a2", "supplier", "s1", "tier_override", "gold", "2025-01-20T00:00:00Z",
           "refused: tier_override 'gold' is not a supplier tier (excellent, good, qualified, unqualified)"),
    _entry("p1", "customer", "c1", "prospect_score", 75.0, "2025-01-19T00:00:00Z", "accepted"),
    _entry("m1", "supplier", "s2", "dimension", 80.0, "2025-03-01T00:00:00Z",
           "refused: dimension 'market_reputation' is not an assessed supplier dimension of the rules "
           "(supplier.dimensions with metric: assessed: none declared)", dimension="market_reputation"),
    _entry("f1", "customer", "c2", "prospect_score", 60.0, "2999-02-01T00:00:00Z",
           "refused: occurred_at is more than 24 h ahead", at="2999-01-01T00:00:00Z"),
]


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audit") / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in EVENTS))
    return path


@pytest.mark.parametrize("workers", ["1", "3"])
def test_every_assessment_graded_is_written_once_with_its_status(events: Path, tmp_path: Path, workers: str) -> None:
    audit = tmp_path / "audit.jsonl"
    result = invoke("score", events, "--audit", audit, "--workers", workers)
    assert result.exit_code == 0, result.output
    assert [json.loads(line) for line in audit.read_text().splitlines()] == EXPECTED
    assert "1 duplicates" in result.stderr and "1 too new" in result.stderr  # a1 again; f1


def test_help_names_the_option() -> None:
    result = invoke("score", "--help")
    assert "--audit" in result.output and "refused" in result.output
