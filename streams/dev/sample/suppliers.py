"""Suppliers: quality, punctuality, fill rate and price level (some drifting), their purchase orders and what follows.

Each purchase order is followed by a delivery and sometimes a service ticket
(more often for defective lots) with its first response.
"""

from __future__ import annotations

import math
from typing import Any

from tierstream.streams.dev.sample.clock import BUSINESS, BUSINESS_MAX, DAY, HOUR, YEAR, hour_of_week
from tierstream.streams.dev.sample.core import AUTHORS, K_SUPPLIER, SimulationCore

__all__ = ["Supplier", "SupplierSimulation"]

SUPPLIER_PROSPECT_REASONS = (
    "on-site audit before the first delivery",
    "market reputation and peer references",
    "past cooperation with a sister company",
)
SUPPLIER_OVERRIDES = (
    ("unqualified", "quality incident under investigation"),
    ("excellent", "strategic partner, on-site audit passed"),
    ("qualified", "probation after corrective action plan"),
)



class Supplier:
    __slots__ = (
        "bad_after",
        "currency",
        "defect",
        "fill_ok",
        "id",
        "lead",
        "lot",
        "max_rate",
        "on_time",
        "price_index",
        "rate",
        "resp_hours",
        "tz",
        "unit_price",
    )

    def __init__(self) -> None:
        self.id = ""
        self.tz = 0
        self.currency = "CNY"
        self.rate = 0.0
        self.max_rate = 0.0
        self.unit_price = 0.0
        self.lot = 0.0
        self.price_index = 1.0
        self.on_time = 0.0
        self.defect = 0.0
        self.fill_ok = 0.0
        self.lead = 0.0
        self.resp_hours = 0.0
        # (start, stop) of a "bad phase": degrading suppliers go bad at some point,
        # improving ones are bad until some point; steady ones never.
        self.bad_after: tuple[float, float] = (math.inf, math.inf)



class SupplierSimulation(SimulationCore):
    """The suppliers part of the simulation: the population, then one purchase order at a time."""

    def _setup_suppliers(self) -> None:
        rng = self.rng
        m = self.n_suppliers
        width = max(4, len(str(m)))
        for i in range(1, m + 1):
            s = Supplier()
            s.id = f"s{i:0{width}d}"
            self.supplier_ids.append(s.id)
            tz_roll = rng.random()
            s.tz = 480 if tz_roll < 0.4 else (60 if tz_roll < 0.45 else 0)
            s.currency = "USD" if rng.random() < 0.1 else "CNY"
            per_year = min(rng.lognormvariate(math.log(24), 0.6), 300.0)
            s.rate = per_year / YEAR
            s.max_rate = s.rate * BUSINESS_MAX
            s.unit_price = rng.lognormvariate(math.log(40), 1.0)
            if s.currency == "USD":
                s.unit_price /= 7.0
            s.lot = rng.lognormvariate(math.log(200), 1.0)
            s.price_index = min(max(rng.gauss(1.0, 0.08), 0.8), 1.3)
            quality_roll = rng.random()
            if quality_roll < 0.7:
                s.defect = rng.uniform(0.002, 0.03)
            elif quality_roll < 0.9:
                s.defect = rng.uniform(0.03, 0.1)
            else:
                s.defect = rng.uniform(0.1, 0.2)
            s.on_time = rng.betavariate(12, 1.5) if rng.random() < 0.75 else rng.betavariate(4, 2)
            s.fill_ok = rng.uniform(0.85, 0.99)
            s.lead = rng.uniform(5, 25) * DAY
            s.resp_hours = min(max(rng.lognormvariate(math.log(12), 0.9), 0.25), 200.0)
            drift_roll = rng.random()
            change = self.start + self.span * rng.uniform(0.3, 0.7)
            if drift_roll < 0.15:
                s.bad_after = (change, math.inf)  # degrading
            elif drift_roll < 0.25:
                s.bad_after = (-math.inf, change)  # improving
            join = self.start
            if rng.random() < 0.08:
                # a new supplier: its first purchase orders come late, some before any delivery
                # at the end (ungraded), half of them with a prospect assessment
                join = self.start + self.span * rng.uniform(0.85, 1.0)
                if rng.random() < 0.5:
                    t_a = join + rng.uniform(HOUR, 3 * DAY)
                    self._schedule(t_a, self._supplier_prospect(s, t_a))
            self._next_purchase_order(s, join)
        if m:
            for _ in range(1 + m // 500):
                t = self.start + rng.random() * self.span
                tier, reason = rng.choice(SUPPLIER_OVERRIDES)
                self._schedule(
                    t, self._override("supplier", rng.choice(self.supplier_ids), t, tier, reason)
                )

    def _supplier_prospect(self, s: Supplier, t: float) -> dict[str, Any]:
        rng = self.rng
        return {
            "event_id": "",
            "occurred_at": self.clock.fmt(t, s.tz),
            "type": "assessment",
            "entity_type": "supplier",
            "entity_id": s.id,
            "prospect_score": round(min(max(rng.gauss(70.0, 12.0), 0.0), 100.0), 1),
            "reason": rng.choice(SUPPLIER_PROSPECT_REASONS),
            "expires_at": self.clock.fmt(t + 60 * DAY, s.tz),
            "author": rng.choice(AUTHORS),
        }

    def _next_purchase_order(self, s: Supplier, t: float) -> None:
        rng = self.rng
        end = self.end
        while True:
            t += rng.expovariate(s.max_rate)
            if t > end:
                return
            if rng.random() * BUSINESS_MAX < BUSINESS[hour_of_week(t, s.tz)]:
                self._push(t, K_SUPPLIER, s)
                return

    def _purchase_order(self, s: Supplier, t: float) -> dict[str, Any]:
        rng = self.rng
        fmt = self.clock.fmt
        self.purchase_no += 1
        po = f"po{self.purchase_no:07d}"
        qty = max(1, int(s.lot * rng.lognormvariate(0.0, 0.4)))
        market_unit = s.unit_price * rng.uniform(0.95, 1.05)
        amount = round(qty * market_unit * s.price_index * rng.uniform(0.97, 1.03), 2)
        event: dict[str, Any] = {
            "event_id": "",
            "occurred_at": fmt(t, s.tz),
            "type": "order",
            "order_id": po,
            "supplier_id": s.id,
            "amount": amount,
            "market_amount": round(qty * market_unit, 2),
            "currency": s.currency,
        }
        if rng.random() < 0.015:
            t_c = t + rng.uniform(HOUR, 3 * DAY)
            self._schedule(t_c, self._reversal(event, t_c, s.tz, "cancelled"))
            self._next_purchase_order(s, t)
            return event
        bad = s.bad_after[0] <= t < s.bad_after[1]
        defect = s.defect * 3 + 0.03 if bad else s.defect
        on_time = max(s.on_time - 0.25, 0.3) if bad else s.on_time
        resp = s.resp_hours * 2.5 if bad else s.resp_hours
        promised = t + s.lead * rng.uniform(0.8, 1.2)
        if rng.random() < on_time:
            arrived = max(promised - rng.random() * 2 * DAY, t + HOUR)
        else:
            arrived = promised + rng.uniform(0.5, 1.0) * DAY + rng.expovariate(1 / (3 * DAY))
        fill = rng.random()
        if fill < s.fill_ok:
            delivered = qty
        elif fill < s.fill_ok + (1 - s.fill_ok) * 0.9:
            delivered = int(qty * rng.uniform(0.6, 0.98))
        else:
            delivered = qty + 1 + int(qty * rng.random() * 0.05)
        if self.shapes.random() < 0.02:
            delivered = 0  # nothing came
        expected = delivered * defect * rng.lognormvariate(0.0, 0.5)
        defects = int(expected) + (1 if rng.random() < expected - int(expected) else 0)
        accepted = max(delivered - defects, 0)
        self._schedule(
            arrived,
            {
                "event_id": "",
                "occurred_at": fmt(arrived, s.tz),
                "type": "delivery",
                "supplier_id": s.id,
                "order_id": po,
                "promised_at": fmt(promised, s.tz),
                "quantity_ordered": qty,
                "quantity_delivered": delivered,
                "quantity_accepted": accepted,
            },
        )
        p_ticket = min(0.04 + 1.5 * defect + (0.1 if delivered < qty else 0.0), 0.6)
        if rng.random() < p_ticket:
            opened = arrived + rng.uniform(2 * HOUR, 7 * DAY)
            responded = opened + max(resp * rng.lognormvariate(0.0, 0.6) * HOUR, 300.0)
            answered = responded <= self.end
            # recorded open first (a third of them), or still open at the end of the sample
            recorded_open = not answered or self.shapes.random() < 0.3
            if opened <= self.end:
                self.ticket_no += 1
                ticket = {
                    "event_id": "",
                    "occurred_at": fmt(opened, s.tz),
                    "type": "service",
                    "supplier_id": s.id,
                    "ticket_id": f"t{self.ticket_no:07d}",
                }
                if recorded_open:
                    self._schedule(opened, dict(ticket))
                if answered:
                    ticket["first_response_at"] = fmt(responded, s.tz)
                    self._schedule(responded if recorded_open else opened, ticket)
        self._next_purchase_order(s, t)
        return event

