"""Issue 12, points 5 and 6: every tier change carries the segment, loyalty, group and profile, as the snapshot.

Default rules; expected values derived by hand in the comments.
"""

from __future__ import annotations

from tests.scorers.helpers import RULES, at, delivery, feed, order, payment
from tierstream.schemas.events import AnyEvent, ProfileEvent
from tierstream.schemas.outputs import TierChange
from tierstream.scorers.engine import Grader
from tierstream.scorers.state import EntityState

STANDING = ("segment", "loyalty", "group", "profile")


def _profile(day: float, entity_type: str, entity_id: str, **fields: object) -> ProfileEvent:
    return ProfileEvent.model_validate({"event_id": f"p-{entity_id}", "occurred_at": at(day),
                                        "entity_type": entity_type, "entity_id": entity_id, **fields})


def test_a_customers_first_change_carries_its_segment_loyalty_group_and_profile() -> None:
    # Day 0: a profile naming the group wholesale (group_from: profile.group): no order yet, so
    # ungraded (min_evidence requires recency), no segment and no loyalty, but the group and profile.
    # Then an order of 1,000: the first tier. Wholesale RFM: recency 60, frequency 6, monetary 10,000:
    # R 0 days <= 60 (high), F 1 < 6 (low), M 1,000 < 10,000 (low) -> general_development.
    # One purchase day: no regularity (cv None), so neither loyal nor potentially loyal -> disloyal.
    g = Grader(RULES)
    _, outs = feed(g, [
        _profile(0, "customer", "c1", group="wholesale", business_nature="wholesale", attributes={"region": "north"}),
        order(0, "c1-o0", amount=1000.0, cost=600.0),
    ])
    ungraded, first = [c for o in outs for c in o.changes]
    assert (ungraded.tier, ungraded.segment, ungraded.loyalty, ungraded.group) == ("ungraded", None, None, "wholesale")
    assert ungraded.profile == {"business_nature": "wholesale", "group": "wholesale", "attributes": {"region": "north"}}
    assert first.direction == "initial"
    assert (first.segment, first.loyalty, first.group) == ("general_development", "disloyal", "wholesale")
    assert first.profile == {"business_nature": "wholesale", "group": "wholesale", "attributes": {"region": "north"}}
    # and in its JSON, for a consumer that reads the topic
    back = TierChange.model_validate_json(first.model_dump_json())
    assert back.model_dump(include=set(STANDING)) == first.model_dump(include=set(STANDING))


def test_every_change_equals_the_snapshot_of_the_same_instant() -> None:
    # 6 orders of 1,000 every 5 days, each paid: the segment and loyalty move as orders come in
    # (3 purchase days: gaps 5, 5, cv 0 -> potentially_loyal); each change says what a snapshot says then.
    g = Grader(RULES)
    events: list[AnyEvent] = [_profile(0, "customer", "c1", need_type="price")]
    for i in range(6):
        events += [order(5 * i, f"c1-o{i}", amount=1000.0, cost=600.0), payment(5 * i + 1, f"c1-i{i}", 5 * i + 10)]
    state: EntityState | None = None
    seen: list[tuple[object, ...]] = []
    for ev in events:
        state, out = g.apply(state, ev)
        for c in out.changes:
            snap = g.snapshot(state, state.clock)
            assert c.occurred_at == snap.as_of
            assert (c.segment, c.loyalty, c.group, c.profile) == (snap.segment, snap.loyalty, snap.group,
                                                                  snap.profile)
            seen.append((c.segment, c.loyalty))
    # the profile alone: ungraded, no segment; the first order: R high, F 1 < 3, M 1,000 < 2,000
    assert seen[:2] == [(None, None), ("general_development", "disloyal")]
    assert state is not None and state.profile is not None


def test_a_suppliers_change_has_no_segment_loyalty_or_group_but_its_profile() -> None:
    g = Grader(RULES)
    _, outs = feed(g, [_profile(0, "supplier", "s1", ownership="private"), delivery(1, "po1", 1, 10, 10, 10)])
    ungraded, change = [c for o in outs for c in o.changes]  # the profile alone: no delivery yet
    assert (ungraded.tier, ungraded.profile) == ("ungraded", {"ownership": "private"})
    assert (change.segment, change.loyalty, change.group, change.profile) == (None, None, None,
                                                                              {"ownership": "private"})
