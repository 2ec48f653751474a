"""Supplier rectification cases: opened by a fall to the lowest tier, re-assessed at their deadline.

A supplier downgraded into the lowest tier with no case open opens one
(:func:`open_case`), whose deadline is 00:00 (rules' time zone) of the day
``rectification.deadline_days`` after the opening day. The review at that
instant (``next_review`` includes it: no event is needed) re-assesses it
(:func:`reassess`): graded above the lowest tier closes the case, still in it
(or ungraded) escalates it with a phase-out recommendation. Either way the
case is over; a later fall opens the next one. Ids: the case ``sc:<id>:<n>``,
each of its events ``sc:<id>:<n>:<status>``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from tierstream.schemas.outputs import OpenCase, SupplierCase
from tierstream.scorers.outcome import Grade, iso_day, utc
from tierstream.scorers.state import EntityState

if TYPE_CHECKING:
    from tierstream.scorers.tiering import Tiering

__all__ = ["case_in_state", "open_case", "reassess"]

Status = Literal["opened", "closed", "escalated"]
_RECOMMENDATION: dict[Status, Literal["rectify", "phase_out", "none"]] = {
    "opened": "rectify", "closed": "none", "escalated": "phase_out"}


def _case(tg: Tiering, state: EntityState, g: Grade, now: int, cause: str, status: Status,
          reasons: list[str]) -> SupplierCase:
    case = case_in_state(state)
    assert case is not None
    return SupplierCase.model_construct(
        event_id=f"{case.case_id}:{status}", case_id=case.case_id, status=status,
        recommendation=_RECOMMENDATION[status], supplier_id=state.entity_id, tier=g.tier, score=g.comp.score,
        components=g.comp.components, reasons=reasons, opened_at=case.opened_at, deadline=case.deadline,
        rules_version=tg.rules.version, occurred_at=utc(now), cause=cause,
    )


def case_in_state(state: EntityState) -> OpenCase | None:
    """Return the supplier's open case as the state holds it (``None``: none open)."""
    if state.case_open is None:
        return None
    opened_at, deadline = state.case_open
    return OpenCase.model_construct(case_id=f"sc:{state.entity_id}:{state.cases_opened}", opened_at=utc(opened_at),
                                    deadline=utc(deadline))


def _weakest(tg: Tiering, state: EntityState, g: Grade) -> list[str]:
    """The scorecard's three weakest dimensions, in plain words (what to rectify first)."""
    dims = tg.rules_for(state).dimensions
    low = sorted(g.comp.components.items(), key=lambda kv: (kv[1], kv[0]))[:3]
    if not low:
        return []
    return ["weakest: " + ", ".join(f"{dims[n].label or n if n in dims else n} {v:g}" for n, v in low)]


def open_case(tg: Tiering, state: EntityState, g: Grade, now: int, cause: str,
              why: list[str]) -> SupplierCase | None:
    """Open a case for a supplier just downgraded into the lowest tier (``why``: the change's reasons)."""
    rect = tg.rules.supplier.rectification
    if not rect.enabled or state.case_open is not None:
        return None
    deadline = tg.day_start(tg.day(now) + rect.deadline_days)
    state.cases_opened += 1
    state.case_open = [now, deadline]
    if state.next_review is None or deadline < state.next_review:
        state.next_review = deadline  # the grade that set it saw no case
    return _case(tg, state, g, now, cause, "opened",
                 [*why, f"rectify by {iso_day(tg.day(deadline))}", *_weakest(tg, state, g)])


def reassess(tg: Tiering, state: EntityState, g: Grade, now: int, cause: str) -> list[SupplierCase]:
    """At or past the open case's deadline: close it (above the lowest tier) or escalate it."""
    if state.case_open is None or now < state.case_open[1]:
        return []
    tiers = tg.tiers_for(state)
    lowest = tiers[-1]
    on = iso_day(tg.day(state.case_open[1]))
    status: Status
    if 0 <= g.tier_idx < len(tiers) - 1:
        status = "closed"
        head = (f"re-assessed at the deadline {on}: score {g.comp.score:g} places it in {g.tier}, "
                f"above {lowest.name}: case closed")
    elif g.tier_idx < 0:
        status = "escalated"
        head = f"re-assessed at the deadline {on}: {g.tier} ({g.ungraded}): phase-out recommended"
    else:
        status = "escalated"
        line = tiers[-2].min_score if len(tiers) > 1 else lowest.min_score
        head = (f"re-assessed at the deadline {on}: score {g.comp.score:g} leaves it in {lowest.name} "
                f"(under {line:g}): phase-out recommended")
    case = _case(tg, state, g, now, cause, status, [head, *_weakest(tg, state, g)])
    state.case_open = None
    return [case]
