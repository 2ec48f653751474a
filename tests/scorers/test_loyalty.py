"""Issue 12, point 5: loyalty (loyal / potentially loyal / disloyal) of hand-built order histories.

Default rules: loyal = purchase_interval_cv <= 0.5, qualified_referrals >= 1, share_of_wallet >= 0.6
(or none stated); potentially_loyal = purchase_interval_cv <= 1.0, share_of_wallet >= 0.3 (or none
stated); else disloyal. purchase_interval_cv is the population standard deviation of the gaps
between purchase days in the window over their mean (no value under three purchase days).
Expected values are derived by hand in the comments.
"""

from __future__ import annotations

import orjson
import pytest

from tests.scorers.helpers import RULES, at, feed, order
from tierstream.schemas.errors import RulesError
from tierstream.schemas.events import AnyEvent, ProfileEvent
from tierstream.schemas.outputs import ReferralCredit
from tierstream.schemas.rules import parse_rules
from tierstream.scorers.engine import Grader
from tierstream.scorers.state import EntityState


def graded(days: list[float], referrals: int = 0, share: float | None = None) -> tuple[float | None, str | None]:
    """(purchase_interval_cv, loyalty) of c1 ordering on ``days``, with ``referrals`` credits and a share."""
    g = Grader(RULES)
    evs: list[AnyEvent] = [order(d, f"o{i}") for i, d in enumerate(days)]
    if share is not None:
        evs.append(ProfileEvent(event_id="p1", occurred_at=at(1), entity_type="customer", entity_id="c1",
                                share_of_wallet=share))
    state, _ = feed(g, evs)
    for n in range(referrals):
        state, _ = g.credit(state, ReferralCredit(credit_id=f"rc:c1:r{n}:1", referrer_id="c1", referred_id=f"r{n}",
                                                  occurred_at=at(max(days))))
    snap = g.snapshot(state, state.clock)
    cv = snap.aggregates["purchase_interval_cv"]
    assert cv is None or isinstance(cv, float)
    return cv, snap.loyalty


def test_steady_buyer_who_refers_is_loyal() -> None:
    # days 0, 10, 20, 30: gaps 10, 10, 10, mean 10, deviation 0 -> cv 0; one referral; no share stated
    assert graded([0, 10, 20, 30], referrals=1) == (0.0, "loyal")


def test_steady_buyer_without_referrals_is_potentially_loyal() -> None:
    # cv 0 but no referral: not loyal; cv 0 <= 1.0 and no share stated: potentially loyal
    assert graded([0, 10, 20, 30]) == (0.0, "potentially_loyal")


def test_moderately_irregular_buyer() -> None:
    # days 0, 10, 30: gaps 10, 20, mean 15, deviations -5, +5 -> std 5 -> cv 5/15 = 0.3333: loyal with a referral
    assert graded([0, 10, 30], referrals=1) == (0.3333, "loyal")
    # days 0, 5, 30: gaps 5, 25, mean 15, std 10 -> cv 0.6667 > 0.5: potentially loyal even with a referral
    assert graded([0, 5, 30], referrals=1) == (0.6667, "potentially_loyal")


def test_erratic_buyer_is_disloyal() -> None:
    # days 0, 1, 2, 60: gaps 1, 1, 58, mean 20, deviations -19, -19, 38 -> variance (361 + 361 + 1444) / 3
    # = 722 -> std 26.870 -> cv 1.3435 > 1.0: disloyal, referrals or not
    assert graded([0, 1, 2, 60], referrals=2) == (1.3435, "disloyal")


def test_fewer_than_three_purchase_days_say_nothing_about_regularity() -> None:
    # two orders: one gap, no cv: the cv condition fails in both classes -> disloyal
    assert graded([0, 30], referrals=1) == (None, "disloyal")
    # several orders on one day are one purchase: days 0, 0, 10, 20 are purchase days 0, 10, 20 -> cv 0
    assert graded([0, 0.1, 10, 20]) == (0.0, "potentially_loyal")


def test_share_of_wallet_where_the_profile_states_it() -> None:
    # cv 0 and a referral, but 20% of wallet: under 0.6 (loyal) and under 0.3 (potentially) -> disloyal
    assert graded([0, 10, 20, 30], referrals=1, share=0.2) == (0.0, "disloyal")
    # 40%: under 0.6, at least 0.3 -> potentially loyal; 60%: loyal
    assert graded([0, 10, 20, 30], referrals=1, share=0.4) == (0.0, "potentially_loyal")
    assert graded([0, 10, 20, 30], referrals=1, share=0.6) == (0.0, "loyal")


def test_no_order_no_loyalty_as_no_segment() -> None:
    g = Grader(RULES)
    state = EntityState("customer", "c1")
    state, _ = g.apply(state, ProfileEvent(event_id="p1", occurred_at=at(0), entity_type="customer",
                                           entity_id="c1", share_of_wallet=0.9))
    snap = g.snapshot(state, state.clock)
    assert (snap.segment, snap.loyalty) == (None, None)


def test_loyalty_is_shown_with_the_segment() -> None:
    g = Grader(RULES)
    state, _ = feed(g, [order(d, f"o{i}", amount=800.0) for i, d in enumerate([0, 10, 20, 30])])
    snap = g.snapshot(state, state.clock)
    # R: 0 days <= 90; F: 4 >= 3; M: 3,200 >= 2,000 -> important_value; cv 0, no referral -> potentially loyal
    assert (snap.segment, snap.loyalty) == ("important_value", "potentially_loyal")


def _rules(loyalty: object) -> None:
    doc = RULES.model_dump(mode="json")
    doc["customer"]["loyalty"] = loyalty
    parse_rules(orjson.dumps(doc).decode())


def test_loyalty_rules_are_validated_at_load() -> None:
    with pytest.raises(RulesError, match=r"customer\.loyalty\.loyal\.steadiness: unknown metric 'steadiness'"):
        _rules({"loyal": {"steadiness": {"max": 1}}, "potentially_loyal": {"order_count": {"min": 1}}})
    with pytest.raises(RulesError, match=r"customer\.loyalty\.loyal\.order_count: min 5 is above max 2"):
        _rules({"loyal": {"order_count": {"min": 5, "max": 2}}, "potentially_loyal": {"order_count": {"min": 1}}})
    with pytest.raises(RulesError, match=r"customer\.loyalty\.potentially_loyal: Dictionary should have at least 1"):
        _rules({"loyal": {"order_count": {"min": 5}}, "potentially_loyal": {}})
    with pytest.raises(RulesError, match=r"customer\.loyalty\.loyal\.order_count: a condition needs"):
        _rules({"loyal": {"order_count": {}}, "potentially_loyal": {"order_count": {"min": 1}}})


def test_without_loyalty_rules_there_is_no_loyalty() -> None:
    doc = RULES.model_dump(mode="json")
    del doc["customer"]["loyalty"]
    g = Grader(parse_rules(orjson.dumps(doc).decode()))
    state, _ = feed(g, [order(d, f"o{i}") for i, d in enumerate([0, 10, 20])])
    assert g.snapshot(state, state.clock).loyalty is None
