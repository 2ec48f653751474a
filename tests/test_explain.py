"""Golden tests of the explanations: every expected value is derived by hand, in the comments, from the rules.

Small rules files are written here so the arithmetic stays short: two
customer dimensions of weight 0.5, linear scales.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tierstream.schemas.rules import Rules, load_rules, parse_rules
from tierstream.scorers.engine import REREVIEW, Grader, ts
from tierstream.scorers.explain import next_tier, reasons
from tierstream.scorers.grading import Composite
from tierstream.scorers.state import DAY
from tierstream.scorers.catalog import METRICS
from tests.test_scorers import assessment, at, changes, delivery, eod, feed, key_customer, order, purchase

DEFAULT = load_rules()


def small_rules(dimensions: dict[str, Any], tiers: list[tuple[str, float]], hysteresis: dict[str, Any]) -> Rules:
    """The default rules with the customer section replaced."""
    data = yaml.safe_load(DEFAULT.model_dump_json())
    data["version"] = "explain-test"
    data["customer"] = {
        "window_days": 365,
        "dimensions": dimensions,
        "tiers": [{"name": n, "min_score": m} for n, m in tiers],
        "hysteresis": hysteresis,
        "rfm": {"recency_days": 90, "frequency": 3, "monetary": 2000},
    }
    return parse_rules(yaml.safe_dump(data))


NO_HYSTERESIS = {"downgrade_margin": 0, "min_days_in_tier": 0, "grace_days": 0, "hold_days": 0}

# order count 0..3 -> 0..100 and revenue 0..30,000 -> 0..100, half the weight each
THIRDS = small_rules(
    {"frequency": {"metric": "order_count", "weight": 0.5, "label": "order frequency", "scale": [[0, 0], [3, 100]]},
     "monetary": {"metric": "revenue", "weight": 0.5, "label": "revenue", "scale": [[0, 0], [30000, 100]]}},
    [("key", 50), ("general", 20), ("potential", 0)],
    {"downgrade_margin": 5, "min_days_in_tier": 0, "grace_days": 0, "hold_days": 60},
)


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
    # fill 0.7 -> 0: score 0. qualified (55) needs 0.30 q + 0.25 o + 0.15 a = 38.5: quality alone gives
    # at most 30, on time 25, accuracy 15: no single lever. n perfect deliveries of the average size
    # (70 delivered): quality (0.8 + n)/(1 + n), on time n/(1 + n), fill 0.7 (1 + n)/(1 + 0.7 n):
    #   n = 2: quality 0.9333 -> 60, on time 0.6667 -> 27.78, fill 0.875 -> 52.5:
    #          (18 + 6.944 + 7.875) / 0.7 = 46.9 < 55;
    #   n = 3: quality 0.95 -> 70, on time 0.75 -> 41.67, fill 2.8/3.1 = 0.9032 -> 61.29:
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
    metrics = {"recency_days": 1.0, "order_count": 2.0, "revenue": 200.0, "qualified_referrals": 1.0}
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
    metrics = {"quality_pass_rate": 0.8, "on_time_rate": 1.0, "fill_rate": 1.0, "price_index": 1.0}
    assert reasons(DEFAULT.supplier, {"price": 70.0}, after, metrics) == [
        "quality pass rate now scored 0 (quality pass rate 80.0%): -24.7 points",
        "on-time delivery now scored 100 (on time rate 100.0%): +8.8 points",
        "delivery accuracy now scored 100 (fill rate 100.0%): +5.3 points",
    ]
