"""The published grading rules: one YAML file, validated at load.

A rules file has a ``version`` and, per entity type, the rolling window, the
weighted dimensions (each a metric and a piecewise-linear scale to 0..100),
the tiers by minimum score, hysteresis, the minimum evidence to be graded at
all, newcomer prospect scoring, and (customers) the RFM thresholds, the
referral policy and the customer groups (each declared, with optional
overrides). At the top level: the base currency and the exchange rates
amounts are converted at, and the business's time zone, whose calendar days
are the days of every window, recency and lateness.
Anything inconsistent is refused with a message naming the place.
"""

from __future__ import annotations

import hashlib
import math
import zoneinfo
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from tierstream.schemas.cases import RectificationRules
from tierstream.schemas.errors import RulesError
from tierstream.schemas.notices import NoticeRules
from tierstream.schemas.outputs import UNGRADED, TierAction
from tierstream.scorers.catalog import metrics_of

__all__ = [
    "CURRENCY",
    "CUSTOMER_METRICS",
    "SUPPLIER_METRICS",
    "TIER_NAME",
    "CustomerRules",
    "Dimension",
    "EntityRules",
    "GroupOverride",
    "Hysteresis",
    "MinEvidence",
    "Prospect",
    "RfmThresholds",
    "Rules",
    "SupplierProspect",
    "SupplierRules",
    "Tier",
    "load_rules",
    "parse_rules",
]

# The metrics a dimension may name, with what they measure: the scorers' catalog is the one list.
CUSTOMER_METRICS: dict[str, str] = {name: m.description for name, m in metrics_of("customer").items()}
SUPPLIER_METRICS: dict[str, str] = {name: m.description for name, m in metrics_of("supplier").items()}

TIER_NAME = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]
CURRENCY = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. CNY")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Dimension(_Strict):
    metric: str
    weight: float = Field(gt=0, le=1, allow_inf_nan=False)
    scale: list[tuple[float, float]] = Field(
        min_length=2,
        description="points (metric value, score 0..100), metric values strictly increasing; "
        "linear between points, flat beyond the ends",
    )
    label: str | None = Field(None, description="plain-words name used in explanations")

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


class Tier(_Strict):
    name: TIER_NAME
    min_score: float = Field(ge=0, le=100, allow_inf_nan=False)
    label: str | None = None
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


def _check_tiers(tiers: list[Tier], where: str) -> list[Tier]:
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


class Hysteresis(_Strict):
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


class RfmThresholds(_Strict):
    recency_days: int = Field(gt=0, description="R is high when the last order is at most this many days old")
    frequency: int = Field(gt=0, description="F is high at this many orders in the window")
    monetary: float = Field(gt=0, description="M is high at this much revenue in the window")


class GroupOverride(_Strict):
    """A declared customer group; ``{}`` declares one graded with the default thresholds.

    A group's tier without ``actions`` of its own has those of the default tier of
    the same name: a group moves thresholds, not what a tier entitles.
    """

    tiers: list[Tier] | None = None
    rfm: RfmThresholds | None = None


class Prospect(_Strict):
    newcomer_max_orders: int = Field(
        1, ge=0, description="a customer with at most this many orders is a newcomer: an active "
        "prospect assessment replaces the behavioural score"
    )


class SupplierProspect(_Strict):
    newcomer_max_deliveries: int = Field(
        1, ge=0, description="a supplier with at most this many deliveries in the window is a newcomer: "
        "an active prospect assessment replaces the behavioural score"
    )


class MinEvidence(_Strict):
    """The least evidence an entity is graded on; below it, it is ``ungraded`` (never the lowest tier).

    A dimension has evidence when its metric has a value in the window (a rate
    needs something to be a rate of: a delivery, a payment, an order with a cost).
    An active prospect assessment of a newcomer, or a tier override, is graded
    whatever the evidence: a person judged it.
    """

    dimensions: int = Field(1, ge=0, description="at least this many dimensions with evidence")
    requires: list[str] = Field(
        default_factory=list, description="dimensions (names in this entity type's dimensions) that must "
        "have evidence, e.g. [on_time]: at least one delivery",
    )


class EntityRules(_Strict):
    window_days: int = Field(ge=1, le=3650)
    dimensions: dict[str, Dimension] = Field(min_length=1)
    tiers: list[Tier] = Field(min_length=1)
    hysteresis: Hysteresis = Hysteresis()
    min_evidence: MinEvidence = MinEvidence()

    def _check(self, kind: str, known: dict[str, str]) -> None:
        for name, dim in self.dimensions.items():
            if dim.metric not in known:
                raise ValueError(
                    f"{kind}.dimensions.{name}: unknown metric {dim.metric!r}; "
                    f"known: {', '.join(sorted(known))}"
                )
        ev = self.min_evidence
        for name in ev.requires:
            if name not in self.dimensions:
                raise ValueError(f"{kind}.min_evidence.requires: {name!r} is not a {kind} dimension; "
                                 f"known: {', '.join(self.dimensions)}")
        if len(set(ev.requires)) != len(ev.requires):
            raise ValueError(f"{kind}.min_evidence.requires: names a dimension twice ({ev.requires})")
        if ev.dimensions > len(self.dimensions):
            raise ValueError(f"{kind}.min_evidence.dimensions: {ev.dimensions} is more than the "
                             f"{len(self.dimensions)} {kind} dimensions")
        total = sum(d.weight for d in self.dimensions.values())
        if abs(total - 1.0) > 1e-6:
            weights = ", ".join(f"{n}={d.weight}" for n, d in self.dimensions.items())
            raise ValueError(f"{kind}: dimension weights must sum to 1, they sum to {total:.6g} ({weights})")
        _check_tiers(self.tiers, f"{kind}.tiers")

    def tier_names(self) -> list[str]:
        return [t.name for t in self.tiers]


class CustomerRules(EntityRules):
    rfm: RfmThresholds
    referral_requires_order: bool = True
    referral_requires_new_customer: bool = Field(
        True, description="a referral counts only when the referred customer had no order before it "
        "(\"old brings new\"); an order cancelled or returned whole was never placed"
    )
    prospect: Prospect = Prospect()
    groups: dict[str, GroupOverride] = Field(
        default_factory=dict,
        description="the customer groups events may name (customer_group), each with optional "
        "tiers and rfm overrides; any other group is refused",
    )

    @model_validator(mode="after")
    def _valid(self) -> CustomerRules:
        self._check("customer", CUSTOMER_METRICS)
        base = {t.name: t.actions for t in self.tiers}
        for group, override in self.groups.items():
            if override.tiers is not None:
                _check_tiers(override.tiers, f"customer.groups.{group}.tiers")
                inherited = [t if t.actions or t.name not in base else t.model_copy(update={"actions": base[t.name]})
                             for t in override.tiers]
                object.__setattr__(override, "tiers", inherited)  # frozen: set once, while validating
        return self

    def unknown_group(self, group: str) -> str | None:
        """Why ``group`` cannot be used (it is not declared), or ``None`` when it is declared."""
        if group in self.groups:
            return None
        known = ", ".join(sorted(self.groups)) or "none declared"
        return f"customer_group {group!r} is not a group of the rules (customer.groups: {known})"

    def tiers_for(self, group: str | None) -> list[Tier]:
        override = self.groups.get(group) if group else None
        return override.tiers if override and override.tiers else self.tiers

    def rfm_for(self, group: str | None) -> RfmThresholds:
        override = self.groups.get(group) if group else None
        return override.rfm if override and override.rfm else self.rfm


class SupplierRules(EntityRules):
    alert_on: Literal["any_downgrade", "critical_only"] = "any_downgrade"
    prospect: SupplierProspect = SupplierProspect()
    rectification: RectificationRules = RectificationRules()

    @model_validator(mode="after")
    def _valid(self) -> SupplierRules:
        self._check("supplier", SUPPLIER_METRICS)
        return self


class Rules(_Strict):
    version: str = Field(min_length=1, max_length=64)
    effective_from: AwareDatetime | None = Field(
        None, description="the instant (event time) a running service takes these rules; unset: at once"
    )
    regrade: Literal["now", "next_event"] = Field(
        "next_event", description="now: every entity is re-graded when the rules take effect (changes "
        "caused by 'rules <version>'); next_event: each entity at its next event or review"
    )
    customer: CustomerRules
    supplier: SupplierRules
    max_future_skew_hours: float = Field(
        24, ge=0, description="events stamped further ahead of the receiving clock are refused"
    )
    currency: CURRENCY = Field("CNY", description="the base currency: every amount is counted in it")
    fx_rates: dict[CURRENCY, Annotated[float, Field(gt=0, le=1e6, allow_inf_nan=False)]] = Field(
        default_factory=dict,
        description="currency -> units of the base currency per unit; an amount in a currency "
        "neither the base nor listed here is refused",
    )
    timezone: str = Field(
        "UTC", description="IANA time zone whose calendar days are the days of windows, recency and lateness"
    )
    notices: NoticeRules = Field(default_factory=NoticeRules, description="early warnings (tier-notices)")

    _sha256: str = PrivateAttr("")

    @property
    def sha256(self) -> str:
        """The sha256 of the file the rules were read from (hex; of the packaged file by default)."""
        return self._sha256

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {name!r} (e.g. UTC, Asia/Shanghai, Europe/Madrid)") from None
        return name

    @model_validator(mode="after")
    def _base_not_a_rate(self) -> Rules:
        if self.currency in self.fx_rates and self.fx_rates[self.currency] != 1:
            raise ValueError(
                f"fx_rates.{self.currency}: the base currency converts at 1, got {self.fx_rates[self.currency]}"
            )
        return self

    def rate_of(self, currency: str | None) -> float:
        """Units of the base currency per unit of ``currency`` (``None``: the base, 1).

        Raises ``KeyError`` for a currency :meth:`unknown_currency` refuses.
        """
        if currency is None or currency == self.currency:
            return 1.0
        return self.fx_rates[currency]

    def unknown_currency(self, currency: str) -> str | None:
        """Why an amount in ``currency`` cannot be counted, or ``None`` when it can."""
        if currency == self.currency or currency in self.fx_rates:
            return None
        known = ", ".join([self.currency, *sorted(c for c in self.fx_rates if c != self.currency)])
        return f"currency {currency!r} has no exchange rate in the rules (fx_rates; known: {known})"


def parse_rules(text: str, source: str = "<rules>") -> Rules:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RulesError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise RulesError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        rules = Rules.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(top level)"
            lines.append(f"  {where}: {err['msg']}")
        raise RulesError(f"{source}: invalid rules:\n" + "\n".join(lines)) from None
    rules._sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return rules


def load_rules(path: str | Path | None = None) -> Rules:
    """Load and validate a rules file; ``None`` loads the default shipped with the package."""
    if path is None:
        text = resources.files("tierstream.schemas").joinpath("default_rules.yaml").read_text("utf-8")
        return parse_rules(text, "default_rules.yaml")
    p = Path(path)
    try:
        text = p.read_text("utf-8")
    except OSError as exc:
        raise RulesError(f"{p}: cannot read rules file: {exc.strerror}") from exc
    return parse_rules(text, str(p))
