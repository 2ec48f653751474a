"""Grading an entity state at an instant under one set of rules: the tier, its score, the next review.

:class:`Tiering` reads a state and never applies events to it, nor publishes
anything. A grade is a pure function of the state and the instant; what it
writes back is a cache: the last grade and end-of-day scores. What is published
from grades (changes, alerts, snapshots, the reviews that emit them) is
:class:`tierstream.scorers.evaluation.Evaluator`, built on it.
"""

from __future__ import annotations

import hashlib
import math

from tierstream.schemas.outputs import UNGRADED
from tierstream.schemas.rules import CustomerRules, EntityRules, Rules, Tier
from tierstream.scorers.assessed import assessed_metrics, changes_between, next_expiry
from tierstream.scorers.calendar import Calendar
from tierstream.scorers.credit import (
    CREDIT_METRICS,
    LATENESS_METRICS,
    next_credit_review,
    overdue_on,
    owing_after,
)
from tierstream.scorers.evidence import UNGRADED_SCORE, Evidence
from tierstream.scorers.grading import (
    Composite,
    Track,
    compile_dims,
    composite,
    held_tier,
    hold_lapses,
    raw_tier_index,
    tier_index,
)
from tierstream.scorers.hold import tracks_for
from tierstream.scorers.layout import C_ORDERS, DAY, S_DELIVERIES
from tierstream.scorers.messages import Code
from tierstream.scorers.metrics import (
    Metrics,
    customer_metrics,
    last_order_day,
    purchase_interval_cv,
    supplier_metrics,
    window_totals,
)
from tierstream.scorers.notices import expiring_from
from tierstream.scorers.outcome import Grade
from tierstream.scorers.profile import profile_value
from tierstream.scorers.scale import Scale
from tierstream.scorers.state import EntityState, Manual
from tierstream.scorers.supply import has_open_ticket, service_crossing

__all__ = ["Tiering"]


def _active(manual: Manual | None, at: int) -> bool:
    """Tell whether a manual assessment is in force at ``at``."""
    return manual is not None and manual.at <= at < manual.expires


class Tiering:
    """Grades entity states at an instant under one set of rules: the tier, its score and the next review."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.max_skew = int(rules.max_future_skew_hours * 3600)
        self._rules: dict[str, EntityRules] = {"customer": rules.customer, "supplier": rules.supplier}
        self._dims = {k: compile_dims(r) for k, r in self._rules.items()}
        self._window = {k: r.window_days for k, r in self._rules.items()}
        self._lookback = {k: r.hysteresis.lookback_days for k, r in self._rules.items()}
        self._scales = {k: {d.name: d.scale for d in dims} for k, dims in self._dims.items()}
        # a newcomer, whose active prospect assessment replaces the score: (window counter, its maximum)
        self._newcomer = {"customer": (C_ORDERS, rules.customer.prospect.newcomer_max_orders),
                          "supplier": (S_DELIVERIES, rules.supplier.prospect.newcomer_max_deliveries)}
        self._evidence = {k: Evidence(r) for k, r in self._rules.items()}
        #: the qualitative dimensions (``metric: assessed``) of each entity type
        self._assessed = {k: tuple(r.assessed()) for k, r in self._rules.items()}
        self._recency_dims = tuple(d for d in self._dims["customer"] if d.metric == "recency_days")
        self._lateness_dims = tuple(d for d in self._dims["customer"] if d.metric in LATENESS_METRICS)
        self._credit_dims = tuple(d.name for d in self._dims["customer"] if d.metric in CREDIT_METRICS)
        # metrics not read from the buckets, computed only when a dimension grades them
        scored = {d.metric for d in self._dims["customer"]}
        self._cv_scored = "purchase_interval_cv" in scored
        self._profile_scored = "share_of_wallet" in scored
        self._group_field = rules.customer.group_field
        # Between two changes of its window, an end-of-day score moves with recency alone: monotone
        # when every recency scale runs the same way (scorers/hold.py bisects it), else looked at daily.
        ys = [d.scale.ys for d in self._recency_dims]
        self._trend: dict[str, int | None] = {"supplier": 0, "customer": (
            0 if not ys else -1 if all(y == sorted(y, reverse=True) for y in ys)
            else 1 if all(y == sorted(y) for y in ys) else None)}
        #: the days of the rules' time zone; in UTC (``_utc``) a day is ``t // DAY``, inlined
        self.calendar = Calendar(rules.timezone)
        self._utc = self.calendar.utc
        digest = hashlib.blake2b(rules.model_dump_json().encode(), digest_size=6).hexdigest()
        self.tag = f"{rules.version}/{digest}"  # cached end-of-day scores are only valid under these rules

    # --- helpers -------------------------------------------------------------

    def rules_for(self, state: EntityState) -> EntityRules:
        """Return the rules of the state's entity kind."""
        return self._rules[state.kind]

    def group_of(self, state: EntityState) -> str | None:
        """Return a customer's group: its profile's, when the rules take it from there, else its orders'.

        A profile value that is not a declared group (the rules changed since) gives
        way to the orders' group.
        """
        if state.kind != "customer":
            return None
        name = self._group_field
        if name is not None and state.profile is not None:
            value = profile_value(state.profile, name)
            if value is not None and value in self.rules.customer.groups:
                return value
        return state.group

    def tiers_for(self, state: EntityState) -> list[Tier]:
        """Return the tiers that apply to the state (a customer's depend on its group)."""
        r = self._rules[state.kind]
        return r.tiers_for(self.group_of(state)) if isinstance(r, CustomerRules) else r.tiers

    def scales_for(self, state: EntityState) -> dict[str, Scale]:
        """Return the compiled scales of the state's dimensions (for hints)."""
        return self._scales[state.kind]

    def missing_evidence(self, state: EntityState, comp: Composite) -> str | None:
        """Return why ``comp`` is below the rules' minimum evidence (``None``: enough to grade on)."""
        return self._evidence[state.kind].missing(comp.components)

    def missing_evidence_code(self, state: EntityState, comp: Composite) -> Code | None:
        """Return :meth:`missing_evidence` as a message (``None``: enough to grade on)."""
        return self._evidence[state.kind].missing_code(comp.components)

    def hold_track(self, state: EntityState, now: int, tier_idx: int, score: float) -> Track:
        """Return what tier ``tier_idx`` remembers of the lookback before ``now``'s day (``score``: now's)."""
        tracks = self._tracks(state, now, self.tiers_for(state), tier_idx + 1, self.totals_at(state, now), score)
        return tracks[tier_idx]

    def day(self, t: int) -> int:
        """Return the day of instant ``t`` in the rules' time zone (``t // DAY`` in UTC)."""
        return t // DAY if self._utc else self.calendar.day(t)

    def day_start(self, day: int) -> int:
        """Return the first instant of ``day`` (its local midnight)."""
        return day * DAY if self._utc else self.calendar.start(day)

    def window_start(self, state: EntityState, now: int) -> int:
        """Return the first day of the window ending on ``now``'s day."""
        return (now // DAY if self._utc else self.calendar.day(now)) - self._window[state.kind] + 1

    def retention_start(self, state: EntityState, now: int) -> int:
        """Return the first day kept: the window start less the hysteresis lookback."""
        return self.window_start(state, now) - self._lookback[state.kind]

    # --- grading -------------------------------------------------------------

    def _score(self, state: EntityState, totals: list[int], day: int, instant: int) -> tuple[Composite, Metrics, bool]:
        """Composite score from window ``totals`` ending on ``day``; a newcomer's prospect score wins."""
        kind = state.kind
        if kind == "customer":
            m = customer_metrics(totals, day, last_order_day(state, day, None if self._utc else self.calendar),
                                 *overdue_on(state, day, self._window["customer"]),
                                 purchase_interval_cv(state, day, self._window["customer"]) if self._cv_scored
                                 else None, state.profile.share_of_wallet if state.profile is not None else None)
        else:
            m = supplier_metrics(totals, instant // 60)
        if self._assessed[kind]:
            assessed_metrics(m, state, instant, self._assessed[kind])
        comp = composite(self._dims[kind], m)
        p = state.prospect
        if p is not None and p.at <= instant < p.expires:
            counter, most = self._newcomer[kind]
            if totals[counter] <= most:
                score = float(p.value)
                return Composite(score, {**comp.components, "prospect": score}, comp.weight_total), m, True
        return comp, m, False

    def _ungraded(self, state: EntityState, comp: Composite, prospect: bool) -> Code | None:
        """Why the entity is below its rules' minimum evidence, as a message (``None``: it is graded on its score)."""
        return None if prospect else self._evidence[state.kind].missing_code(comp.components)

    def _tracks(self, state: EntityState, now: int, tiers: list[Tier], upto: int, totals: list[int],
                score: float) -> list[Track]:
        """What tiers ``0..upto-1`` remember of the calendar days of the lookback before ``now``'s day.

        ``totals``, ``score``: the window and the score at ``now``, those of the end of its day too.
        """
        def day_score(t: list[int], day: int) -> float:
            return self._end_of_day(state, day, t)

        return tracks_for(state, self.group_of(state), tiers, upto, self._rules[state.kind].hysteresis,
                          self.day(now), totals, score, self._window[state.kind], day_score,
                          self._trend_of(state, now), self.day)

    def _trend_of(self, state: EntityState, now: int) -> int | None:
        """How the end-of-day score moves with the day alone (``None``: not monotone: score every day)."""
        if state.invoices and owing_after(state, self.day(now) - self._lookback[state.kind] - 1):
            return None
        if state.tickets:  # a ticket open on a day moves that day's score with its age
            return None
        return self._trend[state.kind]

    def _end_of_day(self, state: EntityState, day: int, totals: list[int] | None) -> float:
        """The score at the end of ``day`` (a day before ``now``'s, or the clock's).

        ``totals``: that day's window totals when the caller has them. The last grade
        of the state as it is, if made that day, usually gave the same score: the
        same window, the same recency; only a prospect score starting or ending
        later that day could differ.
        """
        end = self.day_start(day + 1) - 1
        g = state.graded
        if (g is not None and g[0] == self.tag and self.day(g[1]) == day
                and _active(state.prospect, g[1]) == _active(state.prospect, end)
                and not (state.assessed and changes_between(state, g[1], end))
                and not (state.tickets and has_open_ticket(state))):
            return g[2]
        if totals is None:
            totals = window_totals(state, day, self._window[state.kind])
        comp, _, prospect = self._score(state, totals, day, end)
        return UNGRADED_SCORE if self._ungraded(state, comp, prospect) else comp.score

    def loyalty_metrics(self, state: EntityState, now: int, metrics: Metrics) -> Metrics:
        """``metrics`` with the purchase regularity filled in when no dimension grades it (computed then)."""
        if self._cv_scored or state.kind != "customer":
            return metrics
        return {**metrics, "purchase_interval_cv": purchase_interval_cv(state, self.day(now), self._window["customer"])}

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
            state.forget_scores()
            state.rules_tag = self.tag
        today = now // DAY if self._utc else self.calendar.day(now)
        rules = self._rules[state.kind]
        tiers = self.tiers_for(state)
        totals = self.totals_at(state, now)
        comp, m, prospect = self._score(state, totals, today, now)
        ungraded = missing = self._ungraded(state, comp, prospect)
        notes: list[Code] = []
        # The past end-of-day scores only matter for a tier better than the score's own.
        raw = raw_tier_index(tiers, comp.score)
        tracks = self._tracks(state, now, tiers, raw, totals, comp.score) if raw and not ungraded else None
        ov = state.override
        if ov is not None and ov.at <= now < ov.expires:
            idx = tier_index(tiers, str(ov.value))
            held = idx if idx is not None else len(tiers) - 1
            ungraded = None  # a person graded it
        elif ungraded:
            held = -1
        else:
            held, note = held_tier(tiers, rules.hysteresis, comp.score, today, tracks) if tracks else (0, None)
            if note:
                notes.append(note)
        nxt = self._next_review(state, now, tiers, held, comp, totals, tracks, m)
        # after the lookback: that may want the last grade's; an ungraded day reaches no tier
        state.graded = (self.tag, now, UNGRADED_SCORE if missing else comp.score)
        if held < 0:
            return Grade(UNGRADED, -1, comp, m, nxt, notes, ungraded)
        return Grade(tiers[held].name, held, comp, m, nxt, notes)

    def _next_review(
        self, state: EntityState, now: int, tiers: list[Tier], held: int, comp: Composite,
        totals: list[int], tracks: list[Track] | None, metrics: Metrics,
    ) -> int | None:
        """The next instant at which time alone may move the tier (for the re-review timer)."""
        rules = self._rules[state.kind]
        nxt: int | None = None
        if held >= 0 and comp.score < tiers[held].min_score:
            # A hold matters only while the score is under the held tier's minimum: until then
            # the score moves with time only through recency ageing, a day leaving the window
            # or a manual assessment expiring, each a candidate below, and the review at that
            # instant schedules the hold's lapses. (Without this, most reviews were no-ops.)
            if tracks is None or held >= len(tracks) or tracks[held][0] != self.day(now):  # an override
                tracks = self._tracks(state, now, tiers, held + 1, totals, comp.score)
            track = tracks[held]
            for d in hold_lapses(tiers, rules.hysteresis, held, comp.score, track):
                c = self.day_start(d)
                if c > now and (nxt is None or c < nxt):
                    nxt = c
        notice = self.rules.notices.assessment_expiring_days if "assessment_expiring" in self.rules.notices.kinds \
            else None
        for manual in (state.override, state.prospect):
            if manual is not None and manual.expires > now and (nxt is None or manual.expires < nxt):
                nxt = manual.expires
            if manual is not None and notice is not None:  # announced as expiring from this instant on
                c = expiring_from(manual, notice)
                if now < c and manual.at <= c and (nxt is None or c < nxt):
                    nxt = c
        if state.assessed:  # an assessment expiring leaves its author's say, or its dimension
            e = next_expiry(state, now)
            if e is not None and (nxt is None or e < nxt):
                nxt = e
        if state.case_open is not None and state.case_open[1] > now and (nxt is None or state.case_open[1] < nxt):
            nxt = state.case_open[1]  # a rectification case's deadline
        first = self.day(now) - rules.window_days + 1
        oldest_in_window = state.oldest
        if oldest_in_window is not None and oldest_in_window < first:
            oldest_in_window = None
            for d in state.days:  # in day order
                if d >= first:
                    oldest_in_window = d
                    break
        if oldest_in_window is not None:
            c = self.day_start(oldest_in_window + rules.window_days)
            if c > now and (nxt is None or c < nxt):
                nxt = c
        if state.invoices:
            # an open invoice falls due, or grows later every day while that can still lower the tier
            day, overdue = next_credit_review(state, self.day(now), rules.window_days)
            if overdue and 0 <= held < len(tiers) - 1 and any(
                    (x := metrics.get(d.metric)) is not None and x < d.scale.xs[-1] for d in self._lateness_dims):
                day = self.day(now) + 1
            if day is not None and (nxt is None or self.day_start(day) < nxt):
                nxt = self.day_start(day)
        if (state.kind == "customer" and state.last_order is not None and 0 <= held < len(tiers) - 1
                and comp.weight_total):
            # the next line ageing can cross: the tier's minimum while it qualifies, else its hold line
            # (under that, the hold's grace is a lapse above)
            t = tiers[held]
            line = t.min_score if comp.score >= t.min_score else t.min_score - rules.hysteresis.downgrade_margin
            c2 = self._recency_crossing(state, now, comp, line) if comp.score >= line else None
            if c2 is not None and c2 > now and (nxt is None or c2 < nxt):
                nxt = c2
        if state.kind == "supplier" and 0 <= held < len(tiers) - 1 and comp.weight_total:
            # open service tickets age: the same lines as recency's
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
            last_day = self.day(state.last_order)
            age = self.day(now) - last_day
            x = dim.scale.first_x_reaching(age, target, rising=False)
            if x is not None:
                c = self.day_start(last_day + max(math.ceil(x), age + 1))
                when = c if when is None else min(when, c)
        return when
