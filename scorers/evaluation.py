"""Publishing grades under one set of rules: reviews, tier changes, supplier alerts, snapshots.

:class:`Evaluator` reads a state and never applies events to it (that is
:class:`tierstream.scorers.engine.Grader`, built on it). The grade itself, a pure
function of the state and the instant, is :class:`tierstream.scorers.tiering.Tiering`,
which this builds on; what this writes back, when the tier moved, is what was
published (and the next review).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from tierstream.schemas.events import EntityType
from tierstream.schemas.outputs import (
    UNGRADED,
    Direction,
    EntitySnapshot,
    SupplierAlert,
    TierAction,
    TierChange,
    WindowInfo,
)
from tierstream.schemas.rules import CustomerRules, Tier
from tierstream.scorers.assessed import assessments_of
from tierstream.scorers.cases import case_in_state, open_case, reassess
from tierstream.scorers.credit import delay_note_codes
from tierstream.scorers.explain import change_reason_codes, held_by_hysteresis, next_tier_with_codes
from tierstream.scorers.grading import rfm_segment, tier_index
from tierstream.scorers.messages import code, render_all
from tierstream.scorers.metrics import Metrics, aggregates_of
from tierstream.scorers.notices import in_force, raise_notices
from tierstream.scorers.outcome import REREVIEW, Grade, Outcome, iso_day, rules_cause, utc
from tierstream.scorers.state import EntityState
from tierstream.scorers.tiering import Tiering

__all__ = ["Evaluator"]


def _due(state: EntityState, until: int) -> int | None:
    """Return the state's next review if it is due by ``until``.

    A function, not an inline test: the review in between moves ``next_review``, and a
    type checker's narrowing of the attribute would outlive that call (compiled, it
    would read ``None`` as an int).
    """
    nr = state.next_review
    return nr if nr is not None and nr <= until else None


class Evaluator(Tiering):
    """Grades entity states under one set of rules: tiers, reviews, changes and snapshots."""

    def _settle(self, state: EntityState, cause: str, out: Outcome) -> None:
        g = self.grade(state, state.clock)
        state.next_review = g.next_review
        if g.tier != state.published_tier:
            self._emit(state, g, state.clock, cause, out)
        out.notices += raise_notices(self, state, g, state.clock, cause)
        out.cases += reassess(self, state, g, state.clock, cause)

    # --- time-driven reviews -------------------------------------------------

    def review(self, state: EntityState, at: int, cause: str = REREVIEW) -> Outcome:
        """Re-evaluate as of ``at`` (event time); emit a change if time alone moved the tier.

        Observes only: the state keeps just what was published (and cached
        end-of-day scores), so a review never changes what later events do.
        """
        out = Outcome()
        at = max(at, state.clock)
        g = self.grade(state, at)
        state.next_review = g.next_review
        if g.tier != state.published_tier:
            self._emit(state, g, at, cause, out)
        out.notices += raise_notices(self, state, g, at, cause)
        out.cases += reassess(self, state, g, at, cause)
        return out

    def regrade(self, state: EntityState, at: int, previous: Evaluator) -> Outcome:
        """Take over from ``previous`` rules at ``at``: their reviews due until then, then a grade under these.

        A tier the new rules move is a change caused by ``rules <version>``, dated
        ``at`` (or the entity's clock, when later): what ``rules diff --as-of`` of
        the same history predicts.
        """
        out = previous.review_due(state, at)
        out.extend(self.review(state, at, rules_cause(self.rules.version)))
        return out

    def review_due(self, state: EntityState, until: int) -> Outcome:
        """Run the reviews scheduled up to ``until``, in order (the timer and the offline run)."""
        out = Outcome()
        while (at := _due(state, until)) is not None:
            out.extend(self.review(state, at))
            if _due(state, at) is not None:
                state.next_review = None  # no progress: stop rather than loop
        return out

    def _emit(self, state: EntityState, g: Grade, now: int, cause: str, out: Outcome) -> None:
        rules = self._rules[state.kind]
        tiers = self.tiers_for(state)
        new, old = g.tier, state.published_tier
        direction: Direction
        if g.ungraded_code is not None:
            direction = "ungraded"
        elif old is None or old == UNGRADED:
            direction = "initial"
        else:
            oi = tier_index(tiers, old)
            if oi is not None:
                direction = "upgrade" if g.tier_idx < oi else "downgrade"
            else:
                direction = "upgrade" if g.comp.score >= (state.published_score or 0) else "downgrade"
        codes = change_reason_codes(rules, tiers, state, now, direction, g, self.calendar)
        if state.invoices and any(state.published_components.get(n) != g.comp.components.get(n)
                                  for n in self._credit_dims):
            codes += delay_note_codes(state, self.day(now), rules.window_days)
        if cause == REREVIEW:
            codes[0] = code("change.re_review", then=codes[0])
        elif cause == rules_cause(self.rules.version):
            codes[0] = code("change.rules", version=self.rules.version, then=codes[0])
        why = render_all(codes)
        nxt, nxt_codes = (None, None) if g.ungraded_code else next_tier_with_codes(
            rules, tiers, new, g.comp, g.metrics, self._scales[state.kind],
            held_by_hysteresis(state, tiers, g.tier_idx, g.comp, now))
        _, segment, loyalty = self._standing(state, now, g)
        state.seq += 1
        # Outputs are built from the engine's own typed values (mypy checks every field):
        # validation, pydantic's __init__, is for input, and cost a fifth of an offline run.
        # tests/offline_cli/test_score.py validates every change of a sample run again.
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
            next_tier=nxt,
            ungraded_reason=g.ungraded,
            actions=self._actions(tiers, g),
            reason_codes=codes,
            ungraded_reason_code=g.ungraded_code,
            next_tier_codes=nxt_codes,
            segment=segment,
            loyalty=loyalty,
            group=self.group_of(state),
            profile=None if state.profile is None else state.profile.fields(),
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
                        reason_codes=codes,
                    )
                )
            if lowest and (case := open_case(self, state, g, now, cause, why)) is not None:
                out.cases.append(case)
        state.published_tier = new
        state.published_score = g.comp.score
        state.published_components = g.comp.components

    def _standing(self, state: EntityState, now: int, g: Grade) -> tuple[Metrics, str | None, str | None]:
        """Return the metrics with purchase regularity, and a customer's RFM segment and loyalty class at ``now``.

        Shown on every change and snapshot alike; loyalty goes with the segment,
        so it is set once the customer ordered (and the rules classify loyalty).
        """
        m = self.loyalty_metrics(state, now, g.metrics)
        rules = self._rules[state.kind]
        segment = loyalty = None
        if isinstance(rules, CustomerRules):
            segment = rfm_segment(rules.rfm_for(self.group_of(state)), m)
            if segment is not None and rules.loyalty is not None:
                loyalty = rules.loyalty.classify(m)
        return m, segment, loyalty

    @staticmethod
    def _actions(tiers: Sequence[Tier], g: Grade) -> list[TierAction]:
        """What the graded tier entitles or triggers (nothing while ``ungraded``)."""
        return [] if g.tier_idx < 0 else list(tiers[g.tier_idx].actions)

    # --- snapshots -----------------------------------------------------------

    def snapshot(self, state: EntityState, as_of: int) -> EntitySnapshot:
        """The entity as of ``as_of`` (at least its clock); the state is not changed."""
        s = state
        now = max(as_of, s.clock)
        g = self.grade(s, now)
        rules = self._rules[s.kind]
        tiers = self.tiers_for(s)
        group = self.group_of(s)
        m, segment, loyalty = self._standing(s, now, g)
        aggregates = aggregates_of(s, self.totals_at(s, now), m)
        nxt, nxt_codes = (None, None) if g.ungraded_code else next_tier_with_codes(
            rules, tiers, g.tier, g.comp, g.metrics, self._scales[s.kind],
            held_by_hysteresis(s, tiers, g.tier_idx, g.comp, now))
        if self._assessed[s.kind]:  # each qualitative dimension: its mean score in force and evaluators
            aggregates["assessments"] = assessments_of(s, self._assessed[s.kind], now)
        return EntitySnapshot.model_construct(
            entity_type=cast(EntityType, s.kind),
            entity_id=s.entity_id,
            tier=g.tier,
            score=g.comp.score,
            segment=segment,
            loyalty=loyalty,
            group=group,
            profile=None if s.profile is None else s.profile.fields(),
            components=g.comp.components,
            aggregates=aggregates,
            window=WindowInfo.model_construct(
                days=rules.window_days, start=iso_day(self.window_start(s, now)), end=iso_day(self.day(now))
            ),
            next_tier=nxt,
            as_of=utc(now),
            rules_version=self.rules.version,
            ungraded_reason=g.ungraded,
            actions=self._actions(tiers, g),
            notices=in_force(s),
            open_case=case_in_state(s),
            ungraded_reason_code=g.ungraded_code,
            next_tier_codes=nxt_codes,
        )
