"""Invoices and payments in another currency than the rules' (issue 10, points 6 and 8).

Expected values are derived by hand from ``schemas/default_rules.yaml``: base
currency CNY, ``fx_rates`` USD 7.0 and JPY 0.047 (CNY per unit).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tierstream.schemas.events import InvoiceEvent, OrderEvent, PaymentEvent
from tierstream.schemas.rules import load_rules
from tierstream.scorers.engine import Grader, ts
from tierstream.scorers.state import EntityState

RULES = load_rules()
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def at(day: float) -> datetime:
    return T0 + timedelta(days=day, hours=12)


def _sale() -> OrderEvent:
    return OrderEvent(event_id="o1", occurred_at=at(0), order_id="so1", customer_id="c1", amount=1000.0, cost=600.0)


def _invoice(currency: str | None, amount: float = 100.0) -> InvoiceEvent:
    return InvoiceEvent(event_id="i1", occurred_at=at(0), invoice_id="inv-1", customer_id="c1", amount=amount,
                        currency=currency, issued_at=at(0), due_at=at(30))


def _payment(currency: str | None, amount: float, n: int = 1) -> PaymentEvent:
    return PaymentEvent(event_id=f"p{n}", occurred_at=at(10), customer_id="c1", invoice_id="inv-1",
                        amount=amount, currency=currency, due_at=at(30))


def _feed(events: list[OrderEvent | InvoiceEvent | PaymentEvent]) -> tuple[Grader, EntityState]:
    g = Grader(RULES)
    state: EntityState | None = None
    for ev in events:
        state, out = g.apply(state, ev)
        assert out.status == "applied", (ev, out.detail)
    assert state is not None
    return g, state


def test_an_invoice_in_usd_paid_in_part_in_jpy_is_owed_in_the_base_currency() -> None:
    """Invoice 100 USD = 700.00 CNY, due day 30; paid 5,000 JPY = 235.00 CNY on day 10.

    On day 60 the invoice is 30 days overdue with 700.00 - 235.00 = 465.00 CNY outstanding.
    Summed raw it would be 100 - 5,000 < 0: nothing owed.
    """
    g, state = _feed([_sale(), _invoice("USD"), _payment("JPY", 5000.0)])
    snap = g.snapshot(state, ts(at(60)))
    assert snap.aggregates["overdue_amount"] == 465.0
    assert snap.aggregates["longest_overdue_days"] == 30.0


def test_an_invoice_paid_in_full_in_its_own_currency_owes_nothing() -> None:
    """Invoice 100 USD = 700.00 CNY, paid 100 USD = 700.00 CNY on day 10: nothing overdue on day 60."""
    g, state = _feed([_sale(), _invoice("USD"), _payment("USD", 100.0)])
    snap = g.snapshot(state, ts(at(60)))
    assert snap.aggregates["overdue_amount"] == 0.0


def test_a_payment_or_an_invoice_in_a_currency_without_a_rate_is_refused() -> None:
    """GBP has no rate in the default rules: refused, naming the field, before anything is counted."""
    g = Grader(RULES)
    state, _ = g.apply(None, _sale())
    before = state.to_bytes()
    state, out = g.apply(state, _payment("GBP", 10.0, n=2))
    assert out.status == "invalid" and out.invalid_field == "currency" and out.invalid_value == "GBP", out
    assert "GBP" in out.detail
    state, out = g.apply(state, _invoice("GBP"))
    assert out.status == "invalid" and out.invalid_field == "currency", out
    assert state.to_bytes() == before
