"""The synchronous client (streams.client, streams.kafka.config, streams.kafka.read, streams.cli.client).

Integration tests run against the session's embedded broker (``broker`` in
conftest.py); each test uses its own topic prefix and app id. Synchronisation
is by offsets and polling with deadlines, never by sleeping.
"""

from __future__ import annotations

import itertools
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.partitioner.default import murmur2
from pydantic import ValidationError

from tierstream.schemas.outputs import TierChange
from tierstream.schemas.routing import raw_entity_key
from tierstream.schemas.rules import load_rules
from tierstream.schemas.settings import Settings, kafka_config_error
from tierstream.scorers.engine import Grader
from tierstream.scorers.state import EntityState
from tierstream.streams.client import TierChangeSubscriber, publish, read_states, snapshot, watch
from tierstream.streams.dev.broker import EmbeddedBroker
from tierstream.streams.dev.sample import write_sample
from tierstream.streams.kafka.config import KafkaConfigError, faust_broker_kwargs, kafka_python_config
from tierstream.streams.kafka.read import read_to_end
from tierstream.streams.kafka.topics import topic_names
from tierstream.streams.offline.score import OfflineScorer, read_lines, run

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


# --------------------------------------------------------------------------- kafka_config (no broker)


def test_kafka_config_plaintext_and_bootstrap_list() -> None:
    s = Settings(kafka_bootstrap="kafka://a:9092, b:9093,")
    assert kafka_python_config(s) == {"bootstrap_servers": ["a:9092", "b:9093"],
                                      "security_protocol": "PLAINTEXT"}
    assert faust_broker_kwargs(s) == {"broker": "kafka://a:9092,b:9093"}
    with pytest.raises(KafkaConfigError, match="TIERSTREAM_KAFKA_BOOTSTRAP"):
        kafka_python_config(Settings(kafka_bootstrap="nohostport"))


def test_kafka_config_sasl_keeps_the_password_out_of_reprs_and_errors() -> None:
    import faust

    s = Settings(kafka_bootstrap="a:1", kafka_security_protocol="SASL_PLAINTEXT",
                 kafka_sasl_mechanism="SCRAM-SHA-512", kafka_sasl_username="svc",
                 kafka_sasl_password="hunter2-secret")
    cfg = kafka_python_config(s)
    assert cfg["sasl_plain_password"] == "hunter2-secret"
    assert cfg["sasl_mechanism"] == "SCRAM-SHA-512" and cfg["sasl_plain_username"] == "svc"
    assert "hunter2" not in repr(cfg) and "hunter2" not in str(cfg) and "hunter2" not in f"{cfg}"
    kw = faust_broker_kwargs(s)
    creds = kw["broker_credentials"]
    assert isinstance(creds, faust.SASLCredentials)
    assert creds.mechanism.value == "SCRAM-SHA-512" and creds.ssl_context is None
    assert "hunter2" not in repr(kw)

    # SASL settings with a non-SASL protocol: Settings() refuses them, naming variables only
    with pytest.raises(ValidationError) as refused:
        Settings(kafka_bootstrap="a:1", kafka_sasl_mechanism="PLAIN", kafka_sasl_username="svc",
                 kafka_sasl_password="hunter2-secret")
    cause = kafka_config_error(refused.value)
    assert cause is not None and "TIERSTREAM_KAFKA_SASL_PASSWORD" in str(cause)
    assert "TIERSTREAM_KAFKA_SECURITY_PROTOCOL=PLAINTEXT" in str(cause)
    for text in (str(refused.value), repr(refused.value), str(cause)):
        assert "hunter2" not in text
    # ... and so do the config builders, for settings made without validation
    bad = s.model_copy(update={"kafka_security_protocol": "PLAINTEXT"})
    with pytest.raises(KafkaConfigError) as err:
        kafka_python_config(bad)
    assert "TIERSTREAM_KAFKA_SASL_PASSWORD" in str(err.value) and "hunter2" not in str(err.value)
    with pytest.raises(KafkaConfigError, match="TIERSTREAM_KAFKA_SASL_PASSWORD"):
        faust_broker_kwargs(bad)
    # SASL protocol without a password
    with pytest.raises(ValidationError) as refused:
        Settings(kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="PLAIN", kafka_sasl_username="svc")
    assert str(kafka_config_error(refused.value)) == (
        "TIERSTREAM_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs TIERSTREAM_KAFKA_SASL_PASSWORD")


def test_kafka_config_ssl_files() -> None:
    import ssl

    import faust

    certifi = pytest.importorskip("certifi")
    ca = Path(certifi.where())
    s = Settings(kafka_bootstrap="a:1", kafka_security_protocol="SSL", kafka_ssl_cafile=ca)
    assert kafka_python_config(s)["ssl_cafile"] == str(ca)
    creds = faust_broker_kwargs(s)["broker_credentials"]
    assert isinstance(creds, faust.SSLCredentials) and isinstance(creds.context, ssl.SSLContext)
    with pytest.raises(KafkaConfigError, match="TIERSTREAM_KAFKA_SSL_CAFILE"):
        kafka_python_config(s.model_copy(update={"kafka_ssl_cafile": Path("/nonexistent/ca.pem")}))
    with pytest.raises(KafkaConfigError, match="SSL or SASL_SSL"):
        kafka_python_config(s.model_copy(update={"kafka_security_protocol": "PLAINTEXT"}))
    # contradictions are refused by Settings() itself
    with pytest.raises(ValidationError, match=r"TIERSTREAM_KAFKA_SSL_CAFILE set but .*: use SSL or SASL_SSL"):
        Settings(kafka_ssl_cafile=ca)
    with pytest.raises(ValidationError, match="TIERSTREAM_KAFKA_SSL_KEYFILE needs TIERSTREAM_KAFKA_SSL_CERTFILE"):
        Settings(kafka_security_protocol="SSL", kafka_ssl_keyfile=ca)
    # a field error is not a Kafka contradiction
    with pytest.raises(ValidationError) as refused:
        Settings(partitions=0)
    assert kafka_config_error(refused.value) is None


@pytest.mark.parametrize(("env", "line"), [
    ({"TIERSTREAM_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "TIERSTREAM_KAFKA_SASL_MECHANISM": "PLAIN"},
     "Error: TIERSTREAM_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs TIERSTREAM_KAFKA_SASL_USERNAME, "
     "TIERSTREAM_KAFKA_SASL_PASSWORD"),
    ({"TIERSTREAM_KAFKA_SASL_PASSWORD": "hunter2-secret"},
     "Error: TIERSTREAM_KAFKA_SASL_PASSWORD set but TIERSTREAM_KAFKA_SECURITY_PROTOCOL=PLAINTEXT: "
     "use SASL_PLAINTEXT or SASL_SSL, or unset them"),
    ({"TIERSTREAM_PARTITIONS": "0"},
     "Error: invalid settings: TIERSTREAM_PARTITIONS: Input should be greater than or equal to 1"),
])
def test_cli_prints_refused_settings_as_one_line(env: dict[str, str], line: str) -> None:
    from tierstream.streams.cli.main import main

    res = CliRunner().invoke(main, ["watch", "--bootstrap", "127.0.0.1:1"], env=env)
    assert res.exit_code == 1
    assert res.output.splitlines() == [line]


def test_raw_entity_key_matches_entity_of_for_valid_bodies() -> None:
    for doc, key in zip(VALID, VALID_KEYS, strict=True):
        assert raw_entity_key(doc["type"], doc) == key
    for doc, key in INVALID_TYPED:
        assert raw_entity_key(doc["type"], doc) == key


# --------------------------------------------------------------------------- publish

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


# --------------------------------------------------------------------------- watch


@pytest.mark.integration
def test_watch_filters_and_follows_from_the_end(broker: EmbeddedBroker) -> None:
    s = make_settings(broker)
    topic = topic_names(s).tier_changes
    broker.create_topics({topic: (1, False)})  # one partition: a deterministic order
    old = [change(1, "customer", "upgrade"), change(2, "supplier", "downgrade"),
           change(3, "supplier", "upgrade"), change(4, "customer", "downgrade"),
           change(5, "supplier", "initial")]
    items: list[tuple[bytes | None, bytes | None]] = [change_msg(c) for c in old]
    items.insert(2, (b"customer:x", b"{not a tier change"))  # logged and skipped
    produce(broker, topic, items)  # one batch: Tansu's end offset would fall inside it

    def first(n: int, **filters: Any) -> list[TierChange]:
        with watch(s, from_beginning=True, timeout_s=DEADLINE_S, **filters) as w:
            return list(itertools.islice(w, n))

    assert first(5) == old
    assert first(3, entity_type="supplier") == [old[1], old[2], old[4]]
    assert first(2, direction="downgrade") == [old[1], old[3]]
    assert first(1, entity_type="customer", direction="upgrade") == [old[0]]

    # from the end: only what is produced after watch() returned
    with watch(s, entity_type="supplier", timeout_s=DEADLINE_S) as w:
        new = [change(6, "customer", "upgrade"), change(7, "supplier", "upgrade"),
               change(8, "supplier", "downgrade")]
        produce(broker, topic, [change_msg(c) for c in new])
        assert list(itertools.islice(w, 2)) == new[1:]


@pytest.mark.integration
def test_watch_missing_topic_and_idle_timeout(broker: EmbeddedBroker) -> None:
    s = make_settings(broker)
    broker.create_topics({topic_names(s).tier_changes: (2, False)})
    with watch(s, from_beginning=True, timeout_s=0.5) as w:
        assert list(w) == []  # nothing there: ends after the idle timeout


# --------------------------------------------------------------------------- subscriber


@pytest.mark.integration
def test_subscriber_dedups_and_commits_only_handled_changes(broker: EmbeddedBroker) -> None:
    s = make_settings(broker)
    topic = topic_names(s).tier_changes
    broker.create_topics({topic: (1, False)})
    a, b, c, d = (change(i, "supplier", "downgrade", entity_id=f"s{i}") for i in range(4))
    produce(broker, topic, [change_msg(x) for x in (a, b, a, c)])  # a delivered twice
    opts: dict[str, Any] = {"group_id": "crm", "entity_type": "supplier",
                            "idle_timeout_s": DEADLINE_S, "session_timeout_ms": 6000}

    got: list[TierChange] = []
    with TierChangeSubscriber(s, **opts) as sub:
        it = iter(sub)
        for ch in it:
            got.append(ch)
            if ch == c:
                break  # left while "handling" c: c must come again
        it.close()  # type: ignore[attr-defined]
        assert sub.duplicates == 1
    assert got == [a, b, c]

    with TierChangeSubscriber(s, **opts) as sub:
        it = iter(sub)
        assert next(it) == c  # redelivered: it was never handled
        produce(broker, topic, [change_msg(d), change_msg(change(9, "customer", "upgrade"))])
        assert next(it) == d  # the customer change is filtered out
        it.close()  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- table state


def state_bytes(kind: str, eid: str, clock: int) -> bytes:
    """A minimal state with one day of activity (snapshots leave empty entities out)."""
    state = EntityState(kind, eid, clock=clock, window_start=-10**6)
    state.add(clock // 86_400, 0, 1)
    return state.to_bytes()


@pytest.mark.integration
def test_read_states_last_value_wins_and_tombstones_delete(broker: EmbeddedBroker) -> None:
    s = make_settings(broker)
    topic = topic_names(s).entities_changelog
    broker.create_topics({topic: (2, True)})
    c1_v1, c1_v2 = state_bytes("customer", "c1", 100), state_bytes("customer", "c1", 200)
    s1_v1, s1_v2 = state_bytes("supplier", "s1", 150), state_bytes("supplier", "s1", 300)
    c2 = state_bytes("customer", "c2", 120)
    produce(broker, topic, [(b"customer:c1", c1_v1), (b"supplier:s1", s1_v1),
                            (b"customer:c2", c2), (b"customer:c1", c1_v2)], partition=0)
    produce(broker, topic, [(b"customer:c2", None)], partition=0)  # tombstone after its value
    c5 = state_bytes("customer", "c5", 60)
    produce(broker, topic, [(b'"supplier:s1"', s1_v2),  # Faust key_type=str: JSON-quoted key
                            (b"customer:c3", state_bytes("customer", "c3", 50)),
                            (b"customer:c3", None),
                            (b"customer:c5", c5)], partition=1)  # the tail of one multi-record batch
    states = read_states(s, timeout_s=DEADLINE_S)
    assert states == {"customer:c1": c1_v2, "supplier:s1": s1_v2, "customer:c5": c5}

    snaps = snapshot(s, Grader(load_rules()))
    assert [(x.entity_type, x.entity_id) for x in snaps] == [("customer", "c1"), ("customer", "c5"),
                                                             ("supplier", "s1")]
    assert {int(x.as_of.timestamp()) for x in snaps} == {300}  # max clock over all states
    assert {int(x.as_of.timestamp()) for x in snapshot(s, Grader(load_rules()), 400)} == {400}


@pytest.mark.integration
def test_read_to_end_gets_every_record_of_multi_record_batches(broker: EmbeddedBroker) -> None:
    """Tansu's ListOffsets "latest" stops at the last batch's base offset + 1: the read must not."""
    s = make_settings(broker)
    topic = s.topic("batched")
    broker.create_topics({topic: (2, False)})
    produce(broker, topic, [(b"k%d" % i, b"v%d" % i) for i in range(40)], partition=0)  # one batch
    produce(broker, topic, [(b"a", b"1")], partition=1)
    produce(broker, topic, [(b"b", b"2"), (b"c", b"3"), (b"d", b"4")], partition=1)
    fetched: list[int] = []
    records = list(read_to_end(s, topic, timeout_s=DEADLINE_S, on_batch=fetched.append))
    by_partition = {p: [r.offset for r in records if r.partition == p] for p in (0, 1)}
    assert by_partition == {0: list(range(40)), 1: list(range(4))}
    assert [r.value for r in records if r.partition == 1] == [b"1", b"2", b"3", b"4"]
    assert sum(fetched) == len(records) == 44


@pytest.mark.integration
def test_read_states_empty_topic(broker: EmbeddedBroker) -> None:
    s = make_settings(broker)
    broker.create_topics({topic_names(s).entities_changelog: (3, True)})
    assert read_states(s, timeout_s=DEADLINE_S) == {}
    assert snapshot(s, Grader(load_rules())) == []


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, OfflineScorer, int]:
    path = tmp_path_factory.mktemp("client") / "events.jsonl"
    write_sample(path, customers=60, suppliers=8, days=90, seed=11)
    scorer = OfflineScorer(load_rules())
    as_of = run(scorer, read_lines(path))
    return path, scorer, as_of


@pytest.mark.integration
def test_snapshot_of_the_table_equals_the_offline_scorer(
    broker: EmbeddedBroker, scored: tuple[Path, OfflineScorer, int], tmp_path: Path
) -> None:
    """States written to the changelog as the worker would; snapshot() grades them like `score`."""
    _, scorer, as_of = scored
    s = make_settings(broker)
    topic = topic_names(s).entities_changelog
    broker.create_topics({topic: (4, True)})
    items = [(f"{k}:{i}".encode(), st.to_bytes()) for (k, i), st in scorer.states.items()]
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=20)
    for key, value in items:
        producer.send(topic, key=key, value=value)
    producer.flush(timeout=DEADLINE_S)
    producer.close()

    offline = [x.model_dump(mode="json") for x in scorer.snapshots(as_of)]
    streamed = [x.model_dump(mode="json") for x in snapshot(s, Grader(load_rules()))]
    assert streamed == offline

    # the CLI writes the same lines as `tierstream score --out`
    from tierstream.streams.cli.main import main

    out = tmp_path / "state.jsonl"
    res = CliRunner().invoke(
        main, ["snapshot", "--out", str(out), "--bootstrap", broker.bootstrap],
        env={"TIERSTREAM_TOPIC_PREFIX": s.topic_prefix, "TIERSTREAM_APP_ID": s.app_id},
    )
    assert res.exit_code == 0, res.output
    assert [orjson.loads(line) for line in out.read_bytes().splitlines()] == offline


# --------------------------------------------------------------------------- CLI


@pytest.mark.integration
def test_cli_publish_and_watch(broker: EmbeddedBroker, tmp_path: Path) -> None:
    from tierstream.streams.cli.main import main

    s = make_settings(broker)
    names = topic_names(s)
    broker.create_topics({t: (2, False) for t in [*names.all_inbound, names.tier_changes]})
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join([orjson.dumps(VALID[0]), b"garbage", orjson.dumps(VALID[2])]))
    env = {"TIERSTREAM_TOPIC_PREFIX": s.topic_prefix, "TIERSTREAM_KAFKA_BOOTSTRAP": "127.0.0.1:1"}
    runner = CliRunner()
    res = runner.invoke(main, ["publish", str(events), "--bootstrap", broker.bootstrap], env=env)
    assert res.exit_code == 0, res.output
    assert "skipped" in res.stderr and ":2: not JSON" in res.stderr
    assert "2 delivered" in res.stderr
    read_topics(broker, [names.inbound("order")], 2)

    produce(broker, names.tier_changes, [change_msg(change(1, "customer", "upgrade")),
                                         change_msg(change(2, "supplier", "initial"))])
    args = ["watch", "--from-beginning", "--timeout", "2", "--bootstrap", broker.bootstrap]
    res = runner.invoke(main, [*args, "--entity-type", "customer"], env=env)
    assert res.exit_code == 0, res.output
    assert res.stdout == "2026-10-01T10:00Z customer c00001 general -> key (upgrade) score 71.2: reason 1\n"
    res = runner.invoke(main, [*args, "--json", "--direction", "initial"], env=env)
    assert [TierChange.model_validate_json(x) for x in res.stdout.splitlines()] == [
        change(2, "supplier", "initial")
    ]


def test_cli_help_teaches_env_vars() -> None:
    from tierstream.streams.cli.main import main

    for cmd in ("publish", "watch", "snapshot"):
        res = CliRunner().invoke(main, [cmd, "--help"])
        assert res.exit_code == 0
        assert "TIERSTREAM_KAFKA_BOOTSTRAP" in res.output and "KAFKA_SASL_USERNAME" in res.output
