"""Golden tests of the early warnings (``tier-notices``): every expected value is derived by hand, in the comments.

Small rules keep the arithmetic short: a supplier graded on its on-time rate
alone, a customer on its revenue alone. Days count from 2025-01-01 (``T0``);
events happen at noon UTC.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.scorers.helpers import assessment, at, delivery, feed, order, purchase
from tierstream.schemas.errors import RulesError
from tierstream.schemas.outputs import TierNotice
from tierstream.schemas.rules import Rules, load_rules, parse_rules
from tierstream.scorers.engine import REREVIEW, Grader, Outcome, ts
from tierstream.scorers.state import EntityState

DEFAULT = load_rules()


def _rules(customer: dict[str, Any] | None = None, supplier: dict[str, Any] | None = None,
           notices: dict[str, Any] | None = None) -> Rules:
    """The default rules with a section or two replaced."""
    data = yaml.safe_load(DEFAULT.model_dump_json())
    data["version"] = "notices-test"
    if customer is not None:
        data["customer"] = customer
    if supplier is not None:
        data["supplier"] = supplier
    if notices is not None:
        data["notices"] = notices
    return parse_rules(yaml.safe_dump(data))


# on-time rate 0..1 -> score 0..100; good from 70; held 5 points under it for up to 30 days
ON_TIME = _rules(supplier={
    "window_days": 180,
    "dimensions": {"on_time": {"metric": "on_time_rate", "weight": 1, "scale": [[0, 0], [1, 100]]}},
    "tiers": [{"name": "good", "min_score": 70}, {"name": "qualified", "min_score": 0}],
    "hysteresis": {"downgrade_margin": 5, "min_days_in_tier": 0, "grace_days": 7, "hold_days": 30},
})
# revenue 0..10,000 -> score 0..100; key from 70, general from 40; no hysteresis
REVENUE = _rules(customer={
    "window_days": 365,
    "dimensions": {"revenue": {"metric": "revenue", "weight": 1, "scale": [[0, 0], [10000, 100]]}},
    "tiers": [{"name": "key", "min_score": 70}, {"name": "general", "min_score": 40},
              {"name": "potential", "min_score": 0}],
    "hysteresis": {"downgrade_margin": 0, "min_days_in_tier": 0, "grace_days": 0, "hold_days": 0},
    "rfm": {"recency_days": 90, "frequency": 3, "monetary": 2000},
}, notices={"approaching_gap": 5, "approaching_cooldown_days": 30})


def notices(outs: list[Outcome]) -> list[TierNotice]:
    return [n for o in outs for n in o.notices]


def test_a_supplier_held_by_hysteresis_is_on_watch_and_at_risk_until_the_hold_lapses() -> None:
    # Day 0 (2025-01-01): two deliveries on time: on-time rate 1, score 100: good (initial).
    # Day 10 (2025-01-11): a delivery a day late: rate 2/3, score 66.67, under good's 70 but on its
    # hold line 70 - 5 = 65: held in good. q, the last day whose end-of-day score reached 70, is
    # 2025-01-10 (the quiet days score 100); on the hold line the hold lasts hold_days from q:
    # it lapses on 2025-01-10 + 30 = 2025-02-09 if the score stays. The score alone gives qualified.
    # What keeps good: 3.33 points (70 - 66.67), an on-time rate of 70%.
    g = Grader(ON_TIME)
    state, outs = feed(g, [delivery(0, "p1", 1, 10, 10, 10), delivery(0, "p2", 1, 10, 10, 10)])
    assert notices(outs) == []
    state, outs = feed(g, [delivery(10, "p3", 9, 10, 10, 10)], state)
    assert [c.tier for o in outs for c in o.changes] == []  # held
    watch, risk = sorted(notices(outs), key=lambda n: n.kind, reverse=True)
    assert (risk.notice_id, risk.kind, risk.tier, risk.target_tier, risk.refers_to, risk.gap) == (
        "tn:supplier:s1:at_risk:1", "at_risk", "good", "qualified", "2025-02-09", 3.33)
    assert risk.score == 66.67 and risk.occurred_at == at(10) and risk.cause == state_cause(outs)
    assert risk.hints == ["on time rate of 70.0%"]
    assert "lapses to qualified on 2025-02-09" in risk.message
    assert (watch.notice_id, watch.target_tier, watch.refers_to) == (
        "tn:supplier:s1:supplier_watch:1", "qualified", "2025-02-09")
    assert [n.kind for n in notices(outs)] == ["at_risk", "supplier_watch"]
    # Day 12: a purchase order grades nothing: the condition holds, nothing is repeated.
    state, outs = feed(g, [purchase(12, "po1")], state)
    assert notices(outs) == []
    # The hold lapses when the notices said: the downgrade is dated 2025-02-09 00:00 UTC.
    out = g.review_due(state, ts(at(45)))
    assert [(c.tier, c.cause, c.occurred_at.isoformat()) for c in out.changes] == [
        ("qualified", REREVIEW, "2025-02-09T00:00:00+00:00")]
    assert out.notices == []  # no longer held: nothing at risk


def state_cause(outs: list[Outcome]) -> str:
    """The event id behind the notices of ``outs`` (the one event fed)."""
    return {n.cause for n in notices(outs)}.pop()


def test_a_hold_falling_further_is_a_new_watch_and_ends_with_the_condition() -> None:
    # As above to day 10 (held in good, 66.67). Day 11 (2025-01-12): a late delivery: 2/4, score 50,
    # under the hold line 65. h, the last day on the hold line, is 2025-01-11 (its end-of-day score
    # 66.67): grace keeps good until h + 7 = 2025-01-18 (before q + 30). Still held in good, the raw
    # tier still qualified: the same condition for both notices: nothing new.
    g = Grader(ON_TIME)
    state, _ = feed(g, [delivery(0, "p1", 1, 10, 10, 10), delivery(0, "p2", 1, 10, 10, 10),
                        delivery(10, "p3", 9, 10, 10, 10)])
    state, outs = feed(g, [delivery(11, "p4", 9, 10, 10, 10)], state)
    assert notices(outs) == []
    out = g.review_due(state, ts(at(30)))
    assert [(c.tier, c.occurred_at.isoformat()) for c in out.changes] == [("qualified", "2025-01-18T00:00:00+00:00")]
    # Day 30: four on-time deliveries: 6/8 = 75: good again (no hold); day 31 a late one: 6/9 = 66.67,
    # held again: a second at_risk and a second watch, numbered 2, lapsing on 2025-01-31 + 30 = 2025-03-02.
    state, _ = feed(g, [delivery(30, f"q{i}", 31, 10, 10, 10) for i in range(4)], state)
    state, outs = feed(g, [delivery(31, "q5", 30, 10, 10, 10)], state)
    assert sorted((n.notice_id, n.refers_to) for n in notices(outs)) == [
        ("tn:supplier:s1:at_risk:2", "2025-03-02"), ("tn:supplier:s1:supplier_watch:2", "2025-03-02")]


def test_a_customer_approaching_key_is_told_once_per_cool_down() -> None:
    # Day 0: an order of 6,600: score 66: general (initial), 4 points under key (70), within the 5-point
    # gap: approaching #1, dated 2025-01-01; 70 needs revenue 7,000: 400 more.
    g = Grader(REVENUE)
    state, outs = feed(g, [order(0, "o1", amount=6600.0, cost=None)])
    (n1,) = notices(outs)
    assert (n1.notice_id, n1.kind, n1.tier, n1.target_tier, n1.refers_to, n1.gap, n1.score) == (
        "tn:customer:c1:approaching:1", "approaching", "general", "key", "2025-01-01", 4.0, 66.0)
    assert n1.hints == ["400 more revenue in the window"]
    # Day 4: 100 more: 67, still approaching: not repeated.
    state, outs = feed(g, [order(4, "o2", amount=100.0, cost=None)], state)
    assert notices(outs) == []
    # Day 9: o1 cancelled: revenue 100, score 1: potential; the condition ends.
    state, outs = feed(g, [order(9, "o1", amount=6600.0, cost=None, status="cancelled")], state)
    assert notices(outs) == []
    # Day 19: 6,500 more: 6,600, score 66, approaching again, but only 19 days after the last notice
    # (cool-down 30): nothing.
    state, outs = feed(g, [order(19, "o3", amount=6500.0, cost=None)], state)
    assert notices(outs) == []
    # Day 34 (2025-02-04): 10 more: 66.1, 34 days after the last notice: approaching #2, gap 3.9, 390 more.
    state, outs = feed(g, [order(34, "o4", amount=10.0, cost=None)], state)
    (n2,) = notices(outs)
    assert (n2.notice_id, n2.refers_to, n2.gap, n2.hints, n2.occurred_at) == (
        "tn:customer:c1:approaching:2", "2025-02-04", 3.9, ["390 more revenue in the window"], at(34))


def test_an_override_expiring_within_the_notice_days_is_announced_by_time_alone() -> None:
    # Day 0: a key override until day 100 (2025-04-11 12:00) of a customer with no order (graded by the
    # override alone). The default rules announce an assessment 14 days before it expires: at
    # 2025-03-28 12:00 (day 86), a review with no event; the notice refers to 2025-04-11. Without the
    # override the customer, who has no order, is below the default minimum evidence: ungraded.
    g = Grader(DEFAULT)
    state, outs = feed(g, [assessment(0, "c1", 100, override="key")])
    assert notices(outs) == []
    assert state.next_review == ts(at(86))
    out = g.review_due(state, ts(at(90)))
    (n,) = out.notices
    assert (n.notice_id, n.kind, n.tier, n.refers_to, n.occurred_at, n.cause, n.target_tier) == (
        "tn:customer:c1:assessment_expiring:1", "assessment_expiring", "key", "2025-04-11", at(86), REREVIEW,
        "ungraded")
    # without the override: no order, below the default minimum evidence
    assert n.message == ("manual override to key by li.wei expires on 2025-04-11; "
                         "without it the entity is ungraded: no order yet")
    # Nothing again until it expires: the next review is the expiry itself, which ends the tier.
    assert state.next_review == ts(at(100))
    out = g.review_due(state, ts(at(101)))
    assert [c.tier for c in out.changes] == ["ungraded"] and out.notices == []


def test_an_override_made_within_the_notice_days_is_announced_with_it() -> None:
    # Day 0: an override until day 10, already within 14 days of its end: the event itself raises it.
    g = Grader(DEFAULT)
    _, outs = feed(g, [assessment(0, "c2", 10, override="general")])
    assert [(n.notice_id, n.refers_to, n.occurred_at) for n in notices(outs)] == [
        ("tn:customer:c2:assessment_expiring:1", "2025-01-11", at(0))]


def test_what_was_announced_survives_the_state_codec() -> None:
    g = Grader(REVENUE)
    state, _ = feed(g, [order(0, "o1", amount=6600.0, cost=None)])
    back = EntityState.from_bytes(state.to_bytes())
    assert (back.notice_counts, back.announced, back.approached_at) == (
        {"approaching": 1}, {"approaching": "key"}, ts(at(0)))
    _, out = g.apply(back, order(1, "o2", amount=10.0, cost=None))
    assert out.notices == []  # still approaching: not repeated after a restart


def test_disabled_kinds_are_not_sent_and_bad_notice_rules_are_refused() -> None:
    quiet = _rules(notices={"kinds": ["assessment_expiring"]})
    g = Grader(quiet)
    _, outs = feed(g, [order(0, "o1", amount=6600.0, cost=None)])
    assert notices(outs) == []
    with pytest.raises(RulesError, match=r"notices\.kinds"):
        _rules(notices={"kinds": ["at_risk", "at_risk"]})
    with pytest.raises(RulesError, match=r"notices\.approaching_gap"):
        _rules(notices={"approaching_gap": 0})
    with pytest.raises(RulesError, match=r"notices\.kinds"):
        _rules(notices={"kinds": ["soon"]})


def test_the_snapshot_shows_the_notices_in_force() -> None:
    # As in the first test: on day 10 s1 is held in good (66.67), its score alone giving qualified:
    # at_risk (good) and supplier_watch (good -> qualified) are in force, and shown by the snapshot.
    g = Grader(ON_TIME)
    state, _ = feed(g, [delivery(0, "p1", 1, 10, 10, 10), delivery(0, "p2", 1, 10, 10, 10)])
    assert g.snapshot(state, state.clock).notices == []
    state, _ = feed(g, [delivery(10, "p3", 9, 10, 10, 10)], state)
    shown = [n.model_dump(mode="json") for n in g.snapshot(state, state.clock).notices]
    assert shown == [
        {"kind": "at_risk", "tier": "good", "target_tier": None, "assessment_id": None, "expires_at": None},
        {"kind": "supplier_watch", "tier": "good", "target_tier": "qualified", "assessment_id": None,
         "expires_at": None},
    ]
    # the hold lapses on 2025-02-09: downgraded, nothing in force any more
    g.review_due(state, ts(at(45)))
    assert g.snapshot(state, state.clock).notices == []


def test_the_snapshot_shows_an_expiring_assessment_and_an_approached_tier() -> None:
    # The override of the test above, announced on day 86: in force until it expires on day 100 (12:00).
    g = Grader(DEFAULT)
    override = assessment(0, "c1", 100, override="key")
    state, _ = feed(g, [override])
    assert g.snapshot(state, state.clock).notices == []  # day 0: not yet within 14 days
    g.review_due(state, ts(at(90)))
    (n,) = g.snapshot(state, ts(at(90))).notices
    assert (n.kind, n.assessment_id, n.expires_at) == ("assessment_expiring", override.event_id, at(100))
    # A customer 4 points under key (66 of 70): approaching key, in force.
    r = Grader(REVENUE)
    c, _ = feed(r, [order(0, "o1", amount=6600.0, cost=None)])
    assert [(x.kind, x.target_tier) for x in r.snapshot(c, c.clock).notices] == [("approaching", "key")]
