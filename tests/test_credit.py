"""Credit risk (issue 10, point 6): invoices, partial payments, overdue invoices, delay reasons.

The golden values are derived by hand in the comments from ``schemas/default_rules.yaml``
(customer dimensions and weights: recency 0.20, frequency 0.15, revenue 0.20, profit 0.20,
punctuality 0.05, days late 0.05, overdue amount 0.05, referrals 0.10) or from the small
rules written in this file; never produced by running the code.
"""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tierstream.schemas.events import INBOUND_ADAPTER, AnyEvent, InvoiceEvent, OrderEvent, PaymentEvent
from tierstream.schemas.rules import Rules, load_rules
from tierstream.scorers.engine import REREVIEW, Grader, ts
from tierstream.scorers.layout import DAY
from tierstream.scorers.state import EntityState
from tierstream.streams.dev.sample import write_sample

RULES = load_rules()
T0 = datetime(2025, 1, 1, tzinfo=UTC)
DAY0 = ts(T0) // DAY

_ids = itertools.count(1)


def at(day: float, hour: float = 12.0) -> datetime:
    return T0 + timedelta(days=day, hours=hour)


def noon(day: int) -> int:
    return ts(at(day))


def sale(day: float, cust: str = "c1", amount: float = 1000.0, cost: float = 600.0) -> OrderEvent:
    n = next(_ids)
    return OrderEvent(event_id=f"o{n}", occurred_at=at(day), order_id=f"so{n}", customer_id=cust,
                      amount=amount, cost=cost)


def invoice(day: float, inv: str, due_day: float, cust: str = "c1", amount: float = 1000.0) -> InvoiceEvent:
    return InvoiceEvent(event_id=f"i{next(_ids)}", occurred_at=at(day), invoice_id=inv, customer_id=cust,
                        amount=amount, issued_at=at(day), due_at=at(due_day))


def pay(day: float, inv: str, due_day: float, cust: str = "c1", amount: float = 1000.0,
        reason: str | None = None) -> PaymentEvent:
    return PaymentEvent(event_id=f"p{next(_ids)}", occurred_at=at(day), customer_id=cust, invoice_id=inv,
                        amount=amount, due_at=at(due_day), delay_reason=reason)


def feed(grader: Grader, events: list[AnyEvent]) -> EntityState:
    state: EntityState | None = None
    for ev in events:
        state, _ = grader.apply(state, ev)
    assert state is not None
    return state


# --------------------------------------------------------------------------- golden, default rules

# One sale on day 0 of 1000.00 (cost 600.00), graded on day 60, scores on every dimension but credit:
#   recency 60 days: 85 + (60-30)/(90-30) * (60-85) = 72.5;  frequency 1 order: 25
#   revenue 1000: 20 + (1000-500)/(2000-500) * (50-20) = 30;  profit 400: 20 + 300/400 * 30 = 42.5
#   referrals 0: 0
#   weighted: 0.2*72.5 + 0.15*25 + 0.2*30 + 0.2*42.5 + 0.1*0 = 14.5 + 3.75 + 6 + 8.5 = 32.75
BASE_DAY60 = 32.75


def test_a_customer_who_never_pays_ranks_below_one_who_pays_late() -> None:
    """Both are invoiced 1000.00 on day 0, due day 30; ``late`` pays on day 40, ``never`` does not pay.

    late, on day 60: 1 payment, 10 days late
      punctuality 0 / 1 = 0 -> 0;  days late 10: 80 + (10-7)/(30-7) * (40-80) = 74.7826;  overdue 0 -> 100
      score 32.75 + 0.05*0 + 0.05*74.7826 + 0.05*100 = 41.4891 -> 41.49, general (>= 40)
    never, on day 60: no payment, the invoice 30 days overdue (days 31..60)
      punctuality 0 / (0 + 1 overdue) = 0 -> 0;  days late 1000*30 / 1000 = 30 -> 40
      overdue 1000: 60 + (1000-500)/(5000-500) * (20-60) = 55.5556
      score 32.75 + 0.05*0 + 0.05*40 + 0.05*55.5556 = 37.5278 -> 37.53, under general's 40, but
      general is held: until day 30 it had no credit evidence and qualified (32.75 + ... rescaled
      over 0.85 of the weight, above 40 on day 0), and 37.53 is inside the 5-point downgrade margin
      with fewer than the 60 hold days since it last qualified (calendar days). It ranks below
      ``late`` by score, which is what the credit dimensions decide.
    (Before invoices existed, ``never`` had no credit evidence: 32.75 / 0.85 = 38.53 outranked
    ``late``'s 32.75 + 0.15*0 = 32.75.)
    """
    g = Grader(RULES)
    late = feed(g, [sale(0, "late"), invoice(0, "inv-l", 30, "late"), pay(40, "inv-l", 30, "late")])
    never = feed(g, [sale(0, "never"), invoice(0, "inv-n", 30, "never")])
    a, b = g.snapshot(late, noon(60)), g.snapshot(never, noon(60))
    assert a.components["credit"] == 0 and a.components["lateness"] == 74.78 and a.components["overdue"] == 100
    assert a.score == 41.49 and a.tier == "general"
    assert b.components["credit"] == 0 and b.components["lateness"] == 40 and b.components["overdue"] == 55.56
    assert b.score == 37.53 < a.score and b.tier == "general"
    assert b.aggregates["overdue_amount"] == 1000.0 and b.aggregates["longest_overdue_days"] == 30.0
    assert b.aggregates["on_time_payment_ratio"] == 0.0 and b.aggregates["invoices"] == 1


def test_one_day_late_and_ninety_days_late_differ_as_the_rules_say() -> None:
    """Invoices due day 10, paid day 11 (1 day late) or day 100 (90 days late), graded on day 100.

    Both: recency 100 days: 60 + (100-90)/(180-90) * (30-60) = 56.6667; frequency 25, revenue 30,
    profit 42.5, referrals 0: 0.2*56.6667 + 3.75 + 6 + 8.5 = 29.5833; punctuality 0; overdue 0 -> 100.
    1 day:  days late 100 + 1/7 * (80-100) = 97.1429; score 29.5833 + 0.05*97.1429 + 5 = 39.4405 -> 39.44
    90 days: days late 90 -> 0 (the scale's end);       score 29.5833 + 0 + 5 = 34.5833 -> 34.58
    """
    g = Grader(RULES)
    one = feed(g, [sale(0, "one"), invoice(0, "inv-1", 10, "one"), pay(11, "inv-1", 10, "one")])
    ninety = feed(g, [sale(0, "ninety"), invoice(0, "inv-90", 10, "ninety"), pay(100, "inv-90", 10, "ninety")])
    a, b = g.snapshot(one, noon(100)), g.snapshot(ninety, noon(100))
    assert (a.components["lateness"], b.components["lateness"]) == (97.14, 0)
    assert (a.aggregates["weighted_days_late"], b.aggregates["weighted_days_late"]) == (1.0, 90.0)
    assert (a.score, b.score) == (39.44, 34.58)
    assert a.aggregates["avg_days_late"] == 1.0 and b.aggregates["avg_days_late"] == 90.0


def test_a_partial_payment_leaves_the_rest_overdue() -> None:
    """An invoice of 1000.00 due day 30; 400.00 paid on day 20, the other 600.00 on day 55 with a reason.

    Day 50: 1 payment on time + 1 invoice overdue -> punctuality 1/2 = 0.5 -> 30
      outstanding 600, 20 days late (days 31..50): days late (400*0 + 600*20) / (400 + 600) = 12
        -> 80 + (12-7)/(30-7) * (40-80) = 71.3043; overdue 600: 60 + (600-500)/4500 * (20-60) = 59.1111
    Day 60: 2 payments, 1 late (25 days) -> punctuality 0.5 -> 30
      days late (400*0 + 600*25) / 1000 = 15 -> 80 + 8/23 * (40-80) = 66.0870; overdue 0 -> 100
    """
    g = Grader(RULES)
    state = feed(g, [sale(0), invoice(0, "inv", 30), pay(20, "inv", 30, amount=400.0)])
    s50 = g.snapshot(state, noon(50))
    assert s50.aggregates["on_time_payment_ratio"] == 0.5 and s50.components["credit"] == 30
    assert s50.aggregates["weighted_days_late"] == 12.0 and s50.components["lateness"] == 71.3
    assert s50.aggregates["overdue_amount"] == 600.0 and s50.components["overdue"] == 59.11
    assert s50.aggregates["longest_overdue_days"] == 20.0
    state, _ = g.apply(state, pay(55, "inv", 30, amount=600.0, reason="disputed quantity on delivery"))
    s60 = g.snapshot(state, noon(60))
    assert s60.aggregates["payments"] == 2 and s60.aggregates["late_payments"] == 1
    assert s60.aggregates["weighted_days_late"] == 15.0 and s60.components["lateness"] == 66.09
    assert s60.aggregates["overdue_amount"] == 0.0 and s60.components["overdue"] == 100
    assert s60.aggregates["longest_overdue_days"] == 0.0


def test_a_payment_without_an_invoice_defines_its_invoice() -> None:
    """500.00 paid on day 25 against its own due_at, day 20: 5 days late, as before invoices existed.

    punctuality 0/1 -> 0; average days late 5; days late 500*5 / 500 = 5 -> 100 + 5/7 * (80-100) = 85.7143;
    nothing overdue -> 100. The invoice event arriving later (due day 22) moves it to 3 days late:
    100 + 3/7 * (80-100) = 91.4286.
    """
    g = Grader(RULES)
    state = feed(g, [sale(0), pay(25, "inv", 20, amount=500.0)])
    s = g.snapshot(state, noon(30))
    assert (s.aggregates["payments"], s.aggregates["late_payments"], s.aggregates["avg_days_late"]) == (1, 1, 5.0)
    assert s.aggregates["on_time_payment_ratio"] == 0.0 and s.aggregates["invoices"] == 0
    assert s.components["lateness"] == 85.71 and s.components["overdue"] == 100
    state, _ = g.apply(state, invoice(1, "inv", 22, amount=500.0))
    s = g.snapshot(state, noon(30))
    assert s.aggregates["avg_days_late"] == 3.0 and s.components["lateness"] == 91.43


# --------------------------------------------------------------------------- time-driven, small rules

# Two dimensions: days late (0 days: 100 .. 10 days: 0) and frequency (1 order: 100), no hysteresis.
SMALL = Rules.model_validate({
    **RULES.model_dump(),
    "version": "credit-small",
    "customer": {
        "window_days": 365,
        "dimensions": {
            "lateness": {"metric": "weighted_days_late", "weight": 0.5, "scale": [[0, 100], [10, 0]]},
            "frequency": {"metric": "order_count", "weight": 0.5, "scale": [[0, 0], [1, 100]]},
        },
        "tiers": [{"name": "key", "min_score": 90}, {"name": "general", "min_score": 60},
                  {"name": "potential", "min_score": 0}],
        "hysteresis": {"downgrade_margin": 0, "min_days_in_tier": 0, "grace_days": 0, "hold_days": 0},
        "rfm": {"recency_days": 90, "frequency": 3, "monetary": 2000},
    },
})


def test_an_unpaid_invoice_grows_later_every_day_and_reviews_move_the_tier() -> None:
    """One order and an invoice of 100.00 on day 0, due day 5, never paid.

    Up to day 5 there is no payment evidence: days late is left out, the score is frequency's 100: key.
    On day d > 5 the invoice is d-5 days late: days late 100 - 10*(d-5), score 50 + 50 - 5*(d-5).
    key needs 90: d - 5 <= 2, so day 8 (score 85) is general; general needs 60: d - 5 <= 8, so day 14
    (score 55) is potential. Each review is due the day the lateness moves: day 6 (it falls due),
    then every day while it can still lower the tier.
    """
    g = Grader(SMALL)
    state, out = g.apply(None, sale(0))
    state, _ = g.apply(state, invoice(0, "inv-9", 5, amount=100.0))
    assert [c.tier for c in out.changes] == ["key"]
    assert state.next_review == (DAY0 + 6) * DAY  # the day after the due day
    review = g.review_due(state, (DAY0 + 20) * DAY)
    got = [(c.tier, (ts(c.occurred_at) // DAY - DAY0), c.score, c.cause) for c in review.changes]
    assert got == [("general", 8, 85.0, REREVIEW), ("potential", 14, 55.0, REREVIEW)]
    assert any("invoice inv-9 unpaid, 3 days past due (100.00 outstanding)" in r for r in review.changes[0].reasons)
    # in the lowest tier, growing lateness changes nothing: no daily review any more, the next one is
    # when day 0 (the order, the invoice) leaves the 365-day window
    assert state.next_review == (DAY0 + 365) * DAY


def test_delay_reasons_are_quoted_in_the_tier_change() -> None:
    """Paid 4 days late (day 9, due day 5) with a reason: days late 100 - 40 = 60, score 80: key -> general."""
    g = Grader(SMALL)
    state = feed(g, [sale(0), invoice(0, "inv-7", 5, amount=100.0)])
    state, out = g.apply(state, pay(9, "inv-7", 5, amount=100.0, reason="customs hold"))
    (change,) = out.changes
    assert (change.previous_tier, change.tier, change.score) == ("key", "general", 80.0)
    assert "invoice inv-7 paid 4 days late: customs hold" in change.reasons


# --------------------------------------------------------------------------- arrival order

INVOICES = ["i1", "i2", "i3", "i4"]


@st.composite
def credit_events(draw: st.DrawFn) -> list[InvoiceEvent | PaymentEvent]:
    """Invoices (some issued twice under other event ids), payments in parts, payments with no invoice."""
    out: list[InvoiceEvent | PaymentEvent] = []
    for n in range(draw(st.integers(1, 14))):
        cust = draw(st.sampled_from(["c1", "c2"]))
        inv = draw(st.sampled_from([*INVOICES, "stray"])) + cust
        day, due = draw(st.integers(0, 300)), draw(st.integers(0, 60))
        if draw(st.booleans()):
            out.append(InvoiceEvent(event_id=f"v{n}", occurred_at=at(day, draw(st.integers(0, 23))), invoice_id=inv,
                                    customer_id=cust, amount=float(draw(st.sampled_from([0, 100, 250, 999]))),
                                    issued_at=at(day), due_at=at(day + due)))
        else:
            out.append(PaymentEvent(event_id=f"p{n}", occurred_at=at(day + draw(st.integers(0, 90))),
                                    customer_id=cust, invoice_id=inv, due_at=at(day + due),
                                    amount=float(draw(st.sampled_from([0, 50, 100, 250, 400]))),
                                    delay_reason=draw(st.none() | st.sampled_from(["bank", "dispute"]))))
        if draw(st.booleans()):
            out.append(out[-1])  # a redelivery
    return out


def _final(events: list[InvoiceEvent | PaymentEvent]) -> tuple[dict[str, Any], dict[str, Any]]:
    g = Grader(RULES)
    states: dict[str, EntityState] = {}
    for ev in events:
        cust = ev.customer_id
        states[cust], _ = g.apply(states.get(cust), ev)
    until = max(s.clock for s in states.values()) + 30 * DAY
    facts = {k: (s.invoices, s.days, s.totals) for k, s in sorted(states.items())}
    snaps = {k: g.snapshot(s, until).model_dump() for k, s in sorted(states.items())}
    return facts, snaps


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_invoices_and_payments_in_any_arrival_order_give_the_same_state(data: st.DataObject) -> None:
    events = data.draw(credit_events(), label="events")
    shuffled = data.draw(st.permutations(events), label="arrival order")
    facts_a, snaps_a = _final(events)
    facts_b, snaps_b = _final(shuffled)
    assert facts_a == facts_b
    assert snaps_a == snaps_b


# --------------------------------------------------------------------------- state and sample


def test_a_state_written_before_invoices_still_loads() -> None:
    """A state of 24 fields, buckets of 10 counters (the format before this change), reads back with zeros."""
    g = Grader(RULES)
    state = feed(g, [sale(0), pay(5, "inv", 3, amount=100.0)])
    doc = orjson.loads(state.to_bytes())
    old = doc[:24]
    old[4] = [row[:11] for row in old[4]]  # day + the first 10 counters
    old[5] = old[5][:10]
    back = EntityState.from_bytes(orjson.dumps(old))
    assert back.invoices == {} and len(back.totals) == len(state.totals) == 13
    assert back.totals[:10] == state.totals[:10] and not any(back.totals[10:])
    again = EntityState.from_bytes(state.to_bytes())
    assert again.invoices == state.invoices and again.days == state.days


def test_the_parity_sample_has_invoices_partial_and_unpaid(tmp_path: Path) -> None:
    """The sample tests/test_pipeline.py streams carries every credit shape (400 customers, 150 days, seed 5)."""
    path = tmp_path / "events.jsonl"
    write_sample(path, customers=400, suppliers=40, days=150, seed=5)
    events = []
    for line in path.read_bytes().splitlines():
        try:
            events.append(INBOUND_ADAPTER.validate_json(line))
        except ValueError:
            continue
    invoices = {e.invoice_id for e in events if isinstance(e, InvoiceEvent)}
    parts = Counter(e.invoice_id for e in {e.event_id: e for e in events if isinstance(e, PaymentEvent)}.values())
    assert invoices and any(n == 2 for n in parts.values())
    assert invoices - set(parts)  # never paid
    assert set(parts) - invoices  # payments without an invoice event
    assert any(isinstance(e, PaymentEvent) and e.delay_reason for e in events)


@pytest.mark.parametrize("amount", [0.0, 1e12])
def test_extreme_amounts_stay_exact_and_serializable(amount: float) -> None:
    g = Grader(RULES)
    state = feed(g, [sale(0), invoice(0, "x", 1, amount=amount), pay(300, "x", 1, amount=amount)])
    assert EntityState.from_bytes(state.to_bytes()).totals == state.totals
