"""Rules rollout in the worker's message handling (issue 12, point 7), in process.

New rules with ``regrade: now`` re-grade every entity when they take effect;
``tierstream rules diff`` of the same history, as of that instant, predicts
exactly the changes that makes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from tierstream.schemas.events import INBOUND_ADAPTER, entity_of
from tierstream.schemas.outputs import TierChange
from tierstream.schemas.rules import Rules, load_rules, parse_rules
from tierstream.schemas.settings import Settings
from tierstream.streams.dev.sample import write_sample
from tierstream.streams.kafka.topics import entity_key
from tierstream.streams.offline.rules_diff import diff_rules
from tierstream.streams.offline.score import read_lines
from tierstream.streams.worker.processor import BatchStore, Outgoing, Processor
from tierstream.streams.worker.rounds import AckedRounds

OLD = load_rules()
NOW = datetime(2027, 1, 1, tzinfo=UTC).timestamp()


def new_rules(**top: Any) -> Rules:
    """The default rules with key and general customers 10 points easier to reach."""
    doc = yaml.safe_load(resources.files("tierstream.schemas").joinpath("default_rules.yaml").read_text("utf-8"))
    doc["customer"]["tiers"][0]["min_score"] = 60
    doc["customer"]["tiers"][1]["min_score"] = 30
    doc.update({"version": "easier-2027", **top})
    return parse_rules(yaml.safe_dump(doc, allow_unicode=True))


class Worker:
    """One processor owning every entity on one partition, its table a dict."""

    def __init__(self) -> None:
        self.table: dict[bytes, bytes] = {}
        self.proc = Processor(Settings(topic_prefix="ro.", app_id="ro", partitions=1), OLD, wall_clock=lambda: NOW,
                              owned_partitions=lambda: [0], keys_of=lambda p: list(self.table))
        self.sent: list[Outgoing] = []
        self.acked = AckedRounds()  # the partition's marker (streams.worker.rounds)
        self.rounds = 0

    def deliver(self, topic: str, key: bytes | None, raw: bytes) -> None:
        """One message, then what it sent on: referral credits back through their topic, markers to reviews."""
        self.rounds += 1
        store = BatchStore(self.table, self.acked)
        store.round_id = ("rollout", self.rounds)
        pending = [(topic, key, raw)]
        while pending:
            t, k, v = pending.pop(0)
            now = self.proc.process(store, t, 0, 0, k, v)
            store.flush()
            for msg in [*now, *store.take_outbox()]:
                self.sent.append(msg)
                if msg.topic in (self.proc.names.referral_credits, self.proc.names.reviews):
                    pending.append((msg.topic, msg.key, msg.value))
        self.acked = self.acked.with_round(store.round_id)  # the round's outputs are sent

    def publish(self, path: Path) -> int:
        """Every event of a file on its topic; returns the latest event time."""
        latest = 0
        for _, raw in read_lines(path):
            try:
                event = INBOUND_ADAPTER.validate_json(raw)
            except ValueError:
                continue
            latest = max(latest, int(event.occurred_at.timestamp()))
            self.deliver(self.proc.names.inbound(event.type), entity_key(*entity_of(event)).encode(), raw)
        return latest

    def changes(self, cause: str) -> Iterator[TierChange]:
        for msg in self.sent:
            if msg.topic == self.proc.names.tier_changes:
                change = TierChange.model_validate_json(msg.value)
                if change.cause == cause:
                    yield change


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rollout") / "events.jsonl"
    write_sample(path, customers=250, suppliers=10, days=200, seed=11, late_ratio=0, invalid_ratio=0)
    return path


def test_regrade_now_makes_exactly_the_changes_rules_diff_predicts(sample: Path) -> None:
    worker = Worker()
    latest = worker.publish(sample)
    start = datetime.fromtimestamp(latest, UTC)
    new = new_rules(effective_from=start.isoformat(), regrade="now")
    prediction = diff_rules(OLD, new, sample, latest)
    assert len(prediction.movers) >= 10  # the test moves entities, or it proves nothing
    markers = worker.proc.offer_rules(new)
    assert [(m.topic, m.key, m.partition) for m in markers] == [("ro.reviews", b"rules:0", 0)]
    for m in markers:
        worker.deliver(m.topic, m.key, m.value)
    made = {(c.entity_type, c.entity_id): (c.previous_tier, c.tier) for c in worker.changes("rules easier-2027")}
    predicted = {(m["entity_type"], m["entity_id"]): (m["from"], m["to"]) for m in prediction.movers}
    assert made == predicted
    some = next(worker.changes("rules easier-2027"))
    assert some.reasons[0].startswith("rules easier-2027: ") and some.rules_version == "easier-2027"
    # the same marker again (redelivered after a crash): every entity is graded under the new rules already
    before = len(worker.sent)
    for m in markers:
        worker.deliver(m.topic, m.key, m.value)
    assert len(worker.sent) == before
    assert [v.version for v in worker.proc.history] == [OLD.version, "easier-2027"]


def test_rules_wait_for_their_instant_then_take_effect_at_the_first_event_after_it() -> None:
    worker = Worker()
    order = {"type": "order", "event_id": "e1", "occurred_at": "2026-05-01T10:00:00Z", "order_id": "o1",
             "customer_id": "c1", "amount": 100}
    worker.deliver("ro.orders", b"customer:c1", json.dumps(order).encode())
    new = new_rules(effective_from="2026-06-01T00:00:00Z")  # regrade: next_event (the default)
    assert worker.proc.offer_rules(new) == [] and worker.proc.pending is new
    assert worker.proc.rules is OLD
    worker.deliver("ro.orders", b"customer:c1", json.dumps({**order, "event_id": "e2", "order_id": "o2",
                                                           "occurred_at": "2026-05-31T23:59:59Z"}).encode())
    assert worker.proc.rules is OLD  # a second before its instant
    worker.deliver("ro.orders", b"customer:c1", json.dumps({**order, "event_id": "e3", "order_id": "o3",
                                                           "occurred_at": "2026-06-01T00:00:00Z"}).encode())
    assert worker.proc.rules is new and worker.proc.pending is None
    # next_event: no re-grade marker was sent
    assert not [m for m in worker.sent if m.topic == "ro.reviews" and m.key.startswith(b"rules:")]
    assert orjson.loads(json.dumps(worker.proc.history[-1].to_json()))["as_of"] == "2026-06-01T00:00:00+00:00"


def test_rules_files_are_fingerprinted_and_their_rollout_validated() -> None:
    assert len(OLD.sha256) == 64 and new_rules().sha256 != OLD.sha256
    with pytest.raises(ValueError, match="effective_from"):
        new_rules(effective_from="2026-06-01T00:00:00")  # no offset
    with pytest.raises(ValueError, match="regrade"):
        new_rules(regrade="tomorrow")


def test_rules_taken_before_any_event_re_grade_nothing() -> None:
    """A worker that has seen no event yet (its clock: none) takes new rules at once, even regrade: now."""
    worker = Worker()
    assert worker.proc.offer_rules(new_rules(regrade="now")) == []
    assert worker.proc.rules.version == "easier-2027" and worker.proc.history[-1].as_of is None
