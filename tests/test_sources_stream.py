"""Issue 11, point 5: upstream systems publish as they already do, with a real client, and the stream agrees.

The traffic is a generated sample re-shaped the way existing systems would send
it, and produced with ``confluent-kafka`` (librdkafka), the client most upstream
Python services use:

* an ERP's order feed on ``erp.orders.v1``: 3 partitions (the worker's topics
  have 4, so every one of its events takes the repartition hop), keyed by order
  id, numeric order ids, amounts in cents, epoch-millisecond times, its own
  status vocabulary, the customer nested;
* a shop database's ``orders`` table through Debezium (JSON converter with
  schemas: the ``schema``/``payload`` wrapper) on ``shop.public.orders``,
  unkeyed: an insert per placed order, an update to ``cancelled``/``refunded``
  per retraction, a delete (and its tombstone) for some cancellations, and
  updates that retract nothing (``pending`` -> ``shipped``);
* tierstream's own ``orders`` topic, keyed by order id;
* every other event kind on tierstream's own topics, half keyed by the event's
  id, half unkeyed.

Every message is also written, in the order produced, to a capture file; the
reference is ``tierstream score --sources`` of that file (:func:`score_file`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import KafkaError, Message, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from tests.streaming import Stream, diff, offline_snapshot, poll
from tierstream.schemas.errors import MappingError
from tierstream.schemas.events import INBOUND_ADAPTER, entity_of
from tierstream.schemas.mapping import Sources
from tierstream.schemas.outputs import DeadLetter
from tierstream.schemas.sources import load_sources
from tierstream.streams.dev.harness import Snapshots
from tierstream.streams.dev.sample import write_sample
from tierstream.streams.kafka.read import read_to_end
from tierstream.streams.kafka.topics import entity_key, partition_of
from tierstream.streams.offline.scoring import score_file

pytestmark = pytest.mark.integration

ERP_TOPIC = "erp.orders.v1"
SHOP_TOPIC = "shop.public.orders"

#: The sources file of this traffic: the ERP feed and the shop's Debezium feed. Every
#: other topic the worker reads (its own) carries tierstream events as they are.
SOURCES_YAML = f"""\
sources:
  # The ERP publishes one message per order status change, keyed by order id:
  #   {{"id": 191, "customer": {{"code": "c00032", "group": "retail"}}, "total_cents": 22943,
  #    "cost_cents": 15026, "currency": "CNY", "state": "NEW", "updated_ms": 1783186751000}}
  # (a purchase names a "vendor" instead of a "customer"; a return, what was returned).
  erp_orders:
    topics: [{ERP_TOPIC}]
    type: order
    fields:
      order_id: {{path: id, transform: string}}
      customer_id: customer.code
      customer_group: customer.group
      supplier_id: vendor.code
      amount: {{path: total_cents, transform: cents}}
      cost: {{path: cost_cents, transform: cents}}
      market_amount: {{path: market_cents, transform: cents}}
      returned_amount: {{path: returned_cents, transform: cents}}
      returned_cost: {{path: returned_cost_cents, transform: cents}}
      currency: currency
      occurred_at: {{path: updated_ms, transform: epoch_ms}}
      status: {{path: state, map: {{NEW: placed, CANCELED: cancelled, RETURNED: returned}}}}
    event_id_from: [order_id, status]

  # The shop's orders table through Debezium (decimals as text). An insert places an
  # order, an update to cancelled or refunded retracts it, a delete cancels it; other
  # updates and tombstones grade nothing. The event time is the change's source.ts_ms.
  shop_orders:
    topics: [{SHOP_TOPIC}]
    format: debezium
    type: order
    fields:
      order_id: id
      customer_id: customer_code
      customer_group: segment
      amount: {{path: total, transform: number}}
      cost: {{path: cost, transform: number}}
      returned_amount: {{path: refund_total, transform: number}}
      returned_cost: {{path: refund_cost, transform: number}}
      currency: currency
      status: {{path: status, map: {{pending: placed, shipped: placed, cancelled: cancelled, refunded: returned}}}}
    event_id_from: [order_id, status]
"""

#: The shop table's columns, as the Debezium JSON converter describes them (``schemas.enable=true``).
_SHOP_COLUMNS = [("id", "int64", False), ("customer_code", "string", False), ("segment", "string", True),
                 ("total", "string", False), ("cost", "string", True), ("refund_total", "string", True),
                 ("refund_cost", "string", True), ("currency", "string", True), ("status", "string", False)]


def _debezium_schema() -> dict[str, Any]:
    row = [{"type": t, "optional": o, "field": f} for f, t, o in _SHOP_COLUMNS]
    value = "shop.public.orders.Value"
    return {"type": "struct", "optional": False, "name": "shop.public.orders.Envelope", "version": 1, "fields": [
        {"type": "struct", "fields": row, "optional": True, "name": value, "field": "before"},
        {"type": "struct", "fields": row, "optional": True, "name": value, "field": "after"},
        {"type": "struct", "optional": False, "name": "io.debezium.connector.postgresql.Source", "field": "source",
         "fields": [{"type": "string", "optional": False, "field": f} for f in ("version", "connector", "name")]
         + [{"type": "int64", "optional": False, "field": "ts_ms"},
            {"type": "string", "optional": False, "field": "db"}, {"type": "string", "optional": False,
                                                                  "field": "table"}]},
        {"type": "string", "optional": False, "field": "op"},
        {"type": "int64", "optional": True, "field": "ts_ms"},
    ]}


_SCHEMA = _debezium_schema()


def _ms(iso: str) -> int:
    return round(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def _cents(amount: float) -> int:
    return round(amount * 100)


def _number_id(order_id: str) -> int:
    """The ERP's and the shop's order numbers: ``so00000191`` -> 191 (sales and purchases are other entities)."""
    return int(order_id.lstrip("sop"))


class Upstream:
    """The messages the upstream systems produce, in order, and how many of each shape."""

    def __init__(self, own: Any) -> None:
        self.own = own  # TopicNames of the deployment
        self.messages: list[tuple[str, bytes | None, bytes | None]] = []
        self.shapes: Counter[str] = Counter()
        self.shop_rows: dict[str, dict[str, Any]] = {}  # the shop table: order id -> row
        self.lsn = 0

    def send(self, shape: str, topic: str, key: str | None, value: dict[str, Any] | None) -> None:
        self.shapes[shape] += 1
        self.messages.append((topic, None if key is None else key.encode(),
                              None if value is None else orjson.dumps(value)))

    # --- the ERP --------------------------------------------------------------------

    def erp(self, ev: dict[str, Any]) -> None:
        status = ev.get("status", "placed")
        msg: dict[str, Any] = {"id": _number_id(ev["order_id"]),
                               "state": {"placed": "NEW", "cancelled": "CANCELED", "returned": "RETURNED"}[status],
                               "updated_ms": _ms(ev["occurred_at"]), "total_cents": _cents(ev["amount"])}
        if "customer_id" in ev:
            msg["customer"] = {"code": ev["customer_id"], **({"group": ev["customer_group"]}
                                                             if "customer_group" in ev else {})}
        else:
            msg["vendor"] = {"code": ev["supplier_id"]}
        for field, name in (("cost", "cost_cents"), ("market_amount", "market_cents"),
                            ("returned_amount", "returned_cents"), ("returned_cost", "returned_cost_cents")):
            if field in ev:
                msg[name] = _cents(ev[field])
        if "currency" in ev:
            msg["currency"] = ev["currency"]
        self.send(f"erp {msg['state']}", ERP_TOPIC, str(msg["id"]), msg)

    # --- the shop's change-data feed ------------------------------------------------

    def _change(self, op: str, before: dict[str, Any] | None, after: dict[str, Any] | None, at_ms: int,
                shape: str = "") -> None:
        self.lsn += 1
        payload = {"before": before, "after": after, "op": op, "ts_ms": at_ms + 250,
                   "source": {"version": "2.7.0.Final", "connector": "postgresql", "name": "shop", "ts_ms": at_ms,
                              "db": "shop", "table": "orders", "lsn": self.lsn}}
        self.send(shape or f"debezium {op}", SHOP_TOPIC, None, {"schema": _SCHEMA, "payload": payload})

    def shop(self, ev: dict[str, Any], delete: bool, ship: bool) -> None:
        at = _ms(ev["occurred_at"])
        oid = ev["order_id"]
        status = ev.get("status", "placed")
        if status == "placed":
            row = {"id": _number_id(oid), "customer_code": ev["customer_id"], "segment": ev.get("customer_group"),
                   "total": f"{ev['amount']:.2f}", "cost": None if "cost" not in ev else f"{ev['cost']:.2f}",
                   "refund_total": None, "refund_cost": None, "currency": ev.get("currency"), "status": "pending"}
            if oid in self.shop_rows:  # the sample's duplicate: the same change, delivered again
                self._change("c", None, row, at, "debezium c (redelivered)")
                return
            self.shop_rows[oid] = row
            self._change("c", None, row, at)
            if ship:
                shipped = {**row, "status": "shipped"}
                self._change("u", row, shipped, at + 3_600_000, "debezium u (not a retraction)")
                self.shop_rows[oid] = shipped
            return
        before = self.shop_rows[oid]
        if delete:
            assert status == "cancelled"
            self._change("d", before, None, at)
            self.send("debezium tombstone", SHOP_TOPIC, None, None)
            return
        after = {**before, "status": "cancelled" if status == "cancelled" else "refunded"}
        if "returned_amount" in ev:
            after["refund_total"] = f"{ev['returned_amount']:.2f}"
        if "returned_cost" in ev:
            after["refund_cost"] = f"{ev['returned_cost']:.2f}"
        self.shop_rows[oid] = after
        self._change("u", before, after, at, f"debezium u (to {after['status']})")

    # --- tierstream's own topics ------------------------------------------------------

    def own_topic(self, ev: dict[str, Any], keyed: bool) -> None:
        topic = self.own.inbound(ev["type"])
        if ev["type"] == "order":
            self.send("own orders keyed by order id", topic, ev["order_id"], ev)
        else:
            key = ev["event_id"] if keyed else None
            self.send(f"own {ev['type']} {'keyed by event id' if keyed else 'unkeyed'}", topic, key, ev)


def upstream_traffic(sample: Path, stream: Stream) -> Upstream:
    """The sample's events, re-shaped and split between the upstream systems (see the module docstring)."""
    up = Upstream(stream.names)
    events = [orjson.loads(line) for line in sample.read_bytes().splitlines() if line.strip()]
    home: dict[str, str] = {}  # order id -> the system that sends it: every status of an order comes from one
    deletes = 0
    keyed: Counter[str] = Counter()
    for n, ev in enumerate(events):
        if ev["type"] != "order":
            keyed[ev["type"]] += 1
            up.own_topic(ev, keyed=keyed[ev["type"]] % 2 == 0)
            continue
        oid = ev["order_id"]
        if oid not in home:
            number = _number_id(oid)
            home[oid] = ("erp", "shop", "own")[number % 3] if "customer_id" in ev else ("erp", "own")[number % 2]
        if home[oid] == "erp":
            up.erp(ev)
        elif home[oid] == "shop":
            delete = ev.get("status") == "cancelled" and deletes % 2 == 0
            deletes += ev.get("status") == "cancelled"
            up.shop(ev, delete=delete, ship=n % 4 == 0)
        else:
            up.own_topic(ev, keyed=True)
    # two ERP messages that do not map: an amount that is not a number, a status the ERP never documented
    first = next(ev for ev in events if ev["type"] == "order" and "customer_id" in ev)
    bad = {"customer": {"code": first["customer_id"]}, "currency": "USD", "updated_ms": _ms(first["occurred_at"])}
    up.send("erp, not mappable", ERP_TOPIC, "990001", {**bad, "id": 990001, "total_cents": "12x", "state": "NEW"})
    up.send("erp, not mappable", ERP_TOPIC, "990002", {**bad, "id": 990002, "total_cents": 1250, "state": "ON_HOLD"})
    return up


def write_capture(up: Upstream, path: Path) -> None:
    """The messages as ``tierstream score --sources`` reads them: ``{"topic", "key", "value"}``, in order."""
    with path.open("wb") as out:
        for topic, key, value in up.messages:
            out.write(orjson.dumps({"topic": topic, "key": None if key is None else key.decode(),
                                    "value": None if value is None else value.decode()}) + b"\n")


def produce(bootstrap: str, up: Upstream) -> list[int]:
    """Publish every message with librdkafka's default partitioner, as upstream services do; the partitions."""
    errors: list[KafkaError] = []
    landed = [-1] * len(up.messages)

    def delivered(i: int) -> Callable[[KafkaError | None, Message], None]:
        def report(err: KafkaError | None, msg: Message) -> None:
            if err is not None:
                errors.append(err)
            else:
                landed[i] = msg.partition() or 0
        return report

    producer = Producer({"bootstrap.servers": bootstrap, "client.id": "upstream", "linger.ms": 5})
    for i, (topic, key, value) in enumerate(up.messages):
        producer.produce(topic, value=value, key=key, on_delivery=delivered(i))
        producer.poll(0)
    assert producer.flush(30) == 0, "messages left undelivered"
    assert errors == [] and -1 not in landed
    return landed


def entity_partitions(up: Upstream, sources: Sources, partitions: int) -> list[int | None]:
    """Per message, the partition of its event's entity (``None``: it grades nothing or does not map)."""
    out: list[int | None] = []
    for topic, _, value in up.messages:
        mapper = sources.for_topic(topic)
        try:
            event = value if mapper is None else mapper.map(value)
        except MappingError:
            event = None
        if event is None:
            out.append(None)
            continue
        kind, eid = entity_of(INBOUND_ADAPTER.validate_json(event))
        out.append(partition_of(entity_key(kind, eid).encode(), partitions))
    return out


def create_source_topics(bootstrap: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(ERP_TOPIC, num_partitions=3, replication_factor=1),
                                   NewTopic(SHOP_TOPIC, num_partitions=4, replication_factor=1)])
    for future in futures.values():
        future.result(30)
    counts = {t: len(m.partitions) for t, m in admin.list_topics(timeout=30).topics.items()}
    assert counts[ERP_TOPIC] == 3 and counts[SHOP_TOPIC] == 4



def test_upstream_topics_any_key_mapped_and_debezium_equal_offline_score(stream: Stream, tmp_path: Path) -> None:
    """Issue 11, points 1 and 5: one worker reads the ERP, Debezium and own-topic traffic (any key, none) and
    its snapshot equals ``tierstream score --sources`` of the capture; the hops, duplicates, ignored change
    events and the dead letters of the two unmappable messages are exactly those the traffic calls for."""
    sample = tmp_path / "sample.jsonl"
    write_sample(sample, customers=150, suppliers=15, days=120, seed=11, invalid_ratio=0.0)
    sources = tmp_path / "sources.yaml"
    sources.write_text(SOURCES_YAML)
    up = upstream_traffic(sample, stream)
    capture = tmp_path / "capture.jsonl"
    write_capture(up, capture)

    # every shape the issue names is in the traffic
    shapes = up.shapes
    for shape in ("erp NEW", "erp CANCELED", "erp RETURNED", "debezium c", "debezium u (to cancelled)",
                  "debezium u (to refunded)", "debezium u (not a retraction)", "debezium d", "debezium tombstone",
                  "own orders keyed by order id", "own payment keyed by event id", "own payment unkeyed"):
        assert shapes[shape] > 0, shape
    print("\nmessages per shape:", dict(sorted(shapes.items())))

    # the reference: tierstream score --sources of the captured messages
    result = score_file(capture, sources=load_sources(sources), workers=1)
    expected: Snapshots = {(s.entity_type, s.entity_id): s.model_dump(mode="json") for s in result.snapshots()}
    assert result.report.invalid == 2  # the two ERP messages that do not map
    assert len(expected) > 100
    # nothing is lost in the re-shaping: the upstream layouts grade as the sample itself does (a field the
    # sample gains and these layouts do not carry shows here first)
    original = offline_snapshot(sample)
    assert expected == original, diff(original, expected)

    create_source_topics(stream.bootstrap)
    worker = stream.start_worker(extra_env={"TIERSTREAM_SOURCES": str(sources)})
    landed = produce(stream.bootstrap, up)
    stream.wait_for_snapshot(expected, 120, "stream snapshot == tierstream score --sources of the capture")

    # every message was read, and every hop too (a re-keyed event is read once more, from repartition)
    def all_read() -> bool:
        return worker.metric("tierstream_events_in_total") == len(up.messages) + worker.metric(
            "tierstream_events_rekeyed_total")

    poll(all_read, 60, "every produced and re-keyed message to be read")
    # the hops: every event that landed off its entity's partition took one (all the ERP's: 3 partitions, not
    # the table's 4), and none that landed on it (the ready worker knows every topic's partition count)
    home = entity_partitions(up, Sources(load_sources(sources)), stream.partitions)
    graded = [(topic, p, h) for (topic, _, _), p, h in zip(up.messages, landed, home, strict=True) if h is not None]
    off = sum(1 for topic, p, h in graded if topic == ERP_TOPIC or p != h)
    rekeyed = worker.metric("tierstream_events_rekeyed_total")
    print(f"graded candidates {len(graded)}, off their entity's partition {off}, re-keyed {rekeyed:g}")
    assert 0 < off == rekeyed < len(graded)
    # the sample's redelivered events are dropped once each, across the hop as offline
    assert result.report.duplicates > 0
    assert worker.metric("tierstream_events_duplicate_total") == result.report.duplicates
    assert worker.metric("tierstream_events_ignored_total") == (shapes["debezium tombstone"]
                                                               + shapes["debezium u (not a retraction)"])

    # the only dead letters are the two ERP messages that do not map, naming the source and the field
    # (a dead letter is sent as its message is read: poll until the two are on the topic, then take all there are)
    def dead_letters() -> list[DeadLetter] | None:
        records = read_to_end(stream.settings, stream.names.dead_letters)
        found = [DeadLetter.model_validate_json(r.value) for r in records]
        return found if len(found) >= 2 else None

    letters = poll(dead_letters, 60, "the two dead letters")
    assert sorted(d.reason for d in letters) == ["mapping_error", "mapping_error"], letters
    assert {d.source_topic for d in letters} == {ERP_TOPIC}
    errors = sorted(d.error for d in letters)
    assert errors[0].startswith("source 'erp_orders': amount: ") and "12x" in errors[0], errors
    assert errors[1].startswith("source 'erp_orders': status: ") and "ON_HOLD" in errors[1], errors
