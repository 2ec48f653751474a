"""Per-entity state: day buckets over the rolling window, kept small and exact.

Design (it lives in a Faust table, one value per entity, rewritten per batch):

* **Day buckets in event time.** ``days[day]`` is a short vector of integer
  counters for that day (a calendar day of the rules' time zone, see
  ``scorers.calendar``); an out-of-order event lands in its own day. Only
  days with activity are kept. ``totals`` is the sum of the buckets inside the
  window (``window_start`` onwards); a day leaving the window is subtracted,
  so window totals are a subtraction, not a scan. Buckets are retained
  ``lookback`` days longer than the window: hysteresis looks at the end-of-day
  scores of recent days, and those need their own full windows.
* **End-of-day score cache.** ``daily[day]`` caches the score at the end of
  the past days hysteresis had to look at; ``hold`` is what each tier
  remembers of every calendar day of the lookback (see ``scorers/hold.py``).
  A late event invalidates both from its own day onwards; they are rebuilt
  from the buckets, so the tier stays a function of the set of events, never
  of their arrival order.
* **Integers only.** Money in cents, response times in minutes: sums are exact
  and independent of the order events arrive in, so any permutation of the
  same events yields bit-identical totals.
* **Deduplication next to the state it guards.** ``seen`` maps a 64-bit hash
  of each applied event_id to its day. It expires with the window: an
  event_id is deduplicated for as long as its day is inside the window; an
  event older than the window is refused as too old anyway, so a duplicate can
  never count twice.
* **Order reversals, once.** ``orders`` remembers each order in the retention
  (day, status, contribution, time, group, what was returned of it) so a
  cancellation or return subtracts exactly what the order added, once,
  whichever arrives first (``scorers/ledger.py``). An order older than the
  retention is final: its lasting facts (first and last order time, group)
  move to ``settled_*``; the current facts are the settled ones combined with
  those of the orders still retained, so memory stays bounded by the
  retention.
* **Service tickets** are remembered the same way (``tickets``), so a ticket
  recorded open and later answered counts once, as answered, in any order
  (``scorers/supply.py``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from tierstream.scorers.layout import CUSTOMER_FIELDS, NEVER, O_AT, O_GROUP, ORDER_ACTIVE, SUPPLIER_FIELDS
from tierstream.scorers.profile import Profile

__all__ = ["EntityState", "Manual", "event_hash"]

_DAILY_SLACK = 7  # days an unused end-of-day score may be carried before the cache is pruned


def _day_of_id(item: tuple[Any, int]) -> int:
    return item[1]


def _day_of_order(item: tuple[Any, list[Any]]) -> int:
    day: int = item[1][0]
    return day


def _leaving(records: dict[Any, Any], first_day: int) -> list[Any]:
    """The keys of the records (in day order, day first) of days before ``first_day``."""
    out = []
    for k, rec in records.items():
        if rec[0] >= first_day:
            break
        out.append(k)
    return out


def event_hash(event_id: str) -> int:
    """Stable 63-bit hash of an event id (Python's ``hash`` is salted per process)."""
    digest = hashlib.blake2b(event_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


@dataclass(slots=True)
class Manual:
    """An active manual assessment: a prospect score or a tier override."""

    value: float | str  # prospect score (customers) or tier name
    expires: int
    at: int
    reason: str
    author: str
    event_id: str


@dataclass(slots=True)
class EntityState:
    kind: str  # "customer" | "supplier"
    entity_id: str
    clock: int = NEVER  # latest event time applied (epoch s)
    window_start: int = NEVER  # first day counted in totals
    days: dict[int, list[int]] = field(default_factory=dict)
    totals: list[int] = field(default_factory=list)
    daily: dict[int, float] = field(default_factory=dict)
    orders: dict[str, list[Any]] = field(default_factory=dict)
    seen: dict[int, int] = field(default_factory=dict)
    first_order: int | None = None
    last_order: int | None = None
    group: str | None = None
    group_at: int = NEVER
    prospect: Manual | None = None
    override: Manual | None = None
    referred_by: str | None = None
    referred_at: int = 0
    credited: tuple[str, int] | None = None  # (referrer, credit time) granted so far
    published_tier: str | None = None
    published_score: float | None = None
    published_components: dict[str, float] = field(default_factory=dict)
    seq: int = 0  # number of tier changes emitted: makes change ids deterministic
    next_review: int | None = None  # when time alone may move the tier: the timer's index
    rules_tag: str = ""  # the rules the cached end-of-day scores were computed under
    #: invoice_id -> [retention day, issued day, due day, amount cents, payments]: see scorers/credit.py
    invoices: dict[str, list[Any]] = field(default_factory=dict)
    #: ``[day, group, tracks]``: the tiers' hysteresis tracks (``scorers.hold``), for the tiers of
    #: ``group``, none past ``day``; a cache, rebuilt from the buckets when missing
    hold: list[Any] | None = None
    #: messages this state produced that are not yet known to be on the broker:
    #: (topic, key, value), written with the state they explain (see ``streams.worker.processor``)
    outbox: list[tuple[str, bytes, bytes]] = field(default_factory=list)
    #: the worker round ``(epoch, number)`` that wrote the outbox (``streams.worker.rounds``)
    outbox_round: tuple[str, int] | None = None
    #: the lasting facts of orders that left the retention (final: no retraction reaches them)
    settled_first: int | None = None
    settled_last: int | None = None
    settled_group: str | None = None
    settled_group_at: int = NEVER
    credits_issued: int = 0  # referral credits this customer caused: numbers their ids
    tickets: dict[str, list[int]] = field(default_factory=dict)
    #: (dimension, author) -> that author's assessments of a qualitative dimension, by (at, event_id):
    #: the latest up to an instant is the author's then (``scorers/assessed.py``)
    assessed: dict[tuple[str, str], list[Manual]] = field(default_factory=dict)
    profile: Profile | None = None  # the latest profile (``scorers/profile.py``): a lasting fact
    #: early warnings sent (``scorers/notices.py``): how many of each kind (numbers their ids), the
    #: condition each notice slot announced and still holds, when the last ``approaching`` went out
    notice_counts: dict[str, int] = field(default_factory=dict)
    announced: dict[str, str] = field(default_factory=dict)
    approached_at: int | None = None
    #: rectification cases (``scorers/cases.py``): how many were opened (numbers their ids), and the
    #: open one's ``[opened at, deadline]``
    cases_opened: int = 0
    case_open: list[int] | None = None
    oldest: int | None = None  # cache of min(days): not serialized, derived
    oldest_id: int | None = None  # cache of the oldest day in ``seen`` and ``orders``: derived
    #: ``seen`` and ``orders`` are each in day order, so what leaves the retention is at their
    #: front (see ``expire_before``): derived, not serialized
    ids_in_day_order: bool = field(default=False, compare=False)
    #: the retention start last applied: not serialized, and not part of what a state *is*
    expired_before: int | None = field(default=None, compare=False)
    #: (rules tag, instant, score) of the last grade of the state as it is now: the end-of-day
    #: score of that day, usually, without computing it again (see ``Grader._end_of_day``)
    graded: tuple[str, int, float] | None = field(default=None, compare=False)
    #: the latest day in ``daily`` (or later): an event on it or before invalidates: derived
    daily_max: int | None = field(default=None, compare=False)
    #: the day of ``clock`` in the rules' time zone, set by the engine as it moves the clock
    #: (``None``: not known, e.g. a state just read back): derived, not serialized
    clock_day: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.totals:
            self.totals = [0] * (CUSTOMER_FIELDS if self.kind == "customer" else SUPPLIER_FIELDS)
        if self.days:
            self.days = dict(sorted(self.days.items()))  # kept in day order: see bucket()
        if self.oldest is None and self.days:
            self.oldest = min(self.days)
        if self.oldest_id is None:
            self.oldest_id = self._oldest_id()
        if self.daily_max is None and self.daily:
            self.daily_max = max(self.daily)
        if not self.seen and not self.orders and not self.tickets:
            self.ids_in_day_order = True

    def _oldest_id(self) -> int | None:
        return min([*self.seen.values(), *(o[0] for o in self.orders.values()),
                    *(k[0] for k in self.tickets.values())], default=None)

    def remember(self, h: int, day: int) -> None:
        """Mark event hash ``h`` as applied, kept until ``day`` leaves the retention."""
        seen = self.seen
        if seen and day < next(reversed(seen.values())):
            self.ids_in_day_order = False  # a late event: sorted again at the next expiry
        seen[h] = day
        if self.oldest_id is None or day < self.oldest_id:
            self.oldest_id = day

    def record_order(self, order_id: str, rec: list[Any]) -> None:
        """Remember an order record (day first) until its day leaves the retention."""
        orders = self.orders
        if orders and rec[0] < next(reversed(orders.values()))[0]:
            self.ids_in_day_order = False
        orders[order_id] = rec
        self._retain(rec[0])

    def record_ticket(self, ticket_id: str, rec: list[int]) -> None:
        """Remember a service ticket (``[day, status, opening minute]``) until its day leaves the retention."""
        tickets = self.tickets
        if tickets and rec[0] < next(reversed(tickets.values()))[0]:
            self.ids_in_day_order = False
        tickets[ticket_id] = rec
        self._retain(rec[0])

    def redate(self, rec: list[Any], day: int) -> None:
        """Move a remembered record (an order or ticket) to ``day``."""
        if day != rec[0]:
            rec[0] = day
            self.ids_in_day_order = False
            self._retain(day)

    def _retain(self, day: int) -> None:
        if self.oldest_id is None or day < self.oldest_id:
            self.oldest_id = day

    def settle(self, at: int, group: str | None) -> None:
        """Fold an order's facts into the settled ones: it can no longer be retracted."""
        if self.settled_first is None or at < self.settled_first:
            self.settled_first = at
        if self.settled_last is None or at > self.settled_last:
            self.settled_last = at
        if group is not None and (at, group) >= (self.settled_group_at, self.settled_group or ""):
            self.settled_group, self.settled_group_at = group, at

    @property
    def width(self) -> int:
        return len(self.totals)

    def bucket(self, day: int) -> list[int]:
        """The counters of ``day``, created if need be.

        ``days`` is kept in ascending day order, so the scans that want a range of
        days (the lookback, what leaves the window) stop at its edge. Events mostly
        come in time order; a late one re-sorts the few days retained.
        """
        days = self.days
        b = days.get(day)
        if b is None:
            late = bool(days) and day < next(reversed(days))
            b = days[day] = [0] * self.width
            if late:
                self.days = dict(sorted(days.items()))
            if self.oldest is None or day < self.oldest:
                self.oldest = day
        return b

    def add(self, day: int, idx: int, amount: int) -> None:
        self.bucket(day)[idx] += amount
        if day >= self.window_start:
            self.totals[idx] += amount
        dm = self.daily_max
        if dm is not None and day <= dm:
            self.invalidate_from(day)
        hold = self.hold
        if hold is not None and day < hold[0]:
            self.hold = None

    def is_empty(self) -> bool:
        """Nothing retained: no day with activity and no manual assessment of any kind.

        Snapshots leave such entities out, whatever left them empty (all their
        days expired, or a revoked referral credit), so an entity's presence
        does not depend on the order its events arrived in.
        """
        return not self.days and self.prospect is None and self.override is None and not self.assessed

    def drop_if_empty(self, day: int) -> None:
        """Forget a day whose counters all went back to zero (a reversed order): no activity."""
        b = self.days.get(day)
        if b is not None and not any(b):
            del self.days[day]
            self.daily.pop(day, None)
            if self.oldest == day:
                self.oldest = min(self.days) if self.days else None

    def forget_daily_before(self, day: int) -> None:
        """Drop cached end-of-day scores before ``day``: no later grade looks that far back.

        Checked on the first entry only (days are mostly cached in day order), and
        only once it is a week stale, so the dict is rebuilt about once a week, not
        every day: a stale entry is never read, only carried a little longer.
        """
        daily = self.daily
        if daily and next(iter(daily)) < day - _DAILY_SLACK:
            self.daily = {d: v for d, v in daily.items() if d >= day}

    def cache_score(self, day: int, score: float) -> None:
        """Remember the end-of-day score of ``day`` (until an event on that day or before)."""
        self.daily[day] = score
        if self.daily_max is None or day > self.daily_max:
            self.daily_max = day

    def invalidate_from(self, day: int) -> None:
        """Forget cached end-of-day scores of ``day`` and later (a late event changed them)."""
        self.daily = {d: v for d, v in self.daily.items() if d < day}
        self.daily_max = max(self.daily) if self.daily else None
        if self.hold is not None and day < self.hold[0]:
            self.hold = None

    def forget_scores(self) -> None:
        """Forget every cached end-of-day score (the rules, or a prospect score, changed them)."""
        self.daily.clear()
        self.daily_max = None
        self.hold = None

    def slide_window(self, first_day: int) -> None:
        """Move the window start forward to ``first_day``: leaving days stop counting in totals."""
        if first_day <= self.window_start:
            return
        if self.oldest is not None and self.oldest < first_day:
            for d, b in self.days.items():
                if d >= first_day:
                    break  # in day order
                if d >= self.window_start:
                    for i, v in enumerate(b):
                        self.totals[i] -= v
        self.window_start = first_day

    def expire_before(self, first_day: int) -> None:
        """Drop everything retained from days before ``first_day`` (the retention start).

        O(1) unless something actually leaves (``oldest`` and ``oldest_id`` are cached),
        and nothing at all when the retention start has not moved: nothing older than it
        is ever added (the engine refuses such events as too old).
        """
        if self.expired_before is not None and first_day <= self.expired_before:
            return
        self.expired_before = first_day
        self.forget_daily_before(first_day)
        invoices = self.invoices
        if invoices and any(v[0] < first_day for v in invoices.values()):
            self.invoices = {k: v for k, v in invoices.items() if v[0] >= first_day}
        if self.oldest_id is not None and self.oldest_id < first_day:
            # event ids and orders, also those of events that left no day bucket (a
            # referral, a reversal that came before its order)
            self._expire_ids_before(first_day)
        if self.oldest is None or self.oldest >= first_day:
            return
        leaving = []
        for d in self.days:
            if d >= first_day:
                break  # in day order
            leaving.append(d)
        for d in leaving:
            del self.days[d]
        self.oldest = min(self.days) if self.days else None

    def _expire_ids_before(self, first_day: int) -> None:
        """Forget the event ids, orders and tickets of days before ``first_day``.

        The dicts are kept in day order while events come in time order, so the ones
        leaving are a few at the front; a late event (or a state just read back, whose
        dicts are in hash order) costs one sort, at its next expiry. A sale still
        counted as it leaves settles its lasting facts (see :meth:`settle`).
        """
        if not self.ids_in_day_order:
            self.seen = dict(sorted(self.seen.items(), key=_day_of_id))
            self.orders = dict(sorted(self.orders.items(), key=_day_of_order))
            self.tickets = dict(sorted(self.tickets.items(), key=_day_of_order))
            self.ids_in_day_order = True
        seen = self.seen
        leaving: list[Any] = []
        for h, d in seen.items():
            if d >= first_day:
                break
            leaving.append(h)
        for h in leaving:
            del seen[h]
        sales = self.kind == "customer"
        for k in _leaving(self.orders, first_day):
            rec = self.orders.pop(k)
            if sales and rec[1] == ORDER_ACTIVE and rec[O_AT] is not None:
                self.settle(rec[O_AT], rec[O_GROUP])
        for k in _leaving(self.tickets, first_day):
            del self.tickets[k]
        # in day order, the oldest of each is its first
        firsts = [next(iter(seen.values()), None)]
        firsts += [next(iter(r.values()))[0] for r in (self.orders, self.tickets) if r]
        self.oldest_id = min((d for d in firsts if d is not None), default=None)

    # --- serialization (``scorers/codec.py``) -------------------------------

    def to_bytes(self) -> bytes:
        """The state as compact, deterministic JSON (see ``scorers/codec.py``)."""
        from tierstream.scorers.codec import encode

        return encode(self)

    @staticmethod
    def next_review_of(data: bytes) -> int | None:
        """The ``next_review`` of a serialized state, without building the state (the timer's index)."""
        from tierstream.scorers.codec import next_review_of

        return next_review_of(data)

    @classmethod
    def from_bytes(cls, data: bytes) -> EntityState:
        """Read a state written by :meth:`to_bytes`, of this or an older layout."""
        from tierstream.scorers.codec import decode

        return decode(data)
