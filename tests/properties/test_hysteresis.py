"""Hysteresis: no flapping around a tier minimum, but a returned order is retracted, not held."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests.properties.helpers import DAY0, RULES, SETTINGS, T0, run
from tierstream.schemas.events import AnyEvent, OrderEvent, PaymentEvent
from tierstream.schemas.outputs import TierChange
from tierstream.schemas.rules import Hysteresis
from tierstream.scorers.engine import Grader, ts
from tierstream.scorers.grading import compile_dims, composite
from tierstream.scorers.layout import DAY
from tierstream.scorers.metrics import Metrics
from tierstream.scorers.state import EntityState

NO_HYSTERESIS = RULES.model_copy(update={
    "customer": RULES.customer.model_copy(update={
        "hysteresis": Hysteresis(downgrade_margin=0, min_days_in_tier=0, grace_days=0, hold_days=0),
    }),
})
# The flapping construction swings payment punctuality alone: it is built on the credit dimension
# as it was before days late and overdue amounts were graded (the on-time ratio, weight 0.15).
_PUNCTUAL_DIMS = {n: d for n, d in RULES.customer.dimensions.items() if n not in ("lateness", "overdue")}
_PUNCTUAL_DIMS["credit"] = _PUNCTUAL_DIMS["credit"].model_copy(update={"weight": 0.15})
PUNCTUAL = RULES.model_copy(update={"customer": RULES.customer.model_copy(update={"dimensions": _PUNCTUAL_DIMS})})
PUNCTUAL_NO_HYSTERESIS = PUNCTUAL.model_copy(update={
    "customer": PUNCTUAL.customer.model_copy(update={"hysteresis": NO_HYSTERESIS.customer.hysteresis}),
})
C_DIMS = compile_dims(PUNCTUAL.customer)
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

    scores = _end_of_day_scores(Grader(PUNCTUAL_NO_HYSTERESIS), events)
    odd = [s for d, s in scores.items() if d % 2]
    even = [s for d, s in scores.items() if d % 2 == 0]
    # the construction: even days qualify, odd days fall under the minimum, within the margin
    assert len(odd) == pairs and len(even) == pairs + 1
    assert all(t_min <= s < t_min + 0.5 for s in even), even
    assert all(t_min - hyst.downgrade_margin <= s < t_min for s in odd), odd

    _, flapping, _ = run(events, PUNCTUAL_NO_HYSTERESIS)  # without hysteresis the tier flips every day
    assert len(_flips(flapping, tier, hyst.hold_days)) >= pairs - 1

    _, emitted, _ = run(events, PUNCTUAL)
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
