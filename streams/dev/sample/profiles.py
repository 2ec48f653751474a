"""The profiles part of the simulation: what each customer and supplier is (issue 12, point 6).

Drawn from a random source of their own (``profiles``), with event ids of their
own (``p0000001``...), so every other line of a sample is what it was before
profiles existed; only the late, duplicated or on-time draw of the profile
lines themselves is theirs too.

* ~60% of customers and suppliers send a ``profile`` when they join; an
  entity active when the window opens sent it up to ~2.5 years before, so some
  profiles are older than the retention (a lasting fact, kept however old);
* a customer's profile names its group when its orders do (``wholesale``,
  ``retail``), its business nature (``wholesale`` for wholesale accounts),
  ownership, location, need type, a ``region`` attribute, and half the time
  its share of wallet;
* ~20% of the profiled send a second, later profile (latest wins) with another
  need type and share of wallet.
"""

from __future__ import annotations

import random
from typing import Any

from tierstream.streams.dev.sample.clock import DAY
from tierstream.streams.dev.sample.core import SimulationCore

__all__ = ["ProfileSimulation"]

_OWNERSHIP = ("private", "private", "private", "joint_stock", "state", "collective", "joint_venture")
_RETAIL_NATURES = ("retail", "retail", "chain", "franchise", "agent", "specialty_store")
_SUPPLIER_NATURES = ("manufacturer", "manufacturer", "wholesale", "agent")
_LOCATIONS = ("business_centre", "transport_hub", "residential_area")
_SUPPLIER_LOCATIONS = ("industrial_area", "industrial_area", "business_centre", "online")
_NEEDS = ("quality", "price", "service")
_REGIONS = ("north", "south", "east", "west")


class ProfileSimulation(SimulationCore):
    """Schedules the customers' and suppliers' profile events."""

    def _setup_profiles(self, customers: list[tuple[str, str | None, float, int]]) -> None:
        """Schedule profiles for ``customers`` (id, group, join time, tz minutes) and every supplier."""
        rng = self.profiles
        for cid, group, join, tz in customers:
            if rng.random() >= 0.6:
                continue
            t = self._profile_time(rng, join)
            doc = self._customer_profile(rng, cid, group)
            self._schedule(t, self._profile_event(t, tz, doc))
            if rng.random() < 0.2:
                t2 = self.start + rng.random() * self.span
                if t2 > t:
                    later = dict(doc, need_type=rng.choice(_NEEDS), share_of_wallet=round(rng.uniform(0.05, 1.0), 2))
                    self._schedule(t2, self._profile_event(t2, tz, later))
        for sid in self.supplier_ids:
            if rng.random() >= 0.6:
                continue
            t = self._profile_time(rng, self.start)
            doc = {"entity_type": "supplier", "entity_id": sid, "ownership": rng.choice(_OWNERSHIP),
                   "business_nature": rng.choice(_SUPPLIER_NATURES), "location_type": rng.choice(_SUPPLIER_LOCATIONS),
                   "attributes": {"region": rng.choice(_REGIONS)}}
            self._schedule(t, self._profile_event(t, 0, doc))

    def _profile_time(self, rng: random.Random, join: float) -> float:
        """When a profile is sent: at joining, or (active at the window's start) up to ~2.5 years before."""
        if join > self.start:
            return join - rng.random() * DAY
        return self.start - rng.random() * 900 * DAY

    @staticmethod
    def _customer_profile(rng: random.Random, cid: str, group: str | None) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "entity_type": "customer", "entity_id": cid, "ownership": rng.choice(_OWNERSHIP),
            "business_nature": "wholesale" if group == "wholesale" else rng.choice(_RETAIL_NATURES),
            "location_type": rng.choice(_LOCATIONS), "need_type": rng.choice(_NEEDS),
        }
        if group is not None:
            doc["group"] = group
        if rng.random() < 0.5:
            doc["share_of_wallet"] = round(rng.uniform(0.05, 1.0), 2)
        doc["attributes"] = {"region": rng.choice(_REGIONS)}
        return doc

    def _profile_event(self, t: float, tz: int, doc: dict[str, Any]) -> dict[str, Any]:
        return {"event_id": "", "occurred_at": self.clock.fmt(t, tz), "type": "profile", **doc}
