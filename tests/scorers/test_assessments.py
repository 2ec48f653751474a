"""Manual assessments: prospect scores for newcomers and tier overrides, until they expire."""

from __future__ import annotations

import pytest

from tests.scorers.helpers import RULES, assessment, at, changes, delivery, eod, feed, key_customer, order, sod
from tierstream.scorers.engine import REREVIEW, Grader, ts


def test_prospect_score_for_a_newcomer_until_expiry(g: Grader) -> None:
    state, outs = feed(g, [assessment(0, "c1", 30, score=80.0)])
    (change,) = changes(outs)
    assert (change.tier, change.score, change.direction) == ("key", 80.0, "initial")
    assert any("prospect score 80" in r for r in change.reasons)
    assert g.snapshot(state, eod(29)).score == 80.0
    assert g.snapshot(state, sod(29) + 12 * 3600 - 1).components["prospect"] == 80.0
    expired = g.snapshot(state, ts(at(30)))
    assert expired.score != 80.0
    assert "prospect" not in expired.components


def test_prospect_score_until_the_newcomer_exceeds_max_orders(g: Grader) -> None:
    assert RULES.customer.prospect.newcomer_max_orders == 1
    state, _ = feed(g, [assessment(0, "c1", 90, score=80.0), order(1, "o1")])
    assert g.snapshot(state, state.clock).score == 80.0  # one order: still a newcomer
    state, _ = g.apply(state, order(2, "o2"))
    snap = g.snapshot(state, state.clock)
    assert snap.score != 80.0
    assert "prospect" not in snap.components
    # a cancellation makes it a newcomer again (net orders in the window)
    state, _ = g.apply(state, order(3, "o2", status="cancelled"))
    assert g.snapshot(state, state.clock).score == 80.0


def test_prospect_score_ignored_for_an_established_customer(g: Grader) -> None:
    state, _ = feed(g, [order(0, "o1"), order(1, "o2"), assessment(2, "c1", 60, score=95.0)])
    assert g.snapshot(state, state.clock).score < 50


def test_latest_prospect_assessment_wins(g: Grader) -> None:
    a1, a2 = assessment(0, "c1", 60, score=20.0), assessment(1, "c1", 60, score=75.0)
    s1, _ = feed(g, [a1, a2])
    s2, _ = feed(g, [a2, a1])
    assert g.snapshot(s1, eod(2)).score == g.snapshot(s2, eod(2)).score == 75.0


def test_tier_override_forces_the_tier_until_expiry(g: Grader) -> None:
    state, _ = feed(g, key_customer())
    assert g.snapshot(state, state.clock).tier == "key"
    state, outs = feed(g, [assessment(27, "c1", 40, override="potential")], state)
    (change,) = changes(outs)
    assert (change.tier, change.direction) == ("potential", "downgrade")
    assert any(r.startswith("manual override by li.wei: sales visit") for r in change.reasons)
    assert g.snapshot(state, ts(at(40)) - 1).tier == "potential"
    assert g.snapshot(state, ts(at(40))).tier == "key"
    out = g.review(state, ts(at(40)))
    (back,) = out.changes
    assert (back.tier, back.direction, back.cause) == ("key", "upgrade", REREVIEW)


def test_tier_override_of_a_supplier(g: Grader) -> None:
    state, _ = feed(g, [delivery(0, "p1", 1, 10, 10, 10), assessment(1, "s1", 20, override="unqualified",
                                                                    kind="supplier")])
    assert g.snapshot(state, state.clock).tier == "unqualified"
    assert g.snapshot(state, ts(at(20))).tier == "excellent"


@pytest.mark.parametrize(("kind", "entity", "tier"), [("customer", "c1", "gold"), ("supplier", "s1", "key")])
def test_unknown_override_tier_is_invalid(g: Grader, kind: str, entity: str, tier: str) -> None:
    first = order(0, "o1") if kind == "customer" else delivery(0, "p1", 1, 10, 10, 10)
    state, _ = feed(g, [first])
    before = state.to_bytes()
    state, out = g.apply(state, assessment(1, entity, 20, override=tier, kind=kind))
    assert out.status == "invalid"
    assert repr(tier) in out.detail
    assert state.to_bytes() == before
