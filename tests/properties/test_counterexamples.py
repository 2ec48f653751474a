"""Shrunk counterexamples of the permutation property, kept as minimal reproductions."""

from __future__ import annotations

from datetime import timedelta

from tests.properties.helpers import RULES, T0, assert_same_snapshots, run
from tierstream.schemas.events import AssessmentEvent, DeliveryEvent, OrderEvent, ReferralEvent

# Each is a shrunk counterexample of the permutation property found with event_lists
# (before the bug was fixed, or while the generator excludes its trigger), as a minimal
# reproduction.


def _ref(eid: str, day: int, referrer: str, referred: str) -> ReferralEvent:
    return ReferralEvent(event_id=eid, occurred_at=T0 + timedelta(days=day), referrer_id=referrer,
                         referred_id=referred)


def _sale(eid: str, day: int, cust: str) -> OrderEvent:
    return OrderEvent(event_id=eid, occurred_at=T0 + timedelta(days=day), order_id=f"o-{eid}",
                      customer_id=cust, amount=10.0)


def test_competing_referrals_credit_the_same_referrer_in_any_order() -> None:
    r1, r2, buy = _ref("r1", 1, "c1", "n1"), _ref("r2", 2, "c2", "n1"), _sale("s", 3, "n1")
    a, _, _ = run([r1, r2, buy])  # c1 referred first: c1 is credited
    b, _, _ = run([r2, buy, r1])  # c2's referral arrives first and is credited at once
    assert a[("customer", "c1")]["aggregates"]["qualified_referrals"] == 1
    assert_same_snapshots(a, b)


def test_referral_credit_time_does_not_depend_on_arrival_order() -> None:
    w = RULES.customer.window_days
    ref = _ref("r", 0, "c1", "n1")
    first, second = _sale("n-a", 0, "n1"), _sale("n-b", 1, "n1")
    referrer_late = _sale("c-late", w, "c1")  # c1's window as of day W starts on day 1
    a, _, _ = run([ref, first, second, referrer_late])  # credit on day 0: outside the window
    b, _, _ = run([ref, second, first, referrer_late])  # credit on day 1: inside the window
    assert a[("customer", "c1")]["aggregates"]["qualified_referrals"] == 0
    assert_same_snapshots(a, b)


def test_reversed_purchase_leaves_the_same_history_in_any_order() -> None:
    def po(eid: str, day: int, oid: str, status: str = "placed", market: float | None = None) -> OrderEvent:
        return OrderEvent(event_id=eid, occurred_at=T0 + timedelta(days=day), order_id=oid, supplier_id="s1",
                          amount=10.0, market_amount=market, status=status)  # type: ignore[arg-type]

    w = RULES.supplier.window_days
    priced = po("a", 0, "p1", market=10.5)  # price index 0.95: price evidence while in the window
    placed, cancelled = po("b", w - 1, "p2"), po("c", w, "p2", status="cancelled")
    a, _, _ = run([priced, placed, cancelled])  # the zeroed bucket of day W-1 is dropped ...
    b, _, _ = run([priced, cancelled, placed])  # ... as if it had never been created
    assert a[("supplier", "s1")]["tier"] == "ungraded"  # purchase orders, no delivery
    assert_same_snapshots(a, b)


def test_active_override_is_kept_whatever_the_arrival_order() -> None:
    override = AssessmentEvent(event_id="a", occurred_at=T0, entity_type="supplier", entity_id="s1",
                               tier_override="unqualified", reason="quality incident",
                               expires_at=T0 + timedelta(days=300), author="m.garcia")
    later = T0 + timedelta(days=250)  # past the supplier retention of day 0 (180 + 60 days)
    delivery = DeliveryEvent(event_id="d", occurred_at=later, supplier_id="s1", order_id="p1",
                             promised_at=later + timedelta(days=1), quantity_ordered=10, quantity_delivered=10,
                             quantity_accepted=10)
    a, _, _ = run([override, delivery])  # the override is in force on day 250: unqualified
    b, _, scorer = run([delivery, override])  # the override arrives after day 250: too old
    assert a[("supplier", "s1")]["tier"] == "unqualified"
    assert scorer.report.too_old == 0, "an assessment still in force was refused as too old"
    assert_same_snapshots(a, b)
