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
import zoneinfo
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from tierstream.schemas.cases import RectificationRules
from tierstream.schemas.errors import RulesError
from tierstream.schemas.events import PROFILE_FIELDS
from tierstream.schemas.loyalty import LoyaltyRules
from tierstream.schemas.notices import NoticeRules
from tierstream.schemas.tiers import TIER_NAME, Dimension, Hysteresis, StrictModel, Tier, check_tiers
from tierstream.schemas.yamlfile import parse_yaml_model
from tierstream.scorers.catalog import ASSESSED, metrics_of

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

CURRENCY = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. CNY")]


class RfmThresholds(StrictModel):
    recency_days: int = Field(gt=0, description="R is high when the last order is at most this many days old")
    frequency: int = Field(gt=0, description="F is high at this many orders in the window")
    monetary: float = Field(gt=0, description="M is high at this much revenue in the window")


class GroupOverride(StrictModel):
    """A declared customer group; ``{}`` declares one graded with the default thresholds.

    A group's tier without ``actions`` of its own has those of the default tier of
    the same name: a group moves thresholds, not what a tier entitles.
    """

    tiers: list[Tier] | None = None
    rfm: RfmThresholds | None = None


class Prospect(StrictModel):
    newcomer_max_orders: int = Field(
        1, ge=0, description="a customer with at most this many orders is a newcomer: an active "
        "prospect assessment replaces the behavioural score"
    )


class SupplierProspect(StrictModel):
    newcomer_max_deliveries: int = Field(
        1, ge=0, description="a supplier with at most this many deliveries in the window is a newcomer: "
        "an active prospect assessment replaces the behavioural score"
    )


class MinEvidence(StrictModel):
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


class EntityRules(StrictModel):
    window_days: int = Field(ge=1, le=3650)
    dimensions: dict[str, Dimension] = Field(min_length=1)
    tiers: list[Tier] = Field(min_length=1)
    hysteresis: Hysteresis = Hysteresis()
    min_evidence: MinEvidence = MinEvidence()

    def _check(self, kind: str, known: dict[str, str]) -> None:
        for name, dim in self.dimensions.items():
            if dim.metric not in known and dim.metric != ASSESSED:
                raise ValueError(
                    f"{kind}.dimensions.{name}: unknown metric {dim.metric!r}; "
                    f"known: {ASSESSED} (scored by people's assessments), {', '.join(sorted(known))}"
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
        check_tiers(self.tiers, f"{kind}.tiers")

    def tier_names(self) -> list[str]:
        return [t.name for t in self.tiers]

    def every_tier_name(self) -> list[str]:
        """Return every tier an entity of this kind can hold, best first (a customer group's own after these)."""
        return self.tier_names()

    def assessed(self) -> list[str]:
        """Return the qualitative dimensions, those an assessment may name (``metric: assessed``)."""
        return [name for name, dim in self.dimensions.items() if dim.metric == ASSESSED]

    def unknown_assessed(self, kind: str, dimension: str) -> str | None:
        """Why an assessment of ``dimension`` cannot be counted, or ``None`` when it can."""
        known = self.assessed()
        if dimension in known:
            return None
        return (f"dimension {dimension!r} is not an assessed {kind} dimension of the rules "
                f"({kind}.dimensions with metric: {ASSESSED}: {', '.join(known) or 'none declared'})")


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
    group_from: str = Field(
        "profile.group", description="where a customer's group comes from: order (the latest counted order "
        "naming a customer_group), or a profile field (profile.group, profile.business_nature, ...) or free "
        "attribute (profile.attributes.<name>), falling back to the orders' group when the profile names none",
    )
    loyalty: LoyaltyRules | None = Field(
        None, description="loyal / potentially_loyal conditions on customer metrics (else disloyal); "
        "none: no loyalty classification",
    )

    @model_validator(mode="after")
    def _valid(self) -> CustomerRules:
        self._check("customer", CUSTOMER_METRICS)
        if self.loyalty is not None:
            self.loyalty.check(CUSTOMER_METRICS)
        self._check_group_from()
        base = {t.name: t.actions for t in self.tiers}
        for group, override in self.groups.items():
            if override.tiers is not None:
                check_tiers(override.tiers, f"customer.groups.{group}.tiers")
                inherited = [t if t.actions or t.name not in base else t.model_copy(update={"actions": base[t.name]})
                             for t in override.tiers]
                object.__setattr__(override, "tiers", inherited)  # frozen: set once, while validating
        return self

    def _check_group_from(self) -> None:
        source = self.group_from
        if source == "order":
            return
        name = self.group_field
        if name is None:
            raise ValueError(f"customer.group_from: {source!r} is neither order nor profile.<field> "
                             f"({', '.join(PROFILE_FIELDS)}) nor profile.attributes.<name>")
        vocabulary = PROFILE_FIELDS.get(name)
        missing = [v for v in vocabulary or () if v not in self.groups]
        if missing:
            raise ValueError(f"customer.group_from: {source} picks the group, but customer.groups does not "
                             f"declare {', '.join(missing)} (declare each, e.g. {missing[0]}: {{}})")

    @property
    def group_field(self) -> str | None:
        """The profile field or attribute (``attributes.<name>``) the group comes from; ``None``: orders only."""
        field, dot, name = self.group_from.partition(".")
        if field != "profile" or not dot:
            return None
        if name in PROFILE_FIELDS:
            return name
        attr = name.removeprefix("attributes.")
        return name if attr != name and attr and attr.replace("_", "a").isalnum() and attr.islower() else None

    def unknown_group(self, group: str) -> str | None:
        """Why ``group`` cannot be used (it is not declared), or ``None`` when it is declared."""
        if group in self.groups:
            return None
        known = ", ".join(sorted(self.groups)) or "none declared"
        return f"customer_group {group!r} is not a group of the rules (customer.groups: {known})"

    def tiers_for(self, group: str | None) -> list[Tier]:
        override = self.groups.get(group) if group else None
        return override.tiers if override and override.tiers else self.tiers

    def every_tier_name(self) -> list[str]:
        """Return the default tiers best first, then those only a customer group's own tiers have."""
        names = self.tier_names()
        for override in self.groups.values():
            names += [t.name for t in override.tiers or () if t.name not in names]
        return names

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


class Rules(StrictModel):
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

    def of(self, kind: str) -> EntityRules:
        """Return the rules of an entity kind (``customer`` or ``supplier``)."""
        return self.customer if kind == "customer" else self.supplier

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
    """Validate a rules file's text; a :class:`RulesError` names ``source`` and every wrong place."""
    rules = parse_yaml_model(text, source, Rules, RulesError, "rules", "a mapping at the top level")
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
