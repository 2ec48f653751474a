"""Integration tests for the embedded Tansu broker (real process, no mocks)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from tests.streaming import free_port
from tierstream.streams.dev.broker import EmbeddedBroker

pytestmark = pytest.mark.integration

DEADLINE_S = 20.0


def _name(prefix: str) -> str:
    # The broker fixture is shared by the whole session: never reuse a topic name.
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def test_broker_answers_metadata(broker: EmbeddedBroker) -> None:
    assert broker.running
    host, port = broker.bootstrap.split(":")
    assert host == "127.0.0.1"
    admin = broker.admin()
    try:
        cluster = admin.describe_cluster()
    finally:
        admin.close()
    advertised = {(b["host"], b["port"]) for b in cluster["brokers"]}
    assert advertised == {("127.0.0.1", int(port))}


def test_create_topics_is_idempotent(broker: EmbeddedBroker) -> None:
    plain, compacted = _name("plain"), _name("compacted")
    specs = {plain: (4, False), compacted: (2, True)}
    broker.create_topics(specs)
    broker.create_topics(specs)  # already exists: must not raise
    broker.create_topics({})

    admin = broker.admin()
    try:
        assert {plain, compacted} <= set(admin.list_topics())
        described = {t["name"]: t for t in admin.describe_topics([plain, compacted])}
    finally:
        admin.close()
    assert len(described[plain]["partitions"]) == 4
    assert len(described[compacted]["partitions"]) == 2
    assert all(t["error_code"] == 0 for t in described.values())


def test_produce_consume_round_trip(broker: EmbeddedBroker) -> None:
    topic = _name("roundtrip")
    broker.create_topics({topic: (3, False)})
    sent = {f"key-{i}".encode(): f"value-{i}".encode() for i in range(10)}

    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    try:
        for key, value in sent.items():
            producer.send(topic, key=key, value=value).get(timeout=DEADLINE_S)
        producer.flush(timeout=DEADLINE_S)
    finally:
        producer.close()

    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False)
    received: dict[bytes, bytes] = {}
    try:
        partitions = [TopicPartition(topic, p) for p in range(3)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + DEADLINE_S
        while len(received) < len(sent) and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    assert record.key is not None and record.value is not None
                    received[record.key] = record.value
    finally:
        consumer.close()
    assert received == sent


def test_stop_leaves_no_process_behind(tmp_path: Path) -> None:
    log = tmp_path / "tansu.log"
    broker = EmbeddedBroker(log_path=log)
    broker.start()
    pid = broker.pid
    assert pid is not None and broker.running
    assert os.getpgid(pid) == pid  # own process group, so stop() can signal all of it

    broker.stop()
    assert not broker.running and broker.pid is None
    assert _pid_gone(pid)  # stop() reaped it: no zombie either
    assert _group_gone(pid)
    broker.stop()  # idempotent
    assert broker.log_path == log
    assert b"tansu" in log.read_bytes().lower()


def test_context_manager_and_independent_instances() -> None:
    with EmbeddedBroker() as first, EmbeddedBroker() as second:
        assert first.bootstrap != second.bootstrap
        pids = [first.pid, second.pid]
        topic = _name("only-on-first")
        first.create_topics({topic: (1, False)})
        admin = second.admin()
        try:
            assert topic not in admin.list_topics()
        finally:
            admin.close()
    for pid in pids:
        assert pid is not None and _pid_gone(pid)


def _dead_or_zombie(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


def test_broker_dies_with_a_killed_parent() -> None:
    """A parent killed by SIGKILL never runs stop() or atexit: PDEATHSIG must end the broker."""
    script = (
        "from streams.dev.broker import EmbeddedBroker\n"
        "import sys\n"
        "b = EmbeddedBroker().start()\n"
        "print(b.pid, flush=True)\n"
        "sys.stdin.read()\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        broker_pid = int(parent.stdout.readline())
        assert not _dead_or_zombie(broker_pid)
        parent.kill()
        parent.wait(timeout=DEADLINE_S)
        deadline = time.monotonic() + DEADLINE_S
        while not _dead_or_zombie(broker_pid) and time.monotonic() < deadline:
            time.sleep(0.05)  # polling interval
        assert _dead_or_zombie(broker_pid)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def test_the_broker_takes_its_preferred_port_when_free_else_a_free_one(tmp_path: Path) -> None:
    wanted = free_port()
    with EmbeddedBroker(log_path=tmp_path / "a.log", preferred_port=wanted) as broker:
        assert broker.port == wanted
        with EmbeddedBroker(log_path=tmp_path / "b.log", preferred_port=wanted) as second:
            assert second.port != wanted and second.running
