"""The stream of lines: events in time order, with late, duplicated and invalid lines mixed in."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import Any

import orjson

from tierstream.streams.dev.sample.clock import DAY, HOUR
from tierstream.streams.dev.sample.core import K_READY, K_SUPPLIER
from tierstream.streams.dev.sample.customers import CustomerSimulation
from tierstream.streams.dev.sample.invalid import InvalidLines
from tierstream.streams.dev.sample.profiles import ProfileSimulation
from tierstream.streams.dev.sample.suppliers import SupplierSimulation

__all__ = ["Simulation"]

MAX_LATE = 4 * DAY  # how far behind the latest emitted event a late line may come


class Simulation(CustomerSimulation, SupplierSimulation, ProfileSimulation, InvalidLines):
    """The whole simulation: customers, suppliers, profiles and invalid lines over one heap.

    Profiles draw from a random source of their own and number their ids apart
    (``.profiles``), so the other lines are what they were without them.
    """

    def run(self) -> Iterator[bytes]:
        self._setup_customers()
        self._setup_suppliers()
        self._setup_profiles(self.customer_facts)
        rng = self.rng
        stats = self.stats
        counts = stats.counts
        heap = self.heap
        # Held-back lines: (release time, seq, event time in whole seconds, line, is duplicate).
        delayed: list[tuple[float, int, int, bytes, bool]] = []
        dumps = orjson.dumps
        heappop = heapq.heappop
        heappush = heapq.heappush
        inv_cut = self.invalid_ratio
        late_cut = self.late_cut
        dup_cut = self.dup_cut
        latest = -(2**62)  # whole-second time (rounded down) of the latest event emitted in order
        carried: list[tuple[int, bytes]] = []
        while heap:
            t, _, kind, obj = heappop(heap)
            # Release held lines that are due. A late line that would still be in order
            # (nothing later was emitted while it was held: a quiet spell) is carried past
            # the current event instead, unless that would make it more than MAX_LATE late.
            while delayed and delayed[0][0] <= t:
                _, _, t0, held, duplicate = heappop(delayed)
                if not duplicate and t0 >= latest and int(t // 1) - t0 <= MAX_LATE:
                    carried.append((t0, held))
                    continue
                yield held
                stats.lines += 1
                if not duplicate and t0 < latest:
                    stats.late += 1
            if kind == K_READY:
                event: dict[str, Any] = obj
            elif kind == K_SUPPLIER:
                event = self._purchase_order(obj, t)
            else:
                event = self._customer_order(obj, t)
            draw = rng
            if event["type"] == "profile":
                draw = self.profiles
                self.profile_no += 1
                event["event_id"] = f"p{self.profile_no:07d}"
                roll = draw.random()
                if roll < inv_cut:
                    roll = dup_cut  # no invalid profile lines: on time instead
            else:
                self.event_no += 1
                event["event_id"] = f"e{self.event_no:09d}"
                roll = rng.random()
            line = dumps(event)
            counts[event["type"]] += 1
            if roll >= dup_cut:
                yield line
                stats.lines += 1
                latest = int(t // 1)
            elif roll < inv_cut:
                yield line
                yield self._invalid(event)
                stats.lines += 2
                latest = int(t // 1)
            elif roll < late_cut:
                delay = min(300.0 + draw.expovariate(1 / (12 * HOUR)), MAX_LATE)
                self.seq += 1
                heappush(delayed, (t + delay, self.seq, int(t // 1), line, False))
            else:
                yield line
                stats.lines += 1
                latest = int(t // 1)
                stats.duplicates += 1
                self.seq += 1
                heappush(delayed, (t + draw.uniform(60.0, 2 * DAY), self.seq, 0, line, True))
            for t0, held in carried:
                yield held
                stats.lines += 1
                if t0 < latest:
                    stats.late += 1
            carried.clear()
        while delayed:
            _, _, t0, held, duplicate = heappop(delayed)
            yield held
            stats.lines += 1
            if not duplicate and t0 < latest:
                stats.late += 1
