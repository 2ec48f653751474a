"""The layout of an entity's state: day-bucket fields, order and ticket records, and their codes.

Named once here, read by the metric formulas (``scorers/catalog.py``), the
engine, the ledger and the codec; :mod:`scorers.state` re-exports every name.
"""

from __future__ import annotations

__all__ = [
    "CUSTOMER_BUCKET", "CUSTOMER_FIELDS", "CUSTOMER_ORDER_FIELDS", "C_COSTED", "C_COSTED_REVENUE",
    "C_DAYS_LATE", "C_INVOICES", "C_LATE", "C_LATE_CENT_DAYS", "C_ORDERS", "C_PAID", "C_PAYMENTS", "C_PLACED",
    "C_PROFIT", "C_REFERRALS", "C_REVENUE", "DAY", "NEVER", "ORDER_ACTIVE", "ORDER_RETURNS_FIRST",
    "ORDER_REVERSED", "ORDER_REVERSED_FIRST", "O_AT",
    "O_COSTED", "O_COSTED_REVENUE", "O_DAY", "O_GROUP", "O_ORDERS", "O_PROFIT", "O_RETURNED",
    "O_RETURNED_COST", "O_RETURNED_COSTED", "O_REVENUE", "O_STATUS",
    "SUPPLIER_BUCKET", "SUPPLIER_FIELDS", "S_AMOUNT", "S_DELIVERIES", "S_MARKET", "S_ON_TIME", "S_OPEN_SINCE",
    "S_OPEN_TICKETS", "S_PURCHASES", "S_QTY_ACCEPTED", "S_QTY_DELIVERED", "S_QTY_OFF", "S_QTY_ORDERED",
    "S_RESPONSE_MIN", "S_TICKETS", "TICKET_ANSWERED", "TICKET_OPEN",
]

DAY = 86_400
#: the clock, window start and group time of a state that has seen nothing yet: before any
#: instant or day an event can carry (events may be older than 1970: negative epoch seconds)
NEVER = -(2**62)

# Customer day-bucket fields, by name (as metric formulas read them, see scorers/catalog.py) and
# by index (as the engine adds to them). ``placed`` counts the orders of that day still placed (a
# partially returned order is; one reversed whole is not): recency reads it. Money in cents.
# ``profit_cents`` sums the orders that carry a cost only; ``costed_orders`` and
# ``costed_revenue_cents`` count those orders and their amount (profit evidence).
# ``invoices`` counts invoice events; a payment adds its amount to ``paid_cents`` and its amount
# times its days late to ``late_cent_days`` (see scorers/credit.py).
CUSTOMER_BUCKET = (
    "orders", "revenue_cents", "profit_cents", "payments", "payments_late", "days_late", "referrals", "placed",
    "costed_orders", "costed_revenue_cents", "invoices", "paid_cents", "late_cent_days",
)
(
    C_ORDERS, C_REVENUE, C_PROFIT, C_PAYMENTS, C_LATE, C_DAYS_LATE, C_REFERRALS, C_PLACED,
    C_COSTED, C_COSTED_REVENUE, C_INVOICES, C_PAID, C_LATE_CENT_DAYS,
) = range(len(CUSTOMER_BUCKET))
CUSTOMER_FIELDS = len(CUSTOMER_BUCKET)
# Supplier day-bucket fields (response times in minutes). ``qty_off``: the quantity each delivery
# missed its order by, either way, at most the ordered quantity; ``open_tickets`` and
# ``open_since_minutes``: tickets still unanswered and the sum of their opening minutes (epoch
# minutes), so their total age at minute ``m`` is ``open_tickets * m - open_since_minutes``.
SUPPLIER_BUCKET = (
    "deliveries", "on_time", "qty_ordered", "qty_delivered", "qty_accepted",
    "purchases", "amount_cents", "market_cents", "tickets", "response_minutes",
    "qty_off", "open_tickets", "open_since_minutes",
)
(
    S_DELIVERIES,
    S_ON_TIME,
    S_QTY_ORDERED,
    S_QTY_DELIVERED,
    S_QTY_ACCEPTED,
    S_PURCHASES,
    S_AMOUNT,
    S_MARKET,
    S_TICKETS,
    S_RESPONSE_MIN,
    S_QTY_OFF,
    S_OPEN_TICKETS,
    S_OPEN_SINCE,
) = range(len(SUPPLIER_BUCKET))
SUPPLIER_FIELDS = len(SUPPLIER_BUCKET)

# orders[order_id] = [day, status, *contribution] for a purchase; for a sale, the fields below:
# the order's day, status, contribution (orders, revenue, profit, costed (1: it carried a cost),
# costed revenue: cents), placement time (None: its facts were settled before retractions could
# reach them), what partial returns took back (all returned cents; those of returns that named a
# cost, and that cost), and the customer group it named. ``day`` is the order's own once known.
(O_DAY, O_STATUS, O_ORDERS, O_REVENUE, O_PROFIT, O_COSTED, O_COSTED_REVENUE, O_AT, O_RETURNED,
 O_RETURNED_COSTED, O_RETURNED_COST, O_GROUP) = range(12)
CUSTOMER_ORDER_FIELDS = 12
# ORDER_RETURNS_FIRST: partial returns arrived, the order itself not yet
ORDER_ACTIVE, ORDER_REVERSED, ORDER_REVERSED_FIRST, ORDER_RETURNS_FIRST = 0, 1, 2, 3
# tickets[ticket_id] = [day, status, opening minute]: open (counted as open) or answered
TICKET_OPEN, TICKET_ANSWERED = 0, 1
