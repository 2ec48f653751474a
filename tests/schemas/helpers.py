"""One valid event of each type, and the error message a changed one gets."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from tierstream.schemas.errors import describe
from tierstream.schemas.events import (
    INBOUND_ADAPTER,
    AssessmentEvent,
    DeliveryEvent,
    InvoiceEvent,
    OrderEvent,
    PaymentEvent,
    ProfileEvent,
    ReferralEvent,
    ServiceEvent,
)

__all__ = ["AT", "ENTITY", "MODEL", "VALID", "error_of", "ev"]


AT = "2025-03-01T10:00:00Z"

VALID: dict[str, dict[str, Any]] = {
    "order": {
        "type": "order", "event_id": "e1", "occurred_at": AT, "order_id": "o1",
        "customer_id": "c1", "amount": 120.5, "cost": 80.0, "currency": "CNY",
        "customer_group": "wholesale",
    },
    "purchase": {
        "type": "order", "event_id": "e2", "occurred_at": "2025-03-01T18:00:00+08:00",
        "order_id": "p1", "supplier_id": "s1", "amount": 990.0, "market_amount": 1000.0,
    },
    "payment": {
        "type": "payment", "event_id": "e3", "occurred_at": AT, "customer_id": "c1",
        "invoice_id": "i1", "amount": 120.5, "due_at": "2025-03-15T00:00:00Z",
    },
    "invoice": {
        "type": "invoice", "event_id": "e9", "occurred_at": AT, "customer_id": "c1",
        "invoice_id": "i1", "amount": 120.5, "issued_at": AT, "due_at": "2025-03-15T00:00:00Z",
    },
    "delivery": {
        "type": "delivery", "event_id": "e4", "occurred_at": AT, "supplier_id": "s1",
        "order_id": "p1", "promised_at": "2025-03-02T00:00:00Z", "quantity_ordered": 100,
        "quantity_delivered": 98, "quantity_accepted": 97,
    },
    "referral": {
        "type": "referral", "event_id": "e5", "occurred_at": AT, "referrer_id": "c1",
        "referred_id": "c2",
    },
    "service": {
        "type": "service", "event_id": "e6", "occurred_at": AT, "supplier_id": "s1",
        "ticket_id": "t1", "first_response_at": "2025-03-01T14:30:00Z",
    },
    "assessment": {
        "type": "assessment", "event_id": "e7", "occurred_at": AT, "entity_type": "customer",
        "entity_id": "c9", "prospect_score": 62.5, "reason": "trade show lead",
        "expires_at": "2025-06-01T00:00:00Z", "author": "li.wei",
    },
    "override": {
        "type": "assessment", "event_id": "e8", "occurred_at": AT, "entity_type": "supplier",
        "entity_id": "s1", "tier_override": "unqualified", "reason": "quality incident",
        "expires_at": "2025-04-01T00:00:00Z", "author": "m.garcia",
    },
    "profile": {
        "type": "profile", "event_id": "e9", "occurred_at": AT, "entity_type": "customer", "entity_id": "c3",
        "ownership": "private", "business_nature": "chain", "location_type": "business_centre",
        "need_type": "service", "group": "retail", "share_of_wallet": 0.4, "attributes": {"region": "east"},
    },
}

MODEL = {
    "order": OrderEvent, "purchase": OrderEvent, "payment": PaymentEvent, "invoice": InvoiceEvent,
    "delivery": DeliveryEvent, "referral": ReferralEvent, "service": ServiceEvent,
    "assessment": AssessmentEvent, "override": AssessmentEvent, "profile": ProfileEvent,
}

ENTITY = {
    "order": ("customer", "c1"), "purchase": ("supplier", "s1"), "payment": ("customer", "c1"),
    "invoice": ("customer", "c1"),
    "delivery": ("supplier", "s1"), "referral": ("customer", "c2"), "service": ("supplier", "s1"),
    "assessment": ("customer", "c9"), "override": ("supplier", "s1"), "profile": ("customer", "c3"),
}


def ev(kind: str, **changes: Any) -> dict[str, Any]:
    """A valid event of ``kind`` with ``changes`` applied (a value of ``...`` drops the field)."""
    doc = copy.deepcopy(VALID[kind])
    for key, value in changes.items():
        if value is ...:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc


def error_of(raw: bytes | dict[str, Any]) -> str:
    data = raw if isinstance(raw, bytes) else orjson.dumps(raw)
    with pytest.raises(ValidationError) as info:
        INBOUND_ADAPTER.validate_json(data)
    return describe(info.value)
