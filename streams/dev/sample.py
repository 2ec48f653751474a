"""Realistic, reproducible mixed event files for demos, tests and benchmarks.

:func:`generate` simulates a population of customers (``c00001``...) and suppliers
(``s0001``...) over ``days`` days ending at ``end`` and yields one JSON line per
event (bytes, no newline); :func:`write_sample` writes them as JSONL and returns
:class:`SampleStats`. Everything is driven by one ``random.Random(seed)`` (no
global random, no clock, no uuid): the same arguments give a byte-identical file
(on the same Python minor version; ``random``'s algorithms are stable in practice).

The population
--------------
Customers (75% already active when the window opens, 25% sign up during it):

* a hidden, heavy-tailed order rate (log-normal: median ~3 orders a year for
  retail, ~12 for wholesale; a few whales order weekly) and basket size
  (median ~250 retail, ~4000 wholesale; USD accounts ~1/7 of that);
* a group: ~8% ``wholesale`` (always sent in ``customer_group``), the rest retail
  (some sources send ``"retail"``, most omit the field);
* a lifecycle: steady, *ramping up* (rate x0.2 -> x3 across the window) or
  *lapsing* (stops buying at a random point), so scores cross tier thresholds;
* a margin (``cost`` < ``amount`` mostly, ~3% loss-making, some orders without
  cost), a currency (CNY mostly, some USD) and a time zone (``Z``, ``+08:00``...);
* 3% of orders are later ``cancelled`` (within 2 days, no invoice) and 4%
  ``returned`` (3-30 days later): same ``order_id`` and amounts, new event;
* invoiced orders (all wholesale, ~35% retail) get a ``payment`` with ``due_at``
  (7-60 day terms) paid early or late by a per-customer punctuality;
* ~40% of newcomers were ``referral``s by an existing customer (a few
  "ambassadors" refer many); a quarter of the referred never buy;
* ~30% of newcomers get an ``assessment`` with a ``prospect_score``, and a
  couple of accounts a ``tier_override`` (reason, author, expiry).

Suppliers: a hidden defect rate, on-time probability, fill rate, price level
against the market (``market_amount``), lead time and after-sales response time;
~15% degrade and ~10% improve half-way through. Purchase ``order``s arrive
~2x a month (log-normal), each followed by a ``delivery`` (``promised_at``,
quantities ordered/delivered/accepted) and sometimes a ``service`` ticket (more
often for defective lots) with its ``first_response_at``.

Order in the file
-----------------
Events are simulated with a time-ordered heap (memory stays bounded by the
population plus the follow-ups pending in the next ~two months), so the file is
mostly sorted by ``occurred_at`` with entities interleaved, except that:

* ``late_ratio`` of events are held back and emitted 5 minutes to 4 days after
  their time, behind at least one later event (out of order; ``SampleStats.late``
  counts those that really are, which is nearly all of them);
* ``duplicate_ratio`` of events are repeated verbatim (same ``event_id``) up to
  two days later;
* ``invalid_ratio`` of events are accompanied by one invalid line of a varied
  kind (see :data:`INVALID_KINDS`), with its own ``event_id`` where it has one.

Volume (:func:`estimate_lines`): over a year about 8.5 lines per customer and
60 per supplier; 60,000 customers and 8,000 suppliers over 365 days is ~1M lines.
"""

from __future__ import annotations

import heapq
import math
import os
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson

__all__ = [
    "DEFAULT_END",
    "EVENT_TYPES",
    "INVALID_KINDS",
    "SampleStats",
    "estimate_lines",
    "generate",
    "write_sample",
]

DEFAULT_END = datetime(2026, 11, 1, tzinfo=UTC)
EVENT_TYPES = ("order", "payment", "delivery", "referral", "service", "assessment")
INVALID_KINDS = (
    "not_json",
    "not_an_object",
    "missing_field",
    "negative_amount",
    "unknown_type",
    "self_referral",
    "accepted_gt_delivered",
    "nan_string",
    "nan_literal",
    "number_as_string",
    "naive_timestamp",
    "impossible_date",
    "extra_field",
    "blank_id",
    "bad_currency",
    "response_before_open",
    "both_counterparties",
    "expires_before_occurred",
)

DAY = 86_400.0
HOUR = 3_600.0
YEAR = 365.0 * DAY
_MAX_LATE = 4 * DAY  # how far behind the latest emitted event a late line may come

# Expected volumes, derived from the model below and checked on large samples:
# per customer, once: referral 0.1, prospect assessment 0.075, newcomer's first order ~0.2;
# per customer-year: 5.4 sales orders, each followed by 0.07 reversals and 0.45 payments;
# per supplier-year: 28.7 purchase orders, each with ~0.985 deliveries and ~0.12 tickets.
_CUSTOMER_ONCE = 0.375
_ORDERS_PER_CUSTOMER_YEAR = 5.37
_POS_PER_SUPPLIER_YEAR = 28.7

_AUTHORS = ("li.wei", "zhang.min", "m.garcia", "a.schmidt", "k.tanaka", "o.okafor")
_PROSPECT_REASONS = (
    "onboarding call",
    "trade show lead",
    "credit check on sign-up",
    "sales visit",
    "inbound enquiry, large catalogue request",
)
_CUSTOMER_OVERRIDES = (
    ("key", "strategic account, agreed at quarterly review"),
    ("key", "framework contract signed, volume ramping"),
    ("potential", "credit hold pending collection"),
)
_SUPPLIER_OVERRIDES = (
    ("unqualified", "quality incident under investigation"),
    ("excellent", "strategic partner, on-site audit passed"),
    ("qualified", "probation after corrective action plan"),
)


# ----------------------------------------------------------------------------- stats


@dataclass
class SampleStats:
    """What a sample contains. ``counts`` are distinct valid events per type."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(EVENT_TYPES, 0))
    invalid: int = 0
    invalid_kinds: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    late: int = 0  # valid events emitted after an event with a later time
    lines: int = 0
    customers: int = 0
    suppliers: int = 0

    @property
    def valid(self) -> int:
        """Distinct valid events (lines minus invalid lines and duplicates)."""
        return sum(self.counts.values())

    def __str__(self) -> str:
        types = ", ".join(f"{n:,} {t}" for t, n in self.counts.items() if n)
        return (
            f"{self.lines:,} lines: {self.valid:,} events ({types}), "
            f"{self.late:,} late, {self.duplicates:,} duplicates, {self.invalid:,} invalid"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "valid": self.valid,
            "counts": dict(self.counts),
            "invalid": self.invalid,
            "invalid_kinds": dict(sorted(self.invalid_kinds.items())),
            "duplicates": self.duplicates,
            "late": self.late,
            "customers": self.customers,
            "suppliers": self.suppliers,
        }


def _within(days: float, lo: float, hi: float) -> float:
    """Share of follow-ups kept when their lag is uniform on [lo, hi] days and the
    originating event uniform in a ``days``-long window (later ones fall after ``end``)."""
    if days <= lo:
        return 0.0
    top = min(hi, days)
    return ((top - lo) - (top * top - lo * lo) / (2 * days)) / (hi - lo)


def estimate_lines(
    customers: int,
    suppliers: int,
    days: int,
    invalid_ratio: float = 0.002,
    duplicate_ratio: float = 0.005,
) -> int:
    """About how many lines :func:`generate` yields for these parameters.

    Within ~10% for populations of a few hundred entities or more (small ones vary
    with the seed: a single whale moves the total).
    """
    years = days / 365.0
    per_order = 1.0 + 0.03 + 0.04 * _within(days, 3, 30) + 0.45 * _within(days, 2, 65)
    valid = customers * (_CUSTOMER_ONCE + _ORDERS_PER_CUSTOMER_YEAR * years * per_order)
    per_po = 1.0 + 0.015 + 0.985 * _within(days, 3, 32) + 0.12 * _within(days, 5, 40)
    valid += suppliers * _POS_PER_SUPPLIER_YEAR * years * per_po
    return round(valid * (1 + invalid_ratio + duplicate_ratio))


# ----------------------------------------------------------------------------- time


def _weekly_profile(hourly: list[float], weekend: float) -> list[float]:
    """168 hourly weights (Monday 00:00 local first) normalised to mean 1."""
    week = [hourly[h] * (weekend if d >= 5 else 1.0) for d in range(7) for h in range(24)]
    mean = sum(week) / len(week)
    return [w / mean for w in week]


# Consumers buy in the evening and at weekends; businesses in office hours on weekdays.
_CONSUMER = _weekly_profile(
    [0.3, 0.15, 0.1, 0.08, 0.08, 0.1, 0.2, 0.4, 0.7, 0.9, 1.0, 1.1,
     1.2, 1.1, 1.0, 1.0, 1.1, 1.2, 1.4, 1.6, 1.7, 1.5, 1.1, 0.6],
    weekend=1.3,
)  # fmt: skip
_BUSINESS = _weekly_profile(
    [0.02, 0.02, 0.02, 0.02, 0.02, 0.05, 0.15, 0.5, 1.2, 1.6, 1.7, 1.5,
     1.0, 1.4, 1.6, 1.5, 1.3, 0.8, 0.3, 0.15, 0.1, 0.05, 0.03, 0.02],
    weekend=0.12,
)  # fmt: skip
_CONSUMER_MAX = max(_CONSUMER)
_BUSINESS_MAX = max(_BUSINESS)


class _Clock:
    """Formats epoch seconds as RFC 3339 in a given UTC offset (minutes).

    Caches "date T hour" prefixes (one per local hour and offset seen) and the
    3600 "MM:SS" strings: formatting is the generator's hottest path.
    """

    _MMSS = tuple(f"{m:02d}:{s:02d}" for m in range(60) for s in range(60))

    def __init__(self) -> None:
        self._hours: dict[tuple[int, int], str] = {}
        self._epoch_ordinal = date(1970, 1, 1).toordinal()

    def fmt(self, t: float, offset: int) -> str:
        hour, rest = divmod(int(t) + offset * 60, 3600)
        prefix = self._hours.get((hour, offset))
        if prefix is None:
            day, hh = divmod(hour, 24)
            ds = date.fromordinal(self._epoch_ordinal + day).isoformat()
            prefix = f"{ds}T{hh:02d}:"
            self._hours[(hour, offset)] = prefix
        if offset == 0:
            return prefix + self._MMSS[rest] + "Z"
        oh, om = divmod(abs(offset), 60)
        return f"{prefix}{self._MMSS[rest]}{'+' if offset > 0 else '-'}{oh:02d}:{om:02d}"


def _hour_of_week(t: float, offset: int) -> int:
    local = int(t) + offset * 60
    # 1970-01-01 was a Thursday (index 3 with Monday = 0).
    return ((local // 86_400 + 3) % 7) * 24 + (local // 3600) % 24


# ----------------------------------------------------------------------------- entities

_STEADY, _RAMP, _LAPSE = 0, 1, 2


class _Customer:
    __slots__ = (
        "basket",
        "cost_known",
        "currency",
        "group",
        "id",
        "invoiced",
        "join",
        "lapse_at",
        "late_mean",
        "lifecycle",
        "margin",
        "max_rate",
        "on_time",
        "profile",
        "rate",
        "terms",
        "tz",
    )

    def __init__(self) -> None:
        self.id = ""
        self.group: str | None = None
        self.currency = "CNY"
        self.tz = 0
        self.rate = 0.0  # orders per second at lifecycle factor 1
        self.max_rate = 0.0
        self.basket = 0.0
        self.margin = 0.0
        self.cost_known = 0.0
        self.invoiced = 0.0
        self.terms = 0.0
        self.on_time = 0.0
        self.late_mean = 0.0
        self.join = 0.0
        self.lifecycle = _STEADY
        self.lapse_at = 0.0
        self.profile = _CONSUMER


class _Supplier:
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


# Heap entry kinds.
_K_READY = 0  # a fully built event dict
_K_CUSTOMER = 1  # a customer's next sales order
_K_CUSTOMER_FIRST = 2  # a newcomer's first order (no thinning)
_K_SUPPLIER = 3  # a supplier's next purchase order

_HeapItem = tuple[float, int, int, Any]


class _Simulation:
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
        self.clock = _Clock()
        self.heap: list[_HeapItem] = []
        self.seq = 0
        self.event_no = 0
        self.sales_no = 0
        self.purchase_no = 0
        self.ticket_no = 0
        self.customer_ids: list[str] = []
        self.supplier_ids: list[str] = []
        self._invalid_makers: dict[str, Callable[[dict[str, Any]], bytes | None]] = {
            "not_json": self._inv_not_json,
            "not_an_object": self._inv_not_an_object,
            "missing_field": self._inv_missing_field,
            "negative_amount": self._inv_negative_amount,
            "unknown_type": self._inv_unknown_type,
            "self_referral": self._inv_self_referral,
            "accepted_gt_delivered": self._inv_accepted_gt_delivered,
            "nan_string": self._inv_nan_string,
            "nan_literal": self._inv_nan_literal,
            "number_as_string": self._inv_number_as_string,
            "naive_timestamp": self._inv_naive_timestamp,
            "impossible_date": self._inv_impossible_date,
            "extra_field": self._inv_extra_field,
            "blank_id": self._inv_blank_id,
            "bad_currency": self._inv_bad_currency,
            "response_before_open": self._inv_response_before_open,
            "both_counterparties": self._inv_both_counterparties,
            "expires_before_occurred": self._inv_expires_before_occurred,
        }
        assert tuple(self._invalid_makers) == INVALID_KINDS

    # ------------------------------------------------------------------ scheduling

    def _push(self, t: float, kind: int, obj: Any) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (t, self.seq, kind, obj))

    def _schedule(self, t: float, event: dict[str, Any]) -> None:
        """Schedule a built follow-up event, dropped if it would happen after ``end``."""
        if t <= self.end:
            self._push(t, _K_READY, event)

    # ------------------------------------------------------------------ population

    def _setup_customers(self) -> None:
        rng = self.rng
        n = self.n_customers
        n_new = round(n * 0.25)
        n_initial = n - n_new
        joins = sorted(self.start + rng.random() * self.span for _ in range(n_new))
        ambassadors: list[str] = []
        initial_buyers: list[str] = []
        width = max(5, len(str(n)))
        for i in range(1, n + 1):
            c = _Customer()
            c.id = f"c{i:0{width}d}"
            self.customer_ids.append(c.id)
            newcomer = i > n_initial
            c.join = joins[i - n_initial - 1] if newcomer else self.start
            wholesale = rng.random() < 0.08
            c.group = "wholesale" if wholesale else ("retail" if rng.random() < 0.4 else None)
            c.profile = _BUSINESS if wholesale else _CONSUMER
            c.currency = "USD" if rng.random() < 0.15 else "CNY"
            tz_roll = rng.random()
            if c.currency == "CNY":
                c.tz = 480 if tz_roll < 0.35 else 0
            else:
                c.tz = -300 if tz_roll < 0.15 else (60 if tz_roll < 0.2 else 0)
            if wholesale:
                per_year = min(rng.lognormvariate(math.log(12), 0.8), 250.0)
                basket = rng.lognormvariate(math.log(4000), 0.8)
                c.margin = rng.uniform(0.05, 0.2)
                c.invoiced = 1.0
                c.terms = rng.choice((30.0, 45.0, 60.0)) * DAY
            else:
                per_year = min(rng.lognormvariate(math.log(3), 1.1), 150.0)
                basket = rng.lognormvariate(math.log(250), 0.9)
                c.margin = rng.uniform(0.15, 0.45)
                c.invoiced = 0.35
                c.terms = rng.choice((7.0, 15.0, 30.0)) * DAY
            c.basket = basket / 7.0 if c.currency == "USD" else basket
            c.cost_known = 0.97 if rng.random() < 0.8 else 0.5
            if rng.random() < 0.8:
                c.on_time = rng.betavariate(9, 1.2)
                c.late_mean = 5 * DAY
            else:
                c.on_time = rng.betavariate(2.5, 2.5)
                c.late_mean = 20 * DAY
            life_roll = rng.random()
            if life_roll < 0.12:
                c.lifecycle = _RAMP
                life_max = 3.0
            elif life_roll < 0.24:
                c.lifecycle = _LAPSE
                stay = self.end - c.join
                c.lapse_at = c.join + stay * rng.uniform(0.2, 0.85)
                life_max = 1.0
            else:
                life_max = 1.0
            referred = False
            if newcomer and initial_buyers and rng.random() < 0.4:
                referred = True
                pool = ambassadors if ambassadors and rng.random() < 0.5 else initial_buyers
                referrer = rng.choice(pool)
                t_ref = max(self.start, c.join - rng.random() * 2 * DAY)
                self._schedule(
                    t_ref,
                    {
                        "event_id": "",
                        "occurred_at": self.clock.fmt(t_ref, c.tz),
                        "type": "referral",
                        "referrer_id": referrer,
                        "referred_id": c.id,
                    },
                )
            never_buys = rng.random() < (0.25 if referred else 0.1 if newcomer else 0.05)
            c.rate = 0.0 if never_buys else per_year / YEAR
            c.max_rate = c.rate * life_max * (_BUSINESS_MAX if wholesale else _CONSUMER_MAX)
            if newcomer and rng.random() < 0.3:
                t_a = c.join + rng.uniform(HOUR, 5 * DAY)
                score = rng.gauss(55.0 if c.rate > 0 else 35.0, 15.0)
                score += 8.0 * math.log(max(per_year, 0.5) / 3.0)
                self._schedule(
                    t_a,
                    {
                        "event_id": "",
                        "occurred_at": self.clock.fmt(t_a, c.tz),
                        "type": "assessment",
                        "entity_type": "customer",
                        "entity_id": c.id,
                        "prospect_score": round(min(max(score, 0.0), 100.0), 1),
                        "reason": rng.choice(_PROSPECT_REASONS),
                        "expires_at": self.clock.fmt(t_a + 90 * DAY, c.tz),
                        "author": rng.choice(_AUTHORS),
                    },
                )
            if c.rate > 0:
                if newcomer:
                    first = c.join + rng.random() * 2 * DAY
                    if first <= self.end:
                        self._push(first, _K_CUSTOMER_FIRST, c)
                else:
                    initial_buyers.append(c.id)
                    if rng.random() < 0.05:
                        ambassadors.append(c.id)
                    self._next_customer_order(c, self.start)
        if initial_buyers:
            for _ in range(min(2 + n // 5000, n)):
                t = self.start + rng.random() * self.span
                tier, reason = rng.choice(_CUSTOMER_OVERRIDES)
                self._schedule(
                    t, self._override("customer", rng.choice(initial_buyers), t, tier, reason)
                )

    def _setup_suppliers(self) -> None:
        rng = self.rng
        m = self.n_suppliers
        width = max(4, len(str(m)))
        for i in range(1, m + 1):
            s = _Supplier()
            s.id = f"s{i:0{width}d}"
            self.supplier_ids.append(s.id)
            tz_roll = rng.random()
            s.tz = 480 if tz_roll < 0.4 else (60 if tz_roll < 0.45 else 0)
            s.currency = "USD" if rng.random() < 0.1 else "CNY"
            per_year = min(rng.lognormvariate(math.log(24), 0.6), 300.0)
            s.rate = per_year / YEAR
            s.max_rate = s.rate * _BUSINESS_MAX
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
            self._next_purchase_order(s, self.start)
        if m:
            for _ in range(1 + m // 500):
                t = self.start + rng.random() * self.span
                tier, reason = rng.choice(_SUPPLIER_OVERRIDES)
                self._schedule(
                    t, self._override("supplier", rng.choice(self.supplier_ids), t, tier, reason)
                )

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
            "author": rng.choice(_AUTHORS),
        }

    # ------------------------------------------------------------------ customers

    def _next_customer_order(self, c: _Customer, t: float) -> None:
        """Thinning: candidate times at the max rate, kept in proportion to the actual rate."""
        rng = self.rng
        profile = c.profile
        end = self.end
        while True:
            t += rng.expovariate(c.max_rate)
            if t > end:
                return
            if c.lifecycle == _RAMP:
                life = 0.2 + 2.8 * (t - c.join) / (end - c.join)
            elif c.lifecycle == _LAPSE:
                life = 1.0 if t < c.lapse_at else 0.01
            else:
                life = 1.0
            if rng.random() * c.max_rate < c.rate * life * profile[_hour_of_week(t, c.tz)]:
                self._push(t, _K_CUSTOMER, c)
                return

    def _customer_order(self, c: _Customer, t: float) -> dict[str, Any]:
        rng = self.rng
        fmt = self.clock.fmt
        self.sales_no += 1
        n = self.sales_no
        amount = round(max(c.basket * rng.lognormvariate(0.0, 0.5), 1.0), 2)
        event: dict[str, Any] = {
            "event_id": "",
            "occurred_at": fmt(t, c.tz),
            "type": "order",
            "order_id": f"so{n:08d}",
            "customer_id": c.id,
            "amount": amount,
        }
        if rng.random() < c.cost_known:
            if rng.random() < 0.03:
                event["cost"] = round(amount * rng.uniform(1.0, 1.2), 2)
            else:
                event["cost"] = round(amount * (1.0 - c.margin * rng.uniform(0.6, 1.4)), 2)
        event["currency"] = c.currency
        if c.group is not None:
            event["customer_group"] = c.group
        roll = rng.random()
        if roll < 0.03:
            t_c = t + rng.uniform(600, 2 * DAY)
            self._schedule(t_c, self._reversal(event, t_c, c.tz, "cancelled"))
        else:
            if roll < 0.07:
                t_r = t + rng.uniform(3 * DAY, 30 * DAY)
                self._schedule(t_r, self._reversal(event, t_r, c.tz, "returned"))
            if rng.random() < c.invoiced:
                due = t + c.terms
                if rng.random() < c.on_time:
                    paid = max(due - rng.random() * min(c.terms, 10 * DAY), t + HOUR)
                else:
                    paid = due + HOUR + rng.expovariate(1.0 / c.late_mean)
                self._schedule(
                    paid,
                    {
                        "event_id": "",
                        "occurred_at": fmt(paid, c.tz),
                        "type": "payment",
                        "customer_id": c.id,
                        "invoice_id": f"inv{n:08d}",
                        "amount": amount,
                        "due_at": fmt(due, c.tz),
                    },
                )
        self._next_customer_order(c, t)
        return event

    def _reversal(self, order: dict[str, Any], t: float, tz: int, status: str) -> dict[str, Any]:
        event = dict(order)
        event["occurred_at"] = self.clock.fmt(t, tz)
        event["status"] = status
        return event

    # ------------------------------------------------------------------ suppliers

    def _next_purchase_order(self, s: _Supplier, t: float) -> None:
        rng = self.rng
        end = self.end
        while True:
            t += rng.expovariate(s.max_rate)
            if t > end:
                return
            if rng.random() * _BUSINESS_MAX < _BUSINESS[_hour_of_week(t, s.tz)]:
                self._push(t, _K_SUPPLIER, s)
                return

    def _purchase_order(self, s: _Supplier, t: float) -> dict[str, Any]:
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
            if responded <= self.end:
                self.ticket_no += 1
                self._schedule(
                    opened,
                    {
                        "event_id": "",
                        "occurred_at": fmt(opened, s.tz),
                        "type": "service",
                        "supplier_id": s.id,
                        "ticket_id": f"t{self.ticket_no:07d}",
                        "first_response_at": fmt(responded, s.tz),
                    },
                )
        self._next_purchase_order(s, t)
        return event

    # ------------------------------------------------------------------ the stream

    def run(self) -> Iterator[bytes]:
        self._setup_customers()
        self._setup_suppliers()
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
        latest = -1  # whole-second time of the latest event emitted in order
        carried: list[tuple[int, bytes]] = []
        while heap:
            t, _, kind, obj = heappop(heap)
            # Release held lines that are due. A late line that would still be in order
            # (nothing later was emitted while it was held: a quiet spell) is carried past
            # the current event instead, unless that would make it more than MAX_LATE late.
            while delayed and delayed[0][0] <= t:
                _, _, t0, held, duplicate = heappop(delayed)
                if not duplicate and t0 >= latest and int(t) - t0 <= _MAX_LATE:
                    carried.append((t0, held))
                    continue
                yield held
                stats.lines += 1
                if not duplicate and t0 < latest:
                    stats.late += 1
            if kind == _K_READY:
                event: dict[str, Any] = obj
            elif kind == _K_SUPPLIER:
                event = self._purchase_order(obj, t)
            else:
                event = self._customer_order(obj, t)
            self.event_no += 1
            event["event_id"] = f"e{self.event_no:09d}"
            line = dumps(event)
            counts[event["type"]] += 1
            roll = rng.random()
            if roll >= dup_cut:
                yield line
                stats.lines += 1
                latest = int(t)
            elif roll < inv_cut:
                yield line
                yield self._invalid(event)
                stats.lines += 2
                latest = int(t)
            elif roll < late_cut:
                delay = min(300.0 + rng.expovariate(1 / (12 * HOUR)), _MAX_LATE)
                self.seq += 1
                heappush(delayed, (t + delay, self.seq, int(t), line, False))
            else:
                yield line
                stats.lines += 1
                latest = int(t)
                stats.duplicates += 1
                self.seq += 1
                heappush(delayed, (t + rng.uniform(60.0, 2 * DAY), self.seq, 0, line, True))
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

    # ------------------------------------------------------------------ invalid lines

    def _invalid(self, event: dict[str, Any]) -> bytes:
        rng = self.rng
        self.event_no += 1
        bad = dict(event)
        bad["event_id"] = f"e{self.event_no:09d}"
        while True:
            kind = rng.choice(INVALID_KINDS)
            line = self._invalid_makers[kind](bad)
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
            "payment": ("invoice_id", "due_at", "amount"),
            "delivery": ("promised_at", "quantity_delivered", "order_id"),
            "referral": ("referred_id", "referrer_id"),
            "service": ("first_response_at", "ticket_id"),
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
        e["type"] = self.rng.choice(("refund", "invoice", "Order", "shipment"))
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
            ("2026-02-30T10:00:00Z", "1970-01-01T00:00:00Z", "2026-13-01T00:00:00Z", "yesterday")
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
        if e["type"] != "service":
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


# ----------------------------------------------------------------------------- API


def _generate(
    customers: int,
    suppliers: int,
    days: int,
    seed: int,
    end: datetime,
    invalid_ratio: float,
    late_ratio: float,
    duplicate_ratio: float,
    stats: SampleStats,
) -> Iterator[bytes]:
    sim = _Simulation(
        customers, suppliers, days, seed, end, invalid_ratio, late_ratio, duplicate_ratio, stats
    )
    return sim.run()


def generate(
    customers: int,
    suppliers: int,
    days: int,
    seed: int,
    end: datetime = DEFAULT_END,
    invalid_ratio: float = 0.002,
    late_ratio: float = 0.01,
    duplicate_ratio: float = 0.005,
) -> Iterator[bytes]:
    """Yield the sample's lines (JSON, bytes, no trailing newline) in file order.

    Same arguments, same bytes. Parameters are checked when this is called.
    """
    return _generate(
        customers,
        suppliers,
        days,
        seed,
        end,
        invalid_ratio,
        late_ratio,
        duplicate_ratio,
        SampleStats(),
    )


def write_sample(
    path: str | os.PathLike[str],
    customers: int,
    suppliers: int,
    days: int,
    seed: int,
    end: datetime = DEFAULT_END,
    invalid_ratio: float = 0.002,
    late_ratio: float = 0.01,
    duplicate_ratio: float = 0.005,
    on_progress: Callable[[int], None] | None = None,
) -> SampleStats:
    """Write the sample as JSONL (one event per line, ``\\n`` after each) and describe it.

    The file is written next to ``path`` and renamed into place when complete.
    ``on_progress`` is given the number of lines written since its last call.
    """
    stats = SampleStats()
    lines = _generate(
        customers,
        suppliers,
        days,
        seed,
        end,
        invalid_ratio,
        late_ratio,
        duplicate_ratio,
        stats,
    )
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    batch: list[bytes] = []
    try:
        with open(tmp, "wb", buffering=1 << 20) as out:
            for line in lines:
                batch.append(line)
                if len(batch) == 8192:
                    batch.append(b"")
                    out.write(b"\n".join(batch))
                    if on_progress is not None:
                        on_progress(len(batch) - 1)
                    batch.clear()
            if batch:
                batch.append(b"")
                out.write(b"\n".join(batch))
                if on_progress is not None:
                    on_progress(len(batch) - 1)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return stats
