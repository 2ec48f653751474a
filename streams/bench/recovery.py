"""Recovery: a worker started over a changelog that already holds N entities.

The ``<app_id>-entities-changelog`` topic of a fresh deployment is filled
directly (aiokafka record batches, a few hundred thousand records/s) with
``EntityState.to_bytes()`` values keyed ``customer:<id>``, each on the key's
murmur2 partition, as the table writes them (``use_partitioner=True``). Values
copy real customer states from the pipeline phase (when there are some) with
the entity id replaced, so their sizes are realistic.

Tansu's ListOffsets(LATEST) answers "base offset of the last batch + 1", and
Faust takes that as the end of the changelog: the last record of every
partition is therefore sent alone in its own batch, which makes the answer exact.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from kafka.partitioner.default import murmur2

from tierstream.scorers.state import EntityState
from tierstream.streams.bench.common import POLL_S, Budget, say
from tierstream.streams.dev.harness import Deployment
from tierstream.streams.kafka.topics import topic_names

__all__ = ["entity_records", "recovery"]

STALL_S = 30.0  # not ready and no entity added for this long: recovery is stuck
_MARK = "@@entity-id@@"


def _templates(states: list[bytes]) -> list[tuple[bytes, bytes]]:
    """(before id, after id) byte pairs: a state's serialization split around its entity id."""
    if not states:
        states = [EntityState(kind="customer", entity_id="x").to_bytes()]
    out = []
    for raw in states:
        marked = dataclasses.replace(EntityState.from_bytes(raw), entity_id=_MARK).to_bytes()
        before, _, after = marked.partition(f'"{_MARK}"'.encode())
        out.append((before, after))
    return out


def entity_records(n: int, states: list[bytes]) -> Iterator[tuple[bytes, bytes]]:
    """N (key, value) pairs ``customer:rNNNNNNN`` -> that entity's state bytes."""
    templates = _templates(states)
    for i in range(n):
        eid = f"r{i:07d}"
        before, after = templates[i % len(templates)]
        yield f"customer:{eid}".encode(), b"".join((before, b'"', eid.encode(), b'"', after))


def _check_record(key: bytes, value: bytes, states: list[bytes]) -> None:
    """The spliced bytes are exactly what ``EntityState.to_bytes()`` gives for that entity."""
    eid = key.decode().split(":", 1)[1]
    source = EntityState.from_bytes(states[0]) if states else EntityState(kind="customer", entity_id="x")
    expected = dataclasses.replace(source, entity_id=eid).to_bytes()
    if value != expected:
        raise AssertionError("pre-filled state differs from EntityState.to_bytes()")


async def _prefill(bootstrap: str, topic: str, partitions: int, records: Iterator[tuple[bytes, bytes]]) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=5,
                                max_batch_size=1 << 20, max_request_size=8 << 20)
    await producer.start()
    try:
        batches = [producer.create_batch() for _ in range(partitions)]
        held: dict[int, tuple[bytes, bytes]] = {}  # each partition's latest record, sent last
        futures: list[asyncio.Future[Any]] = []
        count = 0
        for key, value in records:
            count += 1
            p = (murmur2(key) & 0x7FFFFFFF) % partitions
            previous, held[p] = held.get(p), (key, value)
            if previous is None:
                continue
            if batches[p].append(key=previous[0], value=previous[1], timestamp=None) is None:
                futures.append(await producer.send_batch(batches[p], topic, partition=p))
                batches[p] = producer.create_batch()
                batches[p].append(key=previous[0], value=previous[1], timestamp=None)
        for p, batch in enumerate(batches):
            if batch.record_count():
                futures.append(await producer.send_batch(batch, topic, partition=p))
        await asyncio.gather(*futures)
        lone = []
        for p, (key, value) in held.items():  # alone in a batch: ListOffsets(LATEST) is then exact
            batch = producer.create_batch()
            batch.append(key=key, value=value, timestamp=None)
            lone.append(await producer.send_batch(batch, topic, partition=p))
        await asyncio.gather(*lone)
        return count
    finally:
        await producer.stop()


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def recovery(dep: Deployment, n: int, states: list[bytes], budget: Budget, timeout_s: float) -> dict[str, Any]:
    """Time a worker's start over a changelog pre-filled with ``n`` entities."""
    dep.create_topics()
    head = list(itertools.islice(entity_records(n, states), 1000))
    _check_record(*head[0], states)
    topic = topic_names(dep.settings).entities_changelog
    started = time.monotonic()
    written = asyncio.run(_prefill(dep.bootstrap, topic, dep.partitions, entity_records(n, states)))
    prefill_s = time.monotonic() - started
    say(f"recovery: {written:,} entities written to {topic} in {prefill_s:.1f}s; starting a worker")

    worker = dep.spawn()
    deadline = budget.deadline(timeout_s)
    progress, progress_at, health = -1, time.monotonic(), None
    error = None
    while True:
        worker.check_alive()
        health = worker.health() or health
        now = time.monotonic()
        if health and health.get("ready"):
            break
        entities = int((health or {}).get("entities_in_table", 0))
        if entities != progress:
            progress, progress_at = entities, now
        if now - progress_at > STALL_S:
            error = f"stalled: not ready and no entity recovered for {STALL_S:.0f}s"
            break
        if now >= deadline:
            error = "not ready within the time budget"
            break
        time.sleep(POLL_S)
    elapsed = time.monotonic() - worker.spawned_at
    recovered = int((health or {}).get("entities_in_table", 0))
    result: dict[str, Any] = {
        "entities": written, "prefill_s": prefill_s,
        "value_bytes_avg": sum(len(v) for _, v in head) / len(head),
        "recovery_s": None if error else elapsed, "entities_in_table": recovered,
        "table_matches": recovered == written and error is None,
        "recovered_per_s": recovered / elapsed if elapsed > 0 else None,
    }
    if error is None:
        result["rss_after_ready"] = worker.rss()
        result["worker_cpu_s"] = _cpu_s(worker.proc.pid)  # on a shared machine, steadier than the wall clock
    else:
        hint = worker.log_lines("Error in recovery") or worker.log_lines("ERROR")
        result["error"] = f"{error} after {elapsed:.0f}s ({recovered:,}/{written:,} in table)" + (
            f"; worker log: {hint[0][:300]}" if hint else "")
    return result
