"""Issue 10, points 2 and 8 together: retractions, deliveries and tickets in the rules' currency and calendar.

The sales ledger (``scorers/ledger.py``) and the supply bookkeeping
(``scorers/supply.py``) count money in the base currency (each amount at its
event's rate) and days of the rules' time zone, as the rest of the engine does;
a serialized state keeps the "never" instants of a state that has seen nothing.
Expected values are derived by hand in the comments from the small rules below.
"""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from tierstream.schemas.events import AnyEvent, DeliveryEvent, InvoiceEvent, OrderEvent, ServiceEvent
from tierstream.schemas.rules import Rules, parse_rules
from tierstream.scorers.engine import Grader, ts
from tierstream.scorers.layout import NEVER
from tierstream.scorers.state import EntityState

# customer score = 0.5 * recency + 0.5 * monetary: recency 100 - 10 per day (0 from day 10),
# monetary revenue / 100 (100 from 10,000); gross profit is read as an aggregate only.
# supplier score: quality (0.8 -> 0, 1 -> 100) and service (0 h -> 100, 48 h -> 0), each left
# out without evidence. No hysteresis: every tier follows the score at once.
RULES = """
version: "t-ledger-zone"
timezone: UTC
currency: CNY
fx_rates: {USD: 7.0}
customer:
  window_days: 30
  dimensions:
    recency:  {metric: recency_days, weight: 0.5, scale: [[0, 100], [10, 0]]}
    monetary: {metric: revenue, weight: 0.5, scale: [[0, 0], [10000, 100]]}
  tiers:
    - {name: key, min_score: 60}
    - {name: general, min_score: 30}
    - {name: potential, min_score: 0}
  hysteresis: {downgrade_margin: 0, min_days_in_tier: 0, grace_days: 0, hold_days: 0}
  rfm: {recency_days: 30, frequency: 2, monetary: 1000}
  groups: {retail: {}}
supplier:
  window_days: 30
  dimensions:
    quality: {metric: quality_pass_rate, weight: 0.5, scale: [[0.8, 0], [1, 100]]}
    service: {metric: avg_first_response_hours, weight: 0.5, scale: [[0, 100], [48, 0]]}
  tiers:
    - {name: good, min_score: 50}
    - {name: poor, min_score: 0}
  hysteresis: {downgrade_margin: 0, min_days_in_tier: 0, grace_days: 0, hold_days: 0}
"""


def rules(zone: str = "UTC") -> Rules:
    return parse_rules(re.sub(r"^timezone: .*$", f"timezone: {zone}", RULES, flags=re.M))


def z(iso: str) -> datetime:
    return datetime.fromisoformat(iso).astimezone(UTC)


def sale(eid: str, when: str, oid: str, amount: float, status: str = "placed", **extra: Any) -> OrderEvent:
    return OrderEvent(event_id=eid, occurred_at=z(when), order_id=oid, customer_id="c1", amount=amount,
                      status=status, **extra)  # type: ignore[arg-type]


def feed(g: Grader, events: list[AnyEvent], ok: tuple[str, ...] = ("applied",)) -> EntityState:
    state: EntityState | None = None
    for ev in events:
        state, out = g.apply(state, ev)
        assert out.status in ok, out.detail
    assert state is not None
    return state


def changes(g: Grader, events: list[AnyEvent], until: str) -> list[tuple[str, str]]:
    """(tier, occurred_at) of every change the events and the reviews up to ``until`` make."""
    state: EntityState | None = None
    out: list[tuple[str, str]] = []
    for ev in events:
        state, o = g.apply(state, ev)
        out += [(c.tier, c.occurred_at.isoformat()) for c in o.changes]
    assert state is not None
    out += [(c.tier, c.occurred_at.isoformat()) for c in g.review_due(state, ts(z(until))).changes]
    return out


# --------------------------------------------------------------------------- money


# o1: 1,000 USD with cost 600 USD -> 7,000 CNY of revenue (and of costed revenue), 2,800 CNY profit.
# o2: 1,000 CNY, no cost. Two partial returns of o1, in USD:
#   250 USD naming its cost 150 USD -> 1,750 CNY back, profit back 1,750 - 1,050 = 700;
#   200 USD without a cost -> 1,400 CNY back, profit back at o1's margin: 2,800 x 1,400 / 7,000 = 560.
# o1 then counts 7,000 - 3,150 = 3,850 CNY of revenue and costed revenue, 2,800 - 1,260 = 1,540 profit.
# Window: revenue 3,850 + 1,000 = 4,850; gross profit (margin over the whole revenue, catalog):
# 1,540 x 4,850 / 3,850 = 1,940.
# As of 2026-03-01T12:00Z, the last order (o2) on 03-01: recency 0 -> 100; monetary 48.5;
# score 0.5 x 100 + 0.5 x 48.5 = 74.25: key. (Counted as CNY, unconverted, o1 would bring
# 1,000 - 450 = 550: monetary 15.5, score 57.75, general.)
USD_HISTORY: list[AnyEvent] = [
    sale("p1", "2026-02-20T10:00:00+00:00", "o1", 1000.0, cost=600.0, currency="USD"),
    sale("r1", "2026-02-25T10:00:00+00:00", "o1", 1000.0, "returned", currency="USD",
         returned_amount=250.0, returned_cost=150.0),
    sale("r2", "2026-02-27T10:00:00+00:00", "o1", 1000.0, "returned", currency="USD", returned_amount=200.0),
    sale("p2", "2026-03-01T09:00:00+00:00", "o2", 1000.0),
]


def test_a_partial_return_in_usd_takes_back_its_converted_share_in_any_order() -> None:
    g = Grader(rules())
    for events in itertools.permutations(USD_HISTORY):
        snap = g.snapshot(feed(g, list(events)), ts(z("2026-03-01T12:00:00+00:00")))
        a = snap.aggregates
        assert (a["order_count"], a["revenue"], a["gross_profit"]) == (2, 4850.0, 1940.0)
        assert snap.score == pytest.approx(74.25)
        assert snap.tier == "key"


def test_a_return_in_a_currency_without_a_rate_is_refused_before_anything_is_booked() -> None:
    g = Grader(rules())
    placed = feed(g, USD_HISTORY[:1])
    before = placed.to_bytes()
    bad = sale("r9", "2026-02-25T10:00:00+00:00", "o1", 1000.0, "returned", currency="GBP", returned_amount=10.0)
    state, out = g.apply(placed, bad)
    assert (out.status, out.invalid_field, out.invalid_value) == ("invalid", "currency", "GBP")
    assert state.to_bytes() == before  # no return booked, the event id not even remembered
    # arriving first, it leaves no record behind either
    empty, out = g.apply(None, bad)
    assert out.status == "invalid" and empty.orders == {} and empty.days == {}


# --------------------------------------------------------------------------- days


# Asia/Shanghai is UTC+8 all year. Graded at 2026-03-02T12:00Z = 03-02 20:00 local.
#   o1 4,000 at 01-31T20:00Z = 02-01 04:00 local; 1,000 of it returned on 02-10: 3,000.
#   o2 2,000 at 03-01T15:00Z = 03-01 23:00 local (03-01 in UTC too).
#   o3 3,000 at 03-01T17:00Z = 03-02 01:00 local (03-01 in UTC), cancelled at 03-02T01:00Z.
# Shanghai: the window is local 02-01 .. 03-02: o1 (3,000) and o2 (2,000) = 5,000 -> monetary 50;
#   o3 cancelled, the last order is o2, local 03-01: recency 1 -> 90. 0.5 x 90 + 0.5 x 50 = 70: key.
#   (Had o3 stayed, its local day 03-02 would make recency 0.)
# UTC: the window is 02-01 .. 03-02 in UTC days: o1's day 01-31 is out -> 2,000 -> monetary 20;
#   the last order o2 on 03-01: recency 1 -> 90. 45 + 10 = 55: general. (Without hysteresis the
#   retention is the window: o1 and its return are refused as too old when they arrive after
#   o2, counted in no window either way.)
ZONE_HISTORY: list[AnyEvent] = [
    sale("p1", "2026-01-31T20:00:00+00:00", "o1", 4000.0),
    sale("r1", "2026-02-10T12:00:00+00:00", "o1", 4000.0, "returned", returned_amount=1000.0),
    sale("p2", "2026-03-01T15:00:00+00:00", "o2", 2000.0),
    sale("p3", "2026-03-01T17:00:00+00:00", "o3", 3000.0),
    sale("c3", "2026-03-02T01:00:00+00:00", "o3", 3000.0, "cancelled"),
]


@pytest.mark.parametrize(("zone", "revenue", "score", "tier"), [
    ("Asia/Shanghai", 5000.0, 70.0, "key"),
    ("UTC", 2000.0, 55.0, "general"),
])
def test_a_retraction_counts_on_the_local_day_of_its_order(zone: str, revenue: float, score: float,
                                                            tier: str) -> None:
    g = Grader(rules(zone))
    for events in itertools.permutations(ZONE_HISTORY):
        state = feed(g, list(events), ok=("applied",) if zone != "UTC" else ("applied", "too_old"))
        snap = g.snapshot(state, ts(z("2026-03-02T12:00:00+00:00")))
        a = snap.aggregates
        assert (a["revenue"], a["recency_days"], a["last_order_at"]) == (revenue, 1.0, "2026-03-01T15:00:00Z")
        assert snap.score == pytest.approx(score)
        assert snap.tier == tier
        assert snap.window.start == "2026-02-01"


# A supplier whose only evidence is a ticket opened at 2026-03-01T20:00Z (03-02 04:00 in
# Shanghai), never answered. Its service score is 100 - 100 x hours / 48: good while it is at
# least 50, i.e. up to an age of 24 h; the first whole minute past it is 03-02T20:01Z, in any
# zone (ages are counted in minutes). The ticket then leaves the 30-day window after the 30th
# day from its own: in Shanghai after local 03-31, at local midnight 04-01 00:00+08:00 =
# 03-31T16:00Z; in UTC its day is 03-01, gone at 03-31T00:00Z. Without evidence: ungraded.
OPEN_TICKET: list[AnyEvent] = [
    ServiceEvent(event_id="t", occurred_at=z("2026-03-01T20:00:00+00:00"), supplier_id="s1", ticket_id="t1"),
]
# A delivery at the same instant, all accepted: quality 1 -> 100, good; it leaves the window
# when the ticket's day would.
DELIVERY: list[AnyEvent] = [
    DeliveryEvent(event_id="d", occurred_at=z("2026-03-01T20:00:00+00:00"), supplier_id="s1", order_id="p1",
                  promised_at=z("2026-03-02T20:00:00+00:00"), quantity_ordered=10, quantity_delivered=10,
                  quantity_accepted=10),
]


@pytest.mark.parametrize(("zone", "leaves"), [("Asia/Shanghai", "2026-03-31T16:00:00+00:00"),
                                              ("UTC", "2026-03-31T00:00:00+00:00")])
def test_an_open_ticket_ages_by_the_minute_and_leaves_the_window_at_local_midnight(zone: str, leaves: str) -> None:
    g = Grader(rules(zone))
    assert changes(g, OPEN_TICKET, "2026-04-10T00:00:00+00:00") == [
        ("good", "2026-03-01T20:00:00+00:00"), ("poor", "2026-03-02T20:01:00+00:00"), ("ungraded", leaves),
    ]
    assert changes(g, DELIVERY, "2026-04-10T00:00:00+00:00") == [
        ("good", "2026-03-01T20:00:00+00:00"), ("ungraded", leaves),
    ]


# --------------------------------------------------------------------------- serialized state


@pytest.mark.parametrize("kind", ["customer", "supplier"])
def test_a_state_that_has_seen_nothing_round_trips_with_its_never_instants(kind: str) -> None:
    state = EntityState(kind, "x")
    back = EntityState.from_bytes(state.to_bytes())
    assert back == state
    assert (back.clock, back.window_start, back.group_at, back.settled_group_at) == (NEVER,) * 4
    assert back.to_bytes() == state.to_bytes()


def test_a_settled_group_from_before_1970_outlives_a_retraction_and_a_round_trip() -> None:
    # 2026-03-01: an order without a group. A 1969 order naming "retail" arrives too old: final,
    # its facts settle (group retail, from 1969). Cancelling the 2026 order leaves the settled
    # facts: first and last order in 1969, group retail -- also after a round trip.
    g = Grader(rules())
    state = feed(g, [sale("p1", "2026-03-01T10:00:00+00:00", "o1", 100.0)])
    state, out = g.apply(state, sale("p0", "1969-06-01T10:00:00+00:00", "o0", 100.0, customer_group="retail"))
    assert out.status == "too_old"
    state, out = g.apply(state, sale("c1", "2026-03-02T10:00:00+00:00", "o1", 100.0, "cancelled"))
    assert out.status == "applied"
    for s in (state, EntityState.from_bytes(state.to_bytes())):
        assert (s.group, s.first_order, s.last_order) == ("retail", ts(z("1969-06-01T10:00:00+00:00")),
                                                          ts(z("1969-06-01T10:00:00+00:00")))


def test_a_state_written_with_invoices_but_before_the_retraction_fields_still_loads() -> None:
    # Index 24 holds the invoices (main's layout); settled facts, credits issued and tickets
    # follow it. A state that ends at the invoices keeps them, and its order facts are settled.
    g = Grader(rules())
    inv = InvoiceEvent(event_id="i", occurred_at=z("2026-03-01T10:00:00+00:00"), invoice_id="i1",
                       customer_id="c1", amount=100.0, issued_at=z("2026-03-01T10:00:00+00:00"),
                       due_at=z("2026-03-31T10:00:00+00:00"))
    state = feed(g, [sale("p1", "2026-03-01T09:00:00+00:00", "o1", 100.0), inv])
    doc = orjson.loads(state.to_bytes())
    old = EntityState.from_bytes(orjson.dumps(doc[:25]))
    assert old.invoices == state.invoices != {}
    assert (old.settled_first, old.settled_last) == (state.first_order, state.last_order)
    assert old.tickets == {} and old.credits_issued == 0
