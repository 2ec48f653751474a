"""The loyalty classification's rules (``customer.loyalty``): loyal, potentially loyal, else disloyal.

Seed 000 of the source articles judges a customer's loyalty (忠诚 / 潜在忠诚 /
不忠诚) on whether its purchasing is stable, whether it recommends the company
(referrals) and whether it buys only from it (share of wallet). The rules say
it as conditions on customer metrics (``scorers/catalog.py``): a customer is
``loyal`` when it meets every condition of ``loyal``, else ``potentially_loyal``
when it meets every condition of ``potentially_loyal``, else ``disloyal``. A
condition on a metric with no value (fewer than three purchase days in the
window for ``purchase_interval_cv``, no share of wallet in the profile) fails,
unless it says ``if_unknown: pass``.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["LOYALTY_CLASSES", "LoyaltyCondition", "LoyaltyRules"]

#: the classes, best first; the last is what a customer meeting neither set of conditions is
LOYALTY_CLASSES = ("loyal", "potentially_loyal", "disloyal")


class LoyaltyCondition(BaseModel):
    """A bound on one metric: at least ``min``, at most ``max`` (either or both)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min: float | None = Field(None, allow_inf_nan=False)
    max: float | None = Field(None, allow_inf_nan=False)
    if_unknown: Literal["fail", "pass"] = Field(
        "fail", description="what a metric with no value does to the condition (pass: it is not held against)"
    )

    @model_validator(mode="after")
    def _bounded(self) -> LoyaltyCondition:
        if self.min is None and self.max is None:
            raise ValueError("a condition needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min:g} is above max {self.max:g}")
        return self

    def met(self, value: float | None) -> bool:
        """Tell whether ``value`` meets the condition."""
        if value is None or math.isnan(value):
            return self.if_unknown == "pass"
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)


class LoyaltyRules(BaseModel):
    """The conditions of each loyalty class, each a metric name -> :class:`LoyaltyCondition`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    loyal: dict[str, LoyaltyCondition] = Field(min_length=1)
    potentially_loyal: dict[str, LoyaltyCondition] = Field(min_length=1)

    def check(self, known: dict[str, str]) -> None:
        """Refuse a condition on a metric that is not a customer metric, naming its place."""
        for name, conditions in (("loyal", self.loyal), ("potentially_loyal", self.potentially_loyal)):
            for metric in conditions:
                if metric not in known:
                    raise ValueError(f"customer.loyalty.{name}.{metric}: unknown metric {metric!r}; "
                                     f"known: {', '.join(sorted(known))}")

    @property
    def metrics(self) -> frozenset[str]:
        """Every metric a condition reads."""
        return frozenset({*self.loyal, *self.potentially_loyal})

    def classify(self, metrics: dict[str, float | None]) -> str:
        """The loyalty class of a customer with these metric values."""
        for name, conditions in (("loyal", self.loyal), ("potentially_loyal", self.potentially_loyal)):
            if all(c.met(metrics.get(metric)) for metric, c in conditions.items()):
                return name
        return LOYALTY_CLASSES[-1]
