"""Time-driven reviews: time alone moves a tier, and a review never changes what later events do."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.scorers.helpers import changes, feed, key_customer, order
from tierstream.scorers.engine import REREVIEW, Grader
from tierstream.scorers.layout import DAY
from tierstream.scorers.state import EntityState


def test_review_downgrades_a_lapsed_key_customer(g: Grader) -> None:
    state, outs = feed(g, key_customer())
    assert [(c.tier, c.direction) for c in changes(outs)][-1] == ("key", "upgrade")
    assert state.next_review is not None and state.next_review > state.clock
    # nothing moves the next day
    assert g.review(state, state.clock + DAY).changes == []
    later = state.clock + 200 * DAY
    out = g.review(state, later)
    (change,) = out.changes
    assert (change.previous_tier, change.tier, change.direction) == ("key", "general", "downgrade")
    assert change.cause == REREVIEW
    assert change.reasons[0].startswith("re-review")
    assert any("recency" in r for r in change.reasons[1:])
    assert change.occurred_at == datetime.fromtimestamp(later, UTC)
    assert state.published_tier == "general"
    assert g.review(state, later).changes == []  # published: no second change


def test_review_does_not_change_what_later_events_do(g: Grader) -> None:
    a, _ = feed(g, key_customer())
    b = EntityState.from_bytes(a.to_bytes())
    g.review(a, a.clock + 150 * DAY)
    g.review_due(a, a.clock + 160 * DAY)
    late = order(190, "o-new", amount=10.0)
    a, _ = g.apply(a, late)
    b, _ = g.apply(b, late)
    assert g.snapshot(a, a.clock).model_dump() == g.snapshot(b, b.clock).model_dump()


def test_review_due_runs_pending_reviews(g: Grader) -> None:
    state, _ = feed(g, key_customer())
    until = state.clock + 400 * DAY
    out = g.review_due(state, until)
    tiers = [(c.tier, c.direction, c.cause) for c in out.changes]
    assert tiers == [("general", "downgrade", REREVIEW), ("potential", "downgrade", REREVIEW)]
    assert all(c.reasons[0].startswith("re-review") for c in out.changes)
    times = [c.occurred_at for c in out.changes]
    assert times == sorted(times)
    assert state.next_review is None or state.next_review > until
    assert state.published_tier == g.snapshot(state, until).tier == "potential"
    assert g.review_due(state, until).changes == []


def test_review_due_before_anything_is_due_does_nothing(g: Grader) -> None:
    state, _ = feed(g, key_customer())
    assert state.next_review is not None
    before = state.to_bytes()
    assert g.review_due(state, state.next_review - 1).changes == []
    assert state.to_bytes() == before


def test_review_due_publishes_a_downgrade_on_the_day_it_happens(g: Grader) -> None:
    state, _ = feed(g, key_customer())
    probe = EntityState.from_bytes(state.to_bytes())
    c0 = state.clock // DAY
    first_general = next(
        (c0 + d) * DAY for d in range(1, 300) if g.grade(probe, (c0 + d) * DAY).tier != "key"
    )
    out = g.review_due(state, (c0 + 300) * DAY)
    first = out.changes[0]
    assert first.tier == "general"
    assert first.occurred_at == datetime.fromtimestamp(first_general, UTC), (
        f"downgrade published on {first.occurred_at.date()}, "
        f"grade() says general from {datetime.fromtimestamp(first_general, UTC).date()}"
    )
