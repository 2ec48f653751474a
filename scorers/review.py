"""Periodic review (定期复审): what is due for a person to look at, as of an instant.

:func:`review_rows` runs every *finder* of :data:`FINDERS` over every entity state
and returns their rows, soonest first. A finder is a pure function of the review's
context, one entity's state and its grade as of the review; each yields rows of its own ``kind``:

* ``assessment_expiring``: a manual prospect assessment or tier override, in force
  at the as-of instant, that expires within ``within_days`` of it (``due``: the
  instant it expires);
* ``held_by_hysteresis``: the tier is kept only by hysteresis, its score under the
  tier's minimum with no override setting it (the snapshot's ``next_tier.keep_gap``
  is set; ``due``: the as-of instant, it is due now);
* ``rectification_open``: a supplier's rectification case is open, whatever its
  deadline (``due``: the deadline, when it is re-assessed);
* ``supplier_watch``: a supplier_watch notice is in force, the supplier's score
  alone giving a worse tier than hysteresis keeps (``due``: the as-of instant, for
  procurement now; the detail says when the tier lapses if the score stays).

Open cases and notices in force are read as the state holds them: as of the
entity's last grade (its latest event or review).

New kinds plug in by adding a finder to :data:`FINDERS` under their name; the CLI,
CSV/JSON output and HTTP view take every kind as it comes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any, Final

from tierstream.scorers.cases import case_in_state
from tierstream.scorers.evaluation import Evaluator
from tierstream.scorers.explain import held_by_hysteresis
from tierstream.scorers.messages import DEFAULT_LANGUAGE, Code, code, render
from tierstream.scorers.notices import lapse_day, watch_of
from tierstream.scorers.outcome import Grade, iso_day, utc
from tierstream.scorers.state import EntityState
from tierstream.scorers.terms import tier_term

__all__ = ["COLUMNS", "FINDERS", "Finder", "ReviewContext", "ReviewRow", "review_rows"]

DAY_S: Final = 86_400
#: The columns of a row, in the order of the table and CSV outputs.
COLUMNS: Final = ("due_date", "entity_type", "entity_id", "kind", "tier", "detail")


@dataclass(frozen=True, slots=True)
class ReviewRow:
    """One thing due for review: an entity, what kind of thing, when, and what it is."""

    entity_type: str
    entity_id: str
    kind: str
    due: int  #: epoch seconds: when it needs attention
    due_date: str  #: ``due`` as a date of the rules' time zone
    tier: str  #: the entity's tier as of the review
    detail: str  #: ``detail_code`` in words (English, unless :meth:`worded` in another language)
    detail_code: Code  #: the detail as a message of the catalog (``scorers/messages``)

    def as_dict(self) -> dict[str, Any]:
        """Return the row as JSON-ready values (``due_at`` an ISO-8601 UTC instant)."""
        return {
            "due_date": self.due_date, "due_at": utc(self.due).isoformat().replace("+00:00", "Z"),
            "entity_type": self.entity_type, "entity_id": self.entity_id, "kind": self.kind,
            "tier": self.tier, "detail": self.detail, "detail_code": self.detail_code,
        }

    def worded(self, language: str) -> ReviewRow:
        """Return the row with its detail in words of ``language``."""
        return self if language == DEFAULT_LANGUAGE else replace(self, detail=render(self.detail_code, language))


@dataclass(frozen=True, slots=True)
class ReviewContext:
    """What every finder sees besides the entity: the grader, the as-of instant, the horizon."""

    grader: Evaluator
    as_of: int  #: epoch seconds
    within_days: int

    @property
    def horizon(self) -> int:
        """Return the last instant an expiry is listed at: ``within_days`` × 24 hours after the as-of."""
        return self.as_of + self.within_days * DAY_S

    def date(self, t: int) -> str:
        """Return instant ``t`` as a date of the rules' time zone."""
        return iso_day(self.grader.day(t))

    def row(self, state: EntityState, kind: str, due: int, tier: str, detail: Code) -> ReviewRow:
        """Return a row of ``state`` due at ``due``, its detail the message ``detail`` (worded in English)."""
        return ReviewRow(state.kind, state.entity_id, kind, due, self.date(due), tier, render(detail), detail)


#: A finder: the rows of one kind for one entity (none when nothing is due).
Finder = Callable[[ReviewContext, EntityState, Grade], Iterable[ReviewRow]]


def _expiring(ctx: ReviewContext, state: EntityState, g: Grade) -> Iterator[ReviewRow]:
    """Yield the entity's assessments in force at the as-of that expire within the horizon."""
    tiers = ctx.grader.tiers_for(state)
    for m in (state.override, state.prospect):
        if m is None or not (m.at <= ctx.as_of < m.expires <= ctx.horizon):
            continue
        days = (m.expires - ctx.as_of) / DAY_S
        said = {"author": m.author, "date": ctx.date(m.expires), "days": days, "reason": m.reason,
                "event": m.event_id}
        detail = (code("review.override_expiring", tier=tier_term(tiers, str(m.value)), **said) if m is state.override
                  else code("review.prospect_expiring", score=float(m.value), **said))
        yield ctx.row(state, "assessment_expiring", m.expires, g.tier, detail)


def _held(ctx: ReviewContext, state: EntityState, g: Grade) -> Iterator[ReviewRow]:
    """Yield a row when only hysteresis keeps the entity's tier as of the review."""
    grader, now = ctx.grader, max(ctx.as_of, state.clock)
    if g.ungraded_code is not None:
        return
    tiers = grader.tiers_for(state)
    if not held_by_hysteresis(state, tiers, g.tier_idx, g.comp, now):
        return
    snap = grader.snapshot(state, now)
    nt, codes = snap.next_tier, snap.next_tier_codes
    gap = nt.keep_gap if nt is not None and nt.keep_gap is not None else tiers[g.tier_idx].min_score - g.comp.score
    detail = code("review.held", tier=tier_term(tiers, g.tier), score=g.comp.score, gap=gap,
                  minimum=tiers[g.tier_idx].min_score)
    if codes is not None and codes.keep_hints:
        detail = code("review.held_keep", held=detail, hints=codes.keep_hints)
    yield ctx.row(state, "held_by_hysteresis", ctx.as_of, g.tier, detail)


def _rectification(ctx: ReviewContext, state: EntityState, g: Grade) -> Iterator[ReviewRow]:
    """Yield a row for a supplier's open rectification case, due at its deadline."""
    case = case_in_state(state)
    if case is None or state.case_open is None:
        return
    opened, deadline = state.case_open
    days = (deadline - ctx.as_of) / DAY_S
    detail = code("review.case_in_days" if days >= 0 else "review.case_overdue", case=case.case_id,
                  opened=ctx.date(opened), deadline=ctx.date(deadline), days=abs(days), score=g.comp.score,
                  tier=tier_term(ctx.grader.tiers_for(state), g.tier))
    yield ctx.row(state, "rectification_open", deadline, g.tier, detail)


def _watch(ctx: ReviewContext, state: EntityState, g: Grade) -> Iterator[ReviewRow]:
    """Yield a row for a supplier on watch: its score left the tier hysteresis keeps (a supplier_watch in force)."""
    watch = watch_of(state)
    if watch is None:
        return
    held, raw = watch
    grader, now = ctx.grader, max(ctx.as_of, state.clock)
    tiers = grader.tiers_for(state)
    said = {"tier": tier_term(tiers, held), "target": tier_term(tiers, raw), "score": g.comp.score}
    detail = code("review.watch", **said)
    still = g.tier_idx >= 0 and tiers[g.tier_idx].name == held
    if still and held_by_hysteresis(state, tiers, g.tier_idx, g.comp, now):
        t = tiers[g.tier_idx]
        track = grader.hold_track(state, now, g.tier_idx, g.comp.score)
        lapse = lapse_day(grader.rules_for(state).hysteresis, t, g.comp.score, track)
        detail = code("review.watch_held", minimum=t.min_score, **said)
        if lapse is not None:
            detail = code("review.watch_lapse", watch=detail, date=iso_day(lapse))
    yield ctx.row(state, "supplier_watch", ctx.as_of, g.tier, detail)


#: Every kind of row, by name, with its finder: the extension point for new kinds.
FINDERS: dict[str, Finder] = {
    "assessment_expiring": _expiring,
    "held_by_hysteresis": _held,
    "rectification_open": _rectification,
    "supplier_watch": _watch,
}


def review_rows(
    states: Iterable[EntityState],
    grader: Evaluator,
    as_of: int,
    within_days: int = 14,
    *,
    entity_type: str | None = None,
    kinds: Iterable[str] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> list[ReviewRow]:
    """Return what is due for review as of ``as_of`` over ``states``, soonest first.

    ``entity_type`` keeps one kind of entity; ``kinds`` some kinds of row (default:
    every kind of :data:`FINDERS`). ``on_progress`` is given the number of entities
    looked at since its last call. The states are not changed.
    """
    ctx = ReviewContext(grader, as_of, within_days)
    finders = [FINDERS[k] for k in (FINDERS if kinds is None else kinds)]
    rows: list[ReviewRow] = []
    done = 0
    for state in states:
        done += 1
        if on_progress is not None and done == 1000:
            on_progress(done)
            done = 0
        if state.is_empty() or (entity_type is not None and state.kind != entity_type):
            continue
        g = grader.grade(state, max(as_of, state.clock))
        for find in finders:
            rows.extend(find(ctx, state, g))
    if on_progress is not None and done:
        on_progress(done)
    rows.sort(key=lambda r: (r.due, r.entity_type, r.entity_id, r.kind))
    return rows
