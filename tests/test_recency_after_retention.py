"""Recency counts from the last remaining order, also once every order left the retention.

An order older than the window and the hysteresis lookback is final: its facts
(first and last order time) are settled and outlive its day bucket. Recency must
then count from the *last* such order, never the first, and a retracted order
(still retained, so still retractable) must not count at all.

Golden values are derived by hand in the comments from the rules below (the
packaged schemas/default_rules.yaml with a smaller customer section), never by
running the code. Events go through ``tierstream score --out --changes``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from tierstream.schemas.events import INBOUND_ADAPTER
from tierstream.schemas.rules import load_rules
from tierstream.scorers.engine import Grader
from tierstream.scorers.layout import DAY
from tierstream.scorers.metrics import last_order_day
from tierstream.streams.cli.main import main

DEFAULT_RULES = Path(__file__).resolve().parents[1] / "schemas" / "default_rules.yaml"

# Customer section replacing the default one (the rest of default_rules.yaml is kept):
# score = 0.5 * recency + 0.5 * frequency, recency 100 - days / 10 (0 from 1,000 days),
# frequency 10 per order in the 30-day window (100 from 10 orders); a >= 30, b >= 0.
# Hysteresis: margin 5 (hold line 25), min_days_in_tier 7, grace 7, hold_days 30,
# so the lookback is max(7, 30) = 30 days and the retention 30 + 30 = 60 days.
CUSTOMER = """customer:
  window_days: 30
  dimensions:
    recency:   {metric: recency_days, weight: 0.5, scale: [[0, 100], [1000, 0]]}
    frequency: {metric: order_count, weight: 0.5, scale: [[0, 0], [10, 100]]}
  tiers:
    - {name: a, min_score: 30}
    - {name: b, min_score: 0}
  hysteresis: {downgrade_margin: 5, min_days_in_tier: 7, grace_days: 7, hold_days: 30}
  rfm: {recency_days: 90, frequency: 3, monetary: 2000}
  min_evidence: {dimensions: 1, requires: [recency]}
  groups:
    retail: {}

"""


def _rules_file(tmp_path: Path) -> Path:
    text = DEFAULT_RULES.read_text()
    start, end = text.index("\ncustomer:\n") + 1, text.index("\nsupplier:\n") + 1
    path = tmp_path / "rules.yaml"
    path.write_text(text[:start] + CUSTOMER + text[end:])
    load_rules(path)  # valid as written
    return path


def _order(oid: str, at: str, status: str = "placed", event_id: str | None = None) -> dict[str, Any]:
    return {"type": "order", "event_id": event_id or oid, "order_id": oid, "customer_id": "c1",
            "occurred_at": at, "amount": 100.0, "status": status}


PAYMENT = {"type": "payment", "event_id": "p1", "invoice_id": "i1", "customer_id": "c1",
           "occurred_at": "2022-03-11T12:00:00Z", "amount": 100.0, "due_at": "2022-03-11T12:00:00Z"}


def _score(tmp_path: Path, docs: list[dict[str, Any]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    events, out, changes = tmp_path / "events.jsonl", tmp_path / "out.jsonl", tmp_path / "changes.jsonl"
    events.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in docs))
    res = CliRunner().invoke(main, ["score", str(events), "--rules", str(_rules_file(tmp_path)),
                                    "--out", str(out), "--changes", str(changes), "--workers", "1"])
    assert res.exit_code == 0, res.output
    (snap,) = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    return snap, [orjson.loads(x) for x in changes.read_bytes().splitlines()]


# By hand, days between the dates (2020 is a leap year):
#   2020-01-01 -> 2021-01-01 = 366; 2021-01-01 -> 2021-05-15 = 31 + 28 + 31 + 30 + 14 = 134,
#   so o1 -> o2 = 500 days; 2021-05-15 -> 2022-05-15 = 365 and 2022-03-11 -> 2022-05-15 =
#   20 + 30 + 15 = 65, so o2 -> the payment = 365 - 65 = 300 days (o1 -> payment 800).
# At the payment's day 2022-03-11 the window is 2022-02-10..2022-03-11 and the retention
# starts 30 days earlier, 2022-01-11: both orders left it (their facts are settled).
# Recency = 300 days (from o2, the last order) -> 100 - 300 / 10 = 70; 0 orders in the window
# -> frequency 0; score = 0.5 * 70 + 0.5 * 0 = 35 >= 30: tier a (the defect counted 800 days
# from o1: recency 20, score 10, tier b).
#
# The changes, day d counted from o1 (2020-01-01):
#   * o1: recency 0 -> 100, 1 order -> 10: score 50 + 5 = 55: first grading, a.
#   * from d = 30 (o1 left the window) the score is 50 - d / 20: it is 30 on d = 400 (q, the
#     last day reaching a's minimum) and under 30 from d = 401, above the hold line 25 until
#     d = 500; hold_days 30 keeps a while t - q < 30, so it falls on d = 430, score
#     50 - 21.5 = 28.5: b, at the local (UTC) midnight starting 2020-01-01 + 430 days =
#     2021-03-06 (2021-01-01 is d = 366, + 31 + 28 + 5).
#   * o2 on 2021-05-15: recency 0, 1 order: 55 again, a.
#   * after o2 the score is 50 - d' / 20 (d' days since o2, from d' = 30) and stays >= 30 up to
#     d' = 400 > 300: no further change, the payment included.
EXPECTED_CHANGES = [
    ("2020-01-01T12:00:00Z", "a", 55.0),
    ("2021-03-06T00:00:00Z", "b", 28.5),
    ("2021-05-15T12:00:00Z", "a", 55.0),
]


def _check(snap: dict[str, Any], changes: list[dict[str, Any]]) -> None:
    assert snap["aggregates"]["recency_days"] == 300.0
    assert snap["aggregates"]["last_order_at"] == "2021-05-15T12:00:00Z"
    assert snap["aggregates"]["first_order_at"] == "2020-01-01T12:00:00Z"
    assert snap["components"] == {"recency": 70.0, "frequency": 0.0}
    assert (snap["score"], snap["tier"]) == (35.0, "a")
    assert [(c["occurred_at"], c["tier"], c["score"]) for c in changes] == EXPECTED_CHANGES


def test_recency_counts_from_the_last_order_once_every_order_left_the_retention(tmp_path: Path) -> None:
    docs = [_order("o1", "2020-01-01T12:00:00Z"), _order("o2", "2021-05-15T12:00:00Z"), PAYMENT]
    _check(*_score(tmp_path, docs))


# A third order o3 on 2022-03-01 (inside the retention, so still retractable) cancelled on
# 2022-03-05, in either arrival order: as if never placed, so everything is as above. While
# o3 counted (file order placed, then cancelled) its score was 0.5 * 100 + 0.5 * 10 = 55, a,
# the tier already held: no change. After the cancellation the last remaining order is o2
# again (settled), recency 300 days at the payment: score 35, a.
@pytest.mark.parametrize("cancel_first", [False, True])
def test_a_cancelled_last_order_leaves_recency_to_the_last_settled_order(tmp_path: Path, cancel_first: bool) -> None:
    placed = _order("o3", "2022-03-01T12:00:00Z")
    cancelled = _order("o3", "2022-03-05T12:00:00Z", status="cancelled", event_id="o3-cancel")
    retraction = [cancelled, placed] if cancel_first else [placed, cancelled]
    docs = [_order("o1", "2020-01-01T12:00:00Z"), _order("o2", "2021-05-15T12:00:00Z"), *retraction, PAYMENT]
    _check(*_score(tmp_path, docs))


def _at(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp())


# A past day of the lookback, before a retained order: o1 and o2 settled, o3 on 2022-03-11
# retained. For 2022-03-10 (an end-of-day score hysteresis looks at) the last order up to that
# day is o2 (2021-05-15), 299 days earlier, not o1; for 2022-03-11 it is o3 itself.
def test_the_last_order_up_to_a_past_day_is_the_last_settled_one(tmp_path: Path) -> None:
    grader = Grader(load_rules(_rules_file(tmp_path)))
    state = None
    for doc in [_order("o1", "2020-01-01T12:00:00Z"), _order("o2", "2021-05-15T12:00:00Z"),
                _order("o3", "2022-03-11T12:00:00Z")]:
        state, _ = grader.apply(state, INBOUND_ADAPTER.validate_json(orjson.dumps(doc)))
    assert state is not None
    o2_day, day = _at("2021-05-15T00:00:00Z") // DAY, _at("2022-03-10T00:00:00Z") // DAY
    assert day - o2_day == 299
    assert last_order_day(state, day) == o2_day
    assert last_order_day(state, day + 1) == day + 1
