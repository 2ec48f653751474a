"""Operator tests of ``scorers.engine.Grader``: short event sequences, default rules.

Every test builds its events with the small helpers below (days are counted
from ``T0``; events happen at noon UTC unless told otherwise) and feeds them to
a fresh entity state, the way one Faust table value sees them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pytest

from tierstream.schemas.events import (
    AnyEvent,
    AssessmentEvent,
    DeliveryEvent,
    OrderEvent,
    PaymentEvent,
    ReferralEvent,
    ServiceEvent,
)
from tierstream.schemas.outputs import ReferralCredit, TierChange
from tierstream.schemas.rules import load_rules
from tierstream.scorers.engine import REREVIEW, Grader, Outcome, iso_day, ts
from tierstream.scorers.state import C_ORDERS, C_PLACED, C_REVENUE, DAY, EntityState, event_hash

RULES = load_rules()
CW = RULES.customer.window_days  # 365
SW = RULES.supplier.window_days  # 180
C_LOOKBACK = RULES.customer.hysteresis.lookback_days  # 60
T0 = datetime(2025, 1, 1, tzinfo=UTC)
DAY0 = ts(T0) // DAY


@pytest.fixture
def g() -> Grader:
    return Grader(RULES)


# --------------------------------------------------------------------------- event helpers

_ids = itertools.count(1)


def at(day: float, hour: float = 12.0) -> datetime:
    return T0 + timedelta(days=day, hours=hour)


def eod(day: int) -> int:
    """The last second of ``day`` (days from T0)."""
    return (DAY0 + day + 1) * DAY - 1


def sod(day: int) -> int:
    """The first second of ``day``."""
    return (DAY0 + day) * DAY


def _eid(event_id: str | None) -> str:
    return event_id or f"e{next(_ids)}"


def order(day: float, oid: str, cust: str = "c1", amount: float = 100.0, cost: float | None = 60.0,
          status: str = "placed", event_id: str | None = None, **kw: object) -> OrderEvent:
    return OrderEvent(event_id=_eid(event_id), occurred_at=at(day), order_id=oid, customer_id=cust,
                      amount=amount, cost=cost, status=status, **kw)  # type: ignore[arg-type]


def purchase(day: float, oid: str, sup: str = "s1", amount: float = 100.0, market: float | None = None,
             status: str = "placed", event_id: str | None = None) -> OrderEvent:
    return OrderEvent(event_id=_eid(event_id), occurred_at=at(day), order_id=oid, supplier_id=sup,
                      amount=amount, market_amount=market, status=status)  # type: ignore[arg-type]


def payment(day: float, inv: str, due_day: float, cust: str = "c1", amount: float = 100.0) -> PaymentEvent:
    return PaymentEvent(event_id=_eid(None), occurred_at=at(day), customer_id=cust, invoice_id=inv,
                        amount=amount, due_at=at(due_day))


def delivery(day: float, oid: str, promised_day: float, ordered: int, delivered: int, accepted: int,
             sup: str = "s1") -> DeliveryEvent:
    return DeliveryEvent(event_id=_eid(None), occurred_at=at(day), supplier_id=sup, order_id=oid,
                         promised_at=at(promised_day), quantity_ordered=ordered,
                         quantity_delivered=delivered, quantity_accepted=accepted)


def ticket(day: float, tid: str, hours: float, sup: str = "s1") -> ServiceEvent:
    return ServiceEvent(event_id=_eid(None), occurred_at=at(day), supplier_id=sup, ticket_id=tid,
                        first_response_at=at(day, 12.0 + hours))


def referral(day: float, referrer: str, referred: str) -> ReferralEvent:
    return ReferralEvent(event_id=_eid(None), occurred_at=at(day), referrer_id=referrer, referred_id=referred)


def assessment(day: float, entity: str, expires_day: float, score: float | None = None,
               override: str | None = None, kind: str = "customer") -> AssessmentEvent:
    return AssessmentEvent(event_id=_eid(None), occurred_at=at(day), entity_type=kind,  # type: ignore[arg-type]
                           entity_id=entity, prospect_score=score, tier_override=override,
                           reason="sales visit", expires_at=at(expires_day), author="li.wei")


def feed(g: Grader, events: Iterable[AnyEvent], state: EntityState | None = None
         ) -> tuple[EntityState, list[Outcome]]:
    outs = []
    for e in events:
        state, out = g.apply(state, e)
        outs.append(out)
    assert state is not None
    return state, outs


def changes(outs: Iterable[Outcome]) -> list[TierChange]:
    return [c for o in outs for c in o.changes]


def agg(g: Grader, state: EntityState, as_of: int | None = None) -> dict[str, object]:
    return g.snapshot(state, state.clock if as_of is None else as_of).aggregates


def key_customer(cust: str = "c1", orders: int = 6, amount: float = 1500.0, cost: float = 900.0
                 ) -> list[AnyEvent]:
    """A customer that reaches ``key``: an order every 5 days, each invoice paid on time."""
    evs: list[AnyEvent] = []
    for i in range(orders):
        evs.append(order(5 * i, f"{cust}-o{i}", cust=cust, amount=amount, cost=cost))
        evs.append(payment(5 * i + 1, f"{cust}-i{i}", 5 * i + 10, cust=cust))
    return evs


# --------------------------------------------------------------------------- counting once


def test_an_order_counts_once(g: Grader) -> None:
    state, outs = feed(g, [order(0, "o1", amount=250.0, cost=100.0)])
    assert outs[0].status == "applied"
    a = agg(g, state)
    assert (a["order_count"], a["revenue"], a["gross_profit"]) == (1, 250.0, 150.0)
    assert a["first_order_at"] == a["last_order_at"] == "2025-01-01T12:00:00Z"


def test_duplicate_event_id_changes_nothing(g: Grader) -> None:
    first = order(0, "o1", event_id="dup-1")
    state, _ = feed(g, [first, order(1, "o2")])
    before = state.to_bytes()
    for again in (first, order(3, "o-other", amount=999.0, event_id="dup-1")):  # same id, any content
        state, out = g.apply(state, again)
        assert out.status == "duplicate"
        assert out.changes == [] and out.credits == []
        assert state.to_bytes() == before
    assert agg(g, state)["order_count"] == 2


def test_same_order_id_placed_twice_counts_once(g: Grader) -> None:
    state, _ = feed(g, [order(0, "o1"), order(1, "o1")])  # a re-sent order under a new event_id
    assert agg(g, state)["order_count"] == 1


# --------------------------------------------------------------------------- reversals


@pytest.mark.parametrize("status", ["cancelled", "returned"])
@pytest.mark.parametrize("reversal_first", [False, True], ids=["order-first", "reversal-first"])
def test_reversal_cancels_the_order_once(g: Grader, status: str, reversal_first: bool) -> None:
    placed = order(0, "o1", amount=300.0, cost=100.0)
    reversal = order(4, "o1", amount=300.0, cost=100.0, status=status)
    other = order(2, "o2", amount=50.0, cost=20.0)
    evs = [reversal, other, placed] if reversal_first else [placed, other, reversal]
    state, outs = feed(g, evs)
    assert [o.status for o in outs] == ["applied"] * 3
    a = agg(g, state)
    assert (a["order_count"], a["revenue"], a["gross_profit"]) == (1, 50.0, 30.0)
    # retracted whole, recency included: day 0 is as if the order had never been placed
    assert DAY0 not in state.days
    assert state.days[DAY0 + 2][C_PLACED] == 1
    assert a["first_order_at"] == a["last_order_at"] == "2025-01-03T12:00:00Z"


def test_reversal_result_does_not_depend_on_arrival(g: Grader) -> None:
    placed, ret = order(0, "o1", amount=300.0), order(9, "o1", amount=300.0, status="returned")
    extra = order(10, "o2")
    a, _ = feed(g, [placed, ret, extra])
    b, _ = feed(g, [ret, placed, extra])
    c, _ = feed(g, [extra, ret, placed])
    snaps = [g.snapshot(s, eod(10)).model_dump() for s in (a, b, c)]
    assert snaps[0] == snaps[1] == snaps[2]


@pytest.mark.parametrize("order_first", [True, False])
def test_second_reversal_does_nothing(g: Grader, order_first: bool) -> None:
    placed = order(0, "o1", amount=300.0)
    evs = [order(3, "o1", status="returned"), order(5, "o1", status="returned"),
           order(6, "o1", status="cancelled")]
    state, _ = feed(g, [placed, *evs] if order_first else [*evs, placed])
    state, _ = g.apply(state, order(7, "o2", amount=40.0, cost=None))
    a = agg(g, state)
    assert (a["order_count"], a["revenue"]) == (1, 40.0)


def test_supplier_purchase_reversal(g: Grader) -> None:
    state, _ = feed(g, [purchase(0, "p1", amount=110.0, market=100.0), purchase(1, "p2", amount=90.0, market=100.0),
                        purchase(2, "p1", amount=110.0, market=100.0, status="cancelled")])
    a = agg(g, state)
    assert a["purchase_count"] == 1
    assert a["price_index"] == 0.9


# --------------------------------------------------------------------------- event time


def test_out_of_order_event_lands_in_its_own_day(g: Grader) -> None:
    state, outs = feed(g, [order(10, "o1"), order(12, "o2"), order(3, "o-late", amount=70.0)])
    assert [o.status for o in outs] == ["applied"] * 3
    assert sorted(state.days) == [DAY0 + 3, DAY0 + 10, DAY0 + 12]
    assert state.days[DAY0 + 3][C_ORDERS] == 1
    assert state.days[DAY0 + 3][C_REVENUE] == 7000  # cents
    assert state.clock == ts(at(12))  # a late event does not move the clock back
    a = agg(g, state)
    assert a["order_count"] == 3
    assert a["first_order_at"] == "2025-01-04T12:00:00Z"
    assert a["last_order_at"] == "2025-01-13T12:00:00Z"
    # and the result is the same as in event-time order
    ordered, _ = feed(g, [order(3, "o-late", amount=70.0), order(10, "o1"), order(12, "o2")])
    assert g.snapshot(state, eod(12)).model_dump() == g.snapshot(ordered, eod(12)).model_dump()


@pytest.mark.parametrize("day", [0, 17, 200])
def test_customer_window_edge(g: Grader, day: int) -> None:
    state, _ = feed(g, [order(day, "o1", amount=80.0)])
    last_in = day + CW - 1
    snap = g.snapshot(state, eod(last_in))
    assert snap.aggregates["order_count"] == 1
    assert snap.aggregates["revenue"] == 80.0
    assert snap.window.start == iso_day(DAY0 + day)
    assert snap.window.end == iso_day(DAY0 + last_in)
    assert snap.window.days == CW
    out = g.snapshot(state, sod(day + CW))
    assert out.aggregates["order_count"] == 0
    assert out.aggregates["revenue"] == 0.0
    assert out.window.start == iso_day(DAY0 + day + 1)


def test_supplier_window_edge(g: Grader) -> None:
    state, _ = feed(g, [delivery(5, "p1", 6, 10, 10, 10)])
    assert g.snapshot(state, eod(5 + SW - 1)).aggregates["deliveries"] == 1
    assert g.snapshot(state, sod(5 + SW)).aggregates["deliveries"] == 0


def test_window_edge_after_the_clock_moved(g: Grader) -> None:
    """The same edge when the window slid because later events arrived (totals, not snapshot)."""
    state, _ = feed(g, [order(0, "o1", amount=80.0), order(CW - 1, "o2", amount=20.0)])
    assert agg(g, state)["order_count"] == 2
    state, _ = g.apply(state, order(CW, "o3", amount=5.0, cost=None))
    a = agg(g, state)
    assert (a["order_count"], a["revenue"]) == (2, 25.0)


def test_too_old_and_history_edges(g: Grader) -> None:
    now = 500
    state, _ = feed(g, [order(now, "o-now", amount=10.0)])
    window_start = now - CW + 1
    retention_start = window_start - C_LOOKBACK
    before = EntityState.from_bytes(state.to_bytes())
    old = order(retention_start - 1, "o-too-old", amount=1000.0)
    state, out = g.apply(state, old)
    assert out.status == "too_old"
    assert iso_day(DAY0 + retention_start - 1) in out.detail
    # refused: counted nowhere, not remembered as seen ...
    assert (state.days, state.totals, state.seen, state.orders) == (before.days, before.totals, before.seen,
                                                                     before.orders)
    # ... but its lasting fact is kept, as when it reaches the entity before the newer order
    assert state.first_order == ts(old.occurred_at) and state.last_order == before.last_order
    again = state.to_bytes()
    state, out = g.apply(state, old)  # a redelivery changes nothing
    assert out.status == "too_old" and state.to_bytes() == again and not out.changes

    for d, oid in ((retention_start, "o-h1"), (window_start - 1, "o-h2")):
        state, out = g.apply(state, order(d, oid, amount=1000.0))
        assert out.status == "history", d
        assert DAY0 + d in state.days  # kept for hysteresis history
    state, out = g.apply(state, order(window_start, "o-in", amount=1.0, cost=None))
    assert out.status == "applied"
    a = agg(g, state)
    assert (a["order_count"], a["revenue"]) == (2, 11.0)  # history does not count in the window


def test_too_new_is_refused(g: Grader) -> None:
    e = order(10, "o1")
    state, out = g.apply(None, e, received_at=ts(at(10)) - 25 * 3600)
    assert out.status == "too_new"
    assert state.days == {}
    _, out = g.apply(None, e, received_at=ts(at(10)) - 23 * 3600)
    assert out.status == "applied"


def test_history_becomes_too_old_as_the_clock_moves(g: Grader) -> None:
    state, _ = feed(g, [order(0, "o1"), order(0, "o1b")])
    state, _ = g.apply(state, order(CW + C_LOOKBACK + 5, "o2"))
    assert DAY0 not in state.days  # expired past the retention
    state, out = g.apply(state, order(0, "o1c"))
    assert out.status == "too_old"


def test_ids_of_events_without_a_day_bucket_leave_with_the_retention(g: Grader) -> None:
    """A referral and a reversal that comes before its order create no day bucket of the
    customer's; their ids (and the early reversal) are forgotten when their day leaves."""
    ref = referral(0, "c9", "c1")
    early_cancel = OrderEvent(event_id="x1", occurred_at=at(1), order_id="o-late", customer_id="c1",
                              amount=5.0, status="cancelled")
    state, _ = feed(g, [ref, early_cancel])
    assert not state.days and len(state.seen) == 2 and "o-late" in state.orders
    state, _ = g.apply(state, order(CW + C_LOOKBACK + 1, "o-far"))
    assert event_hash(ref.event_id) not in state.seen and "o-late" not in state.orders
    assert len(state.seen) == 1  # the far order's own id



@pytest.mark.parametrize("read_back", [False, True], ids=["in memory", "read back from bytes"])
def test_ids_that_came_out_of_day_order_leave_with_the_retention_exactly(g: Grader, read_back: bool) -> None:
    """Event ids and orders are pruned from the front of their (day-ordered) dicts; a late
    event, or a state read back (its dicts in hash order), must not hide an id that is due."""
    late = payment(1, "i1", 1)
    state, _ = feed(g, [order(10, "a"), late, order(12, "c")])
    if read_back:
        state = EntityState.from_bytes(state.to_bytes())
    far = 3 + CW - 1 + C_LOOKBACK  # the retention then starts on day 3: the late payment's id leaves
    state, _ = g.apply(state, order(far, "far"))
    assert event_hash(late.event_id) not in state.seen
    assert sorted(state.seen.values()) == [DAY0 + 10, DAY0 + 12, DAY0 + far]
    assert state.oldest_id == DAY0 + 10
    state, _ = g.apply(state, order(far + 8, "later"))  # day 11: "a" leaves next, from the front
    assert set(state.orders) == {"c", "far", "later"} and state.oldest_id == DAY0 + 12


# --------------------------------------------------------------------------- metrics


def test_payments_late_count_and_average(g: Grader) -> None:
    state, _ = feed(g, [
        order(0, "o1"),
        payment(10, "i1", 20),  # early
        payment(20, "i2", 20),  # on the due day
        payment(25, "i3", 20),  # 5 days late
        payment(30, "i4", 20),  # 10 days late
        payment(21, "i5", 20.9),  # same UTC day as due: not late
    ])
    a = agg(g, state)
    assert a["payments"] == 5
    assert a["late_payments"] == 2
    assert a["avg_days_late"] == 7.5
    assert a["on_time_payment_ratio"] == 0.6
    assert g.snapshot(state, state.clock).components["credit"] == pytest.approx(30 + 40 * (0.1 / 0.3), abs=0.01)


def test_no_payments_leaves_credit_out(g: Grader) -> None:
    state, _ = feed(g, [order(0, "o1")])
    snap = g.snapshot(state, state.clock)
    assert "credit" not in snap.components
    assert snap.aggregates["on_time_payment_ratio"] is None
    assert snap.aggregates["avg_days_late"] == 0.0


def test_supplier_metrics(g: Grader) -> None:
    state, outs = feed(g, [
        purchase(0, "p1", amount=90.0, market=100.0),
        purchase(1, "p2", amount=115.0, market=100.0),
        purchase(2, "p3", amount=50.0),  # no market reference: not in the price index
        delivery(5, "p1", 5, 100, 100, 95),  # on time (same instant as promised)
        delivery(8, "p2", 7, 100, 80, 80),  # a day late, short
        delivery(9, "p3", 10, 50, 50, 50),  # early
        ticket(10, "t1", 2.0),
        ticket(11, "t2", 10.5),
    ])
    assert {o.status for o in outs} == {"applied"}
    snap = g.snapshot(state, state.clock)
    a = snap.aggregates
    assert a["deliveries"] == 3
    assert a["purchase_count"] == 3
    assert a["on_time_rate"] == round(2 / 3, 4)
    assert a["fill_rate"] == round(230 / 250, 4)
    assert a["quality_pass_rate"] == round(225 / 230, 4)
    assert a["price_index"] == round(205 / 200, 4)
    assert a["avg_first_response_hours"] == 6.25
    assert a["tickets"] == 2
    assert set(snap.components) == {"quality", "on_time", "accuracy", "price", "service"}
    assert snap.segment is None


def test_supplier_without_tickets_leaves_service_out(g: Grader) -> None:
    state, _ = feed(g, [delivery(0, "p1", 1, 10, 10, 10)])
    snap = g.snapshot(state, state.clock)
    assert set(snap.components) == {"quality", "on_time", "accuracy"}
    assert snap.score == 100.0
    assert snap.tier == "excellent"
    assert snap.next_tier is None


# --------------------------------------------------------------------------- referrals


@pytest.mark.parametrize("referral_first", [True, False])
def test_referral_credit_once_the_referred_customer_orders(g: Grader, referral_first: bool) -> None:
    ref, first, second = referral(0, "c1", "c2"), order(3, "o1", cust="c2"), order(4, "o2", cust="c2")
    evs: list[AnyEvent] = [ref, first, second] if referral_first else [first, ref, second]
    state, outs = feed(g, evs)
    credits = [c for o in outs for c in o.credits]
    assert len(credits) == 1
    (credit,) = credits
    assert credit.credit_id == f"rc:c1:c2:{int(credit.occurred_at.timestamp())}"
    assert (credit.referrer_id, credit.referred_id) == ("c1", "c2")
    assert credit.occurred_at == at(3)  # when the referral qualified
    assert state.credited == ("c1", int(credit.occurred_at.timestamp()))
    # a repeated referral or more orders never credit again
    state, out = g.apply(state, order(5, "o3", cust="c2"))
    assert out.credits == []


def test_referral_without_order_gives_no_credit(g: Grader) -> None:
    state, outs = feed(g, [referral(0, "c1", "c2"), payment(2, "i1", 3, cust="c2")])
    assert [c for o in outs for c in o.credits] == []
    assert state.credited is None


def test_credit_counts_once_even_if_applied_twice(g: Grader) -> None:
    credit = ReferralCredit(credit_id="rc:c1:c2", referrer_id="c1", referred_id="c2", occurred_at=at(3))
    state, out1 = g.credit(None, credit)
    assert out1.status == "applied"
    assert (state.kind, state.entity_id) == ("customer", "c1")
    before = state.to_bytes()
    state, out2 = g.credit(state, credit)
    assert out2.status == "duplicate"
    assert state.to_bytes() == before
    assert agg(g, state)["qualified_referrals"] == 1
    other = credit.model_copy(update={"credit_id": "rc:c1:c3", "referred_id": "c3"})
    state, _ = g.credit(state, other)
    snap = g.snapshot(state, state.clock)
    assert snap.aggregates["qualified_referrals"] == 2
    assert snap.components["referrals"] == 65.0


# --------------------------------------------------------------------------- manual assessments


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


# --------------------------------------------------------------------------- time-driven reviews


def test_review_downgrades_a_lapsed_key_customer(g: Grader) -> None:
    state, outs = feed(g, key_customer())
    assert [(c.tier, c.direction) for c in changes(outs)][-1] == ("key", "upgrade")
    assert state.next_review is not None and state.next_review > state.clock
    # nothing moves the next day
    assert g.review(state, state.clock + DAY).changes == []
    later = state.clock + 200 * DAY
    out = g.review(state, later)
    (change,) = out.changes
    assert (change.previous_tier, change.tier, change.direction) == ("key", "general", "downgrade")
    assert change.cause == REREVIEW
    assert change.reasons[0].startswith("re-review")
    assert any("recency" in r for r in change.reasons[1:])
    assert change.occurred_at == datetime.fromtimestamp(later, UTC)
    assert state.published_tier == "general"
    assert g.review(state, later).changes == []  # published: no second change


def test_review_does_not_change_what_later_events_do(g: Grader) -> None:
    a, _ = feed(g, key_customer())
    b = EntityState.from_bytes(a.to_bytes())
    g.review(a, a.clock + 150 * DAY)
    g.review_due(a, a.clock + 160 * DAY)
    late = order(190, "o-new", amount=10.0)
    a, _ = g.apply(a, late)
    b, _ = g.apply(b, late)
    assert g.snapshot(a, a.clock).model_dump() == g.snapshot(b, b.clock).model_dump()


def test_review_due_runs_pending_reviews(g: Grader) -> None:
    state, _ = feed(g, key_customer())
    until = state.clock + 400 * DAY
    out = g.review_due(state, until)
    tiers = [(c.tier, c.direction, c.cause) for c in out.changes]
    assert tiers == [("general", "downgrade", REREVIEW), ("potential", "downgrade", REREVIEW)]
    assert all(c.reasons[0].startswith("re-review") for c in out.changes)
    times = [c.occurred_at for c in out.changes]
    assert times == sorted(times)
    assert state.next_review is None or state.next_review > until
    assert state.published_tier == g.snapshot(state, until).tier == "potential"
    assert g.review_due(state, until).changes == []


def test_review_due_before_anything_is_due_does_nothing(g: Grader) -> None:
    state, _ = feed(g, key_customer())
    assert state.next_review is not None
    before = state.to_bytes()
    assert g.review_due(state, state.next_review - 1).changes == []
    assert state.to_bytes() == before


def test_review_due_publishes_a_downgrade_on_the_day_it_happens(g: Grader) -> None:
    state, _ = feed(g, key_customer())
    probe = EntityState.from_bytes(state.to_bytes())
    c0 = state.clock // DAY
    first_general = next(
        (c0 + d) * DAY for d in range(1, 300) if g.grade(probe, (c0 + d) * DAY).tier != "key"
    )
    out = g.review_due(state, (c0 + 300) * DAY)
    first = out.changes[0]
    assert first.tier == "general"
    assert first.occurred_at == datetime.fromtimestamp(first_general, UTC), (
        f"downgrade published on {first.occurred_at.date()}, "
        f"grade() says general from {datetime.fromtimestamp(first_general, UTC).date()}"
    )


# --------------------------------------------------------------------------- tier changes and alerts


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


def _good_then_bad_supplier(bad_quality: int) -> list[AnyEvent]:
    evs: list[AnyEvent] = [delivery(0, "p0", 1, 100, 100, 100), ticket(0, "t0", 1.0)]
    for i in range(1, 6):
        evs.append(delivery(20 + i, f"p{i}", 15, 100, 70, bad_quality))  # late, short, defective
    return evs


@pytest.mark.parametrize(("bad_quality", "tier", "severity"), [(60, "unqualified", "critical")])
def test_supplier_downgrade_emits_an_alert(g: Grader, bad_quality: int, tier: str, severity: str) -> None:
    _, outs = feed(g, _good_then_bad_supplier(bad_quality))
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
    _, outs = feed(g, evs)
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


# --------------------------------------------------------------------------- serialization


def _rich_customer() -> list[AnyEvent]:
    return [
        *key_customer(),
        order(7, "o-r", status="returned"),  # reversal before its order
        order(8, "o-r"),
        order(9, "c1-o1", status="cancelled"),
        referral(0, "c9", "c1"),
        assessment(2, "c1", 50, score=40.0),
        assessment(3, "c1", 45, override="general"),
        order(11, "o-g", customer_group="wholesale", amount=10.0),
    ]


def test_state_round_trips_through_bytes(g: Grader) -> None:
    state, _ = feed(g, _rich_customer())
    g.review(state, state.clock + 3 * DAY)  # fills the end-of-day cache
    data = state.to_bytes()
    back = EntityState.from_bytes(data)
    assert back.to_bytes() == data
    assert back == state
    assert state.next_review is not None and EntityState.next_review_of(data) == state.next_review
    assert g.snapshot(back, back.clock + DAY).model_dump() == g.snapshot(state, state.clock + DAY).model_dump()
    # and processing continues identically from the restored state
    nxt: list[AnyEvent] = [order(40, "o-next", amount=20.0), payment(41, "i-next", 30)]
    s1, o1 = feed(g, nxt, state)
    s2, o2 = feed(g, nxt, back)
    assert s1.to_bytes() == s2.to_bytes()
    assert [c.model_dump() for c in changes(o1)] == [c.model_dump() for c in changes(o2)]


def test_supplier_state_round_trips(g: Grader) -> None:
    state, _ = feed(g, [*_good_then_bad_supplier(60), purchase(3, "p1", amount=10.0, market=9.0)])
    data = state.to_bytes()
    assert EntityState.from_bytes(data).to_bytes() == data
    assert EntityState.from_bytes(data) == state


def test_unknown_state_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown entity state format"):
        EntityState.from_bytes(b'[1, "customer", "c1"]')
    with pytest.raises(ValueError, match="unknown entity state format"):
        EntityState.next_review_of(b'[1, "customer", "c1"]')


# --------------------------------------------------------------------------- end-of-day cache


def _recomputed_daily(g: Grader, state: EntityState, today: int) -> dict[int, float]:
    """The past end-of-day scores computed from the buckets alone (no cached grade, no cache)."""
    fresh = EntityState.from_bytes(state.to_bytes())
    fresh.daily.clear()
    return dict(g._past(fresh, today))


@pytest.mark.parametrize("expires_hour", [11.0, 15.0, 36.0], ids=["before-order", "later-that-day", "next-day"])
def test_end_of_day_score_from_the_last_grade_equals_the_recomputed_one(g: Grader, expires_hour: float) -> None:
    """A day closes with the score of its last grade, unless a prospect score ends later that day."""
    prospect = AssessmentEvent(
        event_id=_eid(None), occurred_at=at(0, 8.0), entity_type="customer", entity_id="c1", prospect_score=90.0,
        reason="trade fair", expires_at=at(0, expires_hour), author="li.wei")
    state, _ = feed(g, [prospect, order(0, "o1", amount=200.0), payment(1, "i1", 5)])
    assert DAY0 in state.daily  # closed by the payment's day
    assert state.daily == _recomputed_daily(g, state, DAY0 + 1)
    used_prospect = expires_hour > 12.0 + 24 * 0  # the order's grade (noon) still saw it
    assert (state.daily[DAY0] == 90.0) == (expires_hour == 36.0)
    assert used_prospect or state.daily[DAY0] != 90.0


def test_end_of_day_scores_match_after_late_events_and_reviews(g: Grader) -> None:
    evs = [*key_customer(orders=8), order(3, "late", amount=50.0), payment(2, "late-i", 1)]
    state, _ = feed(g, evs)
    g.review_due(state, state.clock + 40 * DAY)
    today = state.clock // DAY + 40
    assert dict(g._past(state, today)) == _recomputed_daily(g, state, today)
