"""Raw metrics of an entity over its window, from the day-bucket totals.

The metrics and their formulas are the catalog's (``scorers/catalog.py``);
this module compiles them, once per entity type at import, into one function
with the formulas inline (:func:`customer_metrics`, :func:`supplier_metrics`):
the same arithmetic, and the same cost, as one written out by hand.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any, cast

from tierstream.scorers.calendar import Calendar
from tierstream.scorers.catalog import BUCKETS, CONTEXT, FORMULA_BUILTINS, EntityKind, metrics_of
from tierstream.scorers.layout import (
    C_COSTED,
    C_INVOICES,
    C_LATE,
    C_ORDERS,
    C_PAYMENTS,
    C_PLACED,
    C_REFERRALS,
    C_REVENUE,
    DAY,
    S_DELIVERIES,
    S_OPEN_TICKETS,
    S_PURCHASES,
    S_TICKETS,
)
from tierstream.scorers.state import EntityState

__all__ = [
    "Metrics",
    "aggregates_of",
    "compile_metrics",
    "customer_metrics",
    "last_order_day",
    "purchase_interval_cv",
    "supplier_metrics",
    "window_totals",
]

Metrics = dict[str, float | None]


def compile_metrics(entity: EntityKind) -> Callable[..., Metrics]:
    """One function ``(totals, *context) -> Metrics`` computing every metric of ``entity``.

    Its source is the catalog's formulas in a dict display, the totals unpacked
    into the bucket fields' names first.
    """
    params = ", ".join(("t", *CONTEXT[entity]))
    items = "".join(f"        {m.name!r}: ({m.formula}),\n" for m in metrics_of(entity).values())
    source = (
        f"def {entity}_metrics({params}):\n"
        f"    {', '.join(BUCKETS[entity])}, = t\n"
        f"    return {{\n{items}    }}\n"
    )
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<{entity} metrics>", "exec"), {"__builtins__": FORMULA_BUILTINS}, namespace)
    return cast(Callable[..., Metrics], namespace[f"{entity}_metrics"])


#: ``customer_metrics(totals, today, last_order_day, *overdue, interval_cv, share_of_wallet)``: the
#: customer metrics of window ``totals`` graded on ``today``, the customer's last order (up to
#: ``today``) on ``last_order_day``, ``overdue`` its invoices overdue and unpaid that day
#: (``scorers.credit.overdue_on``), ``interval_cv`` its :func:`purchase_interval_cv` (``None``
#: when not wanted), ``share_of_wallet`` its profile's
customer_metrics: Callable[[list[int], int, int | None, int, int, int, int, float | None, float | None], Metrics] = (
    compile_metrics("customer"))
#: ``supplier_metrics(totals, now_minute)``: the supplier metrics of window ``totals`` graded at
#: ``now_minute`` (epoch minutes: open service tickets age)
supplier_metrics: Callable[[list[int], int], Metrics] = compile_metrics("supplier")


def last_order_day(state: EntityState, day: int, calendar: Calendar | None = None) -> int | None:
    """The last day up to ``day`` on which the customer placed an order (still counted).

    ``state.last_order`` is the latest counted order overall, retained or not (a
    retraction refreshes it): when it is not after ``day`` it is the answer. Else
    the latest retained day up to ``day`` with a placed order, and failing that the
    latest settled order (``state.settled_last``: final, older than every retained
    day). ``calendar``: the days of the rules' time zone (``None``: UTC, ``t // DAY``).
    """

    def day_of(t: int | None) -> int | None:
        return None if t is None else t // DAY if calendar is None else calendar.day(t)

    lo_day = day_of(state.last_order)
    if lo_day is not None and lo_day <= day:
        return lo_day  # the latest order overall is not after ``day``: it is the answer
    for d in reversed(state.days):  # newest first: the last placed order up to ``day``
        if d <= day and state.days[d][C_PLACED]:
            return d
    settled = day_of(state.settled_last)
    return settled if settled is not None and settled <= day else None


def purchase_interval_cv(state: EntityState, day: int, window_days: int) -> float | None:
    """The coefficient of variation of the gaps between the purchase days of the window ending on ``day``.

    A purchase day is a day with an order still placed (several orders on one day
    are one purchase). With days d1 < ... < dn (n >= 3) and gaps g = d(i+1) - di,
    it is the population standard deviation of the gaps over their mean; ``None``
    with fewer than three purchase days (one gap says nothing about regularity).
    """
    first = day - window_days + 1
    days = sorted(d for d, b in state.days.items() if first <= d <= day and b[C_PLACED])
    if len(days) < 3:
        return None
    gaps = [b - a for a, b in pairwise(days)]
    mean = (days[-1] - days[0]) / len(gaps)
    spread = math.sqrt(sum((g - mean) ** 2 for g in gaps) / len(gaps))
    return round(spread / mean, 4)


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
            "gross_profit": _r(m["gross_profit"], 2),
            "costed_orders": t[C_COSTED],
            "first_order_at": _iso(state.first_order),
            "last_order_at": _iso(state.last_order),
            "recency_days": m["recency_days"],
            "payments": t[C_PAYMENTS],
            "late_payments": t[C_LATE],
            "avg_days_late": _r(m["avg_days_late"]),
            "on_time_payment_ratio": _r(m["on_time_payment_ratio"]),
            "invoices": t[C_INVOICES],
            "weighted_days_late": _r(m["weighted_days_late"]),
            "overdue_amount": m["overdue_amount"],
            "longest_overdue_days": m["longest_overdue_days"],
            "qualified_referrals": t[C_REFERRALS],
            "purchase_interval_cv": m.get("purchase_interval_cv"),
            "share_of_wallet": m.get("share_of_wallet"),
        }
    return {
        "deliveries": t[S_DELIVERIES],
        "on_time_rate": _r(m["on_time_rate"]),
        "fill_rate": _r(m["fill_rate"]),
        "delivery_accuracy": _r(m["delivery_accuracy"]),
        "quality_pass_rate": _r(m["quality_pass_rate"]),
        "price_index": _r(m["price_index"]),
        "avg_first_response_hours": _r(m["avg_first_response_hours"], 2),
        "purchase_count": t[S_PURCHASES],
        "tickets": t[S_TICKETS],
        "open_tickets": t[S_OPEN_TICKETS],
    }
