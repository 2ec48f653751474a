"""Supplier rectification rules: the deadline a supplier in the lowest tier has to get back above it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["RectificationRules"]


class RectificationRules(BaseModel):
    """A supplier downgraded into the lowest tier opens a case, re-assessed at its deadline (``supplier-cases``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="open rectification cases at all")
    deadline_days: int = Field(
        30, ge=1, le=3650,
        description="days from the opening day to the deadline (00:00 of that day, in the rules' time zone)",
    )
