"""An order or a delivery leaves the window exactly at its edge."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.properties.helpers import DAY0, RULES, SETTINGS, when
from tierstream.schemas.events import DeliveryEvent, OrderEvent
from tierstream.scorers.engine import Grader
from tierstream.scorers.layout import DAY
from tierstream.scorers.state import EntityState


@SETTINGS
@given(
    day=st.integers(0, 2000),
    second=st.integers(0, DAY - 1),
    amounts=st.lists(st.integers(0, 10**8), min_size=1, max_size=4),
    probe=st.integers(0, DAY - 1),
)
def test_customer_order_expires_exactly_at_the_window_edge(
    day: int, second: int, amounts: list[int], probe: int
) -> None:
    grader = Grader(RULES)
    w = RULES.customer.window_days
    state: EntityState | None = None
    for i, cents in enumerate(amounts):
        ev = OrderEvent(event_id=f"e{i}", occurred_at=when(day * DAY + second), order_id=f"o{i}",
                        customer_id="c1", amount=cents / 100, cost=0.0)
        state, out = grader.apply(state, ev)
        assert out.status == "applied"
    assert state is not None
    last_in = grader.snapshot(state, (DAY0 + day + w - 1) * DAY + probe).aggregates
    assert last_in["order_count"] == len(amounts)
    assert round(last_in["revenue"] * 100) == sum(amounts)
    assert last_in["gross_profit"] == last_in["revenue"]
    gone = grader.snapshot(state, (DAY0 + day + w) * DAY + probe).aggregates
    # no costed order left in the window: no profit evidence
    assert (gone["order_count"], gone["revenue"], gone["gross_profit"]) == (0, 0.0, None)


@SETTINGS
@given(
    day=st.integers(0, 2000),
    second=st.integers(0, DAY - 1),
    quantities=st.lists(st.integers(1, 1000), min_size=1, max_size=4),
    gap=st.integers(0, 2),
)
def test_supplier_delivery_expires_exactly_at_the_window_edge(
    day: int, second: int, quantities: list[int], gap: int
) -> None:
    """Same edge when the window slides because a later event moved the clock."""
    grader = Grader(RULES)
    w = RULES.supplier.window_days
    state: EntityState | None = None
    for i, q in enumerate(quantities):
        ev = DeliveryEvent(event_id=f"d{i}", occurred_at=when(day * DAY + second), supplier_id="s1",
                           order_id=f"p{i}", promised_at=when(day * DAY + second), quantity_ordered=q,
                           quantity_delivered=q, quantity_accepted=q)
        state, _ = grader.apply(state, ev)
    assert state is not None
    edge = day + w - 1 + gap  # a later purchase on the last day in (gap 0) or after it
    state, _ = grader.apply(state, OrderEvent(event_id="p-late", occurred_at=when(edge * DAY), order_id="px",
                                              supplier_id="s1", amount=1.0))
    expected = len(quantities) if gap == 0 else 0
    assert grader.snapshot(state, state.clock).aggregates["deliveries"] == expected
