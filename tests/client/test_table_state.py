"""Reading entity states from the table changelog to its end; a snapshot grades them like ``score``."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from kafka import KafkaProducer

from tests.client.helpers import DEADLINE_S, make_settings, produce
from tierstream.schemas.rules import load_rules
from tierstream.scorers.engine import Grader
from tierstream.scorers.state import EntityState
from tierstream.streams.client import read_states, snapshot
from tierstream.streams.dev.broker import EmbeddedBroker
from tierstream.streams.dev.sample import write_sample
from tierstream.streams.kafka.read import read_to_end
from tierstream.streams.kafka.topics import topic_names
from tierstream.streams.offline.score import OfflineScorer, read_lines, run


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
    # ... each with the notices in force and the open case that `score --out` adds to its lines
    assert [orjson.loads(line) for line in out.read_bytes().splitlines()] == [x.line() for x in scorer.snapshots(as_of)]
