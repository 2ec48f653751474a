"""Throughput phases: raw consume baseline, offline scorer, worker pipeline (one or two workers, or re-keyed).

Every streaming phase works on a :class:`Loaded` deployment: fresh topics with
the whole sample published *before* any worker starts. Progress is measured by
the worker group's committed offsets against the number of messages published
per topic (offsets on a fresh topic start at 0 and are contiguous), never by
sleeping and never by ListOffsets (Tansu's "latest" can be short by a batch).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from tierstream.schemas.rules import load_rules
from tierstream.scorers.state import EntityState
from tierstream.streams.bench.common import POLL_S, Budget, rate, say
from tierstream.streams.client import publish, read_states
from tierstream.streams.dev.harness import Deployment, Worker
from tierstream.streams.dev.upstream import publish_upstream
from tierstream.streams.offline.parallel import default_workers, score_parallel
from tierstream.streams.offline.score import OfflineScorer, read_lines, run

__all__ = ["PROGRESS_EVERY_S", "READY_TIMEOUT_S", "ConsumeResult", "Loaded", "consume_all", "offline", "pipeline",
           "preload", "preload_upstream", "raw_baseline", "rekeyed", "state_size", "two_workers", "wait_processed"]

READY_TIMEOUT_S = 120.0
PROGRESS_EVERY_S = 15.0


# --------------------------------------------------------------------------- offline


def offline(sample: Path) -> dict[str, Any]:
    """The offline scorer over the sample file as ``tierstream score`` runs it (one process per
    core), reading, decoding and snapshots included; and in one process for comparison."""
    started = time.perf_counter()
    res = score_parallel(sample, load_rules(), default_workers())
    seconds = time.perf_counter() - started
    scorer = OfflineScorer(load_rules())
    run(scorer, read_lines(sample))
    one = scorer.report
    return {"lines": res.report.lines, "seconds": seconds, "eps": rate(res.report.lines, seconds),
            "processes": res.shards, "entities": len(res.snapshots), "tier_changes": res.report.changes,
            "one_process_eps": rate(one.lines, one.seconds)}


# --------------------------------------------------------------------------- loading


@dataclass
class Loaded:
    """A deployment whose inbound topics hold the whole sample."""

    dep: Deployment
    published: dict[str, int]  # messages delivered per inbound topic
    publish_s: float
    publish_eps: float
    hops: int = 0  # events placed off their entity's partition: the worker re-keys each one once

    @property
    def total(self) -> int:
        return sum(self.published.values())

    @property
    def expected(self) -> dict[str, int]:
        """Messages the group must commit per topic: the inbound ones, and the re-keyed ones if any."""
        return {**self.published, self.dep.names.repartition: self.hops} if self.hops else self.published


def preload(dep: Deployment, sample: Path) -> Loaded:
    """Create the deployment's topics and publish the whole sample to them."""
    dep.create_topics()
    report = publish(dep.settings, read_lines(sample))
    if report.failed:
        raise RuntimeError(f"publishing the sample failed: {report.first_error}")
    published = {t: report.per_topic.get(t, 0) for t in dep.inbound}
    return Loaded(dep, published, report.seconds, report.rate)


def preload_upstream(dep: Deployment, sample: Path) -> Loaded:
    """Publish the sample as an upstream system would: keyed by order id or unkeyed, off the entity's partition."""
    dep.create_topics()
    report = publish_upstream(dep.settings, (line for _, line in read_lines(sample)))
    if report.failed:
        raise RuntimeError(f"publishing the sample failed: {report.first_error}")
    published = {t: report.per_topic.get(t, 0) for t in dep.inbound}
    return Loaded(dep, published, report.seconds, report.rate, hops=report.hops)


def wait_processed(loaded: Loaded, deadline: float, label: str,
                   workers: list[Worker]) -> tuple[bool, int]:
    """Poll the group's committed offsets until every published message is processed.

    That includes the re-keyed copies of the events that took the repartition hop
    (:attr:`Loaded.expected`). Returns (complete, inbound messages processed); stops
    at ``deadline`` (monotonic).
    """
    admin = loaded.dep.admin()
    expected = loaded.expected
    started = last_say = time.monotonic()
    done_before = 0
    try:
        while True:
            for w in workers:
                w.check_alive()
            committed = loaded.dep.committed(admin, list(expected))
            processed = sum(min(committed[t], loaded.published[t]) for t in loaded.published)
            if all(committed[t] >= n for t, n in expected.items()):
                return True, processed
            now = time.monotonic()
            if now >= deadline:
                return False, processed
            if now - last_say >= PROGRESS_EVERY_S:
                speed = (processed - done_before) / (now - last_say)
                hop = loaded.dep.names.repartition
                rekeyed = f", {committed[hop]:,}/{loaded.hops:,} re-keyed" if loaded.hops else ""
                say(f"{label}: {processed:,}/{loaded.total:,} processed{rekeyed} ({speed:,.0f}/s, "
                    f"{now - started:.0f}s)")
                last_say, done_before = now, processed
            time.sleep(POLL_S)
    finally:
        admin.close()


# --------------------------------------------------------------------------- raw baseline


@dataclass
class ConsumeResult:
    """What :func:`consume_all` read."""

    counts: dict[str, int]
    seconds: float  # first fetch to last expected record
    next_offsets: dict[tuple[str, int], int]  # last offset + 1 per partition

    @property
    def total(self) -> int:
        return sum(self.counts.values())


RecordHandler = Callable[[str, Any], None]


async def _consume(bootstrap: str, expected: dict[str, int], partitions: int,
                   on_record: RecordHandler, timeout_s: float) -> ConsumeResult:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest", max_partition_fetch_bytes=8 << 20,
                                fetch_max_bytes=64 << 20)
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in expected for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        counts: Counter[str] = Counter()
        ends: dict[tuple[str, int], int] = {}
        started = time.perf_counter()
        while any(counts[t] < n for t, n in expected.items()):
            if time.perf_counter() - started > timeout_s:
                raise TimeoutError(f"read {sum(counts.values()):,} of {sum(expected.values()):,} "
                                   f"messages in {timeout_s:.0f}s")
            batches = await consumer.getmany(timeout_ms=200)
            for tp, records in batches.items():
                for record in records:
                    on_record(tp.topic, record)
                counts[tp.topic] += len(records)
                if records:
                    ends[(tp.topic, tp.partition)] = records[-1].offset + 1
        return ConsumeResult(dict(counts), time.perf_counter() - started, ends)
    finally:
        await consumer.stop()


def consume_all(bootstrap: str, expected: dict[str, int], partitions: int,
                on_record: RecordHandler, timeout_s: float = 300.0) -> ConsumeResult:
    """Read every partition of the ``expected`` topics from the beginning until each
    topic has given the expected number of messages (counted, not ListOffsets)."""
    return asyncio.run(_consume(bootstrap, expected, partitions, on_record, timeout_s))


def raw_baseline(loaded: Loaded) -> dict[str, Any]:
    """aiokafka consume + orjson decode of the inbound topics: the floor any pipeline pays."""
    def decode(topic: str, record: Any) -> None:
        try:  # noqa: SIM105 - a bare try costs less than suppress() per record
            orjson.loads(record.value)
        except orjson.JSONDecodeError:
            pass

    res = consume_all(loaded.dep.bootstrap, loaded.published, loaded.dep.partitions, decode)
    contiguous = all(
        sum(n for (t, _), n in res.next_offsets.items() if t == topic) == count
        for topic, count in res.counts.items()
    )
    if not contiguous:
        say("raw: offsets are not contiguous from 0: committed-offset progress would be wrong")
    return {"events": res.total, "seconds": res.seconds, "eps": rate(res.total, res.seconds),
            "offsets_contiguous": contiguous}


# --------------------------------------------------------------------------- pipeline


def pipeline(loaded: Loaded, batch: bool, budget: Budget, name: str = "pipeline") -> dict[str, Any]:
    """One worker over the pre-loaded sample: ready -> every inbound message committed."""
    dep, label = loaded.dep, f"{name} " + ("batch" if batch else "per-event")
    worker = dep.spawn(batch=batch)
    ready_s = dep.wait_ready(worker, READY_TIMEOUT_S)
    say(f"{label}: worker ready in {ready_s:.1f}s; processing {loaded.total:,} events")
    rss_start = worker.rss()
    started = time.monotonic()
    complete, processed = wait_processed(loaded, budget.deadline(), label, [worker])
    seconds = time.monotonic() - started
    rss_end = worker.rss()
    entities = int((worker.health() or {}).get("entities_in_table", 0))
    growth = rss_end - rss_start
    return {
        "mode": "batch" if batch else "per-event",
        "events": processed, "complete": complete, "seconds": seconds, "eps": rate(processed, seconds),
        "ready_s": ready_s, "entities_in_table": entities,
        "rss_start": rss_start, "rss_end": rss_end,
        "rss_bytes_per_entity": growth / entities if entities else None,
        "tier_changes": worker.metric("tierstream_tier_changes_total"),
        "events_invalid": worker.metric("tierstream_events_invalid_total"),
        "events_rekeyed": worker.metric("tierstream_events_rekeyed_total"),
    }


def rekeyed(dep: Deployment, sample: Path, batch: bool, budget: Budget) -> dict[str, Any]:
    """One worker over the sample published upstream-keyed, off each entity's partition: every event hops.

    Clocked like :func:`pipeline`, until every inbound message and every re-keyed
    record is committed; ``events_rekeyed`` (the worker's counter) should equal ``hops``.
    """
    loaded = preload_upstream(dep, sample)
    say(f"rekeyed: {loaded.total:,} events published in {loaded.publish_s:.1f}s, {loaded.hops:,} of them "
        "off their entity's partition")
    res: dict[str, Any] = {"published": loaded.total, "publish_s": loaded.publish_s, "hops": loaded.hops}
    res.update(pipeline(loaded, batch, budget, "rekeyed"))
    return res


def state_size(dep: Deployment, templates: int = 1000) -> tuple[dict[str, Any], list[bytes]]:
    """Changelog bytes per entity (last value per key), and some customer states to copy."""
    started = time.monotonic()
    states = read_states(dep.settings)
    read_s = time.monotonic() - started
    sizes = [len(v) for v in states.values()]
    total = sum(sizes)
    customers = [v for k, v in states.items() if k.startswith("customer:")][:templates]
    for value in customers[:1]:
        EntityState.from_bytes(value)  # fail here, not in the recovery phase, if undecodable
    return ({"entities": len(states), "value_bytes": total, "read_s": read_s,
             "bytes_per_entity": total / len(states) if states else None}, customers)


def two_workers(loaded: Loaded, budget: Budget, max_s: float) -> dict[str, Any]:
    """Two workers on a fresh deployment; the rate counts from the moment they share the partitions."""
    dep = loaded.dep
    a, b = dep.spawn(), dep.spawn()
    deadline = time.monotonic() + READY_TIMEOUT_S
    dep.wait_ready(a, deadline - time.monotonic())
    dep.wait_ready(b, deadline - time.monotonic())
    dep.wait_split(deadline - time.monotonic())
    split_s = time.monotonic() - a.spawned_at
    admin = dep.admin()
    try:
        before = sum(min(dep.committed(admin)[t], n) for t, n in loaded.published.items())
    finally:
        admin.close()
    say(f"two workers: sharing the partitions {split_s:.1f}s after spawn, {before:,} events already "
        f"processed; measuring up to {max_s:.0f}s")
    started = time.monotonic()
    complete, processed = wait_processed(loaded, budget.deadline(max_s), "two workers", [a, b])
    seconds = time.monotonic() - started
    return {"events": processed - before, "complete": complete, "seconds": seconds,
            "eps": rate(processed - before, seconds), "split_s": split_s, "processed_before_split": before}
