"""Event time: late events, the window edges, too old, too new, history, dedup retention."""

from __future__ import annotations

import pytest

from tests.scorers.helpers import C_LOOKBACK, CW, DAY0, SW, agg, at, delivery, eod, feed, order, payment, referral, sod
from tierstream.schemas.events import OrderEvent
from tierstream.scorers.engine import Grader, iso_day, ts
from tierstream.scorers.layout import C_ORDERS, C_REVENUE
from tierstream.scorers.state import EntityState, event_hash


def test_out_of_order_event_lands_in_its_own_day(g: Grader) -> None:
    state, outs = feed(g, [order(10, "o1"), order(12, "o2"), order(3, "o-late", amount=70.0)])
    assert [o.status for o in outs] == ["applied"] * 3
    assert sorted(state.days) == [DAY0 + 3, DAY0 + 10, DAY0 + 12]
    assert state.days[DAY0 + 3][C_ORDERS] == 1
    assert state.days[DAY0 + 3][C_REVENUE] == 7000  # cents
    assert state.clock == ts(at(12))  # a late event does not move the clock back
    a = agg(g, state)
    assert a["order_count"] == 3
    assert a["first_order_at"] == "2025-01-04T12:00:00Z"
    assert a["last_order_at"] == "2025-01-13T12:00:00Z"
    # and the result is the same as in event-time order
    ordered, _ = feed(g, [order(3, "o-late", amount=70.0), order(10, "o1"), order(12, "o2")])
    assert g.snapshot(state, eod(12)).model_dump() == g.snapshot(ordered, eod(12)).model_dump()


@pytest.mark.parametrize("day", [0, 17, 200])
def test_customer_window_edge(g: Grader, day: int) -> None:
    state, _ = feed(g, [order(day, "o1", amount=80.0)])
    last_in = day + CW - 1
    snap = g.snapshot(state, eod(last_in))
    assert snap.aggregates["order_count"] == 1
    assert snap.aggregates["revenue"] == 80.0
    assert snap.window.start == iso_day(DAY0 + day)
    assert snap.window.end == iso_day(DAY0 + last_in)
    assert snap.window.days == CW
    out = g.snapshot(state, sod(day + CW))
    assert out.aggregates["order_count"] == 0
    assert out.aggregates["revenue"] == 0.0
    assert out.window.start == iso_day(DAY0 + day + 1)


def test_supplier_window_edge(g: Grader) -> None:
    state, _ = feed(g, [delivery(5, "p1", 6, 10, 10, 10)])
    assert g.snapshot(state, eod(5 + SW - 1)).aggregates["deliveries"] == 1
    assert g.snapshot(state, sod(5 + SW)).aggregates["deliveries"] == 0


def test_window_edge_after_the_clock_moved(g: Grader) -> None:
    """The same edge when the window slid because later events arrived (totals, not snapshot)."""
    state, _ = feed(g, [order(0, "o1", amount=80.0), order(CW - 1, "o2", amount=20.0)])
    assert agg(g, state)["order_count"] == 2
    state, _ = g.apply(state, order(CW, "o3", amount=5.0, cost=None))
    a = agg(g, state)
    assert (a["order_count"], a["revenue"]) == (2, 25.0)


def test_too_old_and_history_edges(g: Grader) -> None:
    now = 500
    state, _ = feed(g, [order(now, "o-now", amount=10.0)])
    window_start = now - CW + 1
    retention_start = window_start - C_LOOKBACK
    before = EntityState.from_bytes(state.to_bytes())
    old = order(retention_start - 1, "o-too-old", amount=1000.0)
    state, out = g.apply(state, old)
    assert out.status == "too_old"
    assert iso_day(DAY0 + retention_start - 1) in out.detail
    # refused: counted nowhere, not remembered as seen ...
    assert (state.days, state.totals, state.seen, state.orders) == (before.days, before.totals, before.seen,
                                                                     before.orders)
    # ... but its lasting fact is kept, as when it reaches the entity before the newer order
    assert state.first_order == ts(old.occurred_at) and state.last_order == before.last_order
    again = state.to_bytes()
    state, out = g.apply(state, old)  # a redelivery changes nothing
    assert out.status == "too_old" and state.to_bytes() == again and not out.changes

    for d, oid in ((retention_start, "o-h1"), (window_start - 1, "o-h2")):
        state, out = g.apply(state, order(d, oid, amount=1000.0))
        assert out.status == "history", d
        assert DAY0 + d in state.days  # kept for hysteresis history
    state, out = g.apply(state, order(window_start, "o-in", amount=1.0, cost=None))
    assert out.status == "applied"
    a = agg(g, state)
    assert (a["order_count"], a["revenue"]) == (2, 11.0)  # history does not count in the window


def test_too_new_is_refused(g: Grader) -> None:
    e = order(10, "o1")
    state, out = g.apply(None, e, received_at=ts(at(10)) - 25 * 3600)
    assert out.status == "too_new"
    assert state.days == {}
    _, out = g.apply(None, e, received_at=ts(at(10)) - 23 * 3600)
    assert out.status == "applied"


def test_history_becomes_too_old_as_the_clock_moves(g: Grader) -> None:
    state, _ = feed(g, [order(0, "o1"), order(0, "o1b")])
    state, _ = g.apply(state, order(CW + C_LOOKBACK + 5, "o2"))
    assert DAY0 not in state.days  # expired past the retention
    state, out = g.apply(state, order(0, "o1c"))
    assert out.status == "too_old"


def test_ids_of_events_without_a_day_bucket_leave_with_the_retention(g: Grader) -> None:
    """A referral and a reversal that comes before its order create no day bucket of the
    customer's; their ids (and the early reversal) are forgotten when their day leaves."""
    ref = referral(0, "c9", "c1")
    early_cancel = OrderEvent(event_id="x1", occurred_at=at(1), order_id="o-late", customer_id="c1",
                              amount=5.0, status="cancelled")
    state, _ = feed(g, [ref, early_cancel])
    assert not state.days and len(state.seen) == 2 and "o-late" in state.orders
    state, _ = g.apply(state, order(CW + C_LOOKBACK + 1, "o-far"))
    assert event_hash(ref.event_id) not in state.seen and "o-late" not in state.orders
    assert len(state.seen) == 1  # the far order's own id



@pytest.mark.parametrize("read_back", [False, True], ids=["in memory", "read back from bytes"])
def test_ids_that_came_out_of_day_order_leave_with_the_retention_exactly(g: Grader, read_back: bool) -> None:
    """Event ids and orders are pruned from the front of their (day-ordered) dicts; a late
    event, or a state read back (its dicts in hash order), must not hide an id that is due."""
    late = payment(1, "i1", 1)
    state, _ = feed(g, [order(10, "a"), late, order(12, "c")])
    if read_back:
        state = EntityState.from_bytes(state.to_bytes())
    far = 3 + CW - 1 + C_LOOKBACK  # the retention then starts on day 3: the late payment's id leaves
    state, _ = g.apply(state, order(far, "far"))
    assert event_hash(late.event_id) not in state.seen
    assert sorted(state.seen.values()) == [DAY0 + 10, DAY0 + 12, DAY0 + far]
    assert state.oldest_id == DAY0 + 10
    state, _ = g.apply(state, order(far + 8, "later"))  # day 11: "a" leaves next, from the front
    assert set(state.orders) == {"c", "far", "later"} and state.oldest_id == DAY0 + 12
