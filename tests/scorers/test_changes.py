"""Tier changes and supplier alerts: deterministic, complete, and only when the tier moves."""

from __future__ import annotations

import pytest

from tests.scorers.helpers import RULES, changes, delivery, feed, good_then_bad_supplier, key_customer, order
from tierstream.schemas.events import AnyEvent
from tierstream.scorers.engine import Grader
from tierstream.scorers.layout import DAY


def test_tier_changes_are_deterministic_and_complete(g: Grader) -> None:
    evs = key_customer()
    s1, o1 = feed(g, evs)
    s2, o2 = feed(Grader(RULES), evs)
    c1, c2 = changes(o1), changes(o2)
    assert [c.model_dump() for c in c1] == [c.model_dump() for c in c2]
    assert s1.to_bytes() == s2.to_bytes()
    assert [c.change_id for c in c1] == [f"tc:customer:c1:{i}" for i in range(1, len(c1) + 1)]
    assert [c.direction for c in c1] == ["initial", "upgrade"]
    assert c1[0].previous_tier is None and c1[0].previous_score is None
    assert c1[1].previous_tier == c1[0].tier and c1[1].previous_score == c1[0].score
    for c in c1:
        assert c.reasons and all(isinstance(r, str) and r for r in c.reasons)
        assert c.rules_version == RULES.version
        assert c.entity_type == "customer" and c.entity_id == "c1"
        assert c.cause.startswith("e")  # the event that moved it
        if c.tier == RULES.customer.tiers[0].name:
            assert c.next_tier is None
        else:
            assert c.next_tier is not None
            assert c.next_tier.score_gap > 0
    assert c1[0].next_tier is not None and c1[0].next_tier.tier == "key"
    assert s1.seq == len(c1)
    # the downgrade continues the sequence
    (down,) = g.review(s1, s1.clock + 200 * DAY).changes
    assert down.change_id == f"tc:customer:c1:{len(c1) + 1}"
    assert down.direction == "downgrade"
    assert down.next_tier is not None and down.next_tier.tier == "key"


def test_no_change_when_the_tier_stays(g: Grader) -> None:
    _, outs = feed(g, [order(0, "o1"), order(1, "o2", amount=5.0), order(2, "o3", amount=5.0)])
    assert [len(o.changes) for o in outs] == [1, 0, 0]


@pytest.mark.parametrize(("bad_quality", "tier", "severity"), [(60, "unqualified", "critical")])
def test_supplier_downgrade_emits_an_alert(g: Grader, bad_quality: int, tier: str, severity: str) -> None:
    state, outs = feed(g, good_then_bad_supplier(bad_quality))
    outs.append(g.review_due(state, state.clock + 30 * DAY))  # held 14 days after day 20, its last excellent day
    cs = changes(outs)
    assert cs[0].direction == "initial" and cs[0].tier == "excellent"
    downs = [c for c in cs if c.direction == "downgrade"]
    alerts = [a for o in outs for a in o.alerts]
    assert downs and len(alerts) == len(downs)
    for change, alert in zip(downs, alerts, strict=True):
        assert alert.change_id == change.change_id
        assert alert.supplier_id == "s1"
        assert alert.alert_id == f"sa:s1:{change.change_id.rsplit(':', 1)[1]}"
        assert (alert.previous_tier, alert.tier) == (change.previous_tier, change.tier)
        assert alert.reasons == change.reasons
        assert alert.occurred_at == change.occurred_at
    assert downs[-1].tier == tier
    assert alerts[-1].severity == severity


def test_supplier_warning_alert_on_a_mild_downgrade(g: Grader) -> None:
    evs: list[AnyEvent] = [delivery(0, "p0", 1, 100, 100, 100)]
    evs += [delivery(20 + i, f"p{i}", 30, 100, 100, 85) for i in range(1, 4)]  # quality slips
    state, outs = feed(g, evs)
    outs.append(g.review_due(state, state.clock + 30 * DAY))  # the holds lapse with time
    alerts = [a for o in outs for a in o.alerts]
    downs = [c for c in changes(outs) if c.direction == "downgrade"]
    assert downs, [c.tier for c in changes(outs)]
    assert downs[0].tier not in ("excellent", "unqualified")
    assert alerts[0].severity == "warning"


def test_customer_downgrade_emits_no_alert(g: Grader) -> None:
    state, _ = feed(g, key_customer())
    out = g.review(state, state.clock + 200 * DAY)
    assert out.changes and out.alerts == []


def test_supplier_upgrade_emits_no_alert(g: Grader) -> None:
    evs: list[AnyEvent] = [delivery(0, "p0", -1, 100, 60, 50)]  # late, short, defective
    evs += [delivery(40 + i, f"p{i}", 41 + i, 100, 100, 100) for i in range(1, 30)]
    _, outs = feed(g, evs)
    assert [(c.direction, c.tier) for c in changes(outs)] == [
        ("initial", "unqualified"), ("upgrade", "qualified"), ("upgrade", "good"), ("upgrade", "excellent"),
    ]
    assert [a for o in outs for a in o.alerts] == []
