"""A supplier's deliveries and service tickets as they really are.

* **Deliveries.** A delivery is on time when it brings something by the
  promised date: a delivery of nothing is never on time. Its accuracy error is
  how far the delivered quantity is from the ordered one, either way, at most
  the ordered quantity (``qty_off``), so the ``delivery_accuracy`` metric,
  ``1 - sum(qty_off) / sum(qty_ordered)``, is 1 only when every delivery
  brought exactly what was ordered: delivering more than ordered counts
  against it, a delivery of nothing scores it 0.
* **Service tickets.** A ticket recorded without a first response is open:
  until it is answered it counts in ``avg_first_response_hours`` with its age
  so far, which grows with time (the engine schedules a review for when that
  ageing crosses a tier line, :func:`service_crossing`). Its answer, in either
  arrival order, replaces it: the ticket then counts once, answered.
"""

from __future__ import annotations

import math

from tierstream.schemas.events import DeliveryEvent, ServiceEvent
from tierstream.scorers.grading import Composite, Dim
from tierstream.scorers.layout import (
    S_DELIVERIES,
    S_ON_TIME,
    S_OPEN_SINCE,
    S_OPEN_TICKETS,
    S_QTY_ACCEPTED,
    S_QTY_DELIVERED,
    S_QTY_OFF,
    S_QTY_ORDERED,
    S_RESPONSE_MIN,
    S_TICKETS,
    TICKET_ANSWERED,
    TICKET_OPEN,
)
from tierstream.scorers.state import EntityState

__all__ = ["apply_delivery", "apply_ticket", "has_open_ticket", "service_crossing"]


def apply_delivery(state: EntityState, ev: DeliveryEvent, t: int, day: int, promised: int) -> None:
    """Count a delivery on ``day`` (the day of ``t`` in the rules' zone; ``promised``: epoch seconds)."""
    ordered, delivered = ev.quantity_ordered, ev.quantity_delivered
    state.add(day, S_DELIVERIES, 1)
    if delivered and t <= promised:
        state.add(day, S_ON_TIME, 1)
    state.add(day, S_QTY_ORDERED, ordered)
    state.add(day, S_QTY_DELIVERED, delivered)
    state.add(day, S_QTY_ACCEPTED, ev.quantity_accepted)
    off = min(abs(delivered - ordered), ordered)
    if off:
        state.add(day, S_QTY_OFF, off)


def apply_ticket(state: EntityState, ev: ServiceEvent, t: int, day: int, responded: int | None) -> None:
    """Count a service ticket, open (``responded`` None) or answered, once open, once answered.

    ``day``: the day of ``t`` in the rules' time zone (the ticket's bucket); its ages
    are in epoch minutes, which no time zone changes.
    """
    minute = t // 60
    rec = state.tickets.get(ev.ticket_id)
    if responded is None:
        if rec is None:
            state.record_ticket(ev.ticket_id, [day, TICKET_OPEN, minute])
            state.add(day, S_OPEN_TICKETS, 1)
            state.add(day, S_OPEN_SINCE, minute)
        return  # open already, or answered: the answer says it all
    if rec is None:
        state.record_ticket(ev.ticket_id, [day, TICKET_ANSWERED, minute])
    elif rec[1] == TICKET_OPEN:
        state.add(rec[0], S_OPEN_TICKETS, -1)
        state.add(rec[0], S_OPEN_SINCE, -rec[2])
        state.drop_if_empty(rec[0])
        rec[1], rec[2] = TICKET_ANSWERED, minute
        state.redate(rec, day)
    state.add(day, S_TICKETS, 1)
    state.add(day, S_RESPONSE_MIN, round((responded - t) / 60))


def has_open_ticket(state: EntityState) -> bool:
    """Any ticket retained still open (its age moves the score within a day)."""
    return any(rec[1] == TICKET_OPEN for rec in state.tickets.values())


def service_crossing(
    dims: tuple[Dim, ...], comp: Composite, totals: list[int], now: int, line: float
) -> int | None:
    """When the ageing of open tickets alone pulls the score under ``line`` (``None``: never).

    The average first-response hours at minute ``m`` is linear in ``m``:
    ``(response + open * m - open_since) / 60 / (tickets + open)``; the first
    value of it that scores the dimension under the line is found on its scale
    and turned back into an instant (a whole minute, after ``now``).
    """
    k = totals[S_OPEN_TICKETS]
    if not k:
        return None
    n, resp, since = totals[S_TICKETS], totals[S_RESPONSE_MIN], totals[S_OPEN_SINCE]
    when: int | None = None
    for dim in dims:
        if dim.metric != "avg_first_response_hours" or dim.name not in comp.components:
            continue
        others = comp.score * comp.weight_total - dim.weight * comp.components[dim.name]
        target = (line * comp.weight_total - others) / dim.weight
        if target <= dim.scale.lo:
            continue  # ageing alone can never pull it under the line
        hours = (resp + k * (now // 60) - since) / 60 / (n + k)
        x = dim.scale.first_x_reaching(hours, target, rising=False)
        if x is None:
            continue
        minute = max(math.ceil((x * 60 * (n + k) - resp + since) / k), now // 60 + 1)
        for _ in range(2):  # the rounding of a large minute count may land one short
            if dim.scale((resp + k * minute - since) / 60 / (n + k)) < target:
                break
            minute += 1
        c = minute * 60
        when = c if when is None else min(when, c)
    return when
