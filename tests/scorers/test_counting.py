"""An order, a duplicate and a reversal count once, whatever the arrival order."""

from __future__ import annotations

import pytest

from tests.scorers.helpers import DAY0, agg, eod, feed, order, purchase
from tierstream.scorers.engine import Grader
from tierstream.scorers.layout import C_PLACED


def test_an_order_counts_once(g: Grader) -> None:
    state, outs = feed(g, [order(0, "o1", amount=250.0, cost=100.0)])
    assert outs[0].status == "applied"
    a = agg(g, state)
    assert (a["order_count"], a["revenue"], a["gross_profit"]) == (1, 250.0, 150.0)
    assert a["first_order_at"] == a["last_order_at"] == "2025-01-01T12:00:00Z"


def test_duplicate_event_id_changes_nothing(g: Grader) -> None:
    first = order(0, "o1", event_id="dup-1")
    state, _ = feed(g, [first, order(1, "o2")])
    before = state.to_bytes()
    for again in (first, order(3, "o-other", amount=999.0, event_id="dup-1")):  # same id, any content
        state, out = g.apply(state, again)
        assert out.status == "duplicate"
        assert out.changes == [] and out.credits == []
        assert state.to_bytes() == before
    assert agg(g, state)["order_count"] == 2


def test_same_order_id_placed_twice_counts_once(g: Grader) -> None:
    state, _ = feed(g, [order(0, "o1"), order(1, "o1")])  # a re-sent order under a new event_id
    assert agg(g, state)["order_count"] == 1


# --------------------------------------------------------------------------- reversals


@pytest.mark.parametrize("status", ["cancelled", "returned"])
@pytest.mark.parametrize("reversal_first", [False, True], ids=["order-first", "reversal-first"])
def test_reversal_cancels_the_order_once(g: Grader, status: str, reversal_first: bool) -> None:
    placed = order(0, "o1", amount=300.0, cost=100.0)
    reversal = order(4, "o1", amount=300.0, cost=100.0, status=status)
    other = order(2, "o2", amount=50.0, cost=20.0)
    evs = [reversal, other, placed] if reversal_first else [placed, other, reversal]
    state, outs = feed(g, evs)
    assert [o.status for o in outs] == ["applied"] * 3
    a = agg(g, state)
    assert (a["order_count"], a["revenue"], a["gross_profit"]) == (1, 50.0, 30.0)
    # retracted whole, recency included: day 0 is as if the order had never been placed
    assert DAY0 not in state.days
    assert state.days[DAY0 + 2][C_PLACED] == 1
    assert a["first_order_at"] == a["last_order_at"] == "2025-01-03T12:00:00Z"


def test_reversal_result_does_not_depend_on_arrival(g: Grader) -> None:
    placed, ret = order(0, "o1", amount=300.0), order(9, "o1", amount=300.0, status="returned")
    extra = order(10, "o2")
    a, _ = feed(g, [placed, ret, extra])
    b, _ = feed(g, [ret, placed, extra])
    c, _ = feed(g, [extra, ret, placed])
    snaps = [g.snapshot(s, eod(10)).model_dump() for s in (a, b, c)]
    assert snaps[0] == snaps[1] == snaps[2]


@pytest.mark.parametrize("order_first", [True, False])
def test_second_reversal_does_nothing(g: Grader, order_first: bool) -> None:
    placed = order(0, "o1", amount=300.0)
    evs = [order(3, "o1", status="returned"), order(5, "o1", status="returned"),
           order(6, "o1", status="cancelled")]
    state, _ = feed(g, [placed, *evs] if order_first else [*evs, placed])
    state, _ = g.apply(state, order(7, "o2", amount=40.0, cost=None))
    a = agg(g, state)
    assert (a["order_count"], a["revenue"]) == (1, 40.0)


def test_supplier_purchase_reversal(g: Grader) -> None:
    state, _ = feed(g, [purchase(0, "p1", amount=110.0, market=100.0), purchase(1, "p2", amount=90.0, market=100.0),
                        purchase(2, "p1", amount=110.0, market=100.0, status="cancelled")])
    a = agg(g, state)
    assert a["purchase_count"] == 1
    assert a["price_index"] == 0.9
