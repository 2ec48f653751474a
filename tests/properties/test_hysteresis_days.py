"""Hysteresis over calendar days: its caches never change a grade, and dated changes do not depend on the as-of."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.properties.helpers import RECEIVED, RULES, SETTINGS, event_lists
from tierstream.schemas.events import AnyEvent
from tierstream.schemas.outputs import TierChange
from tierstream.scorers.engine import ts
from tierstream.scorers.layout import DAY
from tierstream.scorers.state import EntityState
from tierstream.streams.offline.score import OfflineScorer


def _scored(events: list[AnyEvent], as_of: int | None = None) -> tuple[OfflineScorer, list[TierChange]]:
    scorer = OfflineScorer(RULES, as_of=as_of, received_at=RECEIVED)
    emitted: list[TierChange] = []
    for lineno, ev in enumerate(events, 1):
        emitted += scorer.feed_line(lineno, ev.model_dump_json().encode())
    emitted += scorer.finish()[1]
    return scorer, emitted


@SETTINGS
@given(st.data())
def test_cached_tracks_grade_as_tracks_rebuilt_from_the_buckets(data: st.DataObject) -> None:
    """A state graded incrementally, day after day, grades as a copy without any cache."""
    events = data.draw(event_lists(), label="events")
    scorer, _ = _scored(events)
    steps = data.draw(st.lists(st.integers(0, 40), min_size=1, max_size=5), label="days between grades")
    for state in scorer.states.values():
        at = state.clock
        for step in steps:
            at += step * DAY + 3600
            scorer.grader.review_due(state, at)
            live = scorer.grader.grade(state, at)
            fresh = EntityState.from_bytes(state.to_bytes())
            fresh.forget_scores()
            again = scorer.grader.grade(fresh, at)
            assert (live.tier, live.comp.score, live.notes, live.next_review) == \
                   (again.tier, again.comp.score, again.notes, again.next_review), (state.entity_id, at)


@SETTINGS
@given(st.data())
def test_changes_up_to_an_as_of_are_those_of_any_later_as_of(data: st.DataObject) -> None:
    """A time-ordered file scored as of T1 and as of T2 > T1: the same dated changes up to T1."""
    events = sorted(data.draw(event_lists(), label="events"), key=lambda e: (e.occurred_at, e.event_id))
    first, last = ts(events[0].occurred_at), ts(events[-1].occurred_at) + 200 * DAY
    t1 = data.draw(st.integers(first, last), label="T1")
    t2 = data.draw(st.integers(t1, last + 100 * DAY), label="T2")
    _, at_t1 = _scored(events, t1)
    _, at_t2 = _scored(events, t2)
    # the same changes; the file interleaves entities in the order their reviews came due
    assert sorted(c.model_dump_json() for c in at_t1) == \
           sorted(c.model_dump_json() for c in at_t2 if ts(c.occurred_at) <= t1)
