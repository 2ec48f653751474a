"""Customer payment metrics and supplier delivery, quality, price and service metrics."""

from __future__ import annotations

import pytest

from tests.scorers.helpers import agg, delivery, feed, order, payment, purchase, ticket
from tierstream.scorers.engine import Grader


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
