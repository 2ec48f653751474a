"""Issue 12, point 6: profiles kept in state (latest wins, any arrival order, any age), groups from a profile.

Expected values are derived by hand in the comments, from the default rules.
"""

from __future__ import annotations

import itertools

import orjson
import pytest

from tests.scorers.helpers import RULES, at, feed, order, payment
from tierstream.schemas.errors import RulesError
from tierstream.schemas.events import AnyEvent, ProfileEvent
from tierstream.schemas.rules import Rules, parse_rules
from tierstream.scorers.codec import decode
from tierstream.scorers.engine import Grader


def profile(day: float, event_id: str, cust: str = "c1", **fields: object) -> ProfileEvent:
    doc = {"event_id": event_id, "occurred_at": at(day), "entity_type": "customer", "entity_id": cust, **fields}
    return ProfileEvent.model_validate(doc)


def rules_with(**customer: object) -> Rules:
    doc = RULES.model_dump(mode="json")
    doc["customer"].update(customer)
    return parse_rules(orjson.dumps(doc).decode())


def steady(cust: str = "c1") -> list[AnyEvent]:
    """6 orders of 1,000 (cost 600) every 5 days, each paid on time (days 0..25, last payment day 26).

    By hand, as of day 26: recency 1 day -> 100 - 15/30 = 99.5; frequency 6 -> 80; revenue 6,000 ->
    50 + 30 x 4,000/8,000 = 65; profit 2,400 -> 50 + 30 x 1,900/2,500 = 72.8; punctuality 1 -> 100,
    days late 0 -> 100, overdue 0 -> 100; referrals 0 -> 0. Score = 0.2 x 99.5 + 0.15 x 80 + 0.2 x 65
    + 0.2 x 72.8 + 0.05 x 300 + 0.1 x 0 = 19.9 + 12 + 13 + 14.56 + 15 = 74.46: key by default
    (min 70), general in wholesale (key 75, general 45), which it never reached.
    """
    evs: list[AnyEvent] = []
    for i in range(6):
        evs.append(order(5 * i, f"{cust}-o{i}", cust=cust, amount=1000.0, cost=600.0))
        evs.append(payment(5 * i + 1, f"{cust}-i{i}", 5 * i + 10, cust=cust))
    return evs


def test_latest_profile_wins_in_any_arrival_order() -> None:
    # day 5 beats day 1; on the same instant the greater event id wins: "pb" over "pa"
    profiles = [
        profile(1, "px", business_nature="retail", need_type="price", attributes={"region": "north"}),
        profile(5, "pa", business_nature="chain", need_type="quality"),
        profile(5, "pb", business_nature="franchise", need_type="service", share_of_wallet=0.4,
                attributes={"region": "east"}),
    ]
    g = Grader(RULES)
    seen = set()
    events: list[AnyEvent] = [*profiles, order(3, "o1")]
    for perm in itertools.permutations(events):
        state, outs = feed(g, perm)
        assert all(o.status == "applied" for o in outs)
        snap = g.snapshot(state, state.clock)
        seen.add(orjson.dumps(snap.profile))
        assert state.profile is not None and state.profile.event_id == "pb"
    assert seen == {orjson.dumps({"business_nature": "franchise", "need_type": "service", "share_of_wallet": 0.4,
                                  "attributes": {"region": "east"}})}


def test_a_profile_older_than_the_retention_still_applies() -> None:
    # retention: window 365 + lookback 60 days; from day 500 the first day kept is 500 - 364 - 60 = 76
    g = Grader(RULES)
    state, outs = feed(g, [order(500, "o1"), order(0, "o0"), profile(0, "p-old", ownership="state")])
    assert [o.status for o in outs] == ["applied", "too_old", "applied"]
    assert state.profile is not None and state.profile.ownership == "state"
    assert g.snapshot(state, state.clock).profile == {"ownership": "state"}
    # its id is not remembered (its day is past the retention): applied again, it changes nothing
    again, out = g.apply(state, profile(0, "p-old", ownership="state"))
    assert out.status == "applied" and again.profile == state.profile


def test_a_repeated_profile_in_the_retention_is_a_duplicate() -> None:
    g = Grader(RULES)
    _, outs = feed(g, [order(1, "o1"), profile(2, "p1", need_type="price"), profile(2, "p1", need_type="price")])
    assert [o.status for o in outs] == ["applied", "applied", "duplicate"]


def test_the_group_comes_from_the_profile_in_any_arrival_order() -> None:
    g = Grader(RULES)  # group_from: profile.group (default)
    plain, _ = feed(g, steady())
    assert (g.snapshot(plain, plain.clock).tier, g.snapshot(plain, plain.clock).score) == ("key", 74.46)
    events = [*steady(), profile(2, "p1", group="wholesale", business_nature="wholesale")]
    for perm in (events, events[::-1], events[6:] + events[:6]):
        state, _ = feed(g, perm)
        snap = g.snapshot(state, state.clock)
        assert (snap.group, snap.tier, snap.score) == ("wholesale", "general", 74.46)


def test_group_from_order_ignores_the_profile() -> None:
    g = Grader(rules_with(group_from="order"))
    state, _ = feed(g, [*steady(), profile(2, "p1", group="wholesale")])
    snap = g.snapshot(state, state.clock)
    assert (snap.group, snap.tier) == (None, "key")
    assert snap.profile == {"group": "wholesale"}


def test_group_from_a_business_nature_needs_every_nature_declared() -> None:
    with pytest.raises(RulesError, match=r"customer\.group_from: profile\.business_nature picks the group, but "
                                         r"customer\.groups does not declare agent, franchise, chain"):
        rules_with(group_from="profile.business_nature")
    groups = {**RULES.model_dump(mode="json")["customer"]["groups"],
              **{n: {} for n in ("agent", "franchise", "chain", "specialty_store", "manufacturer")}}
    g = Grader(rules_with(group_from="profile.business_nature", groups=groups))
    state, _ = feed(g, [*steady(), profile(2, "p1", business_nature="wholesale")])
    assert (g.snapshot(state, state.clock).group, g.snapshot(state, state.clock).tier) == ("wholesale", "general")


def test_group_from_a_free_attribute() -> None:
    g = Grader(rules_with(group_from="profile.attributes.channel"))
    state, _ = feed(g, [*steady(), profile(2, "p1", attributes={"channel": "wholesale"})])
    assert g.snapshot(state, state.clock).tier == "general"
    with pytest.raises(RulesError, match=r"customer\.group_from: 'profile\.nope' is neither order"):
        rules_with(group_from="profile.nope")


def test_a_profile_naming_an_undeclared_group_is_refused() -> None:
    g = Grader(RULES)
    state, outs = feed(g, [order(1, "o1"), profile(2, "p1", group="Wholesale", need_type="price")])
    out = outs[-1]
    assert (out.status, out.invalid_field, out.invalid_value) == ("invalid", "group", "Wholesale")
    assert out.detail == ("profile group 'Wholesale' is not a group of the rules (customer.groups: retail, "
                          "wholesale; customer.group_from: profile.group)")
    assert state.profile is None


def test_group_and_share_of_wallet_are_for_customers() -> None:
    with pytest.raises(ValueError, match="group applies to customers"):
        ProfileEvent(event_id="p", occurred_at=at(0), entity_type="supplier", entity_id="s1", group="retail")
    with pytest.raises(ValueError, match=r"attributes\.need_type: a profile field of its own"):
        profile(0, "p", attributes={"need_type": "price"})


def test_saved_state_keeps_the_profile_at_index_30() -> None:
    g = Grader(RULES)
    state, _ = feed(g, [order(1, "o1"), profile(2, "p1", ownership="private", attributes={"region": "west"})])
    doc = orjson.loads(state.to_bytes())
    assert doc[29] == [] and doc[30][:3] == [state.profile.at, "p1", "private"]  # type: ignore[union-attr]
    assert decode(state.to_bytes()).profile == state.profile
    older = orjson.dumps(doc[:29])  # a state written before profiles: none
    assert decode(older).profile is None
