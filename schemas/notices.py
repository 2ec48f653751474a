"""The early-warning rules: which notices are sent, and when (``notices:`` in the rules file)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["NOTICE_KINDS", "NoticeKind", "NoticeRules"]

#: ``at_risk``: a tier kept only by hysteresis; ``supplier_watch``: a supplier's score left its tier
#: before the formal downgrade; ``approaching``: a customer close to the next tier;
#: ``assessment_expiring``: a manual assessment or override expires soon.
NoticeKind = Literal["at_risk", "supplier_watch", "approaching", "assessment_expiring"]
NOTICE_KINDS: tuple[NoticeKind, ...] = ("at_risk", "supplier_watch", "approaching", "assessment_expiring")


class NoticeRules(BaseModel):
    """When early warnings are sent (``tier-notices``): each kind once while its condition holds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kinds: list[NoticeKind] = Field(
        default_factory=lambda: list(NOTICE_KINDS), description="the kinds of notice sent (default: all)"
    )
    approaching_gap: float = Field(
        5, gt=0, le=100, allow_inf_nan=False,
        description="a customer at most this many points under the next tier's minimum is approaching it",
    )
    approaching_cooldown_days: int = Field(
        30, ge=0, le=3650, description="days after an approaching notice before another is sent"
    )
    assessment_expiring_days: int = Field(
        14, ge=0, le=3650,
        description="a manual assessment or override expiring within this many days is announced",
    )

    @field_validator("kinds")
    @classmethod
    def _distinct(cls, kinds: list[NoticeKind]) -> list[NoticeKind]:
        repeated = sorted({k for k in kinds if kinds.count(k) > 1})
        if repeated:
            raise ValueError(f"notice kind {repeated[0]!r} is listed twice")
        return kinds
