"""Settings on the test broker, produce and read helpers, and the events and changes the tests send."""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from tierstream.schemas.outputs import TierChange
from tierstream.schemas.settings import Settings
from tierstream.streams.dev.broker import EmbeddedBroker

__all__ = [
    "DEADLINE_S", "INVALID_TYPED", "LATER", "T0", "T1", "UNTYPED", "VALID", "VALID_KEYS", "change", "change_msg",
    "jsonl", "make_settings", "order", "produce", "read_topics",
]


DEADLINE_S = 30.0


# --------------------------------------------------------------------------- helpers


def make_settings(broker: EmbeddedBroker, **kwargs: Any) -> Settings:
    tag = uuid.uuid4().hex[:10]
    return Settings(
        kafka_bootstrap=broker.bootstrap,
        topic_prefix=f"t{tag}.",
        app_id=f"app{tag}",
        **kwargs,
    )


def read_topics(broker: EmbeddedBroker, topics: list[str], count: int) -> list[Any]:
    """Every record of ``topics`` (expected: ``count``), then check nothing more is there."""
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False)
    try:
        tps = [
            TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t))
        ]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        records: list[Any] = []
        deadline = time.monotonic() + DEADLINE_S
        while len(records) < count and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=200).values():
                records.extend(batch)
        assert len(records) == count, f"read {len(records)} records, expected {count}"
        # caught up: the high watermark of the last fetch is where we are
        consumer.poll(timeout_ms=200)
        for tp in tps:
            assert consumer.highwater(tp) in (None, consumer.position(tp)), tp
        return records
    finally:
        consumer.close()


def produce(broker: EmbeddedBroker, topic: str, items: list[tuple[bytes | None, bytes | None]],
            partition: int | None = None) -> None:
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=50)
    try:
        for key, value in items:
            producer.send(topic, key=key, value=value, partition=partition)
        producer.flush(timeout=DEADLINE_S)
    finally:
        producer.close()


def jsonl(docs: list[Any]) -> list[tuple[int, bytes]]:
    out = []
    for i, doc in enumerate(docs, 1):
        out.append((i, doc if isinstance(doc, bytes) else orjson.dumps(doc)))
    return out


T0 = "2026-10-01T10:00:00Z"
T1 = "2026-10-01T12:00:00Z"
LATER = "2026-12-01T00:00:00Z"


def order(eid: str, customer: str | None = None, supplier: str | None = None, amount: float = 100.0
          ) -> dict[str, Any]:
    doc: dict[str, Any] = {"event_id": eid, "occurred_at": T0, "type": "order",
                           "order_id": f"o-{eid}", "amount": amount}
    if customer is not None:
        doc["customer_id"] = customer
    if supplier is not None:
        doc["supplier_id"] = supplier
    return doc


VALID = [
    order("e1", customer="c1"),
    order("e2", customer="c1"),
    order("e3", supplier="s1"),
    {"event_id": "e4", "occurred_at": T1, "type": "payment", "customer_id": "c1",
     "invoice_id": "i1", "amount": 50.0, "due_at": T0},
    {"event_id": "e5", "occurred_at": T0, "type": "delivery", "supplier_id": "s1", "order_id": "o-e3",
     "promised_at": T0, "quantity_ordered": 10, "quantity_delivered": 10, "quantity_accepted": 9},
    {"event_id": "e6", "occurred_at": T0, "type": "referral", "referrer_id": "c9",
     "referred_id": "c2"},
    {"event_id": "e7", "occurred_at": T0, "type": "service", "supplier_id": "s1", "ticket_id": "t1",
     "first_response_at": T1},
    {"event_id": "e8", "occurred_at": T0, "type": "assessment", "entity_type": "supplier",
     "entity_id": "s2", "tier_override": "strategic", "reason": "audit", "expires_at": LATER,
     "author": "ops"},
    order("e9", customer="c1"),
]
VALID_KEYS = ["customer:c1", "customer:c1", "supplier:s1", "customer:c1", "supplier:s1",
              "customer:c2", "supplier:s1", "supplier:s2", "customer:c1"]
INVALID_TYPED = [  # (doc, expected key)
    (order("x1", customer="c3", amount=-5.0), "customer:c3"),
    ({"event_id": "x2", "occurred_at": T0, "type": "payment", "invoice_id": "i", "amount": 1.0,
      "due_at": T0}, "unknown"),
    ({"event_id": "x3", "occurred_at": T0, "type": "assessment", "entity_type": "customer",
      "entity_id": "c4", "prospect_score": 50.0, "expires_at": LATER, "author": "a"}, "customer:c4"),
]
UNTYPED = [b"not json at all", b"[1, 2]", orjson.dumps({"type": "refund", "event_id": "r"}),
           orjson.dumps({"event_id": "no-type"})]


def change(n: int, entity_type: str, direction: str, entity_id: str | None = None) -> TierChange:
    return TierChange(
        change_id=f"tc:{entity_type}:{entity_id or n}:{n}",
        entity_type=entity_type,
        entity_id=entity_id or f"{entity_type[0]}{n:05d}",
        previous_tier=None if direction == "initial" else "general",
        tier="key",
        direction=direction,
        score=71.25,
        previous_score=None,
        components={"frequency": 80.0},
        reasons=[f"reason {n}", "second reason"],
        rules_version="v1",
        occurred_at=T0,
        cause=f"e{n}",
    )


def change_msg(c: TierChange) -> tuple[bytes, bytes]:
    return f"{c.entity_type}:{c.entity_id}".encode(), c.model_dump_json().encode()
