"""Qualitative supplier dimensions (信息收集: 市场口碑, 同行评价): assessed by people, averaged, expiring.

Rules of these tests (``QUAL``): the default rules with the supplier graded on
three dimensions, no hysteresis (a tier follows its score):

* ``on_time`` (on_time_rate, weight 0.5, scale 0 -> 0, 1 -> 100): one delivery on time
  and one late give a rate of 0.5, a dimension score of 50;
* ``reputation`` (assessed, weight 0.3, scale 0 -> 0, 100 -> 100: the score as assessed);
* ``peers`` (assessed, weight 0.2, same scale).

Tiers: excellent 85, good 70, qualified 55, unqualified 0. Every expected value
below is derived by hand in the comments. Days count from 2025-01-01, events at
noon UTC (``tests.scorers.helpers.at``).
"""

from __future__ import annotations

import itertools
from importlib import resources
from typing import Any

import orjson
import pytest
import yaml

from tests.scorers.helpers import at, changes, delivery, eod, feed
from tierstream.schemas.errors import RulesError
from tierstream.schemas.events import AnyEvent, AssessmentEvent
from tierstream.schemas.rules import Rules, parse_rules
from tierstream.scorers.codec import encode
from tierstream.scorers.engine import REREVIEW, Grader, ts
from tierstream.scorers.state import EntityState


def _rules(**supplier: Any) -> Rules:
    doc = yaml.safe_load(resources.files("tierstream.schemas").joinpath("default_rules.yaml").read_text("utf-8"))
    doc["supplier"]["dimensions"] = {
        "on_time": {"metric": "on_time_rate", "weight": 0.5, "scale": [[0, 0], [1, 100]], "label": "on-time delivery"},
        "reputation": {"metric": "assessed", "weight": 0.3, "scale": [[0, 0], [100, 100]],
                       "label": "market reputation"},
        "peers": {"metric": "assessed", "weight": 0.2, "scale": [[0, 0], [100, 100]], "label": "peer evaluation"},
    }
    doc["supplier"]["hysteresis"] = {"downgrade_margin": 0, "min_days_in_tier": 0, "grace_days": 0, "hold_days": 0}
    doc["supplier"].update(supplier)
    return parse_rules(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "qualitative.yaml")


QUAL = _rules()


@pytest.fixture
def q() -> Grader:
    return Grader(QUAL)


def judged(day: float, author: str, score: float, expires_day: float, dimension: str = "reputation",
           event_id: str | None = None) -> AssessmentEvent:
    """An assessment of ``dimension`` of supplier s1 by ``author``."""
    return AssessmentEvent(event_id=event_id or f"{dimension}-{author}-{day}", occurred_at=at(day),
                           entity_type="supplier", entity_id="s1", dimension=dimension, score=score,
                           reason="market survey", expires_at=at(expires_day), author=author)


def half_on_time() -> list[AnyEvent]:
    """Two deliveries on day 0, one on time and one late: on-time rate 0.5, dimension score 50."""
    return [delivery(0, "p1", 1, 10, 10, 10), delivery(0, "p2", -1, 10, 10, 10)]


def test_two_evaluators_are_averaged_until_each_expires(q: Grader) -> None:
    state, outs = feed(q, [*half_on_time(), judged(1, "li.wei", 90, 30), judged(2, "wang.fang", 70, 40)])
    *_, first, up = changes(outs)
    # on time alone, after the second delivery: 50 -> unqualified
    assert (first.tier, first.score) == ("unqualified", 50.0)
    # li.wei's 90: (0.5 x 50 + 0.3 x 90) / 0.8 = (25 + 27) / 0.8 = 65 -> qualified; the
    # reputation's share of the move: 0.3 / 0.8 x (90 - 50) = +15.0 points
    assert (up.tier, up.score, up.components) == ("qualified", 65.0, {"on_time": 50.0, "reputation": 90.0})
    assert up.reasons == ["score 65.0 reached qualified (minimum 55)",
                          "market reputation now scored 90 (assessed 90 by li.wei): +15.0 points"]
    # wang.fang's 70 with li.wei's 90: reputation (90 + 70) / 2 = 80; (25 + 0.3 x 80) / 0.8 = 61.25
    snap = q.snapshot(state, state.clock)
    assert (snap.tier, snap.score, snap.components["reputation"]) == ("qualified", 61.25, 80.0)
    assert snap.aggregates["assessments"] == {"reputation": {"score": 80.0, "evaluators": 2}, "peers": None}
    # the next review that can move anything is li.wei's expiry, at its instant (a review before
    # it, such as the notices' midnight look, changes nothing)
    assert q.review_due(state, ts(at(30)) - 1).changes == []
    assert state.next_review == ts(at(30))
    # li.wei's expired (day 30, noon): wang.fang's 70 alone: (25 + 21) / 0.8 = 57.5, still qualified
    assert q.review_due(state, ts(at(30))).changes == []
    assert q.snapshot(state, ts(at(30))).components["reputation"] == 70.0
    assert q.snapshot(state, ts(at(30)) - 1).components["reputation"] == 80.0
    assert state.next_review == ts(at(40))
    # wang.fang's expired (day 40, noon): no assessment in force, the dimension is left out and
    # the weights rescaled: 0.5 x 50 / 0.5 = 50 -> unqualified, dated at the expiry instant.
    # Its share, against the last published change (score 65, reputation 90: no change was
    # published at 57.5): 0.3 / 0.5 x (65 - 90) = -15.0 points (it leaves at the previous score)
    (down,) = q.review_due(state, eod(60)).changes
    assert (down.tier, down.score, down.cause, down.occurred_at) == ("unqualified", 50.0, REREVIEW, at(40))
    assert down.components == {"on_time": 50.0}
    assert down.reasons == [
        "re-review: score 50.0 fell below what qualified requires (minimum 55)",
        "market reputation assessment expired on 2025-02-10, left out: -15.0 points",
    ]
    assert q.snapshot(state, eod(60)).aggregates["assessments"] == {"reputation": None, "peers": None}


def test_two_dimensions_each_their_own_evaluators(q: Grader) -> None:
    state, _ = feed(q, [*half_on_time(), judged(1, "li.wei", 90, 30), judged(1, "li.wei", 40, 30, "peers")])
    # (0.5 x 50 + 0.3 x 90 + 0.2 x 40) / 1 = 25 + 27 + 8 = 60 -> qualified
    snap = q.snapshot(state, state.clock)
    assert (snap.score, snap.tier) == (60.0, "qualified")
    assert snap.aggregates["assessments"] == {"reputation": {"score": 90.0, "evaluators": 1},
                                              "peers": {"score": 40.0, "evaluators": 1}}


def test_the_same_author_reassessing_replaces_the_earlier_score(q: Grader) -> None:
    state, outs = feed(q, [*half_on_time(), judged(1, "li.wei", 90, 60), judged(5, "li.wei", 30, 60)])
    # day 1: 65 -> qualified (above); day 5: li.wei's 30 replaces the 90, not averaged with it:
    # (25 + 0.3 x 30) / 0.8 = 42.5 -> unqualified; share 0.3 / 0.8 x (30 - 90) = -22.5 points
    down = changes(outs)[-1]
    assert (down.tier, down.score, down.components["reputation"]) == ("unqualified", 42.5, 30.0)
    assert down.reasons[1] == "market reputation down from 90 to 30 (assessed 30 by li.wei): -22.5 points"
    assert q.snapshot(state, state.clock).aggregates["assessments"]["reputation"] == {"score": 30.0, "evaluators": 1}


def test_a_reassessment_keeps_the_earlier_score_for_the_days_before_it() -> None:
    """Hysteresis looks back at past days: before the re-assessment, the earlier score was in force."""
    q = Grader(_rules(hysteresis={"downgrade_margin": 0, "min_days_in_tier": 14, "grace_days": 0,
                                  "hold_days": 0}))
    events = [*half_on_time(), judged(1, "li.wei", 90, 60), judged(10, "li.wei", 30, 60)]
    for order in (events, list(reversed(events))):
        state, _ = feed(q, order)
        # days 1..9 ended at 65 (qualified, li.wei's 90 in force); day 10 scores 42.5, but
        # qualified was reached 1 day ago, under min_days_in_tier 14: held until day 9 + 14 = 23
        snap = q.snapshot(state, state.clock)
        assert (snap.score, snap.tier) == (42.5, "qualified")
        assert q.snapshot(state, eod(22)).tier == "qualified"
        assert q.snapshot(state, eod(23)).tier == "unqualified"


def test_arrival_order_and_duplicates_do_not_matter(q: Grader) -> None:
    events = [*half_on_time(), judged(1, "li.wei", 90, 30), judged(2, "wang.fang", 70, 40),
              judged(5, "li.wei", 60, 50), judged(3, "zhao.lei", 20, 45, "peers")]
    states = []
    for order in itertools.permutations(events[2:]):
        state, _ = feed(q, [*events[:2], *order, order[0]])  # order[0] again: a redelivery
        states.append(state)
    # li.wei's latest (60) and wang.fang's 70: reputation 65; peers 20;
    # 0.5 x 50 + 0.3 x 65 + 0.2 x 20 = 25 + 19.5 + 4 = 48.5
    snaps = {q.snapshot(s, eod(10)).model_dump_json() for s in states}
    assert len(snaps) == 1
    assert q.snapshot(states[0], eod(10)).score == 48.5
    assert len({orjson.dumps(orjson.loads(encode(s))[29]) for s in states}) == 1  # the assessments saved


def test_a_duplicate_assessment_counts_once(q: Grader) -> None:
    a = judged(1, "li.wei", 90, 30)
    state, _ = feed(q, [*half_on_time(), a])
    before = state.to_bytes()
    state, out = q.apply(state, a)
    assert out.status == "duplicate"
    assert state.to_bytes() == before


@pytest.mark.parametrize("dimension", ["audit", "on_time"])
def test_an_undeclared_dimension_is_refused_with_the_known_ones(q: Grader, dimension: str) -> None:
    state, _ = feed(q, half_on_time())
    before = state.to_bytes()
    state, out = q.apply(state, judged(1, "li.wei", 90, 30, dimension))
    assert (out.status, out.invalid_field, out.invalid_value) == ("invalid", "dimension", dimension)
    assert out.detail == (f"dimension {dimension!r} is not an assessed supplier dimension of the rules "
                          "(supplier.dimensions with metric: assessed: reputation, peers)")
    assert state.to_bytes() == before


def test_default_rules_declare_no_assessed_dimension() -> None:
    g = Grader(parse_rules(resources.files("tierstream.schemas").joinpath("default_rules.yaml").read_text("utf-8")))
    state, _ = feed(g, [delivery(0, "p1", 1, 10, 10, 10)])
    _, out = g.apply(state, judged(1, "li.wei", 90, 30))
    assert out.status == "invalid"
    assert out.detail.endswith("(supplier.dimensions with metric: assessed: none declared)")


def test_an_assessed_dimension_can_be_required_evidence() -> None:
    q = Grader(_rules(min_evidence={"dimensions": 1, "requires": ["reputation"]}))
    state, outs = feed(q, half_on_time())
    (first,) = changes(outs)
    assert (first.tier, first.ungraded_reason) == ("ungraded", "no market reputation assessment in force")
    state, out = q.apply(state, judged(1, "li.wei", 90, 30))
    assert (out.changes[0].tier, out.changes[0].score) == ("qualified", 65.0)


def test_a_superseded_assessment_is_forgotten_past_the_retention(q: Grader) -> None:
    state, _ = feed(q, [*half_on_time(), judged(1, "li.wei", 90, 900), judged(2, "li.wei", 80, 900)])
    assert [m.value for m in state.assessed["reputation", "li.wei"]] == [90, 80]
    # a delivery 300 days later: the retention (180-day window, no lookback) starts after day 2
    state, _ = q.apply(state, delivery(300, "p3", 301, 10, 10, 10))
    assert [m.value for m in state.assessed["reputation", "li.wei"]] == [80]
    # the same set of events in another order keeps the same
    other, _ = feed(q, [delivery(300, "p3", 301, 10, 10, 10), judged(2, "li.wei", 80, 900),
                        judged(1, "li.wei", 90, 900), *half_on_time()])
    assert [m.value for m in other.assessed["reputation", "li.wei"]] == [80]


def test_the_state_keeps_assessments_at_index_29_and_older_states_have_none(q: Grader) -> None:
    state, _ = feed(q, [*half_on_time(), judged(1, "li.wei", 90, 30), judged(2, "wang.fang", 70, 40)])
    data = state.to_bytes()
    back = EntityState.from_bytes(data)
    assert back.to_bytes() == data
    assert back.assessed == state.assessed
    doc = orjson.loads(data)
    assert doc[29] == [["reputation", 70.0, ts(at(40)), ts(at(2)), "market survey", "wang.fang",
                        "reputation-wang.fang-2"],
                       ["reputation", 90.0, ts(at(30)), ts(at(1)), "market survey", "li.wei", "reputation-li.wei-1"]]
    older = EntityState.from_bytes(orjson.dumps(doc[:29]))
    assert older.assessed == {}


def test_rules_refuse_an_unknown_metric_naming_assessed() -> None:
    with pytest.raises(RulesError) as info:
        _rules(dimensions={"reputation": {"metric": "assesed", "weight": 1.0, "scale": [[0, 0], [100, 100]]}})
    assert "unknown metric 'assesed'; known: assessed (scored by people's assessments)" in str(info.value)


def test_rules_weights_of_assessed_dimensions_count_in_the_sum() -> None:
    with pytest.raises(RulesError) as info:
        _rules(dimensions={"on_time": {"metric": "on_time_rate", "weight": 0.9, "scale": [[0, 0], [1, 100]]},
                           "reputation": {"metric": "assessed", "weight": 0.2, "scale": [[0, 0], [100, 100]]}})
    assert "dimension weights must sum to 1, they sum to 1.1" in str(info.value)
