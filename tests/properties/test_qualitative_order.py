"""Assessments of qualitative dimensions: any arrival order, any redelivery, gives the same state and grade."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.scorers.helpers import delivery, eod
from tests.scorers.test_qualitative import QUAL, judged
from tierstream.schemas.events import AnyEvent
from tierstream.scorers.codec import encode
from tierstream.scorers.engine import Grader
from tierstream.scorers.state import EntityState

_ASSESSMENT = st.tuples(
    st.integers(0, 300),  # day
    st.sampled_from(["li.wei", "wang.fang", "zhao.lei"]),
    st.sampled_from([0.0, 20.0, 45.5, 60.0, 90.0, 100.0]),
    st.integers(1, 120),  # days in force
    st.sampled_from(["reputation", "peers"]),
)


def _events(drawn: list[tuple[int, str, float, int, str]], deliveries: list[int]) -> list[AnyEvent]:
    out: list[AnyEvent] = [delivery(d, f"p{i}", d + (i % 3) - 1, 10, 10, 10 - i % 2) for i, d in enumerate(deliveries)]
    out += [judged(day, author, score, day + days, dim, event_id=f"a{i}")
            for i, (day, author, score, days, dim) in enumerate(drawn)]
    return out


def _feed(g: Grader, events: list[AnyEvent]) -> EntityState:
    state: EntityState | None = None
    for e in events:
        state, _ = g.apply(state, e)
    assert state is not None
    return state


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_arrival_order_gives_the_same_assessments_and_grade(data: st.DataObject) -> None:
    drawn = data.draw(st.lists(_ASSESSMENT, min_size=1, max_size=8), label="assessments")
    deliveries = data.draw(st.lists(st.integers(0, 300), min_size=1, max_size=4), label="delivery days")
    events = _events(drawn, deliveries)
    shuffled = data.draw(st.permutations(events), label="arrival order")
    again = data.draw(st.lists(st.sampled_from(events), max_size=3), label="redelivered")
    g = Grader(QUAL)
    a = _feed(g, sorted(events, key=lambda e: (e.occurred_at, e.event_id)))
    b = _feed(g, [*shuffled, *again])
    assert orjson.loads(encode(a))[29] == orjson.loads(encode(b))[29]  # the assessments kept, byte for byte
    as_of = max(a.clock, b.clock, eod(300))
    for t in (a.clock, as_of):
        # the snapshot as dumped, a function of the set of events (its history, notices in force, is not)
        assert g.snapshot(a, t).model_dump() == g.snapshot(b, t).model_dump()
