"""Qualitative supplier dimensions through the stream (issue 12, point 4): the stream agrees with the offline scorer.

Rules: the default ones with two assessed supplier dimensions, market reputation
(市场口碑) and peer evaluation (同行评价), beside the transactional ones, given to
the worker as ``TIERSTREAM_RULES``. A generated file of suppliers with deliveries
and assessments by several evaluators, some re-assessed, some expiring in quiet
periods (a change dated at the expiry, made by the timer in the stream and by
``review_due`` offline), one naming an undeclared dimension (refused). On the real
broker and the real Redis: the snapshots (components and the ``assessments``
aggregate) and the tier changes, entity by entity, equal the offline ones.
"""

from __future__ import annotations

import io
import json
import random
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from tests.pacing import Pacer, paced
from tests.sample_parity import per_entity
from tests.streaming import Stream, poll
from tierstream.schemas.outputs import TierChange
from tierstream.schemas.rules import load_rules
from tierstream.scorers.engine import Grader
from tierstream.scorers.state import EntityState
from tierstream.streams.client import publish
from tierstream.streams.kafka.read import read_states
from tierstream.streams.offline.score import OfflineScorer, read_lines, run

pytestmark = pytest.mark.integration

#: the default supplier weights, lowered to make room for the two assessed dimensions
WEIGHTS = {"quality": ("0.30", "0.20"), "on_time": ("0.25", "0.20"), "accuracy": ("0.15", "0.10"),
           "price": ("0.15", "0.10"), "service": ("0.15", "0.10")}
ASSESSED = """\
    market_reputation: {metric: assessed, weight: 0.20, label: "market reputation", scale: [[0, 0], [100, 100]]}
    peer_evaluation:   {metric: assessed, weight: 0.10, label: "peer evaluation", scale: [[0, 0], [100, 100]]}
"""
START = datetime(2026, 1, 1, tzinfo=UTC)
AUTHORS = ("li.wei", "wang.fang", "zhao.lei")


def qualitative_rules(path: Path) -> Path:
    """The default rules with the supplier weights above and the two assessed dimensions."""
    text = Path(str(resources.files("tierstream.schemas").joinpath("default_rules.yaml"))).read_text("utf-8")
    head, rest = text.split("\nsupplier:\n")
    lines = rest.split("\n")
    for i, line in enumerate(lines):
        name = line.strip().split(":")[0]
        if name in WEIGHTS:
            was, now = WEIGHTS[name]
            lines[i] = line.replace(f"weight: {was},", f"weight: {now},")
            if name == "service":
                lines[i] += "\n" + ASSESSED.rstrip("\n")
    path.write_text(head + "\nsupplier:\n" + "\n".join(lines), "utf-8")
    return path


def _iso(day: float) -> str:
    return (START + timedelta(days=day)).isoformat().replace("+00:00", "Z")


def supplier_events(suppliers: int = 12, days: int = 90, seed: int = 3) -> list[dict[str, Any]]:
    """Deliveries and assessments of ``suppliers`` over ``days``, in time order."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    for s in range(suppliers):
        sid = f"s{s}"
        for k, day in enumerate(range(rng.randrange(5), days, 9)):
            ordered = 100
            delivered = rng.choice((100, 100, 95, 80))
            events.append({"type": "delivery", "event_id": f"{sid}-d{k}", "occurred_at": _iso(day + 0.4),
                           "supplier_id": sid, "order_id": f"{sid}-p{k}",
                           "promised_at": _iso(day + rng.choice((0.5, 0.5, 0.3))), "quantity_ordered": ordered,
                           "quantity_delivered": delivered,
                           "quantity_accepted": delivered - rng.choice((0, 0, 2, 10))})
        for k in range(rng.randrange(1, 5)):
            when = rng.randrange(days - 5) + rng.random()
            events.append({"type": "assessment", "event_id": f"{sid}-a{k}", "occurred_at": _iso(when),
                           "entity_type": "supplier", "entity_id": sid,
                           "dimension": rng.choice(("market_reputation", "market_reputation", "peer_evaluation")),
                           "score": float(rng.choice((20, 45, 60, 75, 90, 100))), "reason": "market survey",
                           "author": rng.choice(AUTHORS), "expires_at": _iso(when + rng.randrange(5, 60))})
    for eid, day, author, score in (("s1-r1", 80, "li.wei", 80.0), ("s1-r2", 82, "wang.fang", 60.0),
                                    ("s1-r3", 85, "li.wei", 70.0)):  # li.wei re-assesses: 70 replaces 80
        events.append({"type": "assessment", "event_id": eid, "occurred_at": _iso(day), "entity_type": "supplier",
                       "entity_id": "s1", "dimension": "market_reputation", "score": score,
                       "reason": "peer survey", "author": author, "expires_at": _iso(200)})
    events.append({"type": "assessment", "event_id": "s0-audit", "occurred_at": _iso(3), "entity_type": "supplier",
                   "entity_id": "s0", "dimension": "audit", "score": 50.0, "reason": "on-site audit",
                   "author": "li.wei", "expires_at": _iso(40)})  # not declared: refused
    events.sort(key=lambda e: (e["occurred_at"], e["event_id"]))
    return events



def _read_changes(stream: Stream) -> list[TierChange]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(stream.settings.topic("tier-changes"), bootstrap_servers=stream.bootstrap,
                             auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=3000,
                             group_id=None)
    try:
        return [TierChange.model_validate_json(r.value) for r in consumer]
    finally:
        consumer.close()


def test_assessed_dimensions_agree_with_the_offline_scorer(stream: Stream, tmp_path: Path) -> None:
    rules_path = qualitative_rules(tmp_path / "qualitative.yaml")
    rules = load_rules(rules_path)
    path = tmp_path / "suppliers.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in supplier_events()), "utf-8")
    scorer = OfflineScorer(rules)
    buf = io.BytesIO()
    as_of = run(scorer, read_lines(path), changes_out=buf)
    assert [r.field for r in scorer.report.rejected] == ["dimension"]  # the undeclared one
    expected = {(x.entity_type, x.entity_id): x.model_dump(mode="json") for x in scorer.snapshots(as_of)}
    offline = [TierChange.model_validate_json(line) for line in buf.getvalue().splitlines()]
    want = per_entity(offline)
    # what the file exercises: averaged evaluators, and a change an expiry made, dated at it
    s1 = expected[("supplier", "s1")]  # (70 + 60) / 2
    assert s1["aggregates"]["assessments"]["market_reputation"] == {"score": 65.0, "evaluators": 2}
    assert s1["components"]["market_reputation"] == 65.0
    assert any(c.cause == "re-review" and "assessment expired on" in " ".join(c.reasons) for c in offline)

    worker = stream.start_worker(extra_env={"TIERSTREAM_RULES": str(rules_path)})
    pacer = Pacer(stream, worker)
    try:
        assert publish(stream.settings, paced(pacer, read_lines(path), rules)).failed == 0
    finally:
        pacer.close()
    grader = Grader(rules)

    def snapshot() -> dict[tuple[str, str], Any]:
        states = [EntityState.from_bytes(v) for v in read_states(stream.settings, 60).values()]
        at = max((st.clock for st in states), default=0)
        return {(st.kind, st.entity_id): grader.snapshot(st, at).model_dump(mode="json")
                for st in states if not st.is_empty()}

    poll(lambda: snapshot() == expected, 120, "stream snapshot == offline, with assessed dimensions")
    got: dict[Any, Any] = {}

    def same() -> bool:
        nonlocal got
        got = per_entity(_read_changes(stream))
        return got == want

    try:
        poll(same, 60, "the stream's tier changes == offline, entity by entity")
    except AssertionError as e:
        bad = sorted(k for k in want.keys() | got.keys() if want.get(k) != got.get(k))
        raise AssertionError(f"{e}\n" + "\n".join(f"{k}:\n  offline {want.get(k)}\n  stream  {got.get(k)}"
                                                   for k in bad[:4])) from None
