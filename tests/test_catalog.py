"""The metric catalog: one entry per metric, read by the rules, the metric functions and the explanations."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from tierstream.schemas.errors import RulesError
from tierstream.schemas.events import DeliveryEvent, OrderEvent
from tierstream.schemas.rules import CUSTOMER_METRICS, SUPPLIER_METRICS, load_rules, parse_rules
from tierstream.scorers.catalog import METRICS, Metric, metrics_of
from tierstream.scorers.engine import Grader, ts
from tierstream.scorers.layout import CUSTOMER_FIELDS, SUPPLIER_FIELDS
from tierstream.scorers.metrics import customer_metrics, supplier_metrics

T = datetime(2025, 3, 1, 12, tzinfo=UTC)


def test_compiled_functions_compute_the_catalog_metrics_in_its_order() -> None:
    # 4 payments of 100.00, one 3 days late: 30,000 cent-days over 40,000 cents paid = 0.75 days
    m = customer_metrics([5, 123_456, 23_456, 4, 1, 3, 2, 4, 5, 123_456, 0, 40_000, 30_000], 20_000, 19_990,
                         0, 0, 0, 0, 0.25, 0.8)  # all costed
    assert m == {
        "recency_days": 10.0, "order_count": 5.0, "revenue": 1234.56, "gross_profit": 234.56,
        "on_time_payment_ratio": 0.75, "late_payments": 1.0, "avg_days_late": 3.0,
        "weighted_days_late": 0.75, "overdue_amount": 0.0, "longest_overdue_days": 0.0, "qualified_referrals": 2.0,
        "purchase_interval_cv": 0.25, "share_of_wallet": 0.8,
    }
    assert list(m) == list(metrics_of("customer"))
    # qty_off 14 of 100 ordered: accuracy 0.86; one ticket open since minute 1000, graded at 1030:
    # (150 + 1 * 1030 - 1000) / 60 / (2 + 1) = 1.0 hour
    s = supplier_metrics([4, 3, 100, 90, 81, 5, 1050, 1000, 2, 150, 14, 1, 1000], 1030)
    assert s == {
        "quality_pass_rate": 0.9, "on_time_rate": 0.75, "fill_rate": 0.9, "delivery_accuracy": 0.86,
        "price_index": 1.05,
        "avg_first_response_hours": 1.0, "deliveries": 4.0, "purchase_count": 5.0,
    }
    assert list(s) == list(metrics_of("supplier"))


def test_no_evidence_is_none_not_zero() -> None:
    m = customer_metrics([0] * CUSTOMER_FIELDS, 20_000, None, 0, 0, 0, 0, None, None)
    assert m["recency_days"] is None and m["on_time_payment_ratio"] is None and m["avg_days_late"] == 0.0
    s = supplier_metrics([0] * SUPPLIER_FIELDS, 20_000 * 1440)
    assert [k for k, v in s.items() if v is None] == [
        "quality_pass_rate", "on_time_rate", "fill_rate", "delivery_accuracy", "price_index",
        "avg_first_response_hours",
    ]


def test_a_metric_names_what_its_formula_reads() -> None:
    assert METRICS["avg_days_late"].reads == ("payments_late", "days_late")
    assert METRICS["recency_days"].reads == ("last_order_day", "today")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"formula": "refunds / 100"}, "formula reads refunds"),
    ({"formula": "qty_accepted / 2"}, "formula reads qty_accepted"),  # a supplier field
    ({"formula": "orders +"}, "is not an expression"),
    ({"formula": "float(orders)", "hint": "{orders} more"}, "hint fields ['orders']"),
    ({"formula": "float(orders)", "fmt": "q"}, "Unknown format code"),
])
def test_a_bad_entry_is_refused_when_built(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Metric("new_metric", "customer", "a metric under test", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "value", "shown"), [
    ("recency_days", 12.0, "12 days"),
    ("revenue", 1234.5, "1,234.50"),
    ("on_time_rate", 0.9512, "95.1%"),
    ("price_index", 1.0415, "1.042"),
    ("avg_first_response_hours", 12.54, "12.5 h"),
    ("order_count", 3.0, "3"),
    ("fill_rate", None, "no data"),
])
def test_values_are_shown_in_the_metric_format(name: str, value: float | None, shown: str) -> None:
    assert METRICS[name].show(value) == shown


@pytest.mark.parametrize(("name", "current", "target", "hint"), [
    ("order_count", 2.0, 3.0, "1 more order in the window"),
    ("order_count", 2.0, 4.5, "3 more orders in the window"),
    ("qualified_referrals", 0.0, 2.0, "2 more qualified referrals"),
    ("revenue", 100.0, 1334.2, "1,235 more revenue in the window"),
    ("recency_days", 40.0, 12.0, "an order today"),
    ("on_time_payment_ratio", 0.5, 0.8, "on time payment ratio of 80.0%"),
    ("price_index", 1.2, 1.05, "prices at 1.050 of market or lower"),
    ("avg_first_response_hours", 30.0, 12.25, "first responses within 12.2 h on average"),
    ("late_payments", 3.0, 1.0, None),
])
def test_hints_in_words(name: str, current: float, target: float, hint: str | None) -> None:
    assert METRICS[name].hint_to(current, target) == hint


def test_the_rules_accept_exactly_the_catalog_metrics_of_each_entity_type() -> None:
    assert {n: m.description for n, m in METRICS.items() if m.entity == "customer"} == CUSTOMER_METRICS
    assert {n: m.description for n, m in METRICS.items() if m.entity == "supplier"} == SUPPLIER_METRICS
    text = load_rules().model_dump_json()
    with pytest.raises(RulesError, match=r"customer\.dimensions\.recency: unknown metric 'fill_rate'"):
        parse_rules(text.replace('"metric":"recency_days"', '"metric":"fill_rate"'))


def test_every_metric_is_published_in_the_snapshot_aggregates() -> None:
    g = Grader(load_rules())
    c, _ = g.apply(None, OrderEvent(event_id="e1", occurred_at=T, order_id="o1", customer_id="c1", amount=10.0))
    s, _ = g.apply(None, DeliveryEvent(
        event_id="e2", occurred_at=T, supplier_id="s1", order_id="p1", promised_at=T,
        quantity_ordered=1, quantity_delivered=1, quantity_accepted=1,
    ))
    assert set(metrics_of("customer")) <= set(g.snapshot(c, ts(T)).aggregates)
    assert set(metrics_of("supplier")) <= set(g.snapshot(s, ts(T)).aggregates)
