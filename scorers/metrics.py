"""Raw metrics of an entity over its window, from the day-bucket totals.

A metric is ``None`` when there is no evidence for it (no payments yet, no
deliveries, no service tickets): the composite leaves that dimension out
rather than scoring the entity zero for missing data.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tierstream.scorers.state import (
    C_DAYS_LATE,
    C_LATE,
    C_ORDERS,
    C_PAYMENTS,
    C_PLACED,
    C_PROFIT,
    C_REFERRALS,
    C_REVENUE,
    DAY,
    S_AMOUNT,
    S_DELIVERIES,
    S_MARKET,
    S_ON_TIME,
    S_PURCHASES,
    S_QTY_ACCEPTED,
    S_QTY_DELIVERED,
    S_QTY_ORDERED,
    S_RESPONSE_MIN,
    S_TICKETS,
    EntityState,
)

Metrics = dict[str, float | None]


def customer_metrics(t: list[int], today: int, last_order_day: int | None) -> Metrics:
    payments, late = t[C_PAYMENTS], t[C_LATE]
    return {
        "recency_days": None if last_order_day is None else float(today - last_order_day),
        "order_count": float(t[C_ORDERS]),
        "revenue": t[C_REVENUE] / 100,
        "gross_profit": t[C_PROFIT] / 100,
        "on_time_payment_ratio": (payments - late) / payments if payments else None,
        "late_payments": float(late),
        "avg_days_late": t[C_DAYS_LATE] / late if late else 0.0,
        "qualified_referrals": float(t[C_REFERRALS]),
    }


def supplier_metrics(t: list[int]) -> Metrics:
    delivered, tickets = t[S_QTY_DELIVERED], t[S_TICKETS]
    return {
        "quality_pass_rate": t[S_QTY_ACCEPTED] / delivered if delivered else None,
        "on_time_rate": t[S_ON_TIME] / t[S_DELIVERIES] if t[S_DELIVERIES] else None,
        "fill_rate": delivered / t[S_QTY_ORDERED] if t[S_QTY_ORDERED] else None,
        "price_index": t[S_AMOUNT] / t[S_MARKET] if t[S_MARKET] else None,
        "avg_first_response_hours": t[S_RESPONSE_MIN] / 60 / tickets if tickets else None,
        "deliveries": float(t[S_DELIVERIES]),
        "purchase_count": float(t[S_PURCHASES]),
    }


def last_order_day(state: EntityState, day: int) -> int | None:
    """The last day up to ``day`` on which the customer placed an order.

    From the retained buckets; an order known to be older than all of them
    counts as placed the day before the oldest retained day.
    """
    lo = state.last_order
    if lo is not None and state.oldest is not None and state.oldest <= lo // DAY <= day:
        return lo // DAY  # the latest order overall is retained and not after ``day``: it is the answer
    best: int | None = None
    for d in reversed(state.days):  # newest first: the first placed order up to ``day``
        if d <= day and state.days[d][C_PLACED]:
            best = d
            break
    if best is None and state.first_order is not None and state.first_order // DAY <= day:
        oldest = state.oldest if state.oldest is not None else day
        best = min(state.first_order // DAY, oldest - 1)
    return best


def window_totals(state: EntityState, day: int, window_days: int) -> list[int]:
    """Totals of the window ending on ``day`` (a past day), summed from the buckets."""
    first = day - window_days + 1
    t = [0] * state.width
    days = state.days
    for d in reversed(days):  # ``days`` is in day order: from the newest back to the window's start
        if d > day:
            continue
        if d < first:
            break
        for i, v in enumerate(days[d]):
            t[i] += v
    return t


def _iso(ts: int | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def _r(x: float | None, nd: int = 4) -> float | None:
    return None if x is None else round(x, nd)


def aggregates_of(state: EntityState, t: list[int], m: Metrics) -> dict[str, Any]:
    """The window's aggregates (``t``: window totals) as published in snapshots (STATE.jsonl)."""
    if state.kind == "customer":
        return {
            "order_count": t[C_ORDERS],
            "revenue": t[C_REVENUE] / 100,
            "gross_profit": t[C_PROFIT] / 100,
            "first_order_at": _iso(state.first_order),
            "last_order_at": _iso(state.last_order),
            "recency_days": m["recency_days"],
            "payments": t[C_PAYMENTS],
            "late_payments": t[C_LATE],
            "avg_days_late": _r(m["avg_days_late"]),
            "on_time_payment_ratio": _r(m["on_time_payment_ratio"]),
            "qualified_referrals": t[C_REFERRALS],
        }
    return {
        "deliveries": t[S_DELIVERIES],
        "on_time_rate": _r(m["on_time_rate"]),
        "fill_rate": _r(m["fill_rate"]),
        "quality_pass_rate": _r(m["quality_pass_rate"]),
        "price_index": _r(m["price_index"]),
        "avg_first_response_hours": _r(m["avg_first_response_hours"], 2),
        "purchase_count": t[S_PURCHASES],
        "tickets": t[S_TICKETS],
    }
