"""The grading engine: ``(state, event) -> (state, outcome)``, shared by the stream and the offline mode.

Semantics, in event time:

* An event is applied to its entity's day buckets and the entity is
  re-evaluated at its *clock*, the latest event time it has seen. A late event
  lands in its own day. An event before the window but inside the hysteresis
  lookback is kept for history only (``history``); older ones are refused
  (``too_old``: counted in no window, though the lasting facts they carry --
  first/last order time, customer group, earliest referral -- are kept, as
  they are when such an event reaches the entity first); one stamped further
  ahead than ``max_future_skew_hours`` of the receiving clock is refused
  (``too_new``); a repeated event_id is a ``duplicate``.
* **The tier is a function of the set of events, not of their order.** It is
  computed from the score now and the end-of-day scores of recent days with
  activity (see :class:`schemas.rules.Hysteresis`), all derived from the day
  buckets. Kafka delivers an entity's orders, payments and referral credits
  through different topics in no fixed interleaving; the result is the same.
* Time alone can move a tier (recency ageing, days leaving the window, a hold
  lapsing, a manual assessment expiring). ``next_review`` is the next instant
  that can happen; ``review(state, at)`` re-evaluates at ``at`` (the stream's
  timer, the offline run's end) and emits a change if the tier moved. Reviews
  only *observe*: they never change what later events do.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Literal, NamedTuple, cast

from tierstream.schemas.events import (
    AnyEvent,
    AssessmentEvent,
    DeliveryEvent,
    EntityType,
    OrderEvent,
    PaymentEvent,
    ReferralEvent,
    ServiceEvent,
    entity_of,
)
from tierstream.schemas.outputs import (
    Direction,
    EntitySnapshot,
    ReferralCredit,
    SupplierAlert,
    TierChange,
    WindowInfo,
)
from tierstream.schemas.rules import CustomerRules, EntityRules, Rules, Tier
from tierstream.scorers.explain import next_tier, reasons
from tierstream.scorers.grading import (
    Composite,
    compile_dims,
    composite,
    held_tier,
    hold_lapses,
    rfm_segment,
    tier_index,
)
from tierstream.scorers.ledger import apply_sale, keep_old_sale
from tierstream.scorers.metrics import (
    Metrics,
    aggregates_of,
    customer_metrics,
    last_order_day,
    supplier_metrics,
    window_totals,
)
from tierstream.scorers.state import (
    C_DAYS_LATE,
    C_LATE,
    C_ORDERS,
    C_PAYMENTS,
    C_REFERRALS,
    DAY,
    ORDER_ACTIVE,
    ORDER_REVERSED,
    ORDER_REVERSED_FIRST,
    S_AMOUNT,
    S_MARKET,
    S_PURCHASES,
    EntityState,
    Manual,
    event_hash,
)
from tierstream.scorers.supply import apply_delivery, apply_ticket, has_open_ticket, service_crossing

Status = Literal["applied", "history", "duplicate", "too_old", "too_new", "invalid"]
REREVIEW = "re-review"
KEEP_FOREVER = 10**9  # a "day" no retention start reaches: dedup entries that never expire


@dataclass(slots=True)
class Outcome:
    status: Status = "applied"
    detail: str = ""
    changes: list[TierChange] = field(default_factory=list)
    alerts: list[SupplierAlert] = field(default_factory=list)
    credits: list[ReferralCredit] = field(default_factory=list)


class Grade(NamedTuple):
    """An evaluation at one instant: everything a change, a snapshot or the timer needs.

    A tuple: one is built for every event and every review.
    """

    tier: str
    tier_idx: int
    comp: Composite
    metrics: Metrics
    notes: list[str]
    next_review: int | None


def ts(dt: datetime) -> int:
    return int(dt.timestamp())


def iso_day(day: int) -> str:
    return date.fromordinal(day + 719_163).isoformat()  # 719_163 = date(1970, 1, 1).toordinal()


def utc(t: int) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def _cents(x: float) -> int:
    return round(x * 100)


def _active(manual: Manual | None, at: int) -> bool:
    return manual is not None and manual.at <= at < manual.expires


def _credit_id(kind: str, referrer: str, referred: str, at: int, number: int) -> str:
    """A credit's (or its revocation's) id: the first credit keeps the plain form, later ones are numbered."""
    base = f"{kind}:{referrer}:{referred}:{at}"
    return base if number <= 1 else f"{base}:{number}"


def _referral_fact(state: EntityState, ev: ReferralEvent, t: int) -> None:
    """The earliest referral of a customer wins."""
    if state.referred_by is None or (t, ev.referrer_id) < (state.referred_at, state.referred_by):
        state.referred_by, state.referred_at = ev.referrer_id, t


class Grader:
    """Applies events to entity states and grades them under one set of rules."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.max_skew = int(rules.max_future_skew_hours * 3600)
        self._rules: dict[str, EntityRules] = {"customer": rules.customer, "supplier": rules.supplier}
        self._dims = {k: compile_dims(r) for k, r in self._rules.items()}
        self._window = {k: r.window_days for k, r in self._rules.items()}
        self._lookback = {k: r.hysteresis.lookback_days for k, r in self._rules.items()}
        self._scales = {k: {d.name: d.scale for d in dims} for k, dims in self._dims.items()}
        self._newcomer_max_orders = rules.customer.prospect.newcomer_max_orders
        self._recency_dims = tuple(d for d in self._dims["customer"] if d.metric == "recency_days")
        digest = hashlib.blake2b(rules.model_dump_json().encode(), digest_size=6).hexdigest()
        self.tag = f"{rules.version}/{digest}"  # cached end-of-day scores are only valid under these rules

    # --- helpers -------------------------------------------------------------

    def rules_for(self, state: EntityState) -> EntityRules:
        return self._rules[state.kind]

    def tiers_for(self, state: EntityState) -> list[Tier]:
        r = self._rules[state.kind]
        return r.tiers_for(state.group) if isinstance(r, CustomerRules) else r.tiers

    def window_start(self, state: EntityState, now: int) -> int:
        return now // DAY - self._window[state.kind] + 1

    def retention_start(self, state: EntityState, now: int) -> int:
        return self.window_start(state, now) - self._lookback[state.kind]

    # --- events --------------------------------------------------------------

    def apply(
        self, state: EntityState | None, event: AnyEvent, received_at: int | None = None, at: int | None = None
    ) -> tuple[EntityState, Outcome]:
        """Apply one validated event to its entity's state (created when ``None``).

        ``at``: ``ts(event.occurred_at)``, when the caller has it already.
        """
        if state is None:
            kind, eid = entity_of(event)
            state = EntityState(kind, eid)
        out = Outcome()
        t = ts(event.occurred_at) if at is None else at
        if received_at is not None and t > received_at + self.max_skew:
            out.status, out.detail = "too_new", f"occurred_at is more than {self.max_skew // 3600} h ahead"
            return state, out
        h = event_hash(event.event_id)
        if h in state.seen:
            out.status = "duplicate"
            return state, out
        if isinstance(event, AssessmentEvent) and event.tier_override is not None:
            names = [t_.name for t_ in self.tiers_for(state)]
            if event.tier_override not in names:
                out.status = "invalid"
                out.detail = f"tier_override {event.tier_override!r} is not a {state.kind} tier ({', '.join(names)})"
                return state, out
        if isinstance(event, AssessmentEvent):
            # A manual assessment lives until its own expiry, not the window: never "too old".
            if t > state.clock:
                self._admit(state, t, out)
        elif not self._admit(state, t, out):
            if out.status == "too_old":
                self._keep_facts(state, event, t, out)
            return state, out
        state.graded = None  # the body changes what the last grade saw
        # An assessment is never too old, so its id is never forgotten (assessments are few).
        state.remember(h, KEEP_FOREVER if isinstance(event, AssessmentEvent) else t // DAY)
        self._apply_body(state, event, t, out)
        self._settle(state, event.event_id, out)
        return state, out

    def credit(self, state: EntityState | None, credit: ReferralCredit) -> tuple[EntityState, Outcome]:
        """A referred customer bought: the referrer earns one qualified referral, once."""
        if state is None:
            state = EntityState("customer", credit.referrer_id)
        out = Outcome()
        h = event_hash(credit.credit_id)
        if h in state.seen:
            out.status = "duplicate"
            return state, out
        t = ts(credit.occurred_at)
        if not self._admit(state, t, out):
            return state, out
        state.graded = None
        state.remember(h, t // DAY)
        state.add(t // DAY, C_REFERRALS, -1 if credit.revoke else 1)
        state.drop_if_empty(t // DAY)
        self._settle(state, credit.credit_id, out)
        return state, out

    def _admit(self, state: EntityState, t: int, out: Outcome) -> bool:
        """Advance the clock to ``t`` (if later); refuse what is older than the retention."""
        now = max(state.clock, t)
        first = self.retention_start(state, now)
        day = t // DAY
        if day < first:
            out.status = "too_old"
            out.detail = f"day {iso_day(day)} is before the window start {iso_day(self.window_start(state, now))}"
            return False
        if now > state.clock:
            old_day = state.clock // DAY
            if now // DAY > old_day and old_day in state.days and old_day not in state.daily:
                # The day just closed: its end-of-day score is the score of the current totals,
                # which saves recomputing its window from the buckets later.
                state.daily[old_day] = self._end_of_day(state, old_day, state.totals)
            state.graded = None
            if now // DAY > old_day:
                # a grade looks back ``lookback`` days from its own day, never before the clock's
                state.forget_daily_before(now // DAY - self._lookback[state.kind])
            state.clock = now
            state.slide_window(self.window_start(state, now))
            state.expire_before(first)
        if day < state.window_start:
            out.status = "history"
            out.detail = f"day {iso_day(day)} is before the window: kept for hysteresis history only"
        return True

    def _apply_body(self, state: EntityState, ev: AnyEvent, t: int, out: Outcome) -> None:
        day = t // DAY
        if isinstance(ev, OrderEvent):
            if state.kind == "customer":
                apply_sale(state, ev, t)
                self._maybe_credit(state, out)
            else:
                contrib = [(S_PURCHASES, 1)]
                if ev.market_amount is not None:
                    contrib += [(S_AMOUNT, _cents(ev.amount)), (S_MARKET, _cents(ev.market_amount))]
                self._order(state, ev, t, contrib)
        elif isinstance(ev, PaymentEvent):
            late = max(0, day - ts(ev.due_at) // DAY)
            state.add(day, C_PAYMENTS, 1)
            if late:
                state.add(day, C_LATE, 1)
                state.add(day, C_DAYS_LATE, late)
        elif isinstance(ev, DeliveryEvent):
            apply_delivery(state, ev, t, ts(ev.promised_at))
        elif isinstance(ev, ServiceEvent):
            apply_ticket(state, ev, t, None if ev.first_response_at is None else ts(ev.first_response_at))
        elif isinstance(ev, ReferralEvent):
            _referral_fact(state, ev, t)  # a credit already sent moves if need be
            self._maybe_credit(state, out)
        elif isinstance(ev, AssessmentEvent):
            value: float | str = ev.prospect_score if ev.prospect_score is not None else str(ev.tier_override)
            manual = Manual(value, ts(ev.expires_at), t, ev.reason, ev.author, ev.event_id)
            slot = "prospect" if ev.prospect_score is not None else "override"
            current: Manual | None = getattr(state, slot)
            if current is None or (t, ev.event_id) > (current.at, current.event_id):
                setattr(state, slot, manual)
                state.daily.clear()  # past end-of-day scores may include a prospect score

    def _keep_facts(self, state: EntityState, ev: AnyEvent, t: int, out: Outcome) -> None:
        """A too-old event counts in no window, but the lasting facts it carries are kept.

        First and last order time, the customer group and the earliest referral outlive
        the retention when their event came in time. Keeping them from a late event too
        makes them independent of arrival order: the stream reads orders, payments and
        referrals from different topics, so an old order can reach an entity before or
        after its newer events. All of it is min/max/earliest, so a redelivery changes
        nothing (the event's id is not remembered: its day is past the retention).
        """
        if state.kind != "customer" or not isinstance(ev, OrderEvent | ReferralEvent):
            return
        before = (state.first_order, state.last_order, state.group, state.group_at,
                  state.referred_by, state.referred_at)
        state.graded = None
        if isinstance(ev, OrderEvent):
            keep_old_sale(state, ev, t)
        else:
            _referral_fact(state, ev, t)
        if before != (state.first_order, state.last_order, state.group, state.group_at,
                      state.referred_by, state.referred_at):
            self._maybe_credit(state, out)
            self._settle(state, ev.event_id, out)

    def _order(self, state: EntityState, ev: OrderEvent, t: int, contrib: list[tuple[int, int]]) -> None:
        """Count a placed order once; reverse it once on cancel/return, whichever comes first."""
        day = t // DAY
        rec = state.orders.get(ev.order_id)
        if ev.status == "placed":
            if rec is None:
                state.record_order(ev.order_id, [day, ORDER_ACTIVE, *[v for _, v in contrib]])
                for idx, v in contrib:
                    state.add(day, idx, v)
            elif rec[1] == ORDER_REVERSED_FIRST:
                rec[1] = ORDER_REVERSED  # its reversal already arrived: it never counts
            return
        if rec is None:
            state.record_order(ev.order_id, [day, ORDER_REVERSED_FIRST])
        elif rec[1] == ORDER_ACTIVE:
            rec[1] = ORDER_REVERSED
            if rec[0] in state.days:
                for (idx, _), v in zip(contrib, rec[2:], strict=False):
                    state.add(rec[0], idx, -v)
                state.drop_if_empty(rec[0])

    def _maybe_credit(self, state: EntityState, out: Outcome) -> None:
        """Grant the credit the events so far call for; revoke a previous one it replaces or that lapsed.

        Due: the earliest referral, at max(referral time, first order time), the
        first order being one still counted (a cancelled or returned order never
        was). With ``referral_requires_new_customer``, nothing is due when the
        customer had an order before the referral ("old brings new"). A late earlier
        referral or order, or a retraction, changes what is due: the old credit is
        revoked and the new one (if any) granted, so the referrer's count ends the
        same in any order, and a place-and-cancel earns nothing for good.
        """
        if state.referred_by is None:
            return
        rules = self.rules.customer
        first = state.first_order
        due: tuple[str, int] | None = (state.referred_by, state.referred_at)
        if rules.referral_requires_new_customer and first is not None and first < state.referred_at:
            due = None
        elif rules.referral_requires_order:
            due = None if first is None else (state.referred_by, max(state.referred_at, first))
        if state.credited == due:
            return
        if state.credited is not None:
            old, old_at = state.credited
            out.credits.append(ReferralCredit.model_construct(
                credit_id=_credit_id("rv", old, state.entity_id, old_at, state.credits_issued), referrer_id=old,
                referred_id=state.entity_id, occurred_at=utc(old_at), revoke=True,
            ))
        state.credited = due
        if due is not None:
            state.credits_issued += 1
            out.credits.append(ReferralCredit.model_construct(
                credit_id=_credit_id("rc", due[0], state.entity_id, due[1], state.credits_issued),
                referrer_id=due[0], referred_id=state.entity_id, occurred_at=utc(due[1]),
            ))

    # --- grading -------------------------------------------------------------

    def _score(self, state: EntityState, totals: list[int], day: int, instant: int) -> tuple[Composite, Metrics, bool]:
        """Composite score from window ``totals`` ending on ``day``; a newcomer's prospect score wins."""
        if state.kind == "customer":
            m = customer_metrics(totals, day, last_order_day(state, day))
            comp = composite(self._dims["customer"], m)
            p = state.prospect
            if p is not None and p.at <= instant < p.expires and totals[C_ORDERS] <= self._newcomer_max_orders:
                score = float(p.value)
                return Composite(score, {**comp.components, "prospect": score}, comp.weight_total), m, True
            return comp, m, False
        m = supplier_metrics(totals, instant // 60)
        return composite(self._dims["supplier"], m), m, False

    def _past(self, state: EntityState, today: int) -> list[tuple[int, float]]:
        """End-of-day scores of the days with activity in the lookback, newest first (cached)."""
        first = today - self._lookback[state.kind]
        daily = state.daily
        out: list[tuple[int, float]] = []
        for d in reversed(state.days):  # newest first (``days`` is in day order)
            if d >= today:
                continue
            if d < first:
                break
            s = daily.get(d)
            if s is None:
                s = daily[d] = self._end_of_day(state, d, None)
            out.append((d, s))
        return out

    def _end_of_day(self, state: EntityState, day: int, totals: list[int] | None) -> float:
        """The score at the end of ``day`` (a day with activity, up to the clock's).

        ``totals``: that day's window totals when the caller has them. The last grade
        of the state as it is, if made that day, usually gave the same score: the
        same window, the same recency; only a prospect score starting or ending
        later that day could differ.
        """
        end = (day + 1) * DAY - 1
        g = state.graded
        if (g is not None and g[0] == self.tag and g[1] // DAY == day
                and _active(state.prospect, g[1]) == _active(state.prospect, end)
                and not (state.tickets and has_open_ticket(state))):
            return g[2]
        if totals is None:
            totals = window_totals(state, day, self._window[state.kind])
        comp, _, _ = self._score(state, totals, day, end)
        return comp.score

    def totals_at(self, state: EntityState, now: int) -> list[int]:
        """Window totals as of ``now`` (>= clock) without changing the state."""
        first = self.window_start(state, now)
        if first <= state.window_start or state.oldest is None or state.oldest >= first:
            return state.totals  # nothing between the state's window start and ``first``
        t = state.totals[:]
        for d, b in state.days.items():
            if d >= first:
                break  # in day order
            if d >= state.window_start:
                for i, v in enumerate(b):
                    t[i] -= v
        return t

    def grade(self, state: EntityState, now: int) -> Grade:
        """The tier at instant ``now`` (>= the clock): a pure function of the state."""
        if state.rules_tag != self.tag:
            state.daily.clear()
            state.rules_tag = self.tag
        today = now // DAY
        rules = self._rules[state.kind]
        tiers = self.tiers_for(state)
        comp, m, prospect = self._score(state, self.totals_at(state, now), today, now)
        notes: list[str] = []
        # The past end-of-day scores only matter for a tier better than the score's own.
        past = self._past(state, today) if comp.score < tiers[0].min_score else []
        ov = state.override
        if ov is not None and ov.at <= now < ov.expires:
            idx = tier_index(tiers, str(ov.value))
            held = idx if idx is not None else len(tiers) - 1
            notes.append(f"manual override by {ov.author}: {ov.reason} (until {utc(ov.expires).date()})")
        else:
            held, note = held_tier(tiers, rules.hysteresis, comp.score, today, past)
            if note:
                notes.append(note)
            if ov is not None and ov.expires <= now and ov.expires > now - DAY:
                notes.append("manual override expired")
        if prospect and state.prospect is not None:
            p = state.prospect
            notes.append(f"newcomer graded on the prospect score {float(p.value):g} by {p.author}: {p.reason}")
        nxt = self._next_review(state, now, tiers, held, comp, past)
        state.graded = (self.tag, now, comp.score)  # after the lookback: that may want the last grade's
        return Grade(tiers[held].name, held, comp, m, notes, nxt)

    def _next_review(
        self, state: EntityState, now: int, tiers: list[Tier], held: int, comp: Composite,
        past: list[tuple[int, float]],
    ) -> int | None:
        """The next instant at which time alone may move the tier (for the re-review timer)."""
        rules = self._rules[state.kind]
        nxt: int | None = None
        if comp.score < tiers[held].min_score:
            # A hold matters only while the score is under the held tier's minimum: until then
            # the score moves with time only through recency ageing, a day leaving the window
            # or a manual assessment expiring, each a candidate below, and the review at that
            # instant schedules the hold's lapses. (Without this, most reviews were no-ops.)
            if not past and comp.score >= tiers[0].min_score:
                past = self._past(state, now // DAY)  # an override above the score's own tier
            for d in hold_lapses(tiers, rules.hysteresis, held, comp.score, past):
                c = d * DAY
                if c > now and (nxt is None or c < nxt):
                    nxt = c
        for manual in (state.override, state.prospect):
            if manual is not None and manual.expires > now and (nxt is None or manual.expires < nxt):
                nxt = manual.expires
        first = now // DAY - rules.window_days + 1
        oldest_in_window = state.oldest
        if oldest_in_window is not None and oldest_in_window < first:
            oldest_in_window = None
            for d in state.days:  # in day order
                if d >= first:
                    oldest_in_window = d
                    break
        if oldest_in_window is not None:
            c = (oldest_in_window + rules.window_days) * DAY
            if c > now and (nxt is None or c < nxt):
                nxt = c
        if state.kind == "customer" and state.last_order is not None and held < len(tiers) - 1 and comp.weight_total:
            # the next line ageing can cross: the tier's minimum while it qualifies, else its hold line
            t = tiers[held]
            line = t.min_score if comp.score >= t.min_score else t.min_score - rules.hysteresis.downgrade_margin
            c2 = self._recency_crossing(state, now, comp, line)
            if c2 is not None and c2 > now and (nxt is None or c2 < nxt):
                nxt = c2
        if state.kind == "supplier" and held < len(tiers) - 1 and comp.weight_total:
            t = tiers[held]
            line = t.min_score if comp.score >= t.min_score else t.min_score - rules.hysteresis.downgrade_margin
            c3 = service_crossing(self._dims["supplier"], comp, self.totals_at(state, now), now, line)
            if c3 is not None and (nxt is None or c3 < nxt):
                nxt = c3
        return nxt

    def _recency_crossing(self, state: EntityState, now: int, comp: Composite, line: float) -> int | None:
        """When recency ageing alone will pull the score under ``line`` (``None``: never)."""
        assert state.last_order is not None
        when: int | None = None
        for dim in self._recency_dims:
            if dim.name not in comp.components:
                continue
            others = comp.score * comp.weight_total - dim.weight * comp.components[dim.name]
            target = (line * comp.weight_total - others) / dim.weight
            if target <= dim.scale.lo:
                continue  # ageing alone can never pull it under the line
            age = now // DAY - state.last_order // DAY
            x = dim.scale.first_x_reaching(age, target, rising=False)
            if x is not None:
                c = (state.last_order // DAY + max(math.ceil(x), age + 1)) * DAY
                when = c if when is None else min(when, c)
        return when

    def _settle(self, state: EntityState, cause: str, out: Outcome) -> None:
        g = self.grade(state, state.clock)
        state.next_review = g.next_review
        if g.tier != state.published_tier:
            self._emit(state, g, state.clock, cause, out)

    # --- time-driven reviews -------------------------------------------------

    def review(self, state: EntityState, at: int) -> Outcome:
        """Re-evaluate as of ``at`` (event time); emit a change if time alone moved the tier.

        Observes only: the state keeps just what was published (and cached
        end-of-day scores), so a review never changes what later events do.
        """
        out = Outcome()
        at = max(at, state.clock)
        g = self.grade(state, at)
        state.next_review = g.next_review
        if g.tier != state.published_tier:
            self._emit(state, g, at, REREVIEW, out)
        return out

    def review_due(self, state: EntityState, until: int) -> Outcome:
        """Run the reviews scheduled up to ``until``, in order (the timer and the offline run)."""
        out = Outcome()
        while state.next_review is not None and state.next_review <= until:
            at = state.next_review
            more = self.review(state, at)
            out.changes += more.changes
            out.alerts += more.alerts
            if state.next_review is not None and state.next_review <= at:
                state.next_review = None  # no progress: stop rather than loop
        return out

    def _emit(self, state: EntityState, g: Grade, now: int, cause: str, out: Outcome) -> None:
        rules = self._rules[state.kind]
        tiers = self.tiers_for(state)
        new, old = g.tier, state.published_tier
        direction: Direction
        if old is None:
            direction = "initial"
        else:
            oi = tier_index(tiers, old)
            if oi is not None:
                direction = "upgrade" if g.tier_idx < oi else "downgrade"
            else:
                direction = "upgrade" if g.comp.score >= (state.published_score or 0) else "downgrade"
        head = {
            "initial": f"first grading: score {g.comp.score:.1f} places it in {new}",
            "upgrade": f"score {g.comp.score:.1f} reached {new} (minimum {tiers[g.tier_idx].min_score:g})",
            "downgrade": f"score {g.comp.score:.1f} fell below what {old} requires",
        }[direction]
        why = [head, *g.notes, *reasons(rules, state.published_components, g.comp, g.metrics)]
        if cause == REREVIEW:
            why[0] = f"re-review: {why[0]}"
        state.seq += 1
        # Outputs are built from the engine's own typed values (mypy checks every field):
        # validation, pydantic's __init__, is for input, and cost a fifth of an offline run.
        # tests/test_offline_cli.py validates every change of a sample run again.
        change = TierChange.model_construct(
            change_id=f"tc:{state.kind}:{state.entity_id}:{state.seq}",
            entity_type=cast(EntityType, state.kind),
            entity_id=state.entity_id,
            previous_tier=old,
            tier=new,
            direction=direction,
            score=g.comp.score,
            previous_score=state.published_score,
            components=g.comp.components,
            reasons=why,
            rules_version=self.rules.version,
            occurred_at=utc(now),
            cause=cause,
            next_tier=next_tier(rules, tiers, new, g.comp, g.metrics, self._scales[state.kind]),
        )
        out.changes.append(change)
        if state.kind == "supplier" and direction == "downgrade":
            lowest = new == tiers[-1].name
            if lowest or self.rules.supplier.alert_on == "any_downgrade":
                out.alerts.append(
                    SupplierAlert.model_construct(
                        alert_id=f"sa:{state.entity_id}:{state.seq}",
                        supplier_id=state.entity_id,
                        previous_tier=old,
                        tier=new,
                        severity="critical" if lowest else "warning",
                        score=g.comp.score,
                        reasons=why,
                        occurred_at=utc(now),
                        change_id=change.change_id,
                    )
                )
        state.published_tier = new
        state.published_score = g.comp.score
        state.published_components = g.comp.components

    # --- snapshots -----------------------------------------------------------

    def snapshot(self, state: EntityState, as_of: int) -> EntitySnapshot:
        """The entity as of ``as_of`` (at least its clock); the state is not changed."""
        s = state
        now = max(as_of, s.clock)
        g = self.grade(s, now)
        rules = self._rules[s.kind]
        tiers = self.tiers_for(s)
        segment = rfm_segment(rules.rfm_for(s.group), g.metrics) if isinstance(rules, CustomerRules) else None
        return EntitySnapshot.model_construct(
            entity_type=cast(EntityType, s.kind),
            entity_id=s.entity_id,
            tier=g.tier,
            score=g.comp.score,
            segment=segment,
            group=s.group,
            components=g.comp.components,
            aggregates=aggregates_of(s, self.totals_at(s, now), g.metrics),
            window=WindowInfo.model_construct(
                days=rules.window_days, start=iso_day(self.window_start(s, now)), end=iso_day(now // DAY)
            ),
            next_tier=next_tier(rules, tiers, g.tier, g.comp, g.metrics, self._scales[s.kind]),
            as_of=utc(now),
            rules_version=self.rules.version,
        )


__all__ = ["REREVIEW", "Grade", "Grader", "Outcome", "Status", "iso_day", "ts", "utc"]
