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
  computed from the score now and the end-of-day scores of every calendar day
  of the lookback (see :class:`schemas.rules.Hysteresis`, ``scorers/hold.py``),
  all derived from the day buckets. Kafka delivers an entity's orders, payments and referral credits
  through different topics in no fixed interleaving; the result is the same.
* Time alone can move a tier (recency ageing, days leaving the window, a hold
  lapsing, a manual assessment expiring). ``next_review`` is the next instant
  that can happen; ``review(state, at)`` re-evaluates at ``at`` and emits a
  change, dated ``at``, if the tier moved. ``review_due`` walks every review
  due up to an instant, each at its own time (the stream's timer, the offline
  run before each event and at its end), so a change caused by time alone is
  dated when it happens. Reviews only *observe*: they never change what later
  events do.

The grading itself is :class:`tierstream.scorers.evaluation.Evaluator` (reviews,
changes, snapshots), built on :class:`tierstream.scorers.tiering.Tiering` (the tier
at an instant); this module applies events.
"""

from __future__ import annotations

from tierstream.schemas.events import (
    PROFILE_FIELDS,
    AnyEvent,
    AssessmentEvent,
    DeliveryEvent,
    InvoiceEvent,
    OrderEvent,
    PaymentEvent,
    ProfileEvent,
    ReferralEvent,
    ServiceEvent,
    entity_of,
)
from tierstream.schemas.outputs import ReferralCredit
from tierstream.scorers.assessed import prune, record
from tierstream.scorers.audit import override_refusal
from tierstream.scorers.credit import record_invoice, record_payment
from tierstream.scorers.evaluation import Evaluator
from tierstream.scorers.layout import (
    C_REFERRALS,
    DAY,
    ORDER_ACTIVE,
    ORDER_REVERSED,
    ORDER_REVERSED_FIRST,
    S_AMOUNT,
    S_MARKET,
    S_PURCHASES,
)
from tierstream.scorers.ledger import apply_sale, keep_old_sale
from tierstream.scorers.outcome import REREVIEW, Grade, Outcome, Status, iso_day, ts, utc
from tierstream.scorers.profile import profile_of
from tierstream.scorers.state import EntityState, Manual, event_hash
from tierstream.scorers.supply import apply_delivery, apply_ticket

__all__ = ["REREVIEW", "Grade", "Grader", "Outcome", "Status", "iso_day", "ts", "utc"]

KEEP_FOREVER = 10**9  # a "day" no retention start reaches: dedup entries that never expire


def _cents(x: float) -> int:
    """Return an amount in cents."""
    return round(x * 100)


def _credit_id(kind: str, referrer: str, referred: str, at: int, number: int) -> str:
    """A credit's (or its revocation's) id: the first credit keeps the plain form, later ones are numbered."""
    base = f"{kind}:{referrer}:{referred}:{at}"
    return base if number <= 1 else f"{base}:{number}"


def _referral_fact(state: EntityState, ev: ReferralEvent, t: int) -> None:
    """The earliest referral of a customer wins."""
    if state.referred_by is None or (t, ev.referrer_id) < (state.referred_at, state.referred_by):
        state.referred_by, state.referred_at = ev.referrer_id, t


class Grader(Evaluator):
    """Applies events to entity states and grades them under one set of rules."""

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
            why = override_refusal(self.tiers_for(state), state.kind, event.tier_override)
            if why is not None:
                out.status, out.invalid_field, out.invalid_value = "invalid", "tier_override", event.tier_override
                out.detail = why
                return state, out
        if isinstance(event, AssessmentEvent) and event.dimension is not None:
            why = self._rules[state.kind].unknown_assessed(state.kind, event.dimension)
            if why is not None:
                out.status, out.invalid_field, out.invalid_value = "invalid", "dimension", event.dimension
                out.detail = why
                return state, out
        if isinstance(event, OrderEvent | PaymentEvent | InvoiceEvent) and self._refused(event, out):
            return state, out
        if isinstance(event, ProfileEvent):
            self._profile(state, event, t, h, out)
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
        day = t // DAY if self._utc else self.calendar.day(t)
        state.remember(h, KEEP_FOREVER if isinstance(event, AssessmentEvent) else day)
        self._apply_body(state, event, t, day, out)
        self._settle(state, event.event_id, out)
        return state, out

    def credit(self, state: EntityState | None, credit: ReferralCredit) -> tuple[EntityState, Outcome]:
        """A referred customer bought: the referrer earns one qualified referral, once.

        The referrer's reviews due before the credit run first, at their own instants, as
        the callers run them before an event: a credit comes from another entity's event,
        and the stream's timer may not have reached them yet.
        """
        if state is None:
            state = EntityState("customer", credit.referrer_id)
        t = ts(credit.occurred_at)
        out = self.review_due(state, t)
        h = event_hash(credit.credit_id)
        if h in state.seen:
            out.status = "duplicate"
            return state, out
        if not self._admit(state, t, out):
            return state, out
        state.graded = None
        day = self.day(t)
        state.remember(h, day)
        state.add(day, C_REFERRALS, -1 if credit.revoke else 1)
        state.drop_if_empty(day)
        self._settle(state, credit.credit_id, out)
        return state, out

    def _admit(self, state: EntityState, t: int, out: Outcome) -> bool:
        """Advance the clock to ``t`` (if later); refuse what is older than the retention."""
        utc_days = self._utc
        now = max(state.clock, t)
        day = t // DAY if utc_days else self.calendar.day(t)
        now_day = day if now == t else (state.clock // DAY if utc_days else self.calendar.day(now))
        window_start = now_day - self._window[state.kind] + 1
        first = window_start - self._lookback[state.kind]
        if day < first:
            out.status = "too_old"
            out.detail = f"day {iso_day(day)} is before the window start {iso_day(window_start)}"
            return False
        if now > state.clock:
            old_day = state.clock // DAY if utc_days else self.calendar.day(state.clock)
            if now_day > old_day and old_day in state.days and old_day not in state.daily:
                # The day just closed: its end-of-day score is the score of the current totals,
                # which saves recomputing its window from the buckets later.
                state.cache_score(old_day, self._end_of_day(state, old_day, state.totals))
            state.graded = None
            if now_day > old_day:
                # a grade looks back ``lookback`` days from its own day, never before the clock's
                state.forget_daily_before(now_day - self._lookback[state.kind])
            state.clock = now
            state.clock_day = now_day
            state.slide_window(window_start)
            state.expire_before(first)
            if state.assessed:
                prune(state, self.day_start(first))
        if day < state.window_start:
            out.status = "history"
            out.detail = f"day {iso_day(day)} is before the window: kept for hysteresis history only"
        return True

    def _refused(self, ev: OrderEvent | PaymentEvent | InvoiceEvent, out: Outcome) -> bool:
        """Refuse an event naming a currency without a rate, or an order naming an undeclared customer group."""
        group = ev.customer_group if isinstance(ev, OrderEvent) else None
        if ev.currency is None and group is None:
            return False
        why: str | None = None
        if ev.currency is not None:
            why = self.rules.unknown_currency(ev.currency)
            if why is not None:
                out.invalid_field, out.invalid_value = "currency", ev.currency
        if why is None and group is not None and isinstance(ev, OrderEvent) and ev.customer_id is not None:
            why = self.rules.customer.unknown_group(group)
            if why is not None:
                out.invalid_field, out.invalid_value = "customer_group", group
        if why is None:
            return False
        out.status, out.detail = "invalid", why
        return True

    def _profile(self, state: EntityState, ev: ProfileEvent, t: int, h: int, out: Outcome) -> None:
        """Keep the latest profile, by (occurred_at, event_id): a lasting fact, never too old.

        Its id is remembered while its day is in the retention; an older profile
        needs none: applying it again changes nothing (the latest one wins).
        """
        why = self._unknown_profile_group(ev)
        if why is not None:
            out.status, out.invalid_field, out.invalid_value, out.detail = "invalid", why[0], why[1], why[2]
            return
        if t > state.clock:
            self._admit(state, t, out)
        day = self.day(t)
        if day >= self.retention_start(state, state.clock):
            state.remember(h, day)
        profile = profile_of(ev, t)
        if profile.newer_than(state.profile):
            state.profile = profile
            state.graded = None
            if self._profile_scored:
                state.forget_scores()  # a dimension reads the profile: past end-of-day scores too
        self._settle(state, ev.event_id, out)

    def _unknown_profile_group(self, ev: ProfileEvent) -> tuple[str, str, str] | None:
        """(field, value, why) when the profile field the rules take groups from names no declared group."""
        rules = self.rules.customer
        name = rules.group_field
        if ev.entity_type != "customer" or name is None:
            return None
        value = getattr(ev, name) if name in PROFILE_FIELDS else ev.attributes.get(name.removeprefix("attributes."))
        if not isinstance(value, str) or value in rules.groups:
            return None
        known = ", ".join(sorted(rules.groups)) or "none declared"
        return (name, value, f"profile {name} {value!r} is not a group of the rules (customer.groups: {known}; "
                f"customer.group_from: {rules.group_from})")

    def _rate(self, currency: str | None) -> float:
        """The rate of ``currency`` to the rules' base currency (1 for none: amounts in the base)."""
        return 1.0 if currency is None or currency == self.rules.currency else self.rules.rate_of(currency)

    def _apply_body(self, state: EntityState, ev: AnyEvent, t: int, day: int, out: Outcome) -> None:
        if isinstance(ev, OrderEvent):
            rate = self._rate(ev.currency)
            if state.kind == "customer":
                apply_sale(state, ev, t, day, rate)
                self._maybe_credit(state, out)
            else:
                contrib = [(S_PURCHASES, 1)]
                if ev.market_amount is not None:
                    contrib += [(S_AMOUNT, _cents(ev.amount * rate)), (S_MARKET, _cents(ev.market_amount * rate))]
                self._order(state, ev, day, contrib)
        elif isinstance(ev, PaymentEvent):
            record_payment(state, ev, day, self.day(ts(ev.due_at)), self._rate(ev.currency))
        elif isinstance(ev, InvoiceEvent):
            record_invoice(state, ev, day, self.day(ts(ev.issued_at)), self.day(ts(ev.due_at)),
                           self._rate(ev.currency))
        elif isinstance(ev, DeliveryEvent):
            apply_delivery(state, ev, t, day, ts(ev.promised_at))
        elif isinstance(ev, ServiceEvent):
            apply_ticket(state, ev, t, day, None if ev.first_response_at is None else ts(ev.first_response_at))
        elif isinstance(ev, ReferralEvent):
            _referral_fact(state, ev, t)  # a credit already sent moves if need be
            self._maybe_credit(state, out)
        elif isinstance(ev, AssessmentEvent) and ev.dimension is not None:
            assert ev.score is not None
            record(state, ev.dimension, Manual(ev.score, ts(ev.expires_at), t, ev.reason, ev.author, ev.event_id))
            prune(state, self.day_start(self.retention_start(state, state.clock)))
            state.forget_scores()  # past end-of-day scores may include the dimension
        elif isinstance(ev, AssessmentEvent):
            value: float | str = ev.prospect_score if ev.prospect_score is not None else str(ev.tier_override)
            manual = Manual(value, ts(ev.expires_at), t, ev.reason, ev.author, ev.event_id)
            slot = "prospect" if ev.prospect_score is not None else "override"
            current: Manual | None = getattr(state, slot)
            if current is None or (t, ev.event_id) > (current.at, current.event_id):
                setattr(state, slot, manual)
                state.forget_scores()  # past end-of-day scores may include a prospect score

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

    def _order(self, state: EntityState, ev: OrderEvent, day: int, contrib: list[tuple[int, int]]) -> None:
        """Count a placed order once; reverse it once on cancel/return, whichever comes first."""
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
