"""Event-to-tier-change latency at a fixed input rate.

A worker runs on a fresh deployment; the first ``rate * seconds`` lines of the
sample are published at ``rate`` events/s (``streams.client.publish``'s pacer)
while a consumer tails the tier-changes topic. For every TierChange whose
``cause`` is an event id, the latency is

* ``received``: when the tail consumer got the TierChange, minus
* the source event's produce time (its Kafka CreateTime, set by the producer
  when ``publish`` handed it over; read back from the inbound topics).

The TierChange's own Kafka timestamp (the worker's send time) gives a second,
slightly lower figure (``kafka_ts``). All clocks are this machine's.
"""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaConsumer, TopicPartition

from tierstream.streams.bench.common import Budget, percentile, say
from tierstream.streams.bench.throughput import READY_TIMEOUT_S, Loaded, wait_processed
from tierstream.streams.client import publish
from tierstream.streams.dev.harness import Deployment
from tierstream.streams.kafka.read import read_to_end
from tierstream.streams.kafka.topics import topic_names
from tierstream.streams.offline.score import read_lines

__all__ = ["ChangeTail", "latency"]

IDLE_S = 2.0  # after the last event is processed, stop tailing once no change came for this long
#: Tansu holds every fetch this long, data or not: the tail's own share of the measured latency; a shorter
#: wait takes CPU from the worker and the publisher on the shared cores (benchmarks/README.md)
TAIL_FETCH_MAX_WAIT_MS = 20


class ChangeTail(threading.Thread):
    """Tails every partition of the tier-changes topic; keeps (cause, received ms, Kafka ts ms)."""

    def __init__(self, dep: Deployment) -> None:
        super().__init__(name="tier-change-tail", daemon=True)
        self.topic = topic_names(dep.settings).tier_changes
        self.partitions = dep.partitions
        self.bootstrap = dep.bootstrap
        self.seen: list[tuple[str, float, int]] = []
        self.last_at = time.monotonic()
        self.stop_event = threading.Event()
        self.error: BaseException | None = None
        self.ready = threading.Event()

    def run(self) -> None:
        try:
            consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False,
                                     fetch_max_wait_ms=TAIL_FETCH_MAX_WAIT_MS, client_id="bench-latency-tail")
        except BaseException as exc:
            self.error = exc
            self.ready.set()
            return
        try:
            tps = [TopicPartition(self.topic, p) for p in range(self.partitions)]
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            self.ready.set()
            while not self.stop_event.is_set():
                for records in consumer.poll(timeout_ms=100).values():
                    now_ms = time.time() * 1000.0
                    for r in records:
                        cause = orjson.loads(r.value).get("cause")
                        if isinstance(cause, str) and cause != "re-review":
                            self.seen.append((cause, now_ms, int(r.timestamp)))
                    self.last_at = time.monotonic()
        except BaseException as exc:
            self.error = exc
        finally:
            self.ready.set()
            consumer.close()


def latency(dep: Deployment, sample: Path, rate_eps: float, seconds: float, budget: Budget) -> dict[str, Any]:
    """Measure event-to-tier-change latency at ``rate_eps`` events/s for ``seconds`` seconds."""
    dep.create_topics()
    worker = dep.spawn()
    dep.wait_ready(worker, READY_TIMEOUT_S)
    tail = ChangeTail(dep)
    tail.start()
    tail.ready.wait(30)
    try:
        n = int(rate_eps * seconds)
        say(f"latency: publishing {n:,} events at {rate_eps:,.0f}/s to a running worker")
        report = publish(dep.settings, itertools.islice(read_lines(sample), n), rate=rate_eps)
        published = {t: report.per_topic.get(t, 0) - report.per_topic_failed.get(t, 0) for t in dep.inbound}
        loaded = Loaded(dep, published, report.seconds, report.rate)
        drain_started = time.monotonic()
        complete, processed = wait_processed(loaded, budget.deadline(), "latency drain", [worker])
        drain_s = time.monotonic() - drain_started
        while time.monotonic() - tail.last_at < IDLE_S and tail.error is None:
            time.sleep(0.1)  # polling the tail's idleness, not synchronisation
    finally:
        tail.stop_event.set()
        tail.join(10)
    if tail.error is not None:
        raise RuntimeError(f"tier-change tail failed: {tail.error!r}")

    produced: dict[str, int] = {}  # event_id -> CreateTime (ms); a duplicate keeps the first

    for topic in published:
        for record in read_to_end(dep.settings, topic, timeout_s=300.0, role="bench-latency"):
            try:
                event_id = orjson.loads(record.value).get("event_id")
            except (orjson.JSONDecodeError, AttributeError):
                continue
            if isinstance(event_id, str):
                produced.setdefault(event_id, int(record.timestamp))
    matched = sorted((produced[c], rx - produced[c], float(ts - produced[c])) for c, rx, ts in tail.seen
                     if c in produced)  # (source time, received latency, Kafka-timestamp latency)
    received = sorted(m[1] for m in matched)
    by_kafka_ts = sorted(m[2] for m in matched)
    tenth = max(1, len(matched) // 10)
    first = percentile(sorted(m[1] for m in matched[:tenth]), 0.5)
    last = percentile(sorted(m[1] for m in matched[-tenth:]), 0.5)
    return {
        "rate_target": rate_eps, "rate_achieved": report.rate, "events": loaded.total,
        "processed": processed, "complete": complete, "drain_after_publish_s": drain_s,
        "p50_first_tenth_ms": first, "p50_last_tenth_ms": last,
        # latency growing through the run: the worker falls behind the input, the figure is queueing
        "overloaded": first is not None and last is not None and last > first + 1000.0,
        "changes": len(received), "p50_ms": percentile(received, 0.50), "p99_ms": percentile(received, 0.99),
        "max_ms": received[-1] if received else None,
        "kafka_ts_p50_ms": percentile(by_kafka_ts, 0.50), "kafka_ts_p99_ms": percentile(by_kafka_ts, 0.99),
    }
