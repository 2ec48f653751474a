"""Entity state: the round trip through bytes and the end-of-day score cache."""

from __future__ import annotations

import tracemalloc

import pytest

from tests.scorers.helpers import (
    DAY0,
    _eid,
    assessment,
    at,
    changes,
    feed,
    good_then_bad_supplier,
    key_customer,
    order,
    payment,
    purchase,
    referral,
)
from tierstream.schemas.events import AnyEvent, AssessmentEvent
from tierstream.scorers.engine import Grader
from tierstream.scorers.layout import DAY
from tierstream.scorers.state import EntityState


def _rich_customer() -> list[AnyEvent]:
    return [
        *key_customer(),
        order(7, "o-r", status="returned"),  # reversal before its order
        order(8, "o-r"),
        order(9, "c1-o1", status="cancelled"),
        referral(0, "c9", "c1"),
        assessment(2, "c1", 50, score=40.0),
        assessment(3, "c1", 45, override="general"),
        order(11, "o-g", customer_group="wholesale", amount=10.0),
    ]


def test_state_round_trips_through_bytes(g: Grader) -> None:
    state, _ = feed(g, _rich_customer())
    g.review(state, state.clock + 3 * DAY)  # fills the end-of-day cache
    data = state.to_bytes()
    back = EntityState.from_bytes(data)
    assert back.to_bytes() == data
    assert back == state
    assert state.next_review is not None and EntityState.next_review_of(data) == state.next_review
    assert g.snapshot(back, back.clock + DAY).model_dump() == g.snapshot(state, state.clock + DAY).model_dump()
    # and processing continues identically from the restored state
    nxt: list[AnyEvent] = [order(40, "o-next", amount=20.0), payment(41, "i-next", 30)]
    s1, o1 = feed(g, nxt, state)
    s2, o2 = feed(g, nxt, back)
    assert s1.to_bytes() == s2.to_bytes()
    assert [c.model_dump() for c in changes(o1)] == [c.model_dump() for c in changes(o2)]


def test_supplier_state_round_trips(g: Grader) -> None:
    state, _ = feed(g, [*good_then_bad_supplier(60), purchase(3, "p1", amount=10.0, market=9.0)])
    data = state.to_bytes()
    assert EntityState.from_bytes(data).to_bytes() == data
    assert EntityState.from_bytes(data) == state


def test_a_stored_state_holds_no_more_memory_than_its_bytes(g: Grader) -> None:
    """The table keeps one state per entity: its bytes must not carry the encoder's whole buffer.

    orjson 3.12 and later hand back their write buffer untrimmed (4 KiB or more for a state of
    a few hundred bytes); tracemalloc sees each allocation at its real size.
    """
    state, _ = feed(g, [order(1, "o-1")])
    size = len(state.to_bytes())
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [state.to_bytes() for _ in range(200)]
        per_state = (tracemalloc.get_traced_memory()[0] - before) / len(kept)
    finally:
        tracemalloc.stop()
    assert size < 2048 and per_state <= size + 64 + 16, (size, per_state)  # bytes header 33, the list's slot 8


def test_unknown_state_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown entity state format"):
        EntityState.from_bytes(b'[1, "customer", "c1"]')
    with pytest.raises(ValueError, match="unknown entity state format"):
        EntityState.next_review_of(b'[1, "customer", "c1"]')


# --------------------------------------------------------------------------- end-of-day cache


def _recomputed_daily(g: Grader, state: EntityState) -> dict[int, float]:
    """The cached end-of-day scores computed again from the buckets alone (no cached grade, no cache)."""
    fresh = EntityState.from_bytes(state.to_bytes())
    fresh.forget_scores()
    return {d: g._end_of_day(fresh, d, None) for d in state.daily}


@pytest.mark.parametrize("expires_hour", [11.0, 15.0, 36.0], ids=["before-order", "later-that-day", "next-day"])
def test_end_of_day_score_from_the_last_grade_equals_the_recomputed_one(g: Grader, expires_hour: float) -> None:
    """A day closes with the score of its last grade, unless a prospect score ends later that day."""
    prospect = AssessmentEvent(
        event_id=_eid(None), occurred_at=at(0, 8.0), entity_type="customer", entity_id="c1", prospect_score=90.0,
        reason="trade fair", expires_at=at(0, expires_hour), author="li.wei")
    state, _ = feed(g, [prospect, order(0, "o1", amount=200.0), payment(1, "i1", 5)])
    assert DAY0 in state.daily  # closed by the payment's day
    assert state.daily == _recomputed_daily(g, state)
    used_prospect = expires_hour > 12.0 + 24 * 0  # the order's grade (noon) still saw it
    assert (state.daily[DAY0] == 90.0) == (expires_hour == 36.0)
    assert used_prospect or state.daily[DAY0] != 90.0


def test_end_of_day_scores_match_after_late_events_and_reviews(g: Grader) -> None:
    evs = [*key_customer(orders=8), order(3, "late", amount=50.0), payment(2, "late-i", 1)]
    state, _ = feed(g, evs)
    g.review_due(state, state.clock + 40 * DAY)
    g.grade(state, state.clock + 40 * DAY)
    assert state.daily and state.daily == _recomputed_daily(g, state)
