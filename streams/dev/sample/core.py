"""The simulation's core: its parameters, its one random source and the time-ordered heap of what comes next.

The customer, supplier and invalid-line parts are mixins over this core
(:mod:`.customers`, :mod:`.suppliers`, :mod:`.invalid`), assembled with the
stream of lines in :mod:`.stream`; every draw goes through ``self.rng`` in the
order the one-class generator made them, so the bytes are the same.
"""

from __future__ import annotations

import heapq
import random
from datetime import datetime
from typing import Any

from tierstream.streams.dev.sample.clock import DAY, Clock
from tierstream.streams.dev.sample.stats import SampleStats

__all__ = ["AUTHORS", "K_CUSTOMER", "K_CUSTOMER_FIRST", "K_READY", "K_SUPPLIER", "HeapItem", "SimulationCore"]

AUTHORS = ("li.wei", "zhang.min", "m.garcia", "a.schmidt", "k.tanaka", "o.okafor")

# Heap entry kinds.
K_READY = 0  # a fully built event dict
K_CUSTOMER = 1  # a customer's next sales order
K_CUSTOMER_FIRST = 2  # a newcomer's first order (no thinning)
K_SUPPLIER = 3  # a supplier's next purchase order

HeapItem = tuple[float, int, int, Any]


class SimulationCore:
    """Parameters, counters and scheduling shared by every part of the simulation."""

    def __init__(
        self,
        customers: int,
        suppliers: int,
        days: int,
        seed: int,
        end: datetime,
        invalid_ratio: float,
        late_ratio: float,
        duplicate_ratio: float,
        stats: SampleStats,
    ) -> None:
        if customers < 0 or suppliers < 0:
            raise ValueError("customers and suppliers must be >= 0")
        if days < 1:
            raise ValueError("days must be >= 1")
        if end.tzinfo is None or end.utcoffset() is None:
            raise ValueError("end must be timezone-aware")
        for name, ratio in (
            ("invalid_ratio", invalid_ratio),
            ("late_ratio", late_ratio),
            ("duplicate_ratio", duplicate_ratio),
        ):
            if not 0.0 <= ratio <= 1.0:
                raise ValueError(f"{name} must be within 0..1, got {ratio}")
        if invalid_ratio + late_ratio + duplicate_ratio > 1.0:
            raise ValueError("invalid_ratio + late_ratio + duplicate_ratio must not exceed 1")
        self.rng = random.Random(seed)
        #: the draws for the shapes added later (partial returns, place-and-cancel referrals, zero
        #: deliveries, open tickets) come from their own source, so the others stay as they were
        self.shapes = random.Random(f"{seed}:shapes")
        #: the profiles' draws (``.profiles``), and those of their lines' late or duplicate rolls
        self.profiles = random.Random(f"{seed}:profiles")
        self.profile_no = 0
        self.end = float(int(end.timestamp()))
        self.start = self.end - days * DAY
        self.span = self.end - self.start
        self.n_customers = customers
        self.n_suppliers = suppliers
        self.invalid_ratio = invalid_ratio
        self.late_cut = invalid_ratio + late_ratio
        self.dup_cut = self.late_cut + duplicate_ratio
        self.stats = stats
        stats.customers = customers
        stats.suppliers = suppliers
        self.clock = Clock()
        self.heap: list[HeapItem] = []
        self.seq = 0
        self.event_no = 0
        self.sales_no = 0
        self.purchase_no = 0
        self.ticket_no = 0
        self.customer_ids: list[str] = []
        #: (id, group, join time, time zone offset in minutes) of every customer, for their profiles
        self.customer_facts: list[tuple[str, str | None, float, int]] = []
        self.supplier_ids: list[str] = []

    # ------------------------------------------------------------------ scheduling

    def _push(self, t: float, kind: int, obj: Any) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (t, self.seq, kind, obj))

    def _schedule(self, t: float, event: dict[str, Any]) -> None:
        """Schedule a built follow-up event, dropped if it would happen after ``end``."""
        if t <= self.end:
            self._push(t, K_READY, event)

    def _override(
        self, entity_type: str, entity_id: str, t: float, tier: str, reason: str
    ) -> dict[str, Any]:
        rng = self.rng
        return {
            "event_id": "",
            "occurred_at": self.clock.fmt(t, 0),
            "type": "assessment",
            "entity_type": entity_type,
            "entity_id": entity_id,
            "tier_override": tier,
            "reason": reason,
            "expires_at": self.clock.fmt(t + rng.choice((30, 60, 90)) * DAY, 0),
            "author": rng.choice(AUTHORS),
        }

    def _reversal(self, order: dict[str, Any], t: float, tz: int, status: str) -> dict[str, Any]:
        """The order's cancellation or return; half the returns of a sale are partial."""
        event = dict(order)
        event["occurred_at"] = self.clock.fmt(t, tz)
        event["status"] = status
        shapes = self.shapes
        if status == "returned" and "customer_id" in order and shapes.random() < 0.5:
            share = shapes.uniform(0.1, 0.9)
            event["returned_amount"] = max(round(order["amount"] * share, 2), 0.01)
            if "cost" in order and shapes.random() < 0.5:
                event["returned_cost"] = round(order["cost"] * share, 2)
        return event
