"""Golden tests of the explanations: every expected value is derived by hand, in the comments, from the rules.

Small rules files are written here so the arithmetic stays short: two
customer dimensions of weight 0.5, linear scales.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.scorers.helpers import (
    assessment,
    at,
    changes,
    delivery,
    eod,
    feed,
    key_customer,
    order,
    purchase,
    referral,
)
from tierstream.schemas.events import AssessmentEvent
from tierstream.schemas.rules import Rules, load_rules, parse_rules
from tierstream.scorers.engine import REREVIEW, Grader, ts
from tierstream.scorers.explain import reasons
from tierstream.scorers.grading import Composite
from tierstream.scorers.metrics import Metrics
from tierstream.streams.dev.harness import offline_snapshot
from tierstream.streams.dev.sample import write_sample

DEFAULT = load_rules()


def small_rules(dimensions: dict[str, Any], tiers: list[tuple[str, float]], hysteresis: dict[str, Any],
                window_days: int = 365) -> Rules:
    """The default rules with the customer section replaced."""
    data = yaml.safe_load(DEFAULT.model_dump_json())
    data["version"] = "explain-test"
    data["customer"] = {
        "window_days": window_days,
        "dimensions": dimensions,
        "tiers": [{"name": n, "min_score": m} for n, m in tiers],
        "hysteresis": hysteresis,
        "rfm": {"recency_days": 90, "frequency": 3, "monetary": 2000},
    }
    return parse_rules(yaml.safe_dump(data))


NO_HYSTERESIS = {"downgrade_margin": 0, "min_days_in_tier": 0, "grace_days": 0, "hold_days": 0}

# order count 0..3 -> 0..100 and revenue 0..30,000 -> 0..100, half the weight each
THIRDS_DIMENSIONS = {
    "frequency": {"metric": "order_count", "weight": 0.5, "label": "order frequency", "scale": [[0, 0], [3, 100]]},
    "monetary": {"metric": "revenue", "weight": 0.5, "label": "revenue", "scale": [[0, 0], [30000, 100]]},
}
THIRDS_TIERS = [("key", 50.0), ("general", 20.0), ("potential", 0.0)]
MARGIN = {"downgrade_margin": 5, "min_days_in_tier": 0, "grace_days": 0, "hold_days": 60}
THIRDS = small_rules(THIRDS_DIMENSIONS, THIRDS_TIERS, MARGIN)
#: the same with a 10-day window, so that an order leaving it drops the score into a tier's margin
THIRDS_10 = small_rules(THIRDS_DIMENSIONS, THIRDS_TIERS, MARGIN, window_days=10)


# --------------------------------------------------------------------------- next-tier hints


def test_the_hint_is_exact_to_the_unit_from_the_unrounded_score() -> None:
    # One order of 10,000: frequency 100 * 1/3 = 33.333..., revenue 100 * 10,000/30,000 = 33.333...,
    # score 0.5 * 33.333... + 0.5 * 33.333... = 33.333... (shown 33.33): general (20 <= score < 50).
    # key needs 0.5 f + 0.5 m = 50, i.e. f + m = 100:
    #   revenue alone: m = 66.666... -> revenue 20,000: exactly 10,000 more;
    #   order count alone: f = 66.666... -> 2 orders: 1 more.
    # (From the rounded score, 33.33, the gap 16.67 asks m = 33.333 + 33.34 = 66.673: 10,002 more.)
    g = Grader(THIRDS)
    state, _ = feed(g, [order(0, "o1", amount=10_000.0, cost=None)])
    snap = g.snapshot(state, state.clock)
    assert (snap.tier, snap.score) == ("general", 33.33)
    assert snap.next_tier is not None
    assert (snap.next_tier.tier, snap.next_tier.score_gap) == ("key", 16.67)
    # equal weights: the rules' order (frequency first)
    assert snap.next_tier.hints == ["1 more order in the window or 10,000 more revenue in the window"]
    assert (snap.next_tier.keep_gap, snap.next_tier.keep_hints) == (None, [])


def test_money_is_rounded_up_to_the_shown_unit_so_that_it_reaches() -> None:
    # One order of 10,000.01: revenue 20,000 (m = 66.666...) is reached with 9,999.99 more, shown
    # rounded up to the whole unit, 10,000 (9,999 would fall short). Order count alone:
    # f = 100 - 33.33337 = 66.66663 -> 1.99999 orders: a second order, 1 more.
    g = Grader(THIRDS)
    state, _ = feed(g, [order(0, "o1", amount=10_000.01, cost=None)])
    snap = g.snapshot(state, state.clock)
    assert snap.next_tier is not None
    assert snap.next_tier.hints == ["1 more order in the window or 10,000 more revenue in the window"]


def test_a_combined_hint_when_no_single_metric_reaches_the_next_tier() -> None:
    # order count 0..10 -> 0..100, revenue 0..10,000 -> 0..100; key at 70.
    # Two orders of 1,000: f = 20, m = 20, score 20: general.
    # key needs f + m = 140: order count alone needs f = 120, revenue alone m = 120, both above 100.
    # n more orders of the average size (1,000): f = 10 (2 + n), m = (2,000 + 1,000 n) / 100 = 10 (2 + n),
    # score 10 (2 + n) >= 70 from n = 5.
    rules = small_rules(
        {"frequency": {"metric": "order_count", "weight": 0.5, "scale": [[0, 0], [10, 100]]},
         "monetary": {"metric": "revenue", "weight": 0.5, "scale": [[0, 0], [10000, 100]]}},
        [("key", 70), ("general", 15), ("potential", 0)], NO_HYSTERESIS)
    g = Grader(rules)
    state, _ = feed(g, [order(0, "o1", amount=1000.0, cost=None), order(0, "o2", amount=1000.0, cost=None)])
    snap = g.snapshot(state, state.clock)
    assert (snap.tier, snap.score) == ("general", 20.0)
    assert snap.next_tier is not None
    assert (snap.next_tier.tier, snap.next_tier.score_gap) == ("key", 50.0)
    assert snap.next_tier.hints == ["5 more orders of your average size (1,000.00) in the window"]


def test_the_combined_hint_counts_the_recency_of_the_last_order() -> None:
    # recency 0..100 days -> 100..0 (weight 0.4), order count 0..10 -> 0..100 and revenue 0..10,000
    # -> 0..100 (0.3 each); key at 80. Two orders of 1,000 on day 0, graded on day 50: recency 50,
    # f = 20, m = 20: 0.4*50 + 0.3*20 + 0.3*20 = 32, general. key alone: recency at most 0.4*100 + 12
    # = 52; order count needs 0.3 f = 54 (f = 180), revenue the same: none. n more orders of 1,000,
    # the last today: 0.4*100 + 0.3 * 10 (2 + n) * 2 = 40 + 6 (2 + n) >= 80 from n = 5 (n = 4: 76).
    rules = small_rules(
        {"recency": {"metric": "recency_days", "weight": 0.4, "scale": [[0, 100], [100, 0]]},
         "frequency": {"metric": "order_count", "weight": 0.3, "scale": [[0, 0], [10, 100]]},
         "monetary": {"metric": "revenue", "weight": 0.3, "scale": [[0, 0], [10000, 100]]}},
        [("key", 80), ("general", 20), ("potential", 0)], NO_HYSTERESIS)
    g = Grader(rules)
    state, _ = feed(g, [order(0, "o1", amount=1000.0, cost=None), order(0, "o2", amount=1000.0, cost=None)])
    snap = g.snapshot(state, eod(50))
    assert (snap.tier, snap.score) == ("general", 32.0)
    assert snap.next_tier is not None
    assert (snap.next_tier.tier, snap.next_tier.score_gap) == ("key", 48.0)
    assert snap.next_tier.hints == ["5 more orders of your average size (1,000.00) in the window"]


def test_supplier_hints_single_rates_rounded_up_to_the_shown_tenth() -> None:
    # Default supplier rules. One delivery, late, 100 ordered, 90 delivered, 81 accepted:
    # quality 81/90 = 0.9 -> 40; on time 0/1 -> 0; fill 90/100 = 0.9 -> 60; no price, no service:
    # score (0.30*40 + 0.25*0 + 0.15*60) / 0.70 = 21 / 0.7 = 30: unqualified. qualified (55) needs
    # 0.30 q + 0.25 o + 0.15 a = 55 * 0.7 = 38.5:
    #   quality alone: q = (38.5 - 9) / 0.3 = 98.333 = 90 + 10 (x - 0.99) / 0.01 -> x = 0.998333,
    #                  shown rounded up to the tenth: 99.9% (99.8% would fall short);
    #   on time alone: o = (38.5 - 21) / 0.25 = 70 -> 50 + 40 (x - 0.8) / 0.15 -> x = 0.875: 87.5%;
    #   accuracy alone: a = (38.5 - 12) / 0.15 = 176.7 > 100: none. Heaviest first: quality (0.30).
    g = Grader(DEFAULT)
    state, _ = feed(g, [delivery(0, "p1", -1, 100, 90, 81)])
    snap = g.snapshot(state, state.clock)
    assert (snap.tier, snap.score) == ("unqualified", 30.0)
    assert snap.next_tier is not None and snap.next_tier.tier == "qualified"
    assert snap.next_tier.hints == ["quality pass rate of 99.9% or on time rate of 87.5%"]


def test_a_combined_hint_for_a_supplier_more_perfect_deliveries() -> None:
    # One delivery, late, 100 ordered, 70 delivered, 56 accepted: quality 0.8 -> 0, on time 0 -> 0,
    # accuracy 1 - 30/100 = 0.7 -> 0: score 0. qualified (55) needs 0.30 q + 0.25 o + 0.15 a = 38.5:
    # quality alone gives at most 30, on time 25, accuracy 15: no single lever. n perfect deliveries
    # of the average size (70 ordered, 70 delivered): quality (0.8 + n)/(1 + n), on time n/(1 + n),
    # accuracy 1 - 30/(100 + 70 n) (= the fill rate 0.7 (1 + n)/(1 + 0.7 n): nothing over-delivered):
    #   n = 2: quality 0.9333 -> 60, on time 0.6667 -> 27.78, accuracy 0.875 -> 52.5:
    #          (18 + 6.944 + 7.875) / 0.7 = 46.9 < 55;
    #   n = 3: quality 0.95 -> 70, on time 0.75 -> 41.67, accuracy 1 - 30/310 = 0.9032 -> 61.29:
    #          (21 + 10.417 + 9.194) / 0.7 = 58.0 >= 55.
    g = Grader(DEFAULT)
    state, _ = feed(g, [delivery(0, "p1", -1, 100, 70, 56)])
    snap = g.snapshot(state, state.clock)
    assert (snap.tier, snap.score) == ("unqualified", 0.0)
    assert snap.next_tier is not None
    assert snap.next_tier.hints == ["3 more deliveries of your average size, on time, complete and all accepted"]


# --------------------------------------------------------------------------- ranked reasons


def test_reasons_are_ranked_by_their_share_of_the_move_and_unmoved_dimensions_are_left_out() -> None:
    # Default customer rules. Before: recency 100, frequency 25, revenue 4, referrals 50 (no profit,
    # no payments). After: recency 99.5 (1 day: 100 - 15/30), frequency 40, revenue 8, referrals 50.
    # Weights with evidence: 0.20 + 0.15 + 0.20 + 0.10 = 0.65. Shares (weight / 0.65 * move):
    #   frequency 0.15/0.65 * 15 = +3.46; revenue 0.20/0.65 * 4 = +1.23; recency 0.20/0.65 * -0.5 = -0.15;
    #   referrals did not move: not listed. The recency move is shown with the decimal that tells
    #   100 from 99.5 (never "down from 100 to 100").
    before = {"recency": 100.0, "frequency": 25.0, "monetary": 4.0, "referrals": 50.0}
    after = Composite(0.0, {"recency": 99.5, "frequency": 40.0, "monetary": 8.0, "referrals": 50.0}, 0.65)
    metrics: Metrics = {"recency_days": 1.0, "order_count": 2.0, "revenue": 200.0, "qualified_referrals": 1.0}
    assert reasons(DEFAULT.customer, before, after, metrics) == [
        "order frequency up from 25 to 40 (order count 2): +3.5 points",
        "revenue up from 4 to 8 (revenue 200.00): +1.2 points",
        "recency down from 100 to 99.5 (recency days 1 days): -0.2 points",
    ]


def test_a_dimension_gaining_evidence_moves_from_the_previous_score() -> None:
    # Default supplier rules. Before: price 70 alone (score 70). After a delivery, on time,
    # complete, 80% accepted: quality 0, on time 100, accuracy 100, price 70; weights 0.85.
    # Adding a dimension to a weighted mean moves it by weight / total * (its score - the mean):
    #   quality 0.30/0.85 * (0 - 70) = -24.7; on time 0.25/0.85 * (100 - 70) = +8.8;
    #   accuracy 0.15/0.85 * (100 - 70) = +5.3; price did not move. Sum -10.6 = 59.4 - 70.
    # The quality collapse comes first (weighted by the scores' difference alone, it scored 0 and
    # came last).
    after = Composite(59.41, {"quality": 0.0, "on_time": 100.0, "accuracy": 100.0, "price": 70.0}, 0.85)
    metrics: Metrics = {"quality_pass_rate": 0.8, "on_time_rate": 1.0, "fill_rate": 1.0, "delivery_accuracy": 1.0,
                        "price_index": 1.0}
    assert reasons(DEFAULT.supplier, {"price": 70.0}, after, metrics) == [
        "quality pass rate now scored 0 (quality pass rate 80.0%): -24.7 points",
        "on-time delivery now scored 100 (on time rate 100.0%): +8.8 points",
        "delivery accuracy now scored 100 (delivery accuracy 100.0%): +5.3 points",
    ]


def test_a_dimension_whose_share_is_0_points_is_not_listed() -> None:
    # Issue 10 point 7: a dimension that did not move the score is not listed.
    # Default customer rules. Before: recency 100, frequency 25, revenue 4, referrals 50.
    # After a second order of 0.25: frequency 40 (2 orders: 25 + 30 * 1/2), revenue 100.25 ->
    # 20 * 100.25 / 500 = 4.01 (components carry two decimals); weights with evidence 0.65.
    # Shares: frequency 0.15/0.65 * 15 = +3.46 (+3.5 points); revenue 0.20/0.65 * 0.01 = +0.003,
    # 0 points to the two decimals shown at most: not listed; recency and referrals did not move.
    before = {"recency": 100.0, "frequency": 25.0, "monetary": 4.0, "referrals": 50.0}
    after = Composite(0.0, {"recency": 100.0, "frequency": 40.0, "monetary": 4.01, "referrals": 50.0}, 0.65)
    metrics: Metrics = {"recency_days": 0.0, "order_count": 2.0, "revenue": 100.25, "qualified_referrals": 1.0}
    assert reasons(DEFAULT.customer, before, after, metrics) == [
        "order frequency up from 25 to 40 (order count 2): +3.5 points",
    ]


def test_a_dimension_gaining_evidence_at_the_previous_score_is_not_listed() -> None:
    # Default supplier rules. Before: price 70 alone (score 70). After a delivery, on time, 95%
    # accepted: quality 70 (0.95 on its scale), on time 100, price 70; weights 0.30 + 0.25 + 0.15 =
    # 0.70. Adding a dimension moves the mean by weight / total * (its score - the mean):
    #   quality 0.30/0.70 * (70 - 70) = 0: not listed; on time 0.25/0.70 * (100 - 70) = +10.71
    #   (+10.7 points); price did not move. Score (21 + 25 + 10.5) / 0.70 = 80.71 = 70 + 10.71.
    after = Composite(80.71, {"quality": 70.0, "on_time": 100.0, "price": 70.0}, 0.70)
    metrics: Metrics = {"quality_pass_rate": 0.95, "on_time_rate": 1.0, "price_index": 1.0}
    assert reasons(DEFAULT.supplier, {"price": 70.0}, after, metrics) == [
        "on-time delivery now scored 100 (on time rate 100.0%): +10.7 points",
    ]


def test_an_ungraded_change_lists_no_dimension() -> None:
    # Default customer rules: min_evidence requires recency, i.e. an order at any time. B is only
    # referred (no order): it is ungraded, reason "no order yet", and has no score, so nothing
    # moved it: the change's only reason is the ungraded one (no "order frequency now scored 0
    # (order count 0): 0 points", no revenue or referrals line).
    g = Grader(DEFAULT)
    _, outs = feed(g, [referral(0, "A", "B")])
    (change,) = changes(outs)
    assert (change.entity_id, change.tier, change.direction) == ("B", "ungraded", "ungraded")
    assert change.reasons == ["ungraded: no order yet"]


def test_a_supplier_quality_collapse_is_explained_by_quality_alone() -> None:
    # Default supplier rules. Day 0: a purchase at market price (index 1.0 -> price 70) and a perfect
    # delivery (quality, on time, accuracy 100): (30 + 25 + 15 + 10.5) / 0.85 = 94.7, excellent.
    # Day 30: another on-time, complete delivery of 100 with 50 accepted: quality 150/200 = 0.75 -> 0;
    # nothing else moves: 50.5 / 0.85 = 59.4, qualified. Quality's share 0.30/0.85 * -100 = -35.3.
    g = Grader(DEFAULT)
    state, _ = feed(g, [purchase(0, "p1", amount=100.0, market=100.0), delivery(0, "p1", 1, 100, 100, 100)])
    assert g.snapshot(state, state.clock).tier == "excellent"
    state, outs = feed(g, [delivery(30, "p2", 31, 100, 100, 50)], state)
    found = changes(outs) + g.review_due(state, ts(at(400))).changes
    down = next(c for c in found if c.direction == "downgrade")
    assert down.score == 59.41
    assert down.reasons[0].endswith("score 59.4 fell below what excellent requires (minimum 85)")
    assert down.reasons[1] == "quality pass rate down from 100 to 0 (quality pass rate 75.0%): -35.3 points"
    assert not [r for r in down.reasons[2:] if r.endswith(" points")]  # no other dimension moved


# --------------------------------------------------------------------------- what made the change


def test_a_score_just_under_a_minimum_is_not_shown_rounded_onto_it() -> None:
    # THIRDS tiers, no hysteresis. Day 0: orders of 1,995 and 1,000: f = 66.666..., m = 2,995/300 =
    # 9.983, score 38.3: general. Day 1 the 1,000 is cancelled: f = 33.333..., m = 1,995/300 = 6.65,
    # score (33.333 + 6.65) / 2 = 19.9917 (19.99): potential. With one decimal it would read 20.0,
    # which general's minimum (20) does not refuse.
    g = Grader(small_rules(THIRDS_DIMENSIONS, THIRDS_TIERS, NO_HYSTERESIS))
    state, _ = feed(g, [order(0, "o1", amount=1995.0, cost=None), order(0, "o2", amount=1000.0, cost=None)])
    state, outs = feed(g, [order(1, "o2", amount=1000.0, cost=None, status="cancelled")], state)
    (down,) = changes(outs)
    assert (down.previous_tier, down.tier, down.score) == ("general", "potential", 19.99)
    assert down.reasons[0] == "score 19.99 fell below what general requires (minimum 20)"


def test_an_override_change_says_so_and_so_does_its_end() -> None:
    g = Grader(DEFAULT)
    state, _ = feed(g, key_customer())
    state, outs = feed(g, [assessment(27, "c1", 40, override="potential")], state)
    (change,) = changes(outs)
    assert change.reasons[0] == "manual override by li.wei: sales visit (until 2025-02-10)"  # day 40
    assert not [r for r in change.reasons if r.startswith("score ") or " reached " in r or "fell below" in r]
    (back,) = g.review(state, ts(at(40))).changes
    assert back.cause == REREVIEW
    assert back.reasons[0].startswith("re-review: manual override by li.wei ended 2025-02-10: score ")
    assert back.reasons[0].endswith(" reached key (minimum 70)")


def test_a_prospect_assessment_change_says_so_and_so_does_its_end() -> None:
    g = Grader(DEFAULT)
    state, outs = feed(g, [assessment(0, "c1", 30, score=80.0), order(1, "o1")])
    (change,) = changes(outs)
    assert change.reasons[0] == ("prospect assessment by li.wei: sales visit "
                                 "(newcomer graded on the prospect score 80, key)")
    assert not [r for r in change.reasons if r.startswith("score ")]
    ended = g.review_due(state, ts(at(60))).changes
    assert ended and ended[0].tier != "key"
    assert ended[0].reasons[0].startswith("re-review: prospect assessment by li.wei ended 2025-01-31: score ")


def _in_zone(zone: str) -> Rules:
    """The default rules with ``timezone: zone``."""
    data = yaml.safe_load(DEFAULT.model_dump_json())
    data["timezone"] = zone
    return parse_rules(yaml.safe_dump(data))


def _judgement(day: float, expires: datetime, score: float | None = None,
               override: str | None = None) -> AssessmentEvent:
    return AssessmentEvent(event_id=f"a{day}", occurred_at=at(day), entity_type="customer", entity_id="c1",
                           prospect_score=score, tier_override=override, reason="sales visit",
                           expires_at=expires, author="li.wei")


# The dates of "(until {date})" and "ended {date}" are dates of the rules' time zone. Day 40
# from T0 (2025-01-01) is 2025-02-10 (January has 31 days: day 31 is 2025-02-01). An override
# expiring at 2025-02-10T20:00Z is 2025-02-10 in UTC but 2025-02-11 04:00 in Asia/Shanghai
# (UTC+8, no daylight saving); one expiring at 2025-02-10T03:00Z is 2025-02-09 19:00 in
# America/Los_Angeles (PST, UTC-8 in February).
@pytest.mark.parametrize(("zone", "hour", "date"), [
    ("UTC", 20.0, "2025-02-10"),
    ("Asia/Shanghai", 20.0, "2025-02-11"),
    ("America/Los_Angeles", 3.0, "2025-02-09"),
])
def test_an_override_end_date_is_a_date_of_the_rules_time_zone(zone: str, hour: float, date: str) -> None:
    g = Grader(_in_zone(zone))
    state, _ = feed(g, key_customer())
    state, outs = feed(g, [_judgement(27, at(40, hour), override="potential")], state)
    (change,) = changes(outs)
    assert change.reasons[0] == f"manual override by li.wei: sales visit (until {date})"
    (back,) = g.review(state, ts(at(40, hour))).changes
    assert back.reasons[0].startswith(f"re-review: manual override by li.wei ended {date}: score ")


# A prospect score expiring on day 30 (2025-01-31) at 20:00Z ends on 2025-01-31 in UTC and on
# 2025-02-01 (04:00) in Asia/Shanghai.
@pytest.mark.parametrize(("zone", "date"), [("UTC", "2025-01-31"), ("Asia/Shanghai", "2025-02-01")])
def test_a_prospect_end_date_is_a_date_of_the_rules_time_zone(zone: str, date: str) -> None:
    g = Grader(_in_zone(zone))
    state, _ = feed(g, [_judgement(0, at(30, 20.0), score=80.0), order(1, "o1")])
    ended = g.review_due(state, ts(at(60))).changes
    assert ended[0].reasons[0].startswith(f"re-review: prospect assessment by li.wei ended {date}: score ")


def test_a_prospect_that_no_longer_applies_to_a_customer_with_more_orders_says_so() -> None:
    # newcomer_max_orders is 1: the second order ends the prospect score before its expiry (day 90)
    g = Grader(DEFAULT)
    state, _ = feed(g, [assessment(0, "c1", 90, score=80.0), order(1, "o1")])
    state, outs = feed(g, [order(2, "o2")], state)
    found = changes(outs) + g.review_due(state, ts(at(60))).changes
    assert found and found[0].tier != "key"
    assert "prospect assessment by li.wei no longer applies: more than 1 order: score " in found[0].reasons[0]


# --------------------------------------------------------------------------- held by hysteresis


def test_the_hint_to_keep_the_best_tier_when_only_hysteresis_holds_it() -> None:
    # THIRDS_10 rules (10-day window, margin 5, hold 60 days). An order of 100 on day 0, of 5,000 and
    # 3,000 on day 5: f = 100, m = 8,100/300 = 27, score 63.5: key. On day 10 the day-0 order leaves
    # the window: f = 66.666..., m = 26.666..., score 46.666... (shown 46.67): under key's 50, within
    # the margin (45), reached 5 days ago: held in key.
    # Back to 50 (f + m = 100): order count alone f = 73.333... -> 2.2 orders: 1 more;
    # revenue alone m = 33.333... -> 10,000: 2,000 more. Gap 50 - 46.67 = 3.33.
    # key is the best tier: next_tier is key itself, with the same gap and hints.
    g = Grader(THIRDS_10)
    state, _ = feed(g, [order(0, "o1", amount=100.0, cost=None), order(5, "o2", amount=5000.0, cost=None),
                        order(5, "o3", amount=3000.0, cost=None)])
    assert g.snapshot(state, eod(5)).tier == "key"
    snap = g.snapshot(state, eod(10))
    assert (snap.tier, snap.score) == ("key", 46.67)
    keep = ["1 more order in the window or 2,000 more revenue in the window"]
    assert snap.next_tier is not None
    assert snap.next_tier.model_dump() == {"tier": "key", "score_gap": 3.33, "hints": keep,
                                           "keep_gap": 3.33, "keep_hints": keep}


def test_the_hint_to_keep_a_middle_tier_beside_the_next_one() -> None:
    # THIRDS_10 rules. Orders of 300 on days 0 and 5: f = 66.666..., m = 2, score 34.33: general.
    # On day 10 the day-0 order leaves the window: f = 33.333..., m = 1, score 17.1666... (17.17):
    # under general's 20, within the margin (15): held in general.
    # key (50, f + m = 100): order count alone f = 99 -> 2.97 orders: 2 more; revenue alone
    #   m = 66.666... -> 20,000: 19,700 more; gap 50 - 17.17 = 32.83.
    # keep general (20, f + m = 40): order count alone f = 39 -> 1.17 orders: 1 more; revenue alone
    #   m = 6.666... -> 2,000: 1,700 more; gap 20 - 17.17 = 2.83.
    g = Grader(THIRDS_10)
    state, _ = feed(g, [order(0, "o1", amount=300.0, cost=None), order(5, "o2", amount=300.0, cost=None)])
    snap = g.snapshot(state, eod(10))
    assert (snap.tier, snap.score) == ("general", 17.17)
    assert snap.next_tier is not None
    assert snap.next_tier.model_dump() == {
        "tier": "key", "score_gap": 32.83,
        "hints": ["2 more orders in the window or 19,700 more revenue in the window"],
        "keep_gap": 2.83, "keep_hints": ["1 more order in the window or 1,700 more revenue in the window"],
    }


def test_no_keep_hint_while_the_score_qualifies_or_an_override_sets_the_tier() -> None:
    g = Grader(THIRDS)
    state, _ = feed(g, [order(0, "o1", amount=10_000.0, cost=None)])  # 33.33: general by its own score
    nxt = g.snapshot(state, state.clock).next_tier
    assert nxt is not None and (nxt.keep_gap, nxt.keep_hints) == (None, [])
    state, _ = feed(g, [assessment(0, "c1", 30, override="key")], state)
    assert g.snapshot(state, state.clock).next_tier is None  # key, set by hand: the best tier, not held


def test_the_parity_sample_has_keep_hints_and_combined_hints(tmp_path: Path) -> None:
    """tests/test_pipeline.py compares the stream's snapshots, next_tier included, to these offline ones."""
    path = tmp_path / "events.jsonl"
    write_sample(path, customers=400, suppliers=40, days=150, seed=5)  # test_pipeline's ``sample``
    nexts = [s["next_tier"] for s in offline_snapshot(path).values() if s["next_tier"]]
    assert any(n["keep_gap"] is not None and n["keep_hints"] for n in nexts)
    assert any("more orders of your average size" in h for n in nexts for h in n["hints"])
    assert any("more deliveries of your average size" in h for n in nexts for h in n["hints"])


def test_a_supplier_prospect_assessment_says_so_and_so_does_its_end_by_deliveries() -> None:
    # newcomer_max_deliveries is 1: the second delivery in the window ends the prospect score
    g = Grader(DEFAULT)
    state, outs = feed(g, [assessment(0, "s1", 90, score=90.0, kind="supplier")])
    (change,) = changes(outs)
    assert change.reasons[0] == ("prospect assessment by li.wei: sales visit "
                                 "(newcomer graded on the prospect score 90, excellent)")
    state, _ = feed(g, [delivery(1, "p1", 0, 100, 70, 56), delivery(2, "p2", 1, 100, 70, 56)], state)
    found = [c for c in g.review_due(state, ts(at(60))).changes if c.tier != "excellent"]
    assert found
    assert ("prospect assessment by li.wei no longer applies: more than 1 delivery in the window: score "
            in found[0].reasons[0])
