"""Events the scenarios publish: sized samples from the generator and hand-made orders and deliveries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tierstream.streams.dev.sample import estimate_lines, write_sample

__all__ = ["AT", "compact", "delivery", "order", "sample_lines", "sized_sample"]


def sample_lines(tmp: Path, customers: int, suppliers: int, days: int, seed: int) -> list[bytes]:
    """Return the lines of a generated sample, written once per size and seed under ``tmp``."""
    path = tmp / f"sample-{customers}-{suppliers}-{days}-{seed}.jsonl"
    if not path.exists():
        write_sample(path, customers=customers, suppliers=suppliers, days=days, seed=seed)
    return [line for line in path.read_bytes().split(b"\n") if line.strip()]


def sized_sample(tmp: Path, events: int, seed: int, days: int = 150) -> list[bytes]:
    """A sample of about ``events`` lines (10 customers per supplier) over ``days`` days.

    150 days stays inside every retention (customers 365 + 60, suppliers 180 + 60 days), so
    the state's event ids are a function of the set of events (see docs/RELIABILITY.md).
    """
    customers = 20
    while estimate_lines(customers, max(2, customers // 10), days) < events:
        customers = max(customers + 1, int(customers * 1.1))
    return sample_lines(tmp, customers, max(2, customers // 10), days, seed)


AT = "2026-10-01T10:00:00Z"


def order(eid: str, cid: str, at: str = AT, **extra: Any) -> dict[str, Any]:
    """Return an order event document (customer ``cid``) with ``extra`` fields over the defaults."""
    return {"type": "order", "event_id": eid, "occurred_at": at, "order_id": "o-" + eid, "customer_id": cid,
            "amount": 120.5, "cost": 80.0, **extra}


def delivery(eid: str, sid: str, **extra: Any) -> dict[str, Any]:
    """Return a delivery event document (supplier ``sid``) with ``extra`` fields over the defaults."""
    return {"type": "delivery", "event_id": eid, "occurred_at": AT, "supplier_id": sid, "order_id": "p-" + eid,
            "promised_at": "2026-10-02T00:00:00Z", "quantity_ordered": 10, "quantity_delivered": 10,
            "quantity_accepted": 9, **extra}


def compact(doc: Any) -> bytes:
    """Return ``doc`` as compact JSON bytes."""
    return json.dumps(doc, separators=(",", ":")).encode()
