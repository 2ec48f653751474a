"""A customer's orders: placements, cancellations, full and partial returns, and the facts they give.

A retraction retracts everything the order gave, whatever the arrival order:
its counts in the day buckets (orders, revenue, profit, and ``placed``, so
recency follows the remaining orders), and its lasting facts (first and last
order time, the customer group it named; a referral it qualified is re-judged
by the engine). Each order's record (``EntityState.orders``, layout in
``scorers/state.py``) holds what it contributes, so every change is "what it
counts now minus what it counted before": the result is a function of the set
of events, not of their order.

* ``cancelled``, or ``returned`` without ``returned_amount``: the whole order
  is reversed, once.
* ``returned`` with ``returned_amount``: that share of the revenue is taken
  back; an order that carried a cost (profit evidence) also loses that share
  of its costed revenue, and of its profit ``returned_amount - returned_cost``
  when the return names its cost, else the order's own margin on that share.
  An order is still counted (and still placed) after a partial return; once
  its returns reach its amount it is reversed whole.

The facts of an order still retained are read from its record; those of
orders that left the retention are settled (``EntityState.settle``): an order
older than the retention is final, and so is one that reached the entity
already too old (:func:`keep_old_sale`).
"""

from __future__ import annotations

from typing import Any

from tierstream.schemas.events import OrderEvent
from tierstream.scorers.layout import (
    C_COSTED,
    C_COSTED_REVENUE,
    C_ORDERS,
    C_PLACED,
    C_PROFIT,
    C_REVENUE,
    O_AT,
    O_COSTED,
    O_COSTED_REVENUE,
    O_GROUP,
    O_PROFIT,
    O_RETURNED,
    O_RETURNED_COST,
    O_RETURNED_COSTED,
    O_REVENUE,
    O_STATUS,
    ORDER_ACTIVE,
    ORDER_RETURNS_FIRST,
    ORDER_REVERSED,
    ORDER_REVERSED_FIRST,
)
from tierstream.scorers.state import EntityState

__all__ = ["apply_sale", "counted", "keep_old_sale", "refresh_facts"]

Counted = tuple[int, int, int, int, int, int]
_NOTHING: Counted = (0, 0, 0, 0, 0, 0)
_FIELDS = (C_ORDERS, C_REVENUE, C_PROFIT, C_PLACED, C_COSTED, C_COSTED_REVENUE)


def _cents(x: float) -> int:
    return round(x * 100)


def _share(profit: int, part: int, whole: int) -> int:
    """``profit * part / whole`` rounded half up, in integers (exact, whatever the arrival order)."""
    return (2 * profit * part + whole) // (2 * whole) if whole else 0


def counted(rec: list[Any]) -> Counted:
    """What an order record counts now: (orders, revenue, profit, placed, costed, costed revenue), cents."""
    if rec[O_STATUS] != ORDER_ACTIVE:
        return _NOTHING
    revenue, profit, returned, costed = rec[O_REVENUE], rec[O_PROFIT], rec[O_RETURNED], rec[O_COSTED]
    if not returned:
        return 1, revenue, profit, 1, costed, rec[O_COSTED_REVENUE]
    if not costed:
        return 1, revenue - returned, 0, 1, 0, 0
    named = rec[O_RETURNED_COSTED]
    lost = named - rec[O_RETURNED_COST] + _share(profit, returned - named, revenue)
    return 1, revenue - returned, profit - lost, 1, 1, rec[O_COSTED_REVENUE] - returned


def _book(state: EntityState, rec: list[Any], before: Counted) -> None:
    """Add to the order's day what the record counts now minus what it counted ``before``."""
    after = counted(rec)
    if after == before:
        return
    day = rec[0]
    for idx, b, a in zip(_FIELDS, before, after, strict=True):
        if a != b:
            state.add(day, idx, a - b)
    state.drop_if_empty(day)


def _blank(day: int, status: int) -> list[Any]:
    return [day, status, 0, 0, 0, 0, 0, None, 0, 0, 0, None]


def _whole_returned(rec: list[Any]) -> bool:
    return bool(rec[O_RETURNED]) and rec[O_RETURNED] >= rec[O_REVENUE]


def apply_sale(state: EntityState, ev: OrderEvent, t: int, day: int, rate: float) -> None:
    """Apply a customer's order event: a placement, a reversal or a partial return.

    ``day``: the day of ``t`` in the rules' time zone; ``rate``: units of the base
    currency per unit of the event's currency (its amount, cost and returned
    amount and cost are all in it).
    """
    rec = state.orders.get(ev.order_id)
    if ev.status == "placed":
        revenue = _cents(ev.amount * rate)
        costed = ev.cost is not None
        profit = revenue - _cents(ev.cost * rate) if ev.cost is not None else 0  # no cost: no profit evidence
        if rec is None:
            rec = _blank(day, ORDER_ACTIVE)
            state.record_order(ev.order_id, rec)
        elif rec[O_STATUS] == ORDER_REVERSED_FIRST:
            rec[O_STATUS] = ORDER_REVERSED  # its reversal already arrived: it never counts
            return
        elif rec[O_STATUS] != ORDER_RETURNS_FIRST:
            return  # placed twice: it counts once
        state.redate(rec, day)
        rec[1:7] = [ORDER_ACTIVE, 1, revenue, profit, int(costed), revenue if costed else 0]
        rec[O_AT], rec[O_GROUP] = t, ev.customer_group
        if _whole_returned(rec):
            rec[O_STATUS] = ORDER_REVERSED
            return
        _book(state, rec, _NOTHING)
        _facts_add(state, t, ev.customer_group)
        return
    if ev.status == "returned" and ev.returned_amount is not None:
        _partial_return(state, ev, day, rate, rec)
        return
    if rec is None:
        state.record_order(ev.order_id, _blank(day, ORDER_REVERSED_FIRST))
    elif rec[O_STATUS] == ORDER_RETURNS_FIRST:
        rec[O_STATUS] = ORDER_REVERSED_FIRST  # a whole reversal takes all, partial returns included
    elif rec[O_STATUS] == ORDER_ACTIVE:
        before = counted(rec)
        rec[O_STATUS] = ORDER_REVERSED
        _book(state, rec, before)
        if rec[O_AT] is not None:
            refresh_facts(state)


def _partial_return(state: EntityState, ev: OrderEvent, day: int, rate: float, rec: list[Any] | None) -> None:
    assert ev.returned_amount is not None
    if rec is None:
        rec = _blank(day, ORDER_RETURNS_FIRST)
        state.record_order(ev.order_id, rec)
    elif rec[O_STATUS] not in (ORDER_ACTIVE, ORDER_RETURNS_FIRST):
        return  # reversed whole already
    before = counted(rec)
    amount = _cents(ev.returned_amount * rate)
    rec[O_RETURNED] += amount
    if ev.returned_cost is not None:
        rec[O_RETURNED_COSTED] += amount
        rec[O_RETURNED_COST] += _cents(ev.returned_cost * rate)
    if rec[O_STATUS] == ORDER_ACTIVE and _whole_returned(rec):
        rec[O_STATUS] = ORDER_REVERSED
    _book(state, rec, before)
    if rec[O_STATUS] == ORDER_REVERSED and rec[O_AT] is not None:
        refresh_facts(state)


def _facts_add(state: EntityState, t: int, group: str | None) -> None:
    """A counted order's facts join the current ones (min, max, latest group)."""
    if state.first_order is None or t < state.first_order:
        state.first_order = t
    if state.last_order is None or t > state.last_order:
        state.last_order = t
    if group is not None and (t, group) >= (state.group_at, state.group or ""):
        state.group, state.group_at = group, t


def refresh_facts(state: EntityState) -> None:
    """Recompute first and last order time and the group from the settled facts and the counted orders.

    After a retraction only: a scan of the orders retained (a placement just
    joins the facts, :func:`_facts_add`).
    """
    state.first_order, state.last_order = state.settled_first, state.settled_last
    state.group, state.group_at = state.settled_group, state.settled_group_at
    for rec in state.orders.values():
        if rec[O_STATUS] == ORDER_ACTIVE and rec[O_AT] is not None:
            _facts_add(state, rec[O_AT], rec[O_GROUP])


def keep_old_sale(state: EntityState, ev: OrderEvent, t: int) -> None:
    """An order already older than the retention when it arrives: final, its facts settle.

    Its reversal, whenever it arrives, can no longer reach it (no record is kept
    that far back), so it is final in either arrival order.
    """
    if ev.status == "placed":
        state.settle(t, ev.customer_group)
        _facts_add(state, t, ev.customer_group)
