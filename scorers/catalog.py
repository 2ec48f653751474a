"""The metrics entities are graded on: one :class:`Metric` each, and the only place a metric is defined.

Everything else reads it from here: the rules accept a dimension's metric
when it is in :data:`METRICS` for that entity type (``schemas/rules.py``),
``scorers/metrics.py`` compiles the formulas of an entity type into the one
function the engine calls per grade, and the explanations take a metric's
direction, format and hint from its entry. Adding a metric is one entry in
:data:`METRICS`, plus a day-bucket field in ``scorers/state.py`` (and the
engine line that fills it) when it reads a counter that does not exist yet.

A formula is a Python expression over the entity's window totals, named as
the bucket fields are (:data:`~tierstream.scorers.state.CUSTOMER_BUCKET`,
:data:`~tierstream.scorers.state.SUPPLIER_BUCKET`), and over the entity's
:data:`CONTEXT`. It is ``None`` when there is no evidence for the metric (no
payments yet, no deliveries...): the composite then leaves the dimension out
rather than scoring the entity zero for missing data. Formulas are text so
that they can be compiled together, inline, into one function: the scorer
grades about once and a half per event, and a call per metric would cost
more than the arithmetic.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from string import Formatter
from typing import Literal

from tierstream.scorers.layout import CUSTOMER_BUCKET, SUPPLIER_BUCKET
from tierstream.scorers.messages import Code, code, render

__all__ = [
    "ASSESSED", "BUCKETS", "CONTEXT", "FORMULA_BUILTINS", "METRICS", "EntityKind", "Metric", "metric_key",
    "metrics_of",
]

EntityKind = Literal["customer", "supplier"]

#: the metric of a qualitative dimension: the mean of the people's active assessments of it
#: (``scorers/assessed.py``), not a formula over the buckets
ASSESSED = "assessed"

#: the bucket fields a formula reads, per entity type (window totals, integers)
BUCKETS: dict[EntityKind, tuple[str, ...]] = {"customer": CUSTOMER_BUCKET, "supplier": SUPPLIER_BUCKET}
#: what else a formula may read: the day graded (epoch days), the last day up to it on which
#: the customer placed an order (``None``: never) and the invoices overdue and unpaid at the end
#: of that day (``scorers.credit.overdue_on``): how many, the cents owed, cents x days late, the
#: longest days past due; the coefficient of variation of the days between the purchase days of
#: the window (``scorers.metrics.purchase_interval_cv``: ``None`` with fewer than three) and the
#: share of wallet the customer's profile states (``None``: not stated); for a supplier, the
#: minute graded (epoch minutes: open tickets age)
CONTEXT: dict[EntityKind, tuple[str, ...]] = {
    "customer": ("today", "last_order_day", "overdue_invoices", "overdue_cents", "overdue_cent_days",
                 "longest_overdue", "interval_cv", "share_of_wallet"),
    "supplier": ("now_minute",),
}
#: the builtins a formula may call
FORMULA_BUILTINS = {"float": float}

_HINT_FIELDS = frozenset({"n", "s", "amount", "target"})
#: the message of a value shown with each unit (``scorers/messages``)
_VALUE_IDS = {"": "value.plain", " days": "value.days", " h": "value.hours"}
_PRECISION = re.compile(r"\.(\d+)([f%])$")


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric: what it reads and computes, which way is better, and how it is put in words.

    ``absent`` says in words why the metric has no value (``None``), over ``{window}``
    (the window's days): the reason an entity is ``ungraded`` when the rules'
    ``min_evidence`` requires it; ``None`` for a metric that always has a value.
    ``fmt`` and ``unit`` show a value (``format(value, fmt) + unit``). ``hint`` is
    what it would take to reach the next tier, a template over ``{n}`` (the whole
    units still needed) and ``{s}`` (``"s"`` unless ``n`` is 1), ``{amount}`` (the
    increase needed, rounded up, with thousands separators) and ``{target}`` (the
    value to reach, shown as the metric is, rounded the way that still reaches it);
    ``None``: no hint for this metric; the words in every language are the message
    ``hint.<name>`` of ``scorers/messages`` (a test checks the English against this
    template), as ``absent.<name>`` words ``absent``. ``step`` is the least move of the metric
    (1 for a count, 0.01 for money: a cent); ``None`` for a ratio or a duration.
    """

    name: str
    entity: EntityKind
    description: str
    formula: str
    lower_is_better: bool = False
    fmt: str = "g"
    unit: str = ""
    hint: str | None = None
    step: float | None = None
    absent: str | None = None
    #: the bucket fields and context the formula reads (derived from it)
    reads: tuple[str, ...] = field(init=False)
    _hint_fields: frozenset[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        allowed = {*BUCKETS[self.entity], *CONTEXT[self.entity]}
        try:
            names = compile(self.formula, f"<metric {self.name}>", "eval").co_names
        except SyntaxError as exc:
            raise ValueError(f"metric {self.name}: formula {self.formula!r} is not an expression: {exc.msg}") from None
        unknown = sorted(set(names) - allowed - set(FORMULA_BUILTINS))
        if unknown:
            raise ValueError(f"metric {self.name}: formula reads {', '.join(unknown)}, not a {self.entity} "
                             f"bucket field or context ({', '.join(sorted(allowed))})")
        object.__setattr__(self, "reads", tuple(n for n in dict.fromkeys(names) if n in allowed))
        fields = frozenset(f for _, f, _, _ in Formatter().parse(self.hint or "") if f is not None)
        if not fields <= _HINT_FIELDS:
            raise ValueError(f"metric {self.name}: hint fields {sorted(fields - _HINT_FIELDS)} are not "
                             f"among {sorted(_HINT_FIELDS)}")
        object.__setattr__(self, "_hint_fields", fields)
        format(1.0, self.fmt)  # a bad format spec fails here, not in an explanation
        absent_fields = {f for _, f, _, _ in Formatter().parse(self.absent or "") if f is not None}
        if not absent_fields <= {"window"}:
            raise ValueError(f"metric {self.name}: absent fields {sorted(absent_fields - {'window'})} "
                             "are not among ['window']")

    def show(self, value: float | None) -> str:
        """The value in words: ``"95.0%"``, ``"12 days"``; ``"no data"`` for ``None``."""
        return "no data" if value is None else format(value, self.fmt) + self.unit

    def show_code(self, value: float | None) -> Code:
        """The value as a message (``show`` in English): its number and its unit in the reader's language."""
        if value is None:
            return code("value.none")
        return code(_VALUE_IDS[self.unit], value=format(value, self.fmt))

    def reaching(self, value: float) -> float:
        """``value`` rounded to the shown precision the better way (up, or down if lower is better).

        A target shown rounded to the nearest could fall short of the value it
        stands for; rounded the better way, the value shown still reaches.
        """
        m = _PRECISION.search(self.fmt)
        if m is None:
            return value
        unit = 10.0 ** -int(m.group(1)) / (100 if m.group(2) == "%" else 1)
        k = value / unit
        n = math.floor(k + 1e-6) if self.lower_is_better else math.ceil(k - 1e-6)
        return round(n * unit, 12)

    def absence(self, window_days: int) -> str:
        """Why the metric has no value, in words (``"no delivery in the 180-day window"``)."""
        return render(self.absence_code(window_days))

    def absence_code(self, window_days: int) -> Code:
        """Why the metric has no value, as a message (``absence`` in English)."""
        if self.absent is None:
            return code("absent.none_yet", metric=code(f"metric.{self.name}"))
        return code(f"absent.{self.name}", window=window_days) if "{window}" in self.absent \
            else code(f"absent.{self.name}")

    def hint_to(self, current: float, target: float) -> str | None:
        """What moving from ``current`` to ``target`` means, in words (``None``: no hint)."""
        hint = self.hint_code(current, target)
        return None if hint is None else render(hint)

    def hint_code(self, current: float, target: float) -> Code | None:
        """What moving from ``current`` to ``target`` means, as a message (``None``: no hint)."""
        if self.hint is None:
            return None
        fields = self._hint_fields
        delta = target - current
        params: dict[str, object] = {}
        if "n" in fields or "s" in fields:
            params["n"] = math.ceil(delta - 1e-6)
        if "amount" in fields:
            params["amount"] = f"{math.ceil(delta - 1e-6):,}"
        if "target" in fields:
            params["target"] = self.show_code(self.reaching(target))
        return code(f"hint.{self.name}", **params)


_CATALOG = (
    # --- customers ---------------------------------------------------------------------
    Metric("recency_days", "customer", "days since the last order (lower is better)",
           "None if last_order_day is None else float(today - last_order_day)",
           lower_is_better=True, fmt=".0f", unit=" days", hint="an order today", absent="no order yet"),
    Metric("order_count", "customer", "orders in the window, net of cancellations and returns",
           "float(orders)", hint="{n} more order{s} in the window", step=1),
    Metric("revenue", "customer", "order amount in the window, net of cancellations and returns",
           "revenue_cents / 100", fmt=",.2f", hint="{amount} more revenue in the window", step=0.01),
    # Profit evidence comes from the orders with a cost only; their margin is presumed for the
    # orders without one (the window's revenue), rather than a profit of zero.
    Metric("gross_profit", "customer",
           "amount minus cost of the orders with a cost, scaled to all the revenue in the window",
           "None if not costed_orders else (profit_cents * revenue_cents / costed_revenue_cents / 100 "
           "if costed_revenue_cents > 0 else profit_cents / 100)",
           fmt=",.2f", hint="{amount} more gross profit in the window",
           absent="no order with a cost in the {window}-day window"),
    Metric("on_time_payment_ratio", "customer",
           "share of payments made by their due date, each invoice overdue and unpaid counting as a late one",
           "(payments - payments_late) / (payments + overdue_invoices) if payments + overdue_invoices else None",
           fmt=".1%", hint="on time payment ratio of {target}",
           absent="no payment or overdue invoice in the {window}-day window"),
    Metric("late_payments", "customer", "payments made after their due date",
           "float(payments_late)", lower_is_better=True),
    Metric("avg_days_late", "customer", "average days late over late payments",
           "days_late / payments_late if payments_late else 0.0", lower_is_better=True),
    Metric("weighted_days_late", "customer",
           "amount-weighted average days late over the amounts paid and the amounts overdue "
           "(an unpaid invoice past due is late by the days elapsed)",
           "(late_cent_days + overdue_cent_days) / (paid_cents + overdue_cents) "
           "if paid_cents + overdue_cents else None",
           lower_is_better=True, fmt=".1f", unit=" days", hint="payments {target} late on average or less",
           absent="no payment or overdue invoice in the {window}-day window"),
    Metric("overdue_amount", "customer", "amount of invoices past due and still unpaid",
           "overdue_cents / 100 if payments + overdue_invoices else None",
           lower_is_better=True, fmt=",.2f", hint="overdue invoices paid down to {target}",
           absent="no payment or overdue invoice in the {window}-day window"),
    Metric("longest_overdue_days", "customer", "days the longest overdue unpaid invoice is past due",
           "float(longest_overdue) if payments + overdue_invoices else None",
           lower_is_better=True, fmt=".0f", unit=" days",
           absent="no payment or overdue invoice in the {window}-day window"),
    Metric("qualified_referrals", "customer", "referred customers who have placed an order",
           "float(referrals)", hint="{n} more qualified referral{s}", step=1),
    # Loyalty (seed 000): how steady the purchasing is, and how much of it comes to us.
    Metric("purchase_interval_cv", "customer",
           "coefficient of variation (standard deviation / mean) of the days between consecutive purchase "
           "days in the window (lower is steadier; 0: perfectly regular)",
           "interval_cv", lower_is_better=True, fmt=".2f",
           absent="fewer than 3 purchase days in the {window}-day window"),
    Metric("share_of_wallet", "customer",
           "share of the customer's purchases in our category made with us, as its profile states (0..1)",
           "share_of_wallet", fmt=".0%", absent="no share of wallet in the customer's profile"),
    # --- suppliers ---------------------------------------------------------------------
    Metric("quality_pass_rate", "supplier", "accepted / delivered quantity",
           "qty_accepted / qty_delivered if qty_delivered else None",
           fmt=".1%", hint="quality pass rate of {target}", absent="no goods delivered in the {window}-day window"),
    Metric("on_time_rate", "supplier", "deliveries made by the promised date / deliveries",
           "on_time / deliveries if deliveries else None", fmt=".1%", hint="on time rate of {target}",
           absent="no delivery in the {window}-day window"),
    Metric("fill_rate", "supplier", "delivered / ordered quantity",
           "qty_delivered / qty_ordered if qty_ordered else None", fmt=".1%", hint="fill rate of {target}",
           absent="no delivery in the {window}-day window"),
    Metric("delivery_accuracy", "supplier",
           "1 - (quantity each delivery missed its order by, either way, at most the order) / ordered quantity",
           "1 - qty_off / qty_ordered if qty_ordered else None", fmt=".1%", hint="delivery accuracy of {target}",
           absent="no delivery in the {window}-day window"),
    Metric("price_index", "supplier", "amount paid / market reference amount (lower is better)",
           "amount_cents / market_cents if market_cents else None",
           lower_is_better=True, fmt=".3f", hint="prices at {target} of market or lower",
           absent="no purchase with a market price in the {window}-day window"),
    Metric("avg_first_response_hours", "supplier",
           "average hours to first response on service tickets, an open ticket counting its age so far",
           "(response_minutes + open_tickets * now_minute - open_since_minutes) / 60 / (tickets + open_tickets)"
           " if tickets + open_tickets else None",
           lower_is_better=True, fmt=".1f", unit=" h", hint="first responses within {target} on average",
           absent="no service ticket in the {window}-day window"),
    Metric("deliveries", "supplier", "deliveries in the window", "float(deliveries)"),
    Metric("purchase_count", "supplier", "purchase orders in the window", "float(purchases)"),
)

#: every metric by name (names are unique across entity types: explanations look them up by name)
METRICS: dict[str, Metric] = {m.name: m for m in _CATALOG}
if len(METRICS) != len(_CATALOG):
    raise ValueError("metric names must be unique across entity types")


def metrics_of(entity: EntityKind) -> dict[str, Metric]:
    """The metrics of one entity type, in catalog order."""
    return {m.name: m for m in _CATALOG if m.entity == entity}


def metric_key(dimension: str, metric: str) -> str:
    """Return the key of a dimension's metric among an entity's metrics (``assessed:<dimension>`` when assessed)."""
    return f"{ASSESSED}:{dimension}" if metric == ASSESSED else metric
