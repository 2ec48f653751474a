"""Golden tests of supplier rectification cases: every expected value is derived by hand, in the comments.

A supplier graded on its on-time rate alone (0..1 -> 0..100), tiers good 70,
qualified 40, unqualified 0, no hysteresis, a 10-day deadline. Days count from
2025-01-01 (``T0``); events happen at noon UTC.
"""

from __future__ import annotations

from typing import Any

import yaml

from tests.scorers.helpers import at, delivery, feed
from tierstream.schemas.rules import load_rules, parse_rules
from tierstream.scorers.engine import REREVIEW, Grader, Outcome, ts
from tierstream.scorers.state import EntityState


def _rules(rectification: dict[str, Any]) -> Grader:
    data = yaml.safe_load(load_rules().model_dump_json())
    data["version"] = "cases-test"
    data["supplier"] = {
        "window_days": 180,
        "dimensions": {"on_time": {"metric": "on_time_rate", "weight": 1, "scale": [[0, 0], [1, 100]]}},
        "tiers": [{"name": "good", "min_score": 70}, {"name": "qualified", "min_score": 40},
                  {"name": "unqualified", "min_score": 0}],
        "hysteresis": {"downgrade_margin": 0, "min_days_in_tier": 0, "grace_days": 0, "hold_days": 0},
        "rectification": rectification,
    }
    return Grader(parse_rules(yaml.safe_dump(data)))


G = _rules({"deadline_days": 10})


def fallen() -> tuple[EntityState, list[Outcome]]:
    """Day 0: two deliveries on time (rate 1, score 100: good); day 5: four late (2/6, 33.33: unqualified)."""
    state, _ = feed(G, [delivery(0, "p1", 1, 10, 10, 10), delivery(0, "p2", 1, 10, 10, 10)])
    return feed(G, [delivery(5, f"l{i}", 4, 10, 10, 10) for i in range(4)], state)


def test_a_fall_to_the_lowest_tier_opens_a_case_with_its_deadline() -> None:
    # The fourth late delivery (day 5, 2025-01-06) brings 2/6 = 33.33 < 40: unqualified. The case's
    # deadline is 00:00 of the opening day + 10 days: 2025-01-16T00:00Z.
    state, outs = fallen()
    cases = [c for o in outs for c in o.cases]
    changes = [c for o in outs for c in o.changes]
    (case,) = cases
    assert [c.tier for c in changes] == ["qualified", "unqualified"]  # 3/5 = 60, then 2/6
    assert (case.event_id, case.case_id, case.status, case.recommendation, case.tier, case.score) == (
        "sc:s1:1:opened", "sc:s1:1", "opened", "rectify", "unqualified", 33.33)
    assert case.opened_at == at(5) and case.deadline.isoformat() == "2025-01-16T00:00:00+00:00"
    assert case.components == {"on_time": 33.33}
    assert case.reasons[0] == changes[-1].reasons[0]  # why it fell, as the change says
    assert case.reasons[-2:] == ["rectify by 2025-01-16", "weakest: on_time 33.33"]
    assert state.next_review == ts(at(15, 0))  # the deadline: no event needed
    # the snapshot shows the case open until it is re-assessed at its deadline
    snap = G.snapshot(state, state.clock)
    assert snap.open_case is not None
    assert snap.open_case.model_dump(mode="json") == {
        "case_id": "sc:s1:1", "opened_at": "2025-01-06T12:00:00Z", "deadline": "2025-01-16T00:00:00Z"}
    G.review_due(state, ts(at(30)))
    assert G.snapshot(state, state.clock).open_case is None


def test_back_above_the_line_at_the_deadline_closes_the_case() -> None:
    # Day 8: six on-time deliveries: 8/12 = 66.67: qualified. The case waits for its deadline, where
    # the review closes it: qualified is above unqualified.
    state, _ = fallen()
    state, outs = feed(G, [delivery(8, f"r{i}", 9, 10, 10, 10) for i in range(6)], state)
    assert [c.tier for o in outs for c in o.changes][-1] == "qualified"
    assert [c for o in outs for c in o.cases] == []
    out = G.review_due(state, ts(at(30)))
    (case,) = out.cases
    assert (case.event_id, case.status, case.recommendation, case.tier, case.score, case.cause) == (
        "sc:s1:1:closed", "closed", "none", "qualified", 66.67, REREVIEW)
    assert case.occurred_at.isoformat() == "2025-01-16T00:00:00+00:00"
    assert case.reasons[0] == ("re-assessed at the deadline 2025-01-16: score 66.67 places it in qualified, "
                               "above unqualified: case closed")
    assert state.case_open is None
    # A second fall opens case 2: day 40, twelve late deliveries: 8/24 = 33.33.
    state, outs = feed(G, [delivery(40, f"m{i}", 39, 10, 10, 10) for i in range(12)], state)
    assert [c.event_id for o in outs for c in o.cases] == ["sc:s1:2:opened"]


def test_still_below_at_the_deadline_escalates_to_phase_out() -> None:
    state, _ = fallen()
    back = EntityState.from_bytes(state.to_bytes())  # the open case survives a restart
    assert (back.cases_opened, back.case_open) == (1, [ts(at(5)), ts(at(15, 0))])
    out = G.review_due(back, ts(at(30)))
    (case,) = out.cases
    assert (case.event_id, case.status, case.recommendation, case.tier) == (
        "sc:s1:1:escalated", "escalated", "phase_out", "unqualified")
    assert case.reasons[0] == ("re-assessed at the deadline 2025-01-16: score 33.33 leaves it in unqualified "
                               "(under 40): phase-out recommended")


def test_no_case_when_rectification_is_off() -> None:
    off = _rules({"enabled": False})
    state, _ = feed(off, [delivery(0, "p1", 1, 10, 10, 10), delivery(0, "p2", 1, 10, 10, 10)])
    _, outs = feed(off, [delivery(5, f"l{i}", 4, 10, 10, 10) for i in range(4)], state)
    assert [c for o in outs for c in o.cases] == []
