"""Invalid lines of varied kinds (:data:`INVALID_KINDS`), each made from a valid event.

A maker returns ``None`` when its kind does not apply to the event (no amount
to negate, not a delivery...): another kind is drawn.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from tierstream.streams.dev.sample.core import SimulationCore
from tierstream.streams.dev.sample.stats import INVALID_KINDS

__all__ = ["InvalidLines"]


class InvalidLines(SimulationCore):
    """The invalid-lines part of the simulation: one bad line next to a valid event."""

    def _invalid(self, event: dict[str, Any]) -> bytes:
        rng = self.rng
        self.event_no += 1
        bad = dict(event)
        bad["event_id"] = f"e{self.event_no:09d}"
        while True:
            kind = rng.choice(INVALID_KINDS)
            line = _MAKERS[kind](self, bad)
            if line is not None:
                self.stats.invalid += 1
                self.stats.invalid_kinds[kind] = self.stats.invalid_kinds.get(kind, 0) + 1
                return line

    def _inv_not_json(self, e: dict[str, Any]) -> bytes:
        line = orjson.dumps(e)
        return line[: self.rng.randrange(1, len(line) - 1)]

    def _inv_not_an_object(self, e: dict[str, Any]) -> bytes:
        return orjson.dumps([e]) if self.rng.random() < 0.5 else b"null"

    def _inv_missing_field(self, e: dict[str, Any]) -> bytes:
        required = {
            "order": ("order_id", "amount", "occurred_at"),
            "invoice": ("invoice_id", "due_at", "amount"),
            "payment": ("invoice_id", "due_at", "amount"),
            "delivery": ("promised_at", "quantity_delivered", "order_id"),
            "referral": ("referred_id", "referrer_id"),
            "service": ("supplier_id", "ticket_id"),
            "assessment": ("author", "expires_at", "reason"),
        }[e["type"]]
        del e[self.rng.choice(required)]
        return orjson.dumps(e)

    def _inv_negative_amount(self, e: dict[str, Any]) -> bytes | None:
        if "amount" not in e:
            return None
        e["amount"] = -e["amount"]
        return orjson.dumps(e)

    def _inv_unknown_type(self, e: dict[str, Any]) -> bytes:
        e["type"] = self.rng.choice(("refund", "credit_note", "Order", "shipment"))
        return orjson.dumps(e)

    def _inv_self_referral(self, e: dict[str, Any]) -> bytes | None:
        cid = e.get("customer_id") or e.get("referred_id")
        if cid is None:
            return None
        return orjson.dumps(
            {
                "event_id": e["event_id"],
                "occurred_at": e["occurred_at"],
                "type": "referral",
                "referrer_id": cid,
                "referred_id": cid,
            }
        )

    def _inv_accepted_gt_delivered(self, e: dict[str, Any]) -> bytes | None:
        if e["type"] != "delivery":
            return None
        e["quantity_accepted"] = e["quantity_delivered"] + self.rng.randint(1, 5)
        return orjson.dumps(e)

    def _nan_field(self, e: dict[str, Any]) -> str | None:
        for name in ("amount", "prospect_score"):
            if name in e:
                return name
        return None

    def _inv_nan_string(self, e: dict[str, Any]) -> bytes | None:
        name = self._nan_field(e)
        if name is None:
            return None
        e[name] = self.rng.choice(("NaN", "nan", "Infinity"))
        return orjson.dumps(e)

    def _inv_nan_literal(self, e: dict[str, Any]) -> bytes | None:
        name = self._nan_field(e)
        if name is None:
            return None
        e[name] = "\x00nan\x00"
        return orjson.dumps(e).replace(b'"\\u0000nan\\u0000"', b"NaN")

    def _inv_number_as_string(self, e: dict[str, Any]) -> bytes | None:
        for name in ("amount", "quantity_delivered", "prospect_score"):
            if name in e:
                e[name] = str(e[name])
                return orjson.dumps(e)
        return None

    def _inv_naive_timestamp(self, e: dict[str, Any]) -> bytes:
        ts: str = e["occurred_at"]
        e["occurred_at"] = ts[:-1] if ts.endswith("Z") else ts[:-6]
        return orjson.dumps(e)

    def _inv_impossible_date(self, e: dict[str, Any]) -> bytes:
        e["occurred_at"] = self.rng.choice(
            ("2026-02-30T10:00:00Z", "0050-01-01T00:00:00Z", "2026-13-01T00:00:00Z", "yesterday")
        )
        return orjson.dumps(e)

    def _inv_extra_field(self, e: dict[str, Any]) -> bytes:
        e[self.rng.choice(("discount", "note", "customerId"))] = "x"
        return orjson.dumps(e)

    def _inv_blank_id(self, e: dict[str, Any]) -> bytes:
        for name in ("customer_id", "supplier_id", "referred_id", "entity_id"):
            if name in e:
                e[name] = self.rng.choice(("", " ", f" {e[name]}"))
                return orjson.dumps(e)
        e["event_id"] = ""
        return orjson.dumps(e)

    def _inv_bad_currency(self, e: dict[str, Any]) -> bytes | None:
        if "currency" not in e:
            return None
        e["currency"] = self.rng.choice(("cny", "RMB¥", "US"))
        return orjson.dumps(e)

    def _inv_response_before_open(self, e: dict[str, Any]) -> bytes | None:
        if e["type"] != "service" or "first_response_at" not in e:
            return None
        e["first_response_at"], e["occurred_at"] = e["occurred_at"], e["first_response_at"]
        if e["first_response_at"] == e["occurred_at"]:
            return None
        return orjson.dumps(e)

    def _inv_both_counterparties(self, e: dict[str, Any]) -> bytes | None:
        if e["type"] != "order":
            return None
        if "customer_id" in e:
            e["supplier_id"] = self.rng.choice(self.supplier_ids) if self.supplier_ids else "s0001"
        else:
            e["customer_id"] = self.rng.choice(self.customer_ids) if self.customer_ids else "c00001"
        return orjson.dumps(e)

    def _inv_expires_before_occurred(self, e: dict[str, Any]) -> bytes | None:
        if e["type"] != "assessment":
            return None
        e["expires_at"] = e["occurred_at"]
        return orjson.dumps(e)


_MAKERS: dict[str, Callable[[InvalidLines, dict[str, Any]], bytes | None]] = {
    "not_json": InvalidLines._inv_not_json,
    "not_an_object": InvalidLines._inv_not_an_object,
    "missing_field": InvalidLines._inv_missing_field,
    "negative_amount": InvalidLines._inv_negative_amount,
    "unknown_type": InvalidLines._inv_unknown_type,
    "self_referral": InvalidLines._inv_self_referral,
    "accepted_gt_delivered": InvalidLines._inv_accepted_gt_delivered,
    "nan_string": InvalidLines._inv_nan_string,
    "nan_literal": InvalidLines._inv_nan_literal,
    "number_as_string": InvalidLines._inv_number_as_string,
    "naive_timestamp": InvalidLines._inv_naive_timestamp,
    "impossible_date": InvalidLines._inv_impossible_date,
    "extra_field": InvalidLines._inv_extra_field,
    "blank_id": InvalidLines._inv_blank_id,
    "bad_currency": InvalidLines._inv_bad_currency,
    "response_before_open": InvalidLines._inv_response_before_open,
    "both_counterparties": InvalidLines._inv_both_counterparties,
    "expires_before_occurred": InvalidLines._inv_expires_before_occurred,
}
assert tuple(_MAKERS) == INVALID_KINDS
