"""Event builders and feeders for the Grader tests.

Days count from ``T0``; events happen at noon UTC unless told otherwise.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from tierstream.schemas.events import (
    AnyEvent,
    AssessmentEvent,
    DeliveryEvent,
    OrderEvent,
    PaymentEvent,
    ReferralEvent,
    ServiceEvent,
)
from tierstream.schemas.outputs import TierChange
from tierstream.schemas.rules import load_rules
from tierstream.scorers.engine import Grader, Outcome, ts
from tierstream.scorers.layout import DAY
from tierstream.scorers.state import EntityState

__all__ = [
    "CW",
    "C_LOOKBACK",
    "DAY0",
    "RULES",
    "SW",
    "T0",
    "_eid",
    "_ids",
    "agg",
    "assessment",
    "at",
    "changes",
    "delivery",
    "eod",
    "feed",
    "good_then_bad_supplier",
    "key_customer",
    "order",
    "payment",
    "purchase",
    "referral",
    "sod",
    "ticket",
]


RULES = load_rules()
CW = RULES.customer.window_days  # 365
SW = RULES.supplier.window_days  # 180
C_LOOKBACK = RULES.customer.hysteresis.lookback_days  # 60
T0 = datetime(2025, 1, 1, tzinfo=UTC)
DAY0 = ts(T0) // DAY


_ids = itertools.count(1)


def at(day: float, hour: float = 12.0) -> datetime:
    return T0 + timedelta(days=day, hours=hour)


def eod(day: int) -> int:
    """The last second of ``day`` (days from T0)."""
    return (DAY0 + day + 1) * DAY - 1


def sod(day: int) -> int:
    """The first second of ``day``."""
    return (DAY0 + day) * DAY


def _eid(event_id: str | None) -> str:
    return event_id or f"e{next(_ids)}"


def order(day: float, oid: str, cust: str = "c1", amount: float = 100.0, cost: float | None = 60.0,
          status: str = "placed", event_id: str | None = None, **kw: object) -> OrderEvent:
    return OrderEvent(event_id=_eid(event_id), occurred_at=at(day), order_id=oid, customer_id=cust,
                      amount=amount, cost=cost, status=status, **kw)  # type: ignore[arg-type]


def purchase(day: float, oid: str, sup: str = "s1", amount: float = 100.0, market: float | None = None,
             status: str = "placed", event_id: str | None = None) -> OrderEvent:
    return OrderEvent(event_id=_eid(event_id), occurred_at=at(day), order_id=oid, supplier_id=sup,
                      amount=amount, market_amount=market, status=status)  # type: ignore[arg-type]


def payment(day: float, inv: str, due_day: float, cust: str = "c1", amount: float = 100.0) -> PaymentEvent:
    return PaymentEvent(event_id=_eid(None), occurred_at=at(day), customer_id=cust, invoice_id=inv,
                        amount=amount, due_at=at(due_day))


def delivery(day: float, oid: str, promised_day: float, ordered: int, delivered: int, accepted: int,
             sup: str = "s1") -> DeliveryEvent:
    return DeliveryEvent(event_id=_eid(None), occurred_at=at(day), supplier_id=sup, order_id=oid,
                         promised_at=at(promised_day), quantity_ordered=ordered,
                         quantity_delivered=delivered, quantity_accepted=accepted)


def ticket(day: float, tid: str, hours: float, sup: str = "s1") -> ServiceEvent:
    return ServiceEvent(event_id=_eid(None), occurred_at=at(day), supplier_id=sup, ticket_id=tid,
                        first_response_at=at(day, 12.0 + hours))


def referral(day: float, referrer: str, referred: str) -> ReferralEvent:
    return ReferralEvent(event_id=_eid(None), occurred_at=at(day), referrer_id=referrer, referred_id=referred)


def assessment(day: float, entity: str, expires_day: float, score: float | None = None,
               override: str | None = None, kind: str = "customer") -> AssessmentEvent:
    return AssessmentEvent(event_id=_eid(None), occurred_at=at(day), entity_type=kind,  # type: ignore[arg-type]
                           entity_id=entity, prospect_score=score, tier_override=override,
                           reason="sales visit", expires_at=at(expires_day), author="li.wei")


def feed(g: Grader, events: Iterable[AnyEvent], state: EntityState | None = None
         ) -> tuple[EntityState, list[Outcome]]:
    outs = []
    for e in events:
        state, out = g.apply(state, e)
        outs.append(out)
    assert state is not None
    return state, outs


def changes(outs: Iterable[Outcome]) -> list[TierChange]:
    return [c for o in outs for c in o.changes]


def agg(g: Grader, state: EntityState, as_of: int | None = None) -> dict[str, object]:
    return g.snapshot(state, state.clock if as_of is None else as_of).aggregates


def key_customer(cust: str = "c1", orders: int = 6, amount: float = 1500.0, cost: float = 900.0
                 ) -> list[AnyEvent]:
    """A customer that reaches ``key``: an order every 5 days, each invoice paid on time."""
    evs: list[AnyEvent] = []
    for i in range(orders):
        evs.append(order(5 * i, f"{cust}-o{i}", cust=cust, amount=amount, cost=cost))
        evs.append(payment(5 * i + 1, f"{cust}-i{i}", 5 * i + 10, cust=cust))
    return evs


def good_then_bad_supplier(bad_quality: int) -> list[AnyEvent]:
    evs: list[AnyEvent] = [delivery(0, "p0", 1, 100, 100, 100), ticket(0, "t0", 1.0)]
    for i in range(1, 6):
        evs.append(delivery(20 + i, f"p{i}", 15, 100, 70, bad_quality))  # late, short, defective
    return evs
