"""Publishing events: each under its entity key, paced publishing keeping their order."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from kafka.partitioner.default import murmur2

from tests.client.helpers import INVALID_TYPED, UNTYPED, VALID, VALID_KEYS, jsonl, make_settings, order, read_topics
from tierstream.streams.client import publish
from tierstream.streams.dev.broker import EmbeddedBroker
from tierstream.streams.kafka.topics import topic_names


@pytest.mark.integration
@pytest.mark.parametrize("idempotent", [None, False])
def test_publish_routes_keys_and_reports(broker: EmbeddedBroker, idempotent: bool | None) -> None:
    s = make_settings(broker)
    names = topic_names(s)
    broker.create_topics({t: (3, False) for t in names.all_inbound})
    docs: list[Any] = [*VALID[:3], UNTYPED[0], *VALID[3:6], UNTYPED[1], INVALID_TYPED[0][0],
                       *VALID[6:], UNTYPED[2], INVALID_TYPED[1][0], INVALID_TYPED[2][0], UNTYPED[3]]
    lines = jsonl(docs)
    seen: list[int] = []
    report = publish(s, lines, None, seen.append, idempotent=idempotent)

    assert report.lines == len(docs) and sum(seen) == len(docs)
    assert report.sent == len(VALID) + len(INVALID_TYPED) == report.delivered
    assert report.invalid_sent == len(INVALID_TYPED) and report.failed == 0
    assert [n for n, _ in report.skipped_lines] == [4, 8, 13, 16] and report.skipped == 4
    reasons = dict(report.skipped_lines)
    assert reasons[4] == "not JSON" and "not a JSON object" in reasons[8]
    assert "refund" in reasons[13] and reasons[16] == "no type field"
    if idempotent is False:
        assert not report.idempotent
    else:
        assert report.idempotent  # Tansu grants producer ids

    expected: dict[str, list[tuple[str, bytes]]] = {}
    for doc, key in [*zip(VALID, VALID_KEYS, strict=True), *INVALID_TYPED]:
        expected.setdefault(names.inbound(doc["type"]), []).append((key, orjson.dumps(doc)))
    assert dict(report.per_topic) == {t: len(v) for t, v in expected.items()}

    records = read_topics(broker, names.all_inbound, report.sent)
    got: dict[str, list[tuple[str, bytes]]] = {}
    for r in records:
        got.setdefault(r.topic, []).append((r.key.decode(), r.value))
        # the default (murmur2) partitioner's choice: Faust and Java clients agree
        assert r.partition == (murmur2(r.key) & 0x7FFFFFFF) % 3
    for topic in expected:
        assert sorted(got[topic]) == sorted(expected[topic]), topic
    # per-key order: customer c1's orders in file order on their partition
    c1_orders = [orjson.loads(r.value)["event_id"] for r in sorted(records, key=lambda r: r.offset)
                 if r.topic == names.inbound("order") and r.key == b"customer:c1"]
    assert c1_orders == ["e1", "e2", "e9"]


@pytest.mark.integration
def test_publish_paced_keeps_order(broker: EmbeddedBroker) -> None:
    s = make_settings(broker)
    names = topic_names(s)
    broker.create_topics({names.inbound("order"): (2, False)})
    docs = [order(f"p{i:03d}", customer="c7") for i in range(40)]
    report = publish(s, jsonl(docs), rate=2000.0)
    assert report.delivered == 40
    records = read_topics(broker, [names.inbound("order")], 40)
    assert [orjson.loads(r.value)["event_id"] for r in records] == [d["event_id"] for d in docs]
