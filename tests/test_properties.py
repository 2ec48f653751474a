"""Properties of the grading semantics (hypothesis).

The key one: the graded state is a function of the *set* of events, not of the
order they arrive in (scorers/engine.py, "The tier is a function of the set of
events, not of their order"). Each event list is fed through the offline scorer
as JSON lines, exactly as ``tierstream score`` reads a file.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tierstream.schemas.events import (
    AnyEvent,
    AssessmentEvent,
    DeliveryEvent,
    OrderEvent,
    PaymentEvent,
    ReferralEvent,
    ServiceEvent,
)
from tierstream.schemas.outputs import TierChange
from tierstream.schemas.rules import Hysteresis, Rules, load_rules
from tierstream.scorers.engine import Grader, ts
from tierstream.scorers.grading import compile_dims, composite
from tierstream.scorers.metrics import Metrics
from tierstream.scorers.scale import Points, Scale, apply_scale, first_x_down_reaching, first_x_reaching
from tierstream.scorers.state import DAY, EntityState
from tierstream.streams.offline.score import OfflineScorer

RULES = load_rules()
T0 = datetime(2025, 1, 1, tzinfo=UTC)
DAY0 = ts(T0) // DAY
RECEIVED = ts(datetime(2030, 1, 1, tzinfo=UTC))  # a fixed receiving clock: nothing is too new
SPAN_DAYS = 364  # all events within one year (reversals may come up to 30 days later)

CUSTOMERS = ["c1", "c2", "c3", "c4"]
NEWCOMERS = ["n1", "n2"]  # referred customers (several referrers may compete for them)
SUPPLIERS = ["s1", "s2", "s3"]
MAX_REVERSAL_DAYS = 30
# A supplier assessment older than the retention of a later supplier event is a known
# counterexample (test_active_override_is_kept_whatever_the_arrival_order): supplier
# assessments are drawn from this day on, so no later event can make them too old.
SUPPLIER_ASSESSMENTS_FROM = 0  # assessments are never too old: any day works
C_TIERS = [t.name for t in RULES.customer.tiers]
S_TIERS = [t.name for t in RULES.supplier.tiers]

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def when(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


# Event times: anywhere in the year, or clustered on a few days (same-day collisions,
# window and hysteresis edges: 180 = supplier window, 240 = supplier window + lookback).
_EDGE_DAYS = [0, 1, 2, 7, 13, 14, 30, 59, 60, 61, 120, 179, 180, 181, 239, 240, 241, 300, 363, 364]
instants = st.one_of(
    st.integers(0, SPAN_DAYS * DAY),
    st.builds(lambda d, s: d * DAY + s, st.sampled_from(_EDGE_DAYS), st.integers(0, DAY - 1)),
)
money = st.sampled_from([0.0, 10.0, 99.99, 250.0, 1234.56, 5000.0, 40000.0])
KINDS = ["sale", "sale", "purchase", "reverse", "payment", "delivery", "delivery", "referral",
         "service", "prospect", "override", "duplicate"]


@st.composite
def event_lists(draw: st.DrawFn, max_size: int = 30) -> list[AnyEvent]:
    """Valid events of every type for a few customers and suppliers, with reversals and duplicates."""
    n = draw(st.integers(1, max_size))
    out: list[AnyEvent] = []
    orders: list[OrderEvent] = []
    for i in range(n):
        kind = draw(st.sampled_from(KINDS))
        eid, t = f"e{i}", draw(instants)
        ev: AnyEvent
        if kind == "sale":
            cust = draw(st.sampled_from(CUSTOMERS + NEWCOMERS))
            amount = draw(money)
            cost = draw(st.none() | st.sampled_from([0.0, round(amount * 0.6, 2), round(amount * 1.1, 2)]))
            group = draw(st.none() | st.sampled_from(["wholesale", "retail"]))
            ev = OrderEvent(event_id=eid, occurred_at=when(t), order_id=f"o{i}", customer_id=cust,
                            amount=amount, cost=cost, customer_group=group)
            orders.append(ev)
        elif kind == "purchase":
            amount = draw(money)
            market = draw(st.none() | st.sampled_from([round(amount * 0.9, 2), round(amount * 1.05, 2)]))
            ev = OrderEvent(event_id=eid, occurred_at=when(t), order_id=f"p{i}",
                            supplier_id=draw(st.sampled_from(SUPPLIERS)), amount=amount, market_amount=market)
            orders.append(ev)
        elif kind == "reverse":
            if not orders:
                continue
            placed = draw(st.sampled_from(orders))
            ev = placed.model_copy(update={
                "event_id": eid,
                "status": draw(st.sampled_from(["cancelled", "returned"])),
                "occurred_at": placed.occurred_at
                + timedelta(seconds=draw(st.integers(0, MAX_REVERSAL_DAYS * DAY))),
            })
        elif kind == "payment":
            due = t + draw(st.integers(-20, 20)) * DAY + draw(st.integers(0, DAY - 1))
            ev = PaymentEvent(event_id=eid, occurred_at=when(t), customer_id=draw(st.sampled_from(CUSTOMERS)),
                              invoice_id=f"i{i}", amount=draw(money), due_at=when(max(due, 0)))
        elif kind == "delivery":
            q = draw(st.integers(1, 100))
            delivered = draw(st.integers(0, q))
            ev = DeliveryEvent(event_id=eid, occurred_at=when(t), supplier_id=draw(st.sampled_from(SUPPLIERS)),
                               order_id=f"p{i}", promised_at=when(max(t + draw(st.integers(-3, 3)) * DAY, 0)),
                               quantity_ordered=q, quantity_delivered=delivered,
                               quantity_accepted=draw(st.integers(0, delivered)))
        elif kind == "referral":
            referrer, referred_id = draw(st.permutations(CUSTOMERS + NEWCOMERS))[:2]
            ev = ReferralEvent(event_id=eid, occurred_at=when(t), referrer_id=referrer, referred_id=referred_id)
        elif kind == "service":
            ev = ServiceEvent(event_id=eid, occurred_at=when(t), supplier_id=draw(st.sampled_from(SUPPLIERS)),
                              ticket_id=f"t{i}", first_response_at=when(t + draw(st.integers(0, 200 * 3600))))
        elif kind == "prospect":
            ev = AssessmentEvent(event_id=eid, occurred_at=when(t), entity_type="customer",
                                 entity_id=draw(st.sampled_from(CUSTOMERS + NEWCOMERS)),
                                 prospect_score=float(draw(st.integers(0, 100))), reason="onboarding call",
                                 expires_at=when(t + draw(st.integers(1, 120)) * DAY), author="li.wei")
        elif kind == "override":
            if draw(st.booleans()):
                etype, entity, tier = "customer", draw(st.sampled_from(CUSTOMERS)), draw(st.sampled_from(C_TIERS))
            else:
                etype, entity, tier = "supplier", draw(st.sampled_from(SUPPLIERS)), draw(st.sampled_from(S_TIERS))
                t = max(t, SUPPLIER_ASSESSMENTS_FROM * DAY)
            ev = AssessmentEvent(event_id=eid, occurred_at=when(t), entity_type=etype,  # type: ignore[arg-type]
                                 entity_id=entity, tier_override=tier, reason="quarterly review",
                                 expires_at=when(t + draw(st.integers(1, 120)) * DAY), author="m.garcia")
        else:  # an exact duplicate of an earlier line
            if not out:
                continue
            ev = draw(st.sampled_from(out))
        out.append(ev)
    if not out:
        out.append(OrderEvent(event_id="e-only", occurred_at=T0, order_id="o-only", customer_id="c1", amount=1.0))
    return out


def run(events: list[AnyEvent], rules: Rules = RULES) -> tuple[dict[tuple[str, str], dict[str, Any]],
                                                               list[TierChange], OfflineScorer]:
    """Feed the events as JSON lines; snapshots as of the latest event time, by entity."""
    scorer = OfflineScorer(rules, received_at=RECEIVED)
    emitted: list[TierChange] = []
    for lineno, ev in enumerate(events, 1):
        emitted += scorer.feed_line(lineno, ev.model_dump_json().encode())
    as_of, final = scorer.finish()
    emitted += final
    assert as_of == max(ts(e.occurred_at) for e in events)
    snaps: dict[tuple[str, str], dict[str, Any]] = {
        (s.entity_type, s.entity_id): s.model_dump() for s in scorer.snapshots(as_of)}
    return snaps, emitted, scorer


def assert_same_snapshots(a: dict[tuple[str, str], dict[str, Any]], b: dict[tuple[str, str], dict[str, Any]]) -> None:
    assert sorted(a) == sorted(b)
    for key in a:
        diff = {f: (a[key][f], b[key][f]) for f in a[key] if a[key][f] != b[key][f]}
        assert not diff, f"{key}: {diff}"


# --------------------------------------------------------------------------- permutation invariance


@settings(SETTINGS, max_examples=150)
@given(st.data())
def test_any_permutation_gives_identical_snapshots(data: st.DataObject) -> None:
    events = data.draw(event_lists(), label="events")
    shuffled = data.draw(st.permutations(events), label="arrival order")
    a, _, _ = run(events)
    b, _, _ = run(shuffled)
    assert_same_snapshots(a, b)


@SETTINGS
@given(st.data())
def test_event_time_order_equals_any_arrival_order(data: st.DataObject) -> None:
    """The sorted file (what a batch system would see) and an arbitrary one agree."""
    events = data.draw(event_lists(), label="events")
    ordered = sorted(events, key=lambda e: (e.occurred_at, e.event_id))
    a, _, _ = run(ordered)
    b, _, _ = run(list(reversed(ordered)))
    assert_same_snapshots(a, b)


# --------------------------------------------------------------------------- duplicates


@SETTINGS
@given(st.data())
def test_duplicates_change_nothing(data: st.DataObject) -> None:
    events = data.draw(event_lists(), label="events")
    n = len(events)
    # each event's copy goes anywhere after the original
    where = [data.draw(st.integers(i, n - 1), label=f"copy of {i} after") for i in range(n)]
    doubled: list[AnyEvent] = []
    for k, ev in enumerate(events):
        doubled.append(ev)
        doubled += [events[i] for i in range(k + 1) if where[i] == k]
    assert len(doubled) == 2 * n
    a, changes_a, rep_a = run(events)
    b, changes_b, rep_b = run(doubled)
    assert_same_snapshots(a, b)
    assert [c.model_dump() for c in changes_a] == [c.model_dump() for c in changes_b]
    assert rep_b.report.applied == rep_a.report.applied
    assert rep_b.report.history == rep_a.report.history


# --------------------------------------------------------------------------- window edge


@SETTINGS
@given(
    day=st.integers(0, 2000),
    second=st.integers(0, DAY - 1),
    amounts=st.lists(st.integers(0, 10**8), min_size=1, max_size=4),
    probe=st.integers(0, DAY - 1),
)
def test_customer_order_expires_exactly_at_the_window_edge(
    day: int, second: int, amounts: list[int], probe: int
) -> None:
    grader = Grader(RULES)
    w = RULES.customer.window_days
    state: EntityState | None = None
    for i, cents in enumerate(amounts):
        ev = OrderEvent(event_id=f"e{i}", occurred_at=when(day * DAY + second), order_id=f"o{i}",
                        customer_id="c1", amount=cents / 100, cost=0.0)
        state, out = grader.apply(state, ev)
        assert out.status == "applied"
    assert state is not None
    last_in = grader.snapshot(state, (DAY0 + day + w - 1) * DAY + probe).aggregates
    assert last_in["order_count"] == len(amounts)
    assert round(last_in["revenue"] * 100) == sum(amounts)
    assert last_in["gross_profit"] == last_in["revenue"]
    gone = grader.snapshot(state, (DAY0 + day + w) * DAY + probe).aggregates
    assert (gone["order_count"], gone["revenue"], gone["gross_profit"]) == (0, 0.0, 0.0)


@SETTINGS
@given(
    day=st.integers(0, 2000),
    second=st.integers(0, DAY - 1),
    quantities=st.lists(st.integers(1, 1000), min_size=1, max_size=4),
    gap=st.integers(0, 2),
)
def test_supplier_delivery_expires_exactly_at_the_window_edge(
    day: int, second: int, quantities: list[int], gap: int
) -> None:
    """Same edge when the window slides because a later event moved the clock."""
    grader = Grader(RULES)
    w = RULES.supplier.window_days
    state: EntityState | None = None
    for i, q in enumerate(quantities):
        ev = DeliveryEvent(event_id=f"d{i}", occurred_at=when(day * DAY + second), supplier_id="s1",
                           order_id=f"p{i}", promised_at=when(day * DAY + second), quantity_ordered=q,
                           quantity_delivered=q, quantity_accepted=q)
        state, _ = grader.apply(state, ev)
    assert state is not None
    edge = day + w - 1 + gap  # a later purchase on the last day in (gap 0) or after it
    state, _ = grader.apply(state, OrderEvent(event_id="p-late", occurred_at=when(edge * DAY), order_id="px",
                                              supplier_id="s1", amount=1.0))
    expected = len(quantities) if gap == 0 else 0
    assert grader.snapshot(state, state.clock).aggregates["deliveries"] == expected


# --------------------------------------------------------------------------- hysteresis

NO_HYSTERESIS = RULES.model_copy(update={
    "customer": RULES.customer.model_copy(update={
        "hysteresis": Hysteresis(downgrade_margin=0, min_days_in_tier=0, grace_days=0, hold_days=0),
    }),
})
C_DIMS = compile_dims(RULES.customer)
FREQ_FLAT = max(x for x, _ in RULES.customer.dimensions["frequency"].scale)  # 12 orders: score 100


def _payment(eid: str, day: int, hour: int, late: bool) -> PaymentEvent:
    paid = T0 + timedelta(days=day, hours=hour)
    return PaymentEvent(event_id=eid, occurred_at=paid, customer_id="c1", invoice_id=f"i-{eid}", amount=50.0,
                        due_at=paid + timedelta(days=-3 if late else 5))


def _alternating_payments(n_base: int, cents: int, base_payments: int, swing: int, pairs: int,
                          hour: int) -> list[AnyEvent]:
    """A customer whose payment punctuality alternates day by day, everything else flat.

    Day 0: ``n_base`` (>= 12, so frequency is flat) orders of ``cents`` and as many late
    as on-time payments. Then odd days: ``swing`` late payments (score dips); even days:
    ``swing`` on-time payments (the on-time ratio is back to exactly 0.5) and a zero-amount
    order (recency back to 0 days). So every even day scores exactly what day 0 scored.
    """
    at0 = T0 + timedelta(hours=hour)
    evs: list[AnyEvent] = [
        OrderEvent(event_id=f"b{i}", occurred_at=at0, order_id=f"b{i}", customer_id="c1",
                   amount=cents / 100, cost=round(cents * 0.7) / 100)
        for i in range(n_base)
    ]
    evs += [_payment(f"p0-{i}", 0, hour, late=i % 2 == 1) for i in range(2 * base_payments)]
    for k in range(1, pairs + 1):
        down, up = 2 * k - 1, 2 * k
        evs += [_payment(f"p{down}-{i}", down, hour, late=True) for i in range(swing)]
        evs += [_payment(f"p{up}-{i}", up, hour, late=False) for i in range(swing)]
        evs.append(OrderEvent(event_id=f"z{k}", occurred_at=T0 + timedelta(days=up, hours=hour),
                              order_id=f"z{k}", customer_id="c1", amount=0.0, cost=0.0))
    return evs


def _even_day_score(n_base: int, cents: int) -> float:
    """The score of day 0 and of every even day (plain composite of the known metrics)."""
    revenue = n_base * cents / 100
    metrics: Metrics = {
        "recency_days": 0.0, "order_count": float(n_base), "revenue": revenue,
        "gross_profit": n_base * (cents - round(cents * 0.7)) / 100, "on_time_payment_ratio": 0.5,
        "late_payments": 1.0, "avg_days_late": 3.0, "qualified_referrals": 0.0,
    }
    return composite(C_DIMS, metrics).score


def _end_of_day_scores(grader: Grader, events: list[AnyEvent]) -> dict[int, float]:
    state: EntityState | None = None
    by_day: dict[int, list[AnyEvent]] = {}
    for e in events:
        by_day.setdefault(ts(e.occurred_at) // DAY, []).append(e)
    scores = {}
    for d in sorted(by_day):
        for e in by_day[d]:
            state, _ = grader.apply(state, e)
        assert state is not None
        scores[d - DAY0] = grader.snapshot(state, (d + 1) * DAY - 1).score
    return scores


def _flips(emitted: list[TierChange], tier: str, hold_days: int) -> list[tuple[str, str]]:
    """(downgrade, upgrade) pairs between the same two tiers within ``hold_days``, once ``tier`` was reached."""
    reached = next(i for i, c in enumerate(emitted) if c.tier == tier)
    after = emitted[reached + 1:]
    return [
        (a.change_id, b.change_id)
        for i, a in enumerate(after) if a.direction == "downgrade"
        for b in after[i + 1:]
        if b.direction == "upgrade" and (b.previous_tier, b.tier) == (a.tier, a.previous_tier)
        and (b.occurred_at - a.occurred_at) < timedelta(days=hold_days)
    ]


@settings(SETTINGS, max_examples=25)
@given(
    tier=st.sampled_from(["general", "key"]),
    n_base=st.integers(int(FREQ_FLAT), 16),
    base_payments=st.integers(2, 10),
    swing_share=st.floats(0.1, 1.0),
    pairs=st.integers(3, 14),
    hour=st.integers(0, 23),
)
def test_hysteresis_prevents_flapping_around_a_tier_minimum(
    tier: str, n_base: int, base_payments: int, swing_share: float, pairs: int, hour: int
) -> None:
    hyst = RULES.customer.hysteresis
    t_min = next(t.min_score for t in RULES.customer.tiers if t.name == tier)
    swing = max(1, round(base_payments * swing_share))
    # the smallest order size that puts the even days on the tier minimum
    lo, hi = 0, 10**9
    assume(_even_day_score(n_base, hi) >= t_min)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if _even_day_score(n_base, mid) >= t_min else (mid, hi)
    events = _alternating_payments(n_base, hi, base_payments, swing, pairs, hour)

    scores = _end_of_day_scores(Grader(NO_HYSTERESIS), events)
    odd = [s for d, s in scores.items() if d % 2]
    even = [s for d, s in scores.items() if d % 2 == 0]
    # the construction: even days qualify, odd days fall under the minimum, within the margin
    assert len(odd) == pairs and len(even) == pairs + 1
    assert all(t_min <= s < t_min + 0.5 for s in even), even
    assert all(t_min - hyst.downgrade_margin <= s < t_min for s in odd), odd

    _, flapping, _ = run(events, NO_HYSTERESIS)  # without hysteresis the tier flips every day
    assert len(_flips(flapping, tier, hyst.hold_days)) >= pairs - 1

    _, emitted, _ = run(events)
    day1 = T0 + timedelta(days=1)
    assert [c.tier for c in emitted if c.occurred_at < day1][-1] == tier  # reached on day 0
    assert _flips(emitted, tier, hyst.hold_days) == []
    assert [c for c in emitted if c.occurred_at >= day1] == []  # held all along


def test_a_returned_order_is_retracted_not_held_by_hysteresis() -> None:
    """A return retracts its order (documented semantics): the order's day is re-scored as if it
    had never been placed, so a tier reached only through an order that was returned was never
    reached, and hysteresis has nothing to hold. Genuine fluctuations are held (tests above)."""
    at = [T0 + timedelta(days=d) for d in range(7)]
    evs: list[AnyEvent] = [
        OrderEvent(event_id=f"b{i}", occurred_at=at[0], order_id=f"b{i}", customer_id="c1", amount=149.28,
                   cost=104.50)
        for i in range(2)
    ]
    for k in range(3):  # an order on day 1, 3, 5 returned the next day
        up = OrderEvent(event_id=f"u{k}", occurred_at=at[2 * k + 1], order_id=f"u{k}", customer_id="c1",
                        amount=46.12, cost=32.28)
        evs += [up, up.model_copy(update={"event_id": f"r{k}", "status": "returned", "occurred_at": at[2 * k + 2]})]
    scores = _end_of_day_scores(Grader(NO_HYSTERESIS), evs)
    # order days score over 40 (general), return days under it but within the 5-point margin; a
    # return retracts its order from recency too, so on return day d the last order is day 0's:
    # recency 100 - 15 * d / 30, weight 0.2 of 0.85 (no payments): 37.61 - 0.2 * 0.5 * d / 0.85
    assert [round(s, 2) for s in scores.values()] == [37.61, 41.25, 37.38, 41.25, 37.14, 41.25, 36.91]
    _, emitted, _ = run(evs)
    assert [c.tier for c in emitted][:2] == ["potential", "general"]
    withdrawn = [c for c in emitted if c.direction == "downgrade"]
    assert [(c.previous_tier, c.tier) for c in withdrawn] == [("general", "potential")] * 3
    assert all(c.occurred_at.day == at[2 * k + 2].day for k, c in enumerate(withdrawn))  # on the return's day


# --------------------------------------------------------------------------- known counterexamples

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
    priced = po("a", 0, "p1", market=10.5)  # price index 0.95: scores 'good' while in the window
    placed, cancelled = po("b", w - 1, "p2"), po("c", w, "p2", status="cancelled")
    a, _, _ = run([priced, placed, cancelled])  # the zeroed bucket of day W-1 is dropped ...
    b, _, _ = run([priced, cancelled, placed])  # ... as if it had never been created
    assert a[("supplier", "s1")]["tier"] == "unqualified"
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


def _reference_first_x_reaching(points: Points, x_from: float, target: float, rising: bool) -> float | None:
    """The search as first written (a pairwise walk): the oracle for the compiled one."""

    def hit(y: float) -> bool:
        return y >= target if rising else y < target

    if hit(apply_scale(points, x_from)):
        return x_from
    for (xa, _ya), (xb, yb) in pairwise(points):
        if xb <= x_from:
            continue
        lo = max(xa, x_from)
        ylo = apply_scale(points, lo)
        if hit(yb) and yb != ylo:
            # solve ylo + (yb - ylo) * (x - lo) / (xb - lo) == target
            x = lo + (target - ylo) * (xb - lo) / (yb - ylo)
            x = min(max(x, lo), xb)
            if not hit(apply_scale(points, x)):
                x = math.nextafter(x, math.inf)
            return min(x, xb)
        if hit(yb):
            return xb
    return None


def _reference_first_x_down_reaching(points: Points, x_from: float, target: float) -> float | None:
    """The downward search as first written: the oracle for the compiled one."""
    if apply_scale(points, x_from) >= target:
        return x_from
    best: float | None = None
    for (xa, ya), (xb, _yb) in pairwise(points):
        if xa >= x_from:
            break
        hi = min(xb, x_from)
        yhi = apply_scale(points, hi)
        if ya >= target:
            if yhi != ya and yhi < target:
                x = xa + (target - ya) * (hi - xa) / (yhi - ya)
                best = max(min(x, hi), xa)
            else:
                best = hi
    return best


@given(
    points=st.lists(st.tuples(st.floats(-100, 1000), st.floats(0, 100)), min_size=2, max_size=6,
                    unique_by=lambda p: p[0]),
    x_from=st.floats(-200, 1200),
    target=st.floats(-10, 110),
    rising=st.booleans(),
)
def test_scale_searches_are_the_functions_to_the_bit(
    points: list[tuple[float, float]], x_from: float, target: float, rising: bool
) -> None:
    """The compiled scale's searches (review timer, next-tier hints) equal the plain functions exactly."""
    pts = sorted(points)
    expected = _reference_first_x_reaching(pts, x_from, target, rising)
    assert Scale(pts).first_x_reaching(x_from, target, rising) == expected
    assert first_x_reaching(pts, x_from, target, rising) == expected
    expected_down = _reference_first_x_down_reaching(pts, x_from, target)
    assert Scale(pts).first_x_down_reaching(x_from, target) == expected_down
    assert first_x_down_reaching(pts, x_from, target) == expected_down
