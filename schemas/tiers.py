"""Dimensions, tiers and hysteresis: the parts of a rules file that turn metrics into a tier.

Each is validated on its own (a scale's points, a tier's actions); :mod:`schemas.rules`
puts them together per entity type and checks them against each other.
"""

from __future__ import annotations

import math
from itertools import pairwise
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tierstream.schemas.outputs import UNGRADED, Language, TierAction

__all__ = ["TIER_NAME", "Dimension", "Hysteresis", "StrictModel", "Tier", "check_tiers"]

TIER_NAME = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]


class StrictModel(BaseModel):
    """A rules part: unknown keys refused, frozen once validated."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Dimension(StrictModel):
    metric: str = Field(description="a metric of the entity type, or `assessed`: the mean of the active "
                        "assessments naming this dimension, one per author (market reputation, peer evaluation...)")
    weight: float = Field(gt=0, le=1, allow_inf_nan=False)
    scale: list[tuple[float, float]] = Field(
        min_length=2,
        description="points (metric value, score 0..100), metric values strictly increasing; "
        "linear between points, flat beyond the ends",
    )
    label: str | dict[Language, str] | None = Field(
        None, description="plain-words name used in explanations: one for every language, or one per language "
        "({en: revenue, zh: 销售额, es: ingresos}; a language left out shows the dimension's name)",
    )

    @model_validator(mode="after")
    def _scale_ok(self) -> Dimension:
        xs = [x for x, _ in self.scale]
        for x, y in self.scale:
            if not (math.isfinite(x) and math.isfinite(y)):
                raise ValueError("scale points must be finite numbers")
            if not 0 <= y <= 100:
                raise ValueError(f"scale score {y} is outside 0..100")
        if any(b <= a for a, b in pairwise(xs)):
            raise ValueError(f"scale metric values must be strictly increasing, got {xs}")
        return self


#: Actions that contradict each other on one tier.
_EXCLUSIVE_ACTIONS = ({"warn_new_purchase_orders", "block_new_purchase_orders"},)


class Tier(StrictModel):
    name: TIER_NAME
    min_score: float = Field(ge=0, le=100, allow_inf_nan=False)
    label: str | dict[Language, str] | None = Field(
        None, description="a description, or the tier's name per language in explanations "
        "({zh: 关键客户, es: cliente clave}; a language left out shows the tier's name)",
    )
    actions: list[TierAction] = Field(
        default_factory=list,
        description="what the tier entitles or triggers, carried on every change and current tier "
        "(e.g. {name: discount, value: 0.1}, {name: block_new_purchase_orders})",
    )

    @model_validator(mode="after")
    def _actions_ok(self) -> Tier:
        names = [a.name for a in self.actions]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"tier {self.name}: action {repeated[0]!r} is listed twice")
        for group in _EXCLUSIVE_ACTIONS:
            if group <= set(names):
                raise ValueError(f"tier {self.name}: actions {' and '.join(sorted(group))} exclude each other")
        return self


def check_tiers(tiers: list[Tier], where: str) -> list[Tier]:
    """Refuse tiers that cannot grade every score once: names, order, overlap, a lowest tier at 0."""
    names = [t.name for t in tiers]
    if UNGRADED in names:
        raise ValueError(f"{where}: the tier name {UNGRADED!r} is reserved for entities below min_evidence")
    if len(set(names)) != len(names):
        raise ValueError(f"{where}: tier names must be unique, got {names}")
    mins = [t.min_score for t in tiers]
    if len(set(mins)) != len(mins):
        raise ValueError(f"{where}: tiers overlap: two tiers share a min_score in {mins}")
    if mins != sorted(mins, reverse=True):
        raise ValueError(f"{where}: list tiers from best to worst (min_score descending), got {mins}")
    if mins[-1] != 0:
        raise ValueError(f"{where}: the lowest tier must have min_score 0 so every score has a tier")
    return tiers


class Hysteresis(StrictModel):
    """Anti-flapping, defined on end-of-day scores so the tier is a function of the events alone.

    Days are calendar days (in the rules' ``timezone``), quiet ones included: the end-of-day score of
    a day without events is that of the window ending that day (it moves with
    recency and with days leaving the window). A tier T is kept on day t when
    any of these holds (q = the last day before t whose end-of-day score reached
    T's minimum, h = the last day before t whose end-of-day score stood on T's
    hold line, ``min_score - downgrade_margin``):

    * the score qualifies for T now;
    * T was reached within ``min_days_in_tier`` days (t - q < min_days_in_tier);
    * T was reached within ``hold_days``, T was held on every day since q, and
      the score is within the margin now, or it left the hold line less than
      ``grace_days`` days ago (t - h < grace_days).

    So a hold keeps only the tier held the day before: once it lapses, T is not
    held again until the score reaches T's minimum again. A change a hold's
    lapse makes happens at the midnight starting that day.
    """

    downgrade_margin: float = Field(0, ge=0, le=50, description="score points below a tier's minimum still held")
    min_days_in_tier: int = Field(0, ge=0, le=3650, description="days a tier is kept after the score last reached it")
    grace_days: int = Field(0, ge=0, le=3650, description="days under the hold line before a downgrade takes effect")
    hold_days: int = Field(90, ge=0, le=3650, description="how long a tier reached is defended by margin and grace")

    @property
    def lookback_days(self) -> int:
        return max(self.min_days_in_tier, self.hold_days)
