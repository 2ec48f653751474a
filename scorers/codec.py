"""Serialized entity states: compact, deterministic JSON, and every older layout read back.

A state is one JSON list (``orjson``, sorted keys). Fields added after format 3
was defined are appended at its end, so an older state is simply a shorter
list: what it lacks is derived on reading (:func:`decode`), never guessed
silently.

* ``invoices`` (index 24): a customer's invoices in the retention
  (``scorers/credit.py``). Before it: none.
* ``settled`` (index 25): the lasting facts of the orders that can no longer be
  retracted. A state written before it has every fact it knows settled: its
  orders' facts were never retractable.
* ``credits_issued`` (index 26): referral credits this customer caused so far
  (their ids are numbered). Before it: one if a credit was standing.
* ``tickets`` (index 27): the service tickets in the retention. Before it: none.
* ``hold`` (index 28): the tiers' hysteresis tracks (``scorers/hold.py``), a cache:
  rebuilt from the buckets when missing.
* ``assessed`` (index 29): the assessments of qualitative dimensions
  (``scorers/assessed.py``), one ``[dimension, score, expires, at, reason, author,
  event_id]`` each. Before it: none.
* ``profile`` (index 30): the entity's latest profile (``scorers/profile.py``). Before it: none.
* ``notices`` (index 31): the early warnings sent (``scorers/notices.py``): counts per
  kind, the conditions announced, the last ``approaching`` instant. Before it: none sent.
* ``cases`` (index 32): the rectification cases (``scorers/cases.py``): how many were
  opened, the open one. Before it: none.

Order records and day buckets grew too, at their ends (see
``scorers/state.py``): shorter ones are widened on reading. A customer day
written before the profit-evidence fields counts every order as costed (it
then counted every order's profit, zero without a cost), so it grades as it
did; a customer day written before the credit fields (invoices, paid cents,
late cent-days) had them zero; a supplier day written before ``qty_off`` existed gets
``max(0, ordered - delivered)``, exact unless that day had an over-delivery.
"""

from __future__ import annotations

from typing import Any

import orjson

from tierstream.scorers.layout import (
    C_ORDERS,
    C_REVENUE,
    CUSTOMER_FIELDS,
    CUSTOMER_ORDER_FIELDS,
    O_AT,
    S_QTY_DELIVERED,
    S_QTY_OFF,
    S_QTY_ORDERED,
    SUPPLIER_FIELDS,
)
from tierstream.scorers.profile import Profile
from tierstream.scorers.state import EntityState, Manual

__all__ = ["decode", "encode", "next_review_of"]

_FORMATS = (2, 3)  # serialized state formats read (2: before the outbox)
_NEXT_REVIEW = 21  # index of next_review in the serialized list (both formats)
_OUTBOX, _INVOICES, _SETTLED, _CREDITS_ISSUED, _TICKETS, _HOLD, _ASSESSED, _PROFILE = (
    23, 24, 25, 26, 27, 28, 29, 30)
_NOTICES, _CASES, _OUTBOX_ROUND = 31, 32, 33
#: customer buckets written before the profit-evidence fields (costed orders and revenue)
_OLD_CUSTOMER_FIELDS = 8


def _manual_doc(m: Manual | None) -> list[Any] | None:
    return None if m is None else [m.value, m.expires, m.at, m.reason, m.author, m.event_id]


def _notices_doc(s: EntityState) -> list[Any] | None:
    if not s.notice_counts and not s.announced and s.approached_at is None:
        return None
    return [sorted(s.notice_counts.items()), sorted(s.announced.items()), s.approached_at]


def encode(s: EntityState) -> bytes:
    """The state as one JSON list (format 3, with the appended fields), in bytes of its own size.

    orjson (from 3.12) returns its whole write buffer, several KiB, whatever the length of
    the JSON in it, and never trims it. The table keeps one state per entity for as long as
    the worker runs, so the bytes are copied into an object of their exact size.
    """
    doc = [
        3,
        s.kind,
        s.entity_id,
        s.clock,
        sorted([day, *b] for day, b in s.days.items()),
        s.totals,
        s.window_start,
        sorted(s.daily.items()),
        sorted([k, *v] for k, v in s.orders.items()),
        sorted(s.seen.items()),
        s.first_order,
        s.last_order,
        s.group,
        s.group_at,
        _manual_doc(s.prospect),
        _manual_doc(s.override),
        s.referred_by,
        s.referred_at,
        list(s.credited) if s.credited else None,
        [s.published_tier, s.published_score, s.published_components],
        s.seq,
        s.next_review,
        s.rules_tag,
        [[t, k.decode(), v.decode()] for t, k, v in s.outbox] if s.outbox else None,
        sorted([k, *v] for k, v in s.invoices.items()),
        [s.settled_first, s.settled_last, s.settled_group, s.settled_group_at],
        s.credits_issued,
        sorted([k, *v] for k, v in s.tickets.items()),
        s.hold,
        sorted([dimension, m.value, m.expires, m.at, m.reason, m.author, m.event_id]
               for (dimension, _), ms in s.assessed.items() for m in ms),
        None if s.profile is None else s.profile.to_doc(),
        _notices_doc(s),
        [s.cases_opened, s.case_open] if s.cases_opened else None,
        list(s.outbox_round) if s.outbox and s.outbox_round is not None else None,
    ]
    return bytes(memoryview(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)))


def next_review_of(data: bytes) -> int | None:
    """The ``next_review`` of a serialized state, without building the state (the timer's index)."""
    doc = orjson.loads(data)
    if doc[0] not in _FORMATS:
        raise ValueError(f"unknown entity state format {doc[0]!r}")
    next_review: int | None = doc[_NEXT_REVIEW]
    return next_review


def _widen_customer(
    days: dict[int, list[int]], totals: list[int], orders: dict[str, list[Any]]
) -> tuple[dict[int, list[int]], list[int], dict[str, list[Any]]]:
    """Add the profit-evidence fields to customer buckets written before they existed.

    Such a state counted every order's profit (zero without a cost), so its orders
    are read as costed: it grades as it did until they leave the window.
    """
    def wide(b: list[int]) -> list[int]:
        return [*b, b[C_ORDERS], b[C_REVENUE]]

    return ({d: wide(b) for d, b in days.items()}, wide(totals),
            {k: [*o, o[2], o[3]] if len(o) == 5 else o for k, o in orders.items()})  # [day, status, o, r, p]


def _customer_order(rec: list[Any]) -> list[Any]:
    """An order record of any layout, in today's (older records lack the retraction fields)."""
    if len(rec) >= CUSTOMER_ORDER_FIELDS:
        return rec
    full: list[Any] = [rec[0], rec[1], 0, 0, 0, 0, 0, None, 0, 0, 0, None]
    full[2:min(len(rec), O_AT)] = rec[2:O_AT]
    return full


def _supplier_day(row: list[int]) -> list[int]:
    """A supplier day bucket of any layout, in today's."""
    if len(row) >= SUPPLIER_FIELDS:
        return row
    row = row + [0] * (SUPPLIER_FIELDS - len(row))
    row[S_QTY_OFF] = max(0, row[S_QTY_ORDERED] - row[S_QTY_DELIVERED])
    return row


def decode(data: bytes) -> EntityState:
    """Read a state of any format and layout written so far."""
    doc = orjson.loads(data)
    if doc[0] not in _FORMATS:
        raise ValueError(f"unknown entity state format {doc[0]!r}")
    if len(doc) == _OUTBOX:  # format 2: written before the outbox existed
        doc.append(None)

    def manual(m: list[Any] | None) -> Manual | None:
        return None if m is None else Manual(*m)

    (_, kind, entity_id, clock, days, totals, window_start, daily, orders, seen, first_order,
     last_order, group, group_at, prospect, override, referred_by, referred_at, credited,
     pub, seq, next_review, rules_tag, outbox) = doc[:_INVOICES]
    invoices = doc[_INVOICES] if len(doc) > _INVOICES else []
    settled = doc[_SETTLED] if len(doc) > _SETTLED else [first_order, last_order, group, group_at]
    credits_issued = doc[_CREDITS_ISSUED] if len(doc) > _CREDITS_ISSUED else int(credited is not None)
    tickets = doc[_TICKETS] if len(doc) > _TICKETS else []
    hold = doc[_HOLD] if len(doc) > _HOLD else None
    assessed: dict[tuple[str, str], list[Manual]] = {}
    for dimension, *m in doc[_ASSESSED] if len(doc) > _ASSESSED else []:
        assessed.setdefault((dimension, m[4]), []).append(Manual(*m))
    for entries in assessed.values():
        entries.sort(key=lambda e: (e.at, e.event_id))
    profile = Profile.from_doc(doc[_PROFILE]) if len(doc) > _PROFILE else None
    notices = doc[_NOTICES] if len(doc) > _NOTICES and doc[_NOTICES] is not None else [[], [], None]
    cases: list[Any] = doc[_CASES] if len(doc) > _CASES and doc[_CASES] is not None else [0, None]
    outbox_round = doc[_OUTBOX_ROUND] if len(doc) > _OUTBOX_ROUND and doc[_OUTBOX_ROUND] is not None else None
    day_rows = {row[0]: row[1:] for row in days}
    order_recs = {row[0]: row[1:] for row in orders}
    if kind == "customer":
        if len(totals) == _OLD_CUSTOMER_FIELDS:
            day_rows, totals, order_recs = _widen_customer(day_rows, totals, order_recs)
        if len(totals) < CUSTOMER_FIELDS:  # written before the credit fields: they were zero
            pad = [0] * (CUSTOMER_FIELDS - len(totals))
            day_rows, totals = {d: [*b, *pad] for d, b in day_rows.items()}, [*totals, *pad]
        order_recs = {k: _customer_order(v) for k, v in order_recs.items()}
    elif len(totals) < SUPPLIER_FIELDS:
        day_rows = {d: _supplier_day(b) for d, b in day_rows.items()}
        totals = [0] * SUPPLIER_FIELDS
        for d, b in day_rows.items():
            if d >= window_start:
                totals = [a + v for a, v in zip(totals, b, strict=True)]
    return EntityState(
        kind=kind,
        entity_id=entity_id,
        clock=clock,
        window_start=window_start,
        days=day_rows,
        totals=totals,
        daily={d: v for d, v in daily},
        orders=order_recs,
        seen={h: d for h, d in seen},
        first_order=first_order,
        last_order=last_order,
        group=group,
        group_at=group_at,
        prospect=manual(prospect),
        override=manual(override),
        referred_by=referred_by,
        referred_at=referred_at,
        credited=(credited[0], credited[1]) if credited else None,
        published_tier=pub[0],
        published_score=pub[1],
        published_components=pub[2],
        seq=seq,
        next_review=next_review,
        rules_tag=rules_tag,
        outbox=[(t, k.encode(), v.encode()) for t, k, v in outbox] if outbox else [],
        settled_first=settled[0],
        settled_last=settled[1],
        settled_group=settled[2],
        settled_group_at=settled[3],
        credits_issued=credits_issued,
        tickets={row[0]: row[1:] for row in tickets},
        invoices={row[0]: row[1:] for row in invoices},
        hold=hold,
        assessed=assessed,
        profile=profile,
        notice_counts=dict(notices[0]),
        announced=dict(notices[1]),
        approached_at=notices[2],
        cases_opened=cases[0],
        case_open=cases[1],
        outbox_round=(outbox_round[0], outbox_round[1]) if outbox_round and outbox else None,
    )
