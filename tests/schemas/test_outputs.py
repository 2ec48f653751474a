"""Outputs built fast (``model_construct``) equal the same outputs validated."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel

from tierstream.schemas.outputs import (
    EntitySnapshot,
    NextTier,
    ReferralCredit,
    SupplierAlert,
    SupplierCase,
    TierChange,
    TierNotice,
    WindowInfo,
)


def _output_samples() -> list[tuple[type[BaseModel], dict[str, Any]]]:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    nxt: dict[str, Any] = {"tier": "key", "score_gap": 3.5, "hints": ["2 more orders in the window"]}
    return [
        (NextTier, nxt),
        (TierChange, {
            "change_id": "tc:customer:c1:2", "entity_type": "customer", "entity_id": "c1", "previous_tier": "potential",
            "tier": "general", "direction": "upgrade", "score": 41.5, "previous_score": 30.0,
            "components": {"recency": 85.0}, "reasons": ["score 41.5 reached general (minimum 40)"],
            "rules_version": "v1", "occurred_at": when, "cause": "e1", "next_tier": NextTier.model_construct(**nxt)}),
        (SupplierAlert, {
            "alert_id": "sa:s1:3", "supplier_id": "s1", "previous_tier": "good", "tier": "qualified",
            "severity": "warning", "score": 60.0, "reasons": ["score 60.0 fell below what good requires"],
            "occurred_at": when, "change_id": "tc:supplier:s1:3"}),
        (WindowInfo, {"days": 365, "start": "2025-01-03", "end": "2026-01-02"}),
        (EntitySnapshot, {
            "entity_type": "supplier", "entity_id": "s1", "tier": "good", "score": 72.0, "segment": None,
            "group": None, "components": {"quality": 70.0}, "aggregates": {"deliveries": 4},
            "window": WindowInfo.model_construct(days=180, start="2025-07-06", end="2026-01-02"),
            "next_tier": None, "as_of": when, "rules_version": "v1"}),
        (ReferralCredit, {"type": "referral_credit", "credit_id": "rc:c1:c2:5", "revoke": False,
                          "referrer_id": "c1", "referred_id": "c2", "occurred_at": when}),
        (TierNotice, {
            "notice_id": "tn:supplier:s1:at_risk:1", "kind": "at_risk", "entity_type": "supplier", "entity_id": "s1",
            "tier": "good", "score": 66.67, "target_tier": "qualified", "refers_to": "2026-02-01", "gap": 3.33,
            "hints": ["on time rate of 70.0%"], "message": "good is held by hysteresis", "rules_version": "v1",
            "occurred_at": when, "cause": "e1"}),
        (SupplierCase, {
            "event_id": "sc:s1:1:opened", "case_id": "sc:s1:1", "status": "opened", "recommendation": "rectify",
            "supplier_id": "s1", "tier": "unqualified", "score": 33.33, "components": {"on_time": 33.33},
            "reasons": ["rectify by 2026-02-01"], "opened_at": when, "deadline": when, "rules_version": "v1",
            "occurred_at": when, "cause": "e1"}),
    ]


@pytest.mark.parametrize("model, values", _output_samples(), ids=lambda v: getattr(v, "__name__", ""))
def test_fast_construction_is_pydantics_model_construct(model: type[BaseModel], values: dict[str, Any]) -> None:
    """Every field given in any order: the same object as pydantic's own construct and as validation."""
    shuffled = dict(reversed(list(values.items())))
    fast = model.model_construct(**shuffled)
    slow = BaseModel.model_construct.__func__(model, **shuffled)  # type: ignore[attr-defined]
    assert fast == slow == model.model_validate(values)
    assert fast.model_dump_json() == slow.model_dump_json() == model.model_validate(values).model_dump_json()
    assert fast.model_fields_set == slow.model_fields_set
    assert list(fast.__dict__) == list(model.model_fields)  # definition order, as pydantic builds it
    partial = dict(list(values.items())[:-1])  # a field missing: pydantic's own path (defaults)
    assert model.model_construct(**partial).model_fields_set == set(partial)
