"""What a tier entitles or triggers: the rules' tier actions on every change and snapshot (issue 12, point 1).

The rules below grade customers on one dimension, the order count in a 30-day
window on the scale 0 orders -> 0, 4 orders -> 100 (25 points an order), with
no hysteresis: gold from 50 (2 orders), bronze below; wholesale customers need
75 for gold (3 orders). Every expected value follows from that by hand.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import pytest
import yaml

from tests.scorers.helpers import feed, order
from tierstream.schemas.errors import RulesError
from tierstream.schemas.outputs import TierAction
from tierstream.schemas.rules import Rules, load_rules, parse_rules
from tierstream.scorers.engine import Grader

GOLD_ACTIONS = [{"name": "discount", "value": 0.1, "label": "10% off"}, {"name": "account_manager"}]


def rules(**customer: Any) -> Rules:
    doc = yaml.safe_load(resources.files("tierstream.schemas").joinpath("default_rules.yaml").read_text("utf-8"))
    doc["customer"].update({
        "window_days": 30,
        "dimensions": {"frequency": {"metric": "order_count", "weight": 1.0, "scale": [[0, 0], [4, 100]]}},
        "tiers": [{"name": "gold", "min_score": 50, "actions": GOLD_ACTIONS}, {"name": "bronze", "min_score": 0}],
        "hysteresis": {"downgrade_margin": 0, "min_days_in_tier": 0, "grace_days": 0, "hold_days": 0},
        "min_evidence": {"dimensions": 1, "requires": []},
        "groups": {"retail": {}, "wholesale": {"tiers": [{"name": "gold", "min_score": 75},
                                                         {"name": "bronze", "min_score": 0}]}},
        **customer,
    })
    return parse_rules(yaml.safe_dump(doc, allow_unicode=True))


def actions(items: list[TierAction]) -> list[dict[str, Any]]:
    return [a.model_dump(exclude_none=True) for a in items]


def test_every_change_carries_the_new_tiers_actions() -> None:
    g = Grader(rules())
    state, outs = feed(g, [order(0, "o1"), order(1, "o2")])
    first, second = outs[0].changes[0], outs[1].changes[0]
    # one order: 25 points, bronze, which entitles nothing; two: 50, gold
    assert (first.tier, actions(first.actions)) == ("bronze", [])
    assert (second.tier, actions(second.actions)) == ("gold", GOLD_ACTIONS)
    assert actions(g.snapshot(state, state.clock).actions) == GOLD_ACTIONS
    # the second order cancelled: one order left, 25 points, bronze again, and its (empty) actions
    state, outs = feed(g, [order(2, "o2", status="cancelled")], state)
    assert (outs[0].changes[0].tier, outs[0].changes[0].actions) == ("bronze", [])


def test_a_group_tier_without_actions_has_the_default_tiers() -> None:
    g = Grader(rules())
    events = [order(day, f"o{day}", customer_group="wholesale") for day in range(3)]
    _, outs = feed(g, events)
    # wholesale gold needs 75: two orders (50) stay bronze, the third (75) reaches gold,
    # whose actions are the default gold's: the group's gold lists none of its own
    assert [c.tier for o in outs for c in o.changes] == ["bronze", "gold"]
    assert actions(outs[2].changes[0].actions) == GOLD_ACTIONS
    own = rules(groups={"retail": {}, "wholesale": {"tiers": [
        {"name": "gold", "min_score": 75, "actions": [{"name": "discount", "value": 0.15}]},
        {"name": "bronze", "min_score": 0}]}})
    assert [a.name for a in own.customer.tiers_for("wholesale")[0].actions] == ["discount"]
    assert own.customer.tiers_for("wholesale")[0].actions[0].value == 0.15


def test_an_ungraded_entity_has_no_actions() -> None:
    """Not those of the lowest tier, whose actions here are not empty."""
    g = Grader(rules(
        dimensions={"frequency": {"metric": "order_count", "weight": 0.5, "scale": [[0, 0], [4, 100]]},
                    "recency": {"metric": "recency_days", "weight": 0.5, "scale": [[0, 100], [30, 0]]}},
        tiers=[{"name": "gold", "min_score": 50, "actions": GOLD_ACTIONS},
               {"name": "bronze", "min_score": 0, "actions": [{"name": "win_back_campaign"}]}],
        min_evidence={"dimensions": 1, "requires": ["recency"]}))
    _, outs = feed(g, [order(0, "o1"), order(1, "o1", status="cancelled")])
    # one order on day 0: frequency 25, recency 0 days -> 100: score 62.5, gold
    assert (outs[0].changes[0].tier, actions(outs[0].changes[0].actions)) == ("gold", GOLD_ACTIONS)
    # the only order cancelled: no order, no recency, below min_evidence
    last = outs[1].changes[0]
    assert (last.tier, last.actions) == ("ungraded", [])


def test_the_default_rules_publish_actions_for_every_supplier_tier() -> None:
    by_tier = {t.name: [a.name for a in t.actions] for t in load_rules().supplier.tiers}
    assert by_tier["unqualified"] == ["block_new_purchase_orders"]
    assert "warn_new_purchase_orders" in by_tier["qualified"]
    assert by_tier["excellent"] == ["order_share", "priority_orders"]


@pytest.mark.parametrize(("tier_actions", "words"), [
    ([{"name": "discount"}, {"name": "discount"}], "action 'discount' is listed twice"),
    ([{"name": "warn_new_purchase_orders"}, {"name": "block_new_purchase_orders"}], "exclude each other"),
    ([{"name": "Discount!"}], "customer.tiers.0.actions.0.name"),
    ([{"name": "discount", "colour": "red"}], "colour"),
])
def test_bad_actions_are_refused_at_load(tier_actions: list[dict[str, Any]], words: str) -> None:
    with pytest.raises(RulesError) as info:
        rules(tiers=[{"name": "gold", "min_score": 50, "actions": tier_actions}, {"name": "bronze", "min_score": 0}])
    assert words in str(info.value)
