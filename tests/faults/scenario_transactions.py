"""What the broker does with transactional producers (aiokafka, as Faust uses, and kafka-python)."""

from __future__ import annotations

import asyncio
import os
import random
import time
from contextlib import suppress
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from tests.faults.figures import Figures

__all__ = ["scenario_transactions", "transactions_probe"]


def transactions_probe(bootstrap: str) -> dict[str, str]:
    """What the broker does with transactional producers (aiokafka, as Faust uses, and kafka-python).

    Returns facts: ``aiokafka_init`` ("ok" or the error), ``kafka_python`` ("ok" or the error),
    ``read_committed_sees_aborted`` ("yes"/"no"), ``read_committed_sees_open`` ("yes"/"no").
    """
    from aiokafka import AIOKafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic

    topic = f"txn-probe-{os.getpid()}-{random.randrange(1 << 30)}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        admin.close()
    facts: dict[str, str] = {}

    async def aio() -> str:
        p = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=topic + "-aio")
        try:
            await asyncio.wait_for(p.start(), 30)
            async with p.transaction():
                await p.send(topic, b"aio-committed")
            return "ok"
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
        finally:
            await p.stop()

    facts["aiokafka_init"] = asyncio.run(aio())
    producer = KafkaProducer(bootstrap_servers=bootstrap, transactional_id=topic + "-kp")
    try:
        producer.init_transactions()
        producer.begin_transaction()
        producer.send(topic, b"committed")
        producer.commit_transaction()
        producer.begin_transaction()
        producer.send(topic, b"aborted")
        producer.flush()
        producer.abort_transaction()
        producer.begin_transaction()
        producer.send(topic, b"open")
        producer.flush()
        facts["kafka_python"] = "ok"
    except Exception as exc:
        facts["kafka_python"] = f"{type(exc).__name__}: {exc}"
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, isolation_level="read_committed",
                             enable_auto_commit=False)
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        values: list[bytes] = []
        deadline = time.monotonic() + 10
        while b"committed" not in values and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                values += [r.value for r in batch]
        for batch in consumer.poll(timeout_ms=1000).values():  # anything after it, within one more fetch
            values += [r.value for r in batch]
    finally:
        consumer.close()
        with suppress(Exception):
            producer.close(timeout=2)
    facts["read_committed_values"] = repr(values)
    facts["read_committed_sees_aborted"] = "yes" if b"aborted" in values else "no"
    facts["read_committed_sees_open"] = "yes" if b"open" in values else "no"
    return facts


def scenario_transactions(bootstrap: str, tmp: Path) -> Figures:
    """Record what the broker does with transactional producers (facts only, no check)."""
    fig = Figures("transactions")
    started = time.monotonic()
    fig.facts.update(transactions_probe(bootstrap))
    fig.seconds = time.monotonic() - started
    return fig
