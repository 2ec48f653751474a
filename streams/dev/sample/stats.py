"""What a sample contains (:class:`SampleStats`) and about how many lines it has (:func:`estimate_lines`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["DEFAULT_END", "EVENT_TYPES", "INVALID_KINDS", "SampleStats", "estimate_lines"]

DEFAULT_END = datetime(2026, 11, 1, tzinfo=UTC)
EVENT_TYPES = ("order", "invoice", "payment", "delivery", "referral", "service", "assessment", "profile")
INVALID_KINDS = (
    "not_json",
    "not_an_object",
    "missing_field",
    "negative_amount",
    "unknown_type",
    "self_referral",
    "accepted_gt_delivered",
    "nan_string",
    "nan_literal",
    "number_as_string",
    "naive_timestamp",
    "impossible_date",
    "extra_field",
    "blank_id",
    "bad_currency",
    "response_before_open",
    "both_counterparties",
    "expires_before_occurred",
)
# Expected volumes, derived from the model below and checked on large samples:
# per customer, once: referral 0.1, prospect assessment 0.075, newcomer's first order ~0.2;
# per customer-year: 5.4 sales orders, each followed by 0.07 reversals, 0.315 invoice events
# (0.45 invoiced, 70% of customers sending invoices) and 0.47 payments (0.43 paid, a tenth in two parts);
# a newcomer's first order is followed like any other; a third of the referred newcomers who buy
# (0.1 x 0.75) cancel their first order (place-and-cancel): 0.0225 cancellations per customer;
# per supplier-year: 28.7 purchase orders, each with ~0.985 deliveries and ~0.12 tickets.
_CUSTOMER_ONCE = 0.375
# profiles: 60% of customers, a fifth of them twice; 60% of suppliers (streams/dev/sample/profiles.py)
_PROFILES_PER_CUSTOMER = 0.72
_PROFILES_PER_SUPPLIER = 0.6
_FIRST_ORDERS = 0.2
_PLACE_AND_CANCEL = 0.0225
_ORDERS_PER_CUSTOMER_YEAR = 5.37
_POS_PER_SUPPLIER_YEAR = 28.7

@dataclass
class SampleStats:
    """What a sample contains. ``counts`` are distinct valid events per type."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(EVENT_TYPES, 0))
    invalid: int = 0
    invalid_kinds: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    late: int = 0  # valid events emitted after an event with a later time
    lines: int = 0
    customers: int = 0
    suppliers: int = 0

    @property
    def valid(self) -> int:
        """Distinct valid events (lines minus invalid lines and duplicates)."""
        return sum(self.counts.values())

    def __str__(self) -> str:
        types = ", ".join(f"{n:,} {t}" for t, n in self.counts.items() if n)
        return (
            f"{self.lines:,} lines: {self.valid:,} events ({types}), "
            f"{self.late:,} late, {self.duplicates:,} duplicates, {self.invalid:,} invalid"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "valid": self.valid,
            "counts": dict(self.counts),
            "invalid": self.invalid,
            "invalid_kinds": dict(sorted(self.invalid_kinds.items())),
            "duplicates": self.duplicates,
            "late": self.late,
            "customers": self.customers,
            "suppliers": self.suppliers,
        }


def _within(days: float, lo: float, hi: float) -> float:
    """Share of follow-ups kept when their lag is uniform on [lo, hi] days and the
    originating event uniform in a ``days``-long window (later ones fall after ``end``)."""
    if days <= lo:
        return 0.0
    top = min(hi, days)
    return ((top - lo) - (top * top - lo * lo) / (2 * days)) / (hi - lo)


def estimate_lines(
    customers: int,
    suppliers: int,
    days: int,
    invalid_ratio: float = 0.002,
    duplicate_ratio: float = 0.005,
) -> int:
    """About how many lines :func:`generate` yields for these parameters.

    Within ~10% for populations of a few hundred entities or more (small ones vary
    with the seed: a single whale moves the total).
    """
    years = days / 365.0
    per_order = (1.0 + 0.03 + 0.04 * _within(days, 3, 30) + 0.315
                 + 0.43 * _within(days, 2, 65) + 0.043 * _within(days, 7, 95))
    valid = customers * (_CUSTOMER_ONCE + _PROFILES_PER_CUSTOMER + _PLACE_AND_CANCEL + _FIRST_ORDERS * (per_order - 1)
                         + _ORDERS_PER_CUSTOMER_YEAR * years * per_order)
    per_po = 1.0 + 0.015 + 0.985 * _within(days, 3, 32) + 0.12 * _within(days, 5, 40)
    valid += suppliers * (_PROFILES_PER_SUPPLIER + _POS_PER_SUPPLIER_YEAR * years * per_po)
    return round(valid * (1 + invalid_ratio + duplicate_ratio))
