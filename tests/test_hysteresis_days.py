"""Golden tests: hysteresis counted over calendar days, and time-driven changes dated when they happen.

The rules are written here, small enough to grade by hand: a supplier's score
is its quality pass rate times 100, a customer's is recency alone. Every
expected tier and date is derived in the comments from the published rule
(``schemas/rules.py`` ``Hysteresis``): a tier T is kept on day t while

* t - q < min_days_in_tier, q the last day whose end-of-day score reached T's
  minimum; or, while t - q < hold_days and T was held on every day since q,
* the score is on the hold line (T's minimum - downgrade_margin), or
* the score has been under the hold line for less than grace_days days
  (t - h < grace_days, h the last day on it).

Days are counted from ``T0`` (2025-01-01); events happen at noon UTC.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tierstream.schemas.events import AnyEvent, DeliveryEvent, OrderEvent
from tierstream.schemas.outputs import TierChange
from tierstream.schemas.rules import Rules, parse_rules
from tierstream.scorers.engine import REREVIEW, Grader, ts
from tierstream.scorers.layout import DAY
from tierstream.scorers.state import EntityState
from tierstream.streams.offline.score import OfflineScorer, read_lines

T0 = datetime(2025, 1, 1, tzinfo=UTC)
DAY0 = ts(T0) // DAY


def rules(min_days: int) -> Rules:
    """Supplier score = 100 x quality pass rate; customer score = 100 - recency days / 3."""
    return parse_rules(f"""
version: golden-hysteresis
customer:
  window_days: 365
  dimensions:
    recency: {{metric: recency_days, weight: 1, scale: [[0, 100], [300, 0]]}}
  tiers: [{{name: key, min_score: 70}}, {{name: general, min_score: 40}}, {{name: potential, min_score: 0}}]
  hysteresis: {{downgrade_margin: 5, min_days_in_tier: {min_days}, grace_days: 7, hold_days: 60}}
  rfm: {{recency_days: 90, frequency: 3, monetary: 2000}}
supplier:
  window_days: 180
  dimensions:
    quality: {{metric: quality_pass_rate, weight: 1, scale: [[0, 0], [1, 100]]}}
  tiers: [{{name: A, min_score: 80}}, {{name: B, min_score: 50}}, {{name: C, min_score: 0}}]
  hysteresis: {{downgrade_margin: 5, min_days_in_tier: {min_days}, grace_days: 7, hold_days: 60}}
""")


_ids = itertools.count(1)


def at(day: float, hour: float = 12.0) -> datetime:
    return T0 + timedelta(days=day, hours=hour)


def sod(day: int) -> datetime:
    """00:00 UTC of ``day``: when a change caused by time alone happens."""
    return T0 + timedelta(days=day)


def delivery(day: int, delivered: int, accepted: int) -> DeliveryEvent:
    return DeliveryEvent(event_id=f"d{next(_ids)}", occurred_at=at(day), supplier_id="s1", order_id=f"p{day}",
                         promised_at=at(day + 1), quantity_ordered=delivered, quantity_delivered=delivered,
                         quantity_accepted=accepted)


def order(day: int) -> OrderEvent:
    return OrderEvent(event_id=f"o{next(_ids)}", occurred_at=at(day), order_id=f"o{day}", customer_id="c1",
                      amount=100.0)


def graded(g: Grader, events: list[AnyEvent], until_day: int) -> tuple[EntityState, list[TierChange]]:
    """Feed ``events`` as the stream would (due reviews before each event), then review up to ``until_day``."""
    state: EntityState | None = None
    out: list[TierChange] = []
    for e in events:
        if state is not None:
            out += g.review_due(state, ts(e.occurred_at)).changes
        state, o = g.apply(state, e)
        out += o.changes
    assert state is not None
    out += g.review_due(state, ts(sod(until_day))).changes
    return state, out


def story(out: list[TierChange]) -> list[tuple[str | None, str, datetime, bool]]:
    return [(c.previous_tier, c.tier, c.occurred_at, c.cause == REREVIEW) for c in out]


def test_a_supplier_with_one_delivery_a_month_is_held_for_min_days_in_tier() -> None:
    # Day 0: 100 of 100 accepted: score 100, tier A. Days 1..29 are quiet: the score stands at
    # 100, so A last qualified on day 29. Day 30: 100 delivered, 40 accepted: pass rate
    # 140/200 = 0.70, score 70, under A's hold line (80 - 5 = 75).
    # min_days_in_tier 14: A is kept while t - 29 < 14, days 30..42. Grace (h = 29) ran out on
    # day 36, inside that time; so on day 43 nothing holds A: B (score 70 >= 50) from 00:00.
    g = Grader(rules(min_days=14))
    state, out = graded(g, [delivery(0, 100, 100), delivery(30, 100, 40)], until_day=80)
    assert story(out) == [(None, "A", at(0), False), ("A", "B", sod(43), True)]
    held = Grader(rules(min_days=14)).snapshot(graded(g, [delivery(0, 100, 100), delivery(30, 100, 40)], 30)[0],
                                               ts(at(42, 23)))
    assert (held.tier, held.score) == ("A", 70.0)
    assert state.published_tier == "B"


def test_a_lapsing_customer_in_the_margin_is_held() -> None:
    # One order on day 0, then nothing: on day t the score is 100 - t/3 (recency t days).
    # key (70) is reached through day 90 (100 - 90/3 = 70.00); day 91 scores 69.67.
    # min_days_in_tier 7 holds key while t - 90 < 7: days 91..96. The margin (hold line
    # 70 - 5 = 65) holds it while the score is >= 65: through day 105 (65.00); day 106
    # scores 64.67, under it, so h = 105 and grace (7 days) holds it while t - 105 < 7:
    # days 106..111. On day 112 nothing holds key: general (62.67 >= 40) from 00:00.
    g = Grader(rules(min_days=7))
    _, out = graded(g, [order(0)], until_day=150)
    assert story(out) == [(None, "key", at(0), False), ("key", "general", sod(112), True)]
    for day, note in [(93, "minimum time in tier"), (100, "within the 5-point margin"), (109, "grace is 7 days")]:
        probe = EntityState.from_bytes(graded(g, [order(0)], until_day=0)[0].to_bytes())
        g.review_due(probe, ts(sod(day)))
        snap_state = EntityState.from_bytes(probe.to_bytes())
        grade = g.grade(snap_state, ts(sod(day)) + 3600)
        assert grade.tier == "key", day
        assert any(note in n for n in grade.notes), (day, grade.notes)


def test_grace_is_counted_in_calendar_days_when_the_previous_event_is_a_week_old() -> None:
    # min_days_in_tier 0. Day 0: score 100, A. Day 7 (a week later): 100 delivered, 40
    # accepted, score 70, under the hold line 75. The quiet days 1..6 stood at 100: h = 6,
    # so grace holds A while t - 6 < 7, days 7..12; B from day 13, 00:00.
    g = Grader(rules(min_days=0))
    _, out = graded(g, [delivery(0, 100, 100), delivery(7, 100, 40)], until_day=60)
    assert story(out) == [(None, "A", at(0), False), ("A", "B", sod(13), True)]


def test_a_hold_never_takes_an_entity_back_up_to_a_tier_it_fell_from() -> None:
    # min_days_in_tier 0. Day 0: score 100, A. Day 10: 100 delivered, 40 accepted, score 70,
    # under A's hold line 75; h = 9, grace holds A on days 10..15, B from day 16, 00:00.
    # Day 20: 100 delivered, 90 accepted: 230/300, score 76.67, on A's hold line but under
    # 80. A was reached on day 9, 11 days ago (< hold_days 60), but it was not held on days
    # 16..19: the hold broke on day 16, so it stays B (no upgrade to A by hold).
    g = Grader(rules(min_days=0))
    state, out = graded(g, [delivery(0, 100, 100), delivery(10, 100, 40), delivery(20, 100, 90)], until_day=20)
    assert story(out) == [(None, "A", at(0), False), ("A", "B", sod(16), True)]
    grade = g.grade(state, state.clock)
    assert (grade.tier, grade.comp.score, grade.notes) == ("B", 76.67, [])


def _write(path: Path, events: list[AnyEvent]) -> Path:
    path.write_text("".join(e.model_dump_json() + "\n" for e in events))
    return path


def _offline(path: Path, r: Rules, as_of_day: int | None) -> tuple[int, list[TierChange]]:
    as_of = None if as_of_day is None else ts(sod(as_of_day))
    scorer = OfflineScorer(r, as_of=as_of, received_at=ts(sod(1000)))
    changes: list[TierChange] = []
    for lineno, raw in read_lines(path):
        changes += scorer.feed_line(lineno, raw)
    graded_at, final = scorer.finish()
    return graded_at, changes + final


@pytest.mark.parametrize("as_of_day", [113, 130, 200])
def test_offline_dates_a_time_driven_change_when_it_happens_whatever_the_as_of(tmp_path: Path,
                                                                                as_of_day: int) -> None:
    # The lapsing customer above: key on day 0, general from day 112 (00:00) by time alone;
    # nothing else moves before day 200 (general needs 40: 100 - t/3 >= 40 through day 180,
    # then min_days_in_tier, margin and grace hold general: reached on day 180, margin to
    # 35 through day 195, grace from h = 195 to day 201). Whatever the as-of, the change is
    # dated day 112, not the as-of; an as-of before it (day 111) has no change yet.
    path = _write(tmp_path / "events.jsonl", [order(0)])
    _, changes = _offline(path, rules(min_days=7), as_of_day)
    assert story(changes) == [(None, "key", at(0), False), ("key", "general", sod(112), True)]
    _, early = _offline(path, rules(min_days=7), 111)
    assert story(early) == [(None, "key", at(0), False)]


def test_offline_changes_up_to_an_as_of_agree_with_a_later_as_of(tmp_path: Path) -> None:
    """As-of T1 and as-of T2 > T1 agree on every change up to T1, time-driven ones included."""
    events: list[AnyEvent] = [order(0), order(150), delivery(0, 100, 100), delivery(30, 100, 40),
                              delivery(70, 100, 100), delivery(75, 100, 60)]
    events.sort(key=lambda e: e.occurred_at)
    path = _write(tmp_path / "events.jsonl", events)
    _, full = _offline(path, rules(min_days=14), 400)
    assert any(c.cause == REREVIEW for c in full)
    for t1 in (31, 43, 44, 76, 100, 151, 250):
        _, part = _offline(path, rules(min_days=14), t1)
        upto = [c for c in full if c.occurred_at <= sod(t1)]
        assert sorted(c.model_dump_json() for c in part) == sorted(c.model_dump_json() for c in upto), t1
