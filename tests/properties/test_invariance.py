"""The graded state is a function of the set of events: any arrival order, any redelivery."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.properties.helpers import SETTINGS, assert_same_snapshots, event_lists, run
from tierstream.schemas.events import AnyEvent


@settings(SETTINGS, max_examples=100)
@given(st.data())
def test_any_permutation_gives_identical_snapshots(data: st.DataObject) -> None:
    events = data.draw(event_lists(), label="events")
    shuffled = data.draw(st.permutations(events), label="arrival order")
    a, _, _ = run(events)
    b, _, _ = run(shuffled)
    assert_same_snapshots(a, b)


@SETTINGS
@given(st.data())
def test_event_time_order_equals_any_arrival_order(data: st.DataObject) -> None:
    """The sorted file (what a batch system would see) and an arbitrary one agree."""
    events = data.draw(event_lists(), label="events")
    ordered = sorted(events, key=lambda e: (e.occurred_at, e.event_id))
    a, _, _ = run(ordered)
    b, _, _ = run(list(reversed(ordered)))
    assert_same_snapshots(a, b)


# --------------------------------------------------------------------------- duplicates


@SETTINGS
@given(st.data())
def test_duplicates_change_nothing(data: st.DataObject) -> None:
    events = data.draw(event_lists(), label="events")
    n = len(events)
    # each event's copy goes anywhere after the original
    where = [data.draw(st.integers(i, n - 1), label=f"copy of {i} after") for i in range(n)]
    doubled: list[AnyEvent] = []
    for k, ev in enumerate(events):
        doubled.append(ev)
        doubled += [events[i] for i in range(k + 1) if where[i] == k]
    assert len(doubled) == 2 * n
    a, changes_a, rep_a = run(events)
    b, changes_b, rep_b = run(doubled)
    assert_same_snapshots(a, b)
    assert [c.model_dump() for c in changes_a] == [c.model_dump() for c in changes_b]
    assert rep_b.report.applied == rep_a.report.applied
    assert rep_b.report.history == rep_a.report.history
