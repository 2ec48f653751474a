"""``tierstream score`` on the sample: the golden summary, the state and change files, the rejected lines."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.offline_cli.helpers import (
    CUSTOMER_AGGREGATES,
    GOLDEN_AS_OF,
    GOLDEN_ENTITIES,
    GOLDEN_REJECTED,
    GOLDEN_TIERS,
    REJECTED,
    SNAPSHOT_KEYS,
    SUPPLIER_AGGREGATES,
    Scored,
    distribution,
)
from tierstream.schemas.events import INBOUND_ADAPTER
from tierstream.schemas.outputs import UNGRADED, EntitySnapshot, TierChange


def test_score_exits_zero_and_summarises(scored: Scored) -> None:
    res = scored.result
    assert res.exit_code == 0, res.stderr
    assert res.stdout == ""  # everything human goes to stderr
    assert re.search(r"[\d,]+ lines in [\d.]+s", res.stderr)
    assert f"{GOLDEN_REJECTED} rejected" in res.stderr
    assert f"{GOLDEN_ENTITIES:,} entities" in res.stderr


def test_state_has_one_line_per_entity_with_required_keys(scored: Scored) -> None:
    snaps = scored.snapshots()
    keys = [(s["entity_type"], s["entity_id"]) for s in snaps]
    assert len(keys) == len(set(keys)) == GOLDEN_ENTITIES
    assert keys == sorted(keys)  # deterministic file order
    for s in snaps:
        assert set(s) == SNAPSHOT_KEYS
        EntitySnapshot.model_validate(s)
        assert set(s["window"]) == {"days", "start", "end"}
        assert s["as_of"] == GOLDEN_AS_OF
        assert s["window"]["end"] == GOLDEN_AS_OF[:10]
        assert 0 <= s["score"] <= 100
        if s["entity_type"] == "customer":
            assert set(s["aggregates"]) >= CUSTOMER_AGGREGATES
            assert s["window"]["days"] == 365
        else:
            assert set(s["aggregates"]) >= SUPPLIER_AGGREGATES
            assert s["window"]["days"] == 180
            assert s["segment"] is None
        top = "key" if s["entity_type"] == "customer" else "excellent"
        assert (s["tier"] == UNGRADED) == (s["ungraded_reason"] is not None)
        if s["tier"] == UNGRADED:
            assert s["next_tier"] is None
        elif s["tier"] == top:  # nothing above; held under its minimum: the way back to it
            nt = s["next_tier"]
            assert nt is None or (nt["tier"] == top and nt["keep_gap"] == nt["score_gap"] > 0)
        else:
            assert s["next_tier"] is not None
            assert {"tier", "score_gap", "hints"} <= set(s["next_tier"])


def test_customer_aggregates_are_consistent(scored: Scored) -> None:
    for s in scored.snapshots():
        if s["entity_type"] != "customer":
            continue
        a = s["aggregates"]
        assert a["order_count"] >= 0 and a["late_payments"] >= 0 and a["qualified_referrals"] >= 0
        assert a["late_payments"] <= a["payments"]
        if a["late_payments"] == 0:
            assert a["avg_days_late"] == 0.0
        else:
            assert a["avg_days_late"] >= 1
        if a["first_order_at"] is not None:
            assert a["first_order_at"] <= a["last_order_at"] <= GOLDEN_AS_OF


def test_golden_tier_distribution(scored: Scored) -> None:
    assert distribution(scored.snapshots()) == GOLDEN_TIERS
    for (kind, tier), n in GOLDEN_TIERS.items():
        assert re.search(rf"^\s+{kind}\s+{tier}\s+{n:,}$", scored.result.stderr, re.M), (kind, tier)


def test_changes_parse_as_tier_changes(scored: Scored) -> None:
    lines = scored.changes.read_bytes().splitlines()
    assert lines
    changes = [TierChange.model_validate_json(line) for line in lines]
    ids = [c.change_id for c in changes]
    assert len(ids) == len(set(ids))
    seq: dict[tuple[str, str], int] = {}
    for c in changes:
        key = (c.entity_type, c.entity_id)
        seq[key] = seq.get(key, 0) + 1
        assert c.change_id == f"tc:{c.entity_type}:{c.entity_id}:{seq[key]}"  # per-entity sequence in file order
        assert c.reasons
        assert c.occurred_at <= datetime.fromisoformat(GOLDEN_AS_OF)
        # a first change is a first tier or "ungraded"; "initial" also ends an ungraded spell
        assert (c.direction == "initial") == (c.previous_tier in (None, UNGRADED) and c.tier != UNGRADED)
        assert (c.previous_tier is None) == (seq[key] == 1)
    # the last change of each entity is the tier in STATE
    last = {(c.entity_type, c.entity_id): c.tier for c in changes}
    for s in scored.snapshots():
        assert last[(s["entity_type"], s["entity_id"])] == s["tier"]
    assert f"{len(changes):,} tier changes" in scored.result.stderr


def test_rejected_lines_are_reported_with_line_and_field(scored: Scored, sample: Path) -> None:
    rejected = [line for line in scored.result.stderr.splitlines() if line.startswith("rejected ")]
    assert len(rejected) == GOLDEN_REJECTED
    raw = sample.read_bytes().splitlines()
    for line in rejected:
        m = REJECTED.match(line)
        assert m, line
        assert m["file"] == str(sample)
        bad = raw[int(m["line"]) - 1]
        with pytest.raises(ValidationError):
            INBOUND_ADAPTER.validate_json(bad)
        field = m["what"].split(".")[-1]
        # the field named is the culprit (or absent, or the line is no event at all)
        assert field.encode() in bad or "required" in line or m["what"] == "event"
