"""The worker's message handling for source topics and the repartition hop, in process (issue 11, points 1-3)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from tierstream.schemas.mapping import Sources
from tierstream.schemas.outputs import DeadLetter
from tierstream.schemas.rules import load_rules
from tierstream.schemas.settings import Settings
from tierstream.schemas.sources import parse_sources
from tierstream.scorers.state import EntityState
from tierstream.streams.kafka.topics import partition_of
from tierstream.streams.worker.processor import BatchStore, Processor

NOW = datetime(2024, 3, 2, tzinfo=UTC).timestamp()
SOURCES = parse_sources("""
sources:
  erp:
    topics: [erp.orders]
    type: order
    fields:
      order_id: {path: id, transform: string}
      customer_id: client
      amount: {path: cents, transform: cents}
      occurred_at: {path: at, transform: epoch_s}
""")
KEY = b"customer:acme"
HOME = partition_of(KEY, 4)


def processor(erp_partitions: int | None) -> Processor:
    """A worker's processor; the ERP topic has ``erp_partitions`` partitions (``None``: not known yet)."""
    counts = {"erp.orders": erp_partitions, "sp.orders": 4}
    return Processor(Settings(topic_prefix="sp.", app_id="sp", partitions=4), load_rules(), wall_clock=lambda: NOW,
                     sources=Sources(SOURCES), partitions_of=counts.get)


def erp_order(n: int, cents: object = 150_000) -> bytes:
    # 1,709,287,200 s = 2024-03-01T10:00:00Z
    return json.dumps({"id": n, "client": "acme", "cents": cents, "at": 1_709_287_200}).encode()


@pytest.mark.parametrize("erp_partitions", [3, None])
def test_an_event_on_a_topic_partitioned_otherwise_takes_one_hop_then_is_graded(erp_partitions: int | None) -> None:
    proc, table = processor(erp_partitions), dict[bytes, bytes]()
    store = BatchStore(table)
    # on its entity's partition number, but of a 3-partition topic (or one not known yet): hop
    out = proc.process(store, "erp.orders", HOME, 0, b"O-1", erp_order(1))
    assert [(m.topic, m.key) for m in out] == [("sp.repartition", KEY)]
    event = orjson.loads(out[0].value)
    assert (event["order_id"], event["amount"], event["occurred_at"]) == ("1", 1500.0, "2024-03-01T10:00:00+00:00")
    assert not store.dirty  # nothing graded before the hop
    # the re-keyed record, consumed from the repartition topic on the entity's partition: graded
    assert proc.process(store, "sp.repartition", HOME, 0, KEY, out[0].value) == []
    store.flush()
    state = EntityState.from_bytes(table[KEY])
    # the same record again (the source re-read after a crash, re-keyed again with the same bytes): counted once
    assert proc.process(store, "sp.repartition", HOME, 1, KEY, out[0].value) == []
    store.flush()
    assert EntityState.from_bytes(table[KEY]).to_bytes() == state.to_bytes()
    assert proc.metrics.registry.get_sample_value("tierstream_events_duplicate_total") == 1


def test_a_copartitioned_topic_grades_on_the_entitys_partition_whatever_the_key() -> None:
    proc = processor(4)
    store = BatchStore({})
    # keyed by order id, or not at all, but on the entity's partition: graded at once
    assert proc.process(store, "erp.orders", HOME, 0, b"O-1", erp_order(1)) == []
    assert proc.process(store, "erp.orders", HOME, 1, None, erp_order(2)) == []
    assert KEY in store.dirty
    # on another partition: one hop
    other = (HOME + 1) % 4
    assert [m.topic for m in proc.process(store, "erp.orders", other, 2, None, erp_order(3))] == ["sp.repartition"]
    # tierstream's own topic, keyed by order id, on another partition: the same hop
    own = {"type": "order", "event_id": "e9", "occurred_at": "2024-03-01T10:00:00Z", "order_id": "o9",
           "customer_id": "acme", "amount": 5}
    out = proc.process(store, "sp.orders", other, 0, b"o9", json.dumps(own).encode())
    assert [(m.topic, m.key) for m in out] == [("sp.repartition", KEY)]


def test_the_repartition_topic_keeps_the_key_check() -> None:
    proc = processor(4)
    raw = proc.process(BatchStore({}), "erp.orders", (HOME + 1) % 4, 0, None, erp_order(1))[0].value
    out = proc.process(BatchStore({}), "sp.repartition", HOME, 0, b"O-1", raw)
    letter = DeadLetter.model_validate_json(out[0].value)
    assert letter.reason == "key_mismatch" and "customer:acme" in letter.error


def test_a_message_that_does_not_map_is_dead_lettered_naming_source_and_field(tmp_path: Path) -> None:
    proc = processor(3)
    out = proc.process(BatchStore({}), "erp.orders", 1, 42, b"O-2", erp_order(2, cents="12x"))
    assert [m.topic for m in out] == ["sp.dead-letters"]
    letter = DeadLetter.model_validate_json(out[0].value)
    assert (letter.reason, letter.source_topic, letter.offset) == ("mapping_error", "erp.orders", 42)
    assert letter.error.startswith("source 'erp': amount: cents: expected a number")
    # a mapped event the models refuse says which source it came from
    neg = proc.process(BatchStore({}), "erp.orders", 1, 43, None, erp_order(3, cents=-5))
    bad = DeadLetter.model_validate_json(neg[0].value)
    assert bad.reason == "invalid_event" and bad.error.startswith("source 'erp': order.amount")
