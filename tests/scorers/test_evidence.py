"""Missing evidence is not bad evidence (issue 10, point 3): golden tests, derived by hand.

Every expected value is computed in the comments from the published default
rules (``schemas/default_rules.yaml``), never by running the code:

customer weights: recency .20, frequency .15, monetary .20, profit .20, credit .15, referrals .10
supplier weights: quality .30, on_time .25, accuracy .15, price .15, service .15
customer tiers: key 70, general 40, potential 0; supplier: excellent 85, good 70, qualified 55, unqualified 0
min_evidence: a customer needs recency (an order), a supplier on_time (a delivery)
"""

from __future__ import annotations

from importlib import resources

import orjson
import pytest

from tests.scorers.helpers import (
    agg,
    assessment,
    changes,
    delivery,
    feed,
    order,
    purchase,
    referral,
    sod,
    ticket,
)
from tierstream.schemas.errors import RulesError
from tierstream.schemas.events import AssessmentEvent
from tierstream.schemas.outputs import UNGRADED
from tierstream.schemas.rules import parse_rules
from tierstream.scorers.engine import REREVIEW, Grader
from tierstream.scorers.layout import C_COSTED, C_COSTED_REVENUE, C_ORDERS, C_REVENUE, O_COSTED, O_COSTED_REVENUE
from tierstream.scorers.state import EntityState

NO_DELIVERY = "no delivery in the 180-day window"


# --------------------------------------------------------------------------- profit evidence


def test_a_feed_without_costs_leaves_profit_out(g: Grader) -> None:
    # One order of 2000 without a cost, graded the same day:
    #   recency 0 days -> 100; frequency 1 order -> 25; monetary 2000 -> 50; referrals 0 -> 0;
    #   profit and credit have no evidence: left out.
    #   (.20*100 + .15*25 + .20*50 + .10*0) / (.20 + .15 + .20 + .10) = 33.75 / .65 = 51.923 -> 51.92: general.
    # Counting the missing cost as zero profit gave 33.75 / .85 = 39.71: potential.
    state, outs = feed(g, [order(0, "o1", amount=2000.0, cost=None)])
    [c] = changes(outs)
    assert (c.tier, c.score, c.direction) == ("general", 51.92, "initial")
    assert "profit" not in c.components
    a = agg(g, state)
    assert a["gross_profit"] is None and a["costed_orders"] == 0


def test_profit_of_the_costed_orders_is_scaled_to_the_whole_revenue(g: Grader) -> None:
    # Day 0: 1000 with cost 800 (profit 200); day 1: 1000 without a cost. Graded on day 1:
    #   revenue 2000, costed revenue 1000: gross profit 200 * 2000 / 1000 = 400.
    #   profit 400 on [100 -> 20, 500 -> 50]: 20 + 30 * 300/400 = 42.5
    #   recency 0 -> 100; frequency 2 on [1 -> 25, 3 -> 55]: 40; monetary 2000 -> 50; referrals 0.
    #   (.20*100 + .15*40 + .20*50 + .20*42.5 + .10*0) / .85 = 44.5 / .85 = 52.353 -> 52.35
    state, _ = feed(g, [order(0, "o1", amount=1000.0, cost=800.0), order(1, "o2", amount=1000.0, cost=None)])
    snap = g.snapshot(state, state.clock)
    assert snap.components["profit"] == 42.5
    assert snap.score == 52.35
    assert (snap.aggregates["gross_profit"], snap.aggregates["costed_orders"]) == (400.0, 1)


def test_cancelling_the_only_costed_order_removes_the_profit_evidence(g: Grader) -> None:
    # o1 (costed) is cancelled, o2 has no cost: no costed order remains, profit is left out.
    # Left: o2, 1000, day 1, graded day 2: recency 1 day on [0 -> 100, 30 -> 85]: 99.5;
    #   frequency 1 -> 25; monetary 1000 on [500 -> 20, 2000 -> 50]: 30; referrals 0.
    #   (.20*99.5 + .15*25 + .20*30 + 0) / .65 = (19.9 + 3.75 + 6) / .65 = 29.65 / .65 = 45.615 -> 45.62
    state, _ = feed(g, [order(0, "o1", amount=1000.0, cost=800.0), order(1, "o2", amount=1000.0, cost=None),
                        order(2, "o1", amount=1000.0, cost=800.0, status="cancelled")])
    snap = g.snapshot(state, state.clock)
    assert "profit" not in snap.components
    assert snap.score == 45.62
    assert snap.aggregates["costed_orders"] == 0


def test_a_state_written_before_profit_evidence_still_loads_and_grades_as_it_did(g: Grader) -> None:
    # Before, a customer bucket had 8 fields and every order counted in profit (zero without a
    # cost): such a state is read with each of its orders counted as costed.
    state, _ = feed(g, [order(0, "o1", amount=1000.0, cost=None)])
    doc = orjson.loads(state.to_bytes())
    doc[4] = [row[:9] for row in doc[4]]  # [day, *8 fields]
    doc[5] = doc[5][:8]
    doc[8] = [row[:6] for row in doc[8]]  # [order_id, day, status, orders, revenue, profit]
    old = EntityState.from_bytes(orjson.dumps(doc))
    assert old.totals[C_COSTED] == old.totals[C_ORDERS] == 1
    assert old.totals[C_COSTED_REVENUE] == old.totals[C_REVENUE] == 100_000
    assert old.orders["o1"][O_COSTED:O_COSTED_REVENUE + 1] == [1, 100_000]  # then the retraction fields
    # profit 0 counted, as before: gross profit 0 * 1000/1000 = 0 -> 0 on the profit scale
    assert g.snapshot(old, old.clock).components["profit"] == 0.0
    old2, _ = g.apply(old, order(1, "o1", amount=1000.0, cost=None, status="returned"))
    assert old2.totals[C_COSTED] == 0 and old2.totals[C_COSTED_REVENUE] == 0  # reversed whole


# --------------------------------------------------------------------------- ungraded suppliers


def test_a_supplier_with_a_purchase_order_and_no_delivery_is_ungraded_then_graded(g: Grader) -> None:
    # PO day 0 at market price (index 1.0 -> price 70): price is the only evidence; on_time
    # (required) has none: ungraded, reason "no delivery in the 180-day window", score 70 over
    # the evidence there is, no next-tier hint, no alert.
    state, outs = feed(g, [purchase(0, "p1", amount=100.0, market=100.0)])
    [c] = changes(outs)
    assert (c.tier, c.previous_tier, c.direction) == (UNGRADED, None, "ungraded")
    assert c.ungraded_reason == NO_DELIVERY and c.next_tier is None
    assert c.score == 70.0 and c.components == {"price": 70.0}
    assert c.reasons[0] == f"ungraded: {NO_DELIVERY}"
    assert not any(o.alerts for o in outs)
    snap = g.snapshot(state, sod(5))
    assert (snap.tier, snap.ungraded_reason, snap.next_tier) == (UNGRADED, NO_DELIVERY, None)
    # Day 10: 100 delivered on time (promised day 12), 98 accepted:
    #   quality .98 on [.95 -> 70, .99 -> 90]: 85; on_time 1.0 -> 100; accuracy 1.0 -> 100; price 70.
    #   (.30*85 + .25*100 + .15*100 + .15*70) / .85 = 76 / .85 = 89.412 -> 89.41: excellent.
    # Out of ungraded: a first tier, direction "initial", previous tier "ungraded".
    state, outs = feed(g, [delivery(10, "p1", 12, 100, 100, 98)], state)
    [c] = changes(outs)
    assert (c.tier, c.previous_tier, c.direction, c.score) == ("excellent", UNGRADED, "initial", 89.41)
    assert c.ungraded_reason is None
    assert g.snapshot(state, state.clock).ungraded_reason is None


def test_days_spent_ungraded_never_hold_a_tier(g: Grader) -> None:
    # Days 0-2: POs at 0.85 of market (price 100) and no delivery: ungraded, score 100 on price alone.
    # Day 3: a delivery on time, 100 of 100 delivered, 90 accepted:
    #   quality .90 -> 40; on_time 100; accuracy 100; price 100.
    #   (.30*40 + .25*100 + .15*100 + .15*100) / .85 = 67 / .85 = 78.824 -> 78.82: good.
    # Had the ungraded days' score of 100 counted, min_days_in_tier (14) would hold "excellent".
    evs = [purchase(d, f"p{d}", amount=85.0, market=100.0) for d in range(3)]
    _, outs = feed(g, [*evs, delivery(3, "p0", 5, 100, 100, 90)])
    last = changes(outs)[-1]
    assert (last.tier, last.score, last.direction) == ("good", 78.82, "initial")
    assert not any(r.startswith("held") for r in last.reasons)


def test_a_supplier_whose_deliveries_leave_the_window_becomes_ungraded_without_an_alert(g: Grader) -> None:
    # Day 0: PO and a perfect delivery (quality 1.0 -> 100, on time, full: 100; price 1.0 -> 70):
    #   (.30*100 + .25*100 + .15*100 + .15*70) / .85 = 80.5 / .85 = 94.71: excellent.
    # Day 100: a PO at market price keeps price evidence. On day 180 the day-0 delivery leaves the
    # 180-day window (window = days 1..180): no delivery in it, ungraded, by the re-review then.
    state, outs = feed(g, [purchase(0, "p1", amount=100.0, market=100.0), delivery(0, "p1", 1, 10, 10, 10),
                           purchase(100, "p2", amount=100.0, market=100.0)])
    assert changes(outs)[-1].tier == "excellent"
    out = g.review_due(state, sod(200))
    [c] = out.changes
    assert (c.tier, c.previous_tier, c.direction, c.cause) == (UNGRADED, "excellent", "ungraded", REREVIEW)
    assert c.occurred_at.timestamp() == sod(180)
    assert c.ungraded_reason == NO_DELIVERY
    assert out.alerts == []


def test_a_supplier_prospect_assessment_grades_a_new_supplier(g: Grader) -> None:
    # A prospect score of 80 for a supplier with no delivery yet (a newcomer: at most 1 delivery):
    # graded on it, 80: good (70..85), not ungraded.
    a = assessment(0, "s1", 60, score=80.0, kind="supplier")
    assert isinstance(a, AssessmentEvent) and a.prospect_score == 80.0  # accepted for a supplier
    state, outs = feed(g, [a, purchase(0, "p1", amount=100.0, market=100.0)])
    [c] = changes(outs)
    assert (c.tier, c.score, c.direction) == ("good", 80.0, "initial")
    assert any("prospect score 80" in r for r in c.reasons)
    # A first delivery keeps it a newcomer (1 delivery); a second one ends the prospect:
    # 2 perfect deliveries on time, price 70: 94.71 as above -> excellent.
    state, outs = feed(g, [delivery(5, "p1", 6, 10, 10, 10)], state)
    assert changes(outs) == [] and g.snapshot(state, state.clock).components["prospect"] == 80.0
    state, outs = feed(g, [delivery(6, "p1", 7, 10, 10, 10)], state)
    [c] = changes(outs)
    assert (c.tier, c.score) == ("excellent", 94.71)
    # When the prospect expires with no delivery, the supplier is ungraded, not unqualified.
    s2, _ = feed(g, [assessment(0, "s2", 30, score=80.0, kind="supplier"),
                     purchase(0, "q1", sup="s2", amount=100.0, market=100.0)])
    [c] = g.review_due(s2, sod(40)).changes
    assert (c.tier, c.direction, c.occurred_at.timestamp()) == (UNGRADED, "ungraded", sod(30) + 12 * 3600)


def test_an_override_grades_an_entity_without_evidence(g: Grader) -> None:
    _, outs = feed(g, [purchase(0, "p1"), assessment(0, "s1", 30, override="good", kind="supplier")])
    assert [c.tier for c in changes(outs)] == [UNGRADED, "good"]
    assert changes(outs)[-1].ungraded_reason is None


# --------------------------------------------------------------------------- ungraded customers


def test_a_referred_customer_who_never_ordered_is_ungraded_not_potential(g: Grader) -> None:
    # c1 only referred so far: no order, so no recency evidence: ungraded "no order yet".
    # (It used to be potential, score 0: frequency 0, monetary 0, referrals 0.)
    state, outs = feed(g, [referral(0, "c9", "c1")])
    [c] = changes(outs)
    assert (c.tier, c.direction, c.ungraded_reason) == (UNGRADED, "ungraded", "no order yet")
    # First order, 100 with cost 60 (profit 40 on [0 -> 0, 100 -> 20]: 8), graded the same day:
    #   recency 100, frequency 25, monetary 100 on [0 -> 0, 500 -> 20]: 4, referrals 0, no credit:
    #   (.20*100 + .15*25 + .20*4 + .20*8 + .10*0) / .85 = 26.15 / .85 = 30.765 -> 30.76: potential.
    state, outs = feed(g, [order(1, "o1")], state)
    first = changes(outs)[0]
    assert (first.tier, first.previous_tier, first.direction, first.score) == ("potential", UNGRADED, "initial", 30.76)


# --------------------------------------------------------------------------- the rules


def _rules_with(supplier_extra: str) -> str:
    text = (RULES_TEXT.replace("  alert_on: any_downgrade\n", f"  alert_on: any_downgrade\n{supplier_extra}")
            .replace("  min_evidence: {dimensions: 1, requires: [on_time]}  # at least one delivery\n", ""))
    return text


RULES_TEXT = resources.files("tierstream.schemas").joinpath("default_rules.yaml").read_text("utf-8")


@pytest.mark.parametrize(("extra", "message"), [
    ("  min_evidence: {requires: [delivery]}\n",
     "supplier.min_evidence.requires: 'delivery' is not a supplier dimension"),
    ("  min_evidence: {dimensions: 6}\n", "supplier.min_evidence.dimensions: 6 is more than the 5 supplier dimensions"),
    ("  min_evidence: {requires: [on_time, on_time]}\n", "names a dimension twice"),
    ("  min_evidence: {dimensions: -1}\n", "supplier.min_evidence.dimensions"),
])
def test_min_evidence_is_validated_at_load(extra: str, message: str) -> None:
    with pytest.raises(RulesError, match=message.replace("(", r"\(").replace("[", r"\[")):
        parse_rules(_rules_with(extra))


def test_ungraded_is_not_a_tier_name() -> None:
    text = RULES_TEXT.replace("name: unqualified\n", "name: ungraded\n")
    assert text != RULES_TEXT
    with pytest.raises(RulesError, match="the tier name 'ungraded' is reserved"):
        parse_rules(text)


def test_without_a_minimum_an_entity_is_graded_on_any_evidence() -> None:
    # dimensions: 0 and no requirement: graded on any evidence, a supplier on price alone (70: good).
    g0 = Grader(parse_rules(_rules_with("  min_evidence: {dimensions: 0}\n")))
    _, outs = feed(g0, [purchase(0, "p1", amount=100.0, market=100.0)])
    assert [(c.tier, c.score) for c in changes(outs)] == [("good", 70.0)]
    # the model's default is one dimension: a PO without a market price has none -> ungraded
    g1 = Grader(parse_rules(_rules_with("")))
    _, outs = feed(g1, [purchase(0, "p1")])
    [c] = changes(outs)
    assert (c.tier, c.ungraded_reason) == (UNGRADED, "no evidence in any dimension yet")


def test_a_minimum_number_of_dimensions_says_how_many_have_evidence() -> None:
    # dimensions: 2, nothing required: a PO at market price gives price evidence only (1 of 2):
    # ungraded; a service ticket answered in 4 h adds service (4 h -> 100): graded on
    # (.15*70 + .15*100) / .30 = 85.0: excellent.
    g2 = Grader(parse_rules(_rules_with("  min_evidence: {dimensions: 2}\n")))
    state, outs = feed(g2, [purchase(0, "p1", amount=100.0, market=100.0)])
    assert [(c.tier, c.ungraded_reason) for c in changes(outs)] == [
        (UNGRADED, "evidence in 1 of the 2 dimensions required")]
    _, outs = feed(g2, [ticket(1, "t1", 4.0)], state)
    assert [(c.tier, c.score, c.direction) for c in changes(outs)] == [("excellent", 85.0, "initial")]
