"""Invoices and payments: what a customer owes, what it paid, and how late.

A customer's state keeps its invoices in ``EntityState.invoices``, one record
per ``invoice_id``: ``[retention day, invoice event day, issued day, due day,
amount cents, payments, closed]``, the four invoice fields ``None`` until the
invoice event is known, ``payments`` a sorted list of ``[day, cents, own due
day, delay reason]`` and ``closed`` the day from which nothing is owed
(``None`` while something is: it spares every grade the sums). A record is
dropped once its latest day (event, due or payment day) leaves the retention,
like the rest of the state.

Two kinds of evidence, both functions of the set of events:

* **Payments**, booked in the day bucket of the day paid (count, late count,
  days late, amount, amount x days late), late by the days from the due day
  of the invoice, or of the payment's own ``due_at`` when no invoice event is
  known (then the payment defines its invoice, paid in full; several give the
  earliest due day). An invoice event arriving after its payments moves their
  lateness: they are booked again against its due day.
* **Open invoices**, read for the day graded (:func:`overdue_on`): an invoice
  issued by that day, whose due day is in the window and before that day, and
  not paid in full by then is overdue by the days elapsed, so the grade of a
  later day sees it later still. A payment settles what it pays of its
  invoice; paying more than is owed settles it, nothing more.
"""

from __future__ import annotations

from typing import Any

from tierstream.schemas.events import InvoiceEvent, PaymentEvent
from tierstream.scorers.layout import C_DAYS_LATE, C_INVOICES, C_LATE, C_LATE_CENT_DAYS, C_PAID, C_PAYMENTS
from tierstream.scorers.messages import Code, code, render, render_all
from tierstream.scorers.state import EntityState

__all__ = [
    "CREDIT_METRICS",
    "LATENESS_METRICS",
    "LATE_DAYS_CAP",
    "NO_OVERDUE",
    "Overdue",
    "delay_note_codes",
    "delay_notes",
    "next_credit_review",
    "overdue_on",
    "owing_after",
    "record_invoice",
    "record_payment",
]

#: the metrics that grow while an invoice stays overdue (their reviews are daily), and every credit metric
LATENESS_METRICS = frozenset({"weighted_days_late", "longest_overdue_days"})
CREDIT_METRICS = LATENESS_METRICS | {"on_time_payment_ratio", "overdue_amount", "late_payments", "avg_days_late"}
#: days late counted at most in the amount-weighted lateness (keeps the cent-day sums in 64 bits)
LATE_DAYS_CAP = 3650

# record fields
_KEY, _DAY, _ISSUED, _DUE, _AMOUNT, _PAYMENTS, _CLOSED = range(7)
_NEVER_OPEN = -(10**9)  # ``closed`` of a record that never owes anything (no invoice event, or nothing due)

#: (overdue invoices, overdue cents outstanding, outstanding cents x days late, longest days overdue)
Overdue = tuple[int, int, int, int]
NO_OVERDUE: Overdue = (0, 0, 0, 0)


def _due(rec: list[Any]) -> int:
    """The due day lateness counts from: the invoice's, else the earliest its payments name."""
    due: int | None = rec[_DUE]
    if due is not None:
        return due
    return min(int(p[2]) for p in rec[_PAYMENTS])


def _rekey(rec: list[Any]) -> None:
    """Set the record's derived fields: its retention day (the latest day it names) and ``closed``."""
    days = [d for p in rec[_PAYMENTS] for d in (p[0], p[2])]
    if rec[_DAY] is not None:
        days += (rec[_DAY], rec[_DUE])
    rec[_KEY] = max(days)
    amount = rec[_AMOUNT]
    closed: int | None = _NEVER_OPEN if amount is None or amount <= 0 else None
    if closed is None:
        paid = 0
        for p in rec[_PAYMENTS]:  # in day order
            paid += p[1]
            if paid >= amount:
                closed = p[0]
                break
    rec[_CLOSED] = closed


def _payment_key(p: list[Any]) -> tuple[int, int, int, str]:
    return p[0], p[1], p[2], p[3] or ""


def _book(state: EntityState, payments: list[list[Any]], due: int, sign: int) -> None:
    """Add (``sign`` 1) or take back (-1) the payments' evidence in their days' buckets."""
    for day, cents, _, _ in payments:
        late = max(0, day - due)
        state.add(day, C_PAYMENTS, sign)
        state.add(day, C_PAID, sign * cents)
        if late:
            state.add(day, C_LATE, sign)
            state.add(day, C_DAYS_LATE, sign * late)
            state.add(day, C_LATE_CENT_DAYS, sign * cents * min(late, LATE_DAYS_CAP))


def _rebook(state: EntityState, rec: list[Any], old_due: int) -> None:
    """Book the retained payments again if the due day they are late against moved."""
    new_due = _due(rec)
    if new_due == old_due:
        return
    retained = [p for p in rec[_PAYMENTS] if p[0] in state.days]
    _book(state, retained, old_due, -1)
    _book(state, retained, new_due, 1)


def _invalidate_open(state: EntityState, issued: int, due: int) -> None:
    """Forget the end-of-day scores an open invoice changes: from the day after it falls due."""
    first = max(issued, due + 1)
    if state.daily and first <= max(state.daily):
        state.invalidate_from(first)


def record_invoice(state: EntityState, ev: InvoiceEvent, day: int, issued: int, due: int,
                   rate: float = 1.0) -> None:
    """Apply an invoice (its event on ``day``): its amount is owed from ``due`` onwards.

    Two invoice events for one ``invoice_id`` (under different event ids): the
    least of (event day, issued, due, amount) stands, whichever came first.
    """
    amount = round(ev.amount * rate * 100)  # in the rules' base currency
    rec = state.invoices.get(ev.invoice_id)
    if rec is None:
        state.invoices[ev.invoice_id] = rec = [0, day, issued, due, amount, [], None]
        _rekey(rec)
        state.add(day, C_INVOICES, 1)
        _invalidate_open(state, issued, due)
        return
    if rec[_DAY] is not None:
        if (rec[_DAY], rec[_ISSUED], rec[_DUE], rec[_AMOUNT]) <= (day, issued, due, amount):
            return
        _invalidate_open(state, rec[_ISSUED], rec[_DUE])
        if rec[_DAY] in state.days:
            state.add(rec[_DAY], C_INVOICES, -1)
            state.drop_if_empty(rec[_DAY])
    old_due = _due(rec)
    rec[_DAY], rec[_ISSUED], rec[_DUE], rec[_AMOUNT] = day, issued, due, amount
    _rekey(rec)
    state.add(day, C_INVOICES, 1)
    _rebook(state, rec, old_due)
    _invalidate_open(state, issued, due)


def record_payment(state: EntityState, ev: PaymentEvent, day: int, own_due: int, rate: float = 1.0) -> None:
    """Apply a payment made on ``day`` (``own_due``: the day of its ``due_at``)."""
    entry: list[Any] = [day, round(ev.amount * rate * 100), own_due, ev.delay_reason]
    rec = state.invoices.get(ev.invoice_id)
    if rec is None:
        state.invoices[ev.invoice_id] = [max(day, own_due), None, None, None, None, [entry], _NEVER_OPEN]
        _book(state, [entry], own_due, 1)
        return
    old_due = _due(rec) if rec[_PAYMENTS] else None
    payments: list[list[Any]] = rec[_PAYMENTS]
    payments.append(entry)
    payments.sort(key=_payment_key)  # the same list whatever the arrival order
    _rekey(rec)
    new_due = _due(rec)
    if old_due is not None and new_due != old_due:  # an earlier due day than the others named
        others = [p for p in payments if p is not entry and p[0] in state.days]
        _book(state, others, old_due, -1)
        _book(state, others, new_due, 1)
    _book(state, [entry], new_due, 1)


def _outstanding(rec: list[Any], day: int) -> int:
    """Cents of an invoice still owed at the end of ``day``."""
    paid = 0
    for p in rec[_PAYMENTS]:
        if p[0] > day:
            break  # sorted by day
        paid += p[1]
    return int(rec[_AMOUNT]) - paid


def owing_after(state: EntityState, day: int) -> bool:
    """Whether an invoice may be overdue and unpaid on some day after ``day`` (scores then move on quiet days).

    Such an invoice makes the end-of-day score move with the calendar in ways that
    are not monotone (its lateness grows, and its dimensions gain evidence), so the
    hysteresis tracks score every day of such a stretch (:mod:`scorers.hold`).
    """
    for rec in state.invoices.values():
        closed = rec[_CLOSED]
        if closed is None or closed > day:
            return True
    return False


def overdue_on(state: EntityState, day: int, window_days: int) -> Overdue:
    """The invoices overdue and unpaid at the end of ``day``, due in the window ending that day."""
    invoices = state.invoices
    if not invoices:
        return NO_OVERDUE
    first = day - window_days + 1
    count = cents = cent_days = longest = 0
    for rec in invoices.values():
        closed = rec[_CLOSED]
        if closed is not None and closed <= day:
            continue
        due = rec[_DUE]
        if due >= day or due < first or rec[_ISSUED] > day:
            continue
        owed = _outstanding(rec, day)
        if owed <= 0:
            continue
        late = day - due
        count += 1
        cents += owed
        cent_days += owed * min(late, LATE_DAYS_CAP)
        longest = max(longest, late)
    return count, cents, cent_days, longest


def next_credit_review(state: EntityState, day: int, window_days: int) -> tuple[int | None, bool]:
    """When an open invoice next moves the credit metrics, other than by ageing: (day or ``None``, overdue).

    The day is the next on which an open invoice falls due (the day after its
    due day) or, overdue, leaves the window; ``overdue`` says whether one is
    overdue now, and so one day later every day (the caller knows whether that
    can still move the tier).
    """
    first = day - window_days + 1
    best: int | None = None
    overdue = False
    for rec in state.invoices.values():
        closed = rec[_CLOSED]
        if closed is not None and closed <= day:
            continue
        due = rec[_DUE]
        if due < first:
            continue
        if rec[_ISSUED] > day:
            nxt = max(rec[_ISSUED], due + 1)
        elif due >= day:
            nxt = due + 1
        else:
            overdue = True
            nxt = due + window_days
        if best is None or nxt < best:
            best = nxt
    return best, overdue


def delay_notes(state: EntityState, day: int, window_days: int, limit: int = 3) -> list[str]:
    """Why the customer paid late, in words: unpaid overdue invoices first, then stated delay reasons."""
    return render_all(delay_note_codes(state, day, window_days, limit))


def delay_note_codes(state: EntityState, day: int, window_days: int, limit: int = 3) -> list[Code]:
    """Why the customer paid late, as messages (see :func:`delay_notes`)."""
    first = day - window_days + 1
    unpaid: list[tuple[int, str, Code]] = []
    stated: list[tuple[int, str, Code]] = []
    for invoice_id, rec in state.invoices.items():
        due = rec[_DUE]
        if due is not None and first <= due < day and rec[_ISSUED] <= day:
            owed = _outstanding(rec, day)
            if owed > 0:
                unpaid.append((day - due, invoice_id, code("credit.unpaid", invoice=invoice_id, days=day - due,
                                                           owed=owed / 100)))
        pay_due = _due(rec)
        for paid_day, _, _, reason in rec[_PAYMENTS]:
            late = paid_day - pay_due
            if reason and late > 0 and first <= paid_day <= day:
                stated.append((paid_day, f"{invoice_id} paid {late} days late: {reason}",
                               code("credit.paid_late", invoice=invoice_id, days=late, reason=reason)))
    unpaid.sort(key=lambda x: (-x[0], render(x[2])))  # ties: in the order of their words, as always
    stated.sort(key=lambda x: (-x[0], x[1]))
    return [note for _, _, note in (unpaid + stated)[:limit]]
