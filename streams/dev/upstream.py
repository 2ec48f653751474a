"""Publish events as an upstream system would: keyed by their document, or not at all, off their entity's partition.

An ERP or a shop keys its messages by order, invoice or ticket id (or sends no key),
so an event rarely lands on the partition of the entity it grades, and the worker
re-keys it through the internal ``repartition`` topic (one hop). :func:`publish_upstream`
makes that the rule, not the odds: every valid event goes to its inbound topic on a
partition other than its entity's, so every one of them takes the hop (with a single
partition there is no other, and none does). The fault scenario of the hop and
``tierstream bench --rekeyed`` publish with it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from kafka import KafkaProducer
from kafka.errors import KafkaError
from kafka.partitioner.default import murmur2
from pydantic import ValidationError

from tierstream.schemas.events import INBOUND_ADAPTER, AnyEvent, entity_of
from tierstream.schemas.settings import Settings
from tierstream.streams.client.publish import PublishReport
from tierstream.streams.kafka.config import kafka_python_config
from tierstream.streams.kafka.read import BOOTSTRAP_TIMEOUT_MS
from tierstream.streams.kafka.topics import INBOUND_KINDS, entity_key, partition_of, topic_names

__all__ = ["UpstreamReport", "publish_upstream", "upstream_key", "upstream_partition"]

#: the business document an upstream system keys an event type by; the others go without a key
_DOCUMENT_ID = {"order": "order_id", "delivery": "order_id", "invoice": "invoice_id", "payment": "invoice_id",
                "service": "ticket_id"}


@dataclass
class UpstreamReport(PublishReport):
    """A :class:`PublishReport`, and how many valid events were placed off their entity's partition."""

    hops: int = 0


def upstream_key(event: AnyEvent) -> bytes | None:
    """Return the key an upstream system gives ``event``: its order, invoice or ticket id, else none."""
    field = _DOCUMENT_ID.get(event.type)
    value = getattr(event, field, None) if field is not None else None
    return value.encode() if isinstance(value, str) else None


def upstream_partition(event: AnyEvent, key: bytes | None, partitions: int) -> tuple[int, int]:
    """Return (the entity's partition, another one of ``partitions`` chosen by ``key`` or the event id)."""
    home = partition_of(entity_key(*entity_of(event)).encode(), partitions)
    if partitions < 2:
        return home, home
    spread = (murmur2(key or event.event_id.encode()) & 0x7FFFFFFF) % (partitions - 1)
    return home, (home + 1 + spread) % partitions


def _producer(settings: Settings) -> KafkaProducer:
    cfg: dict[str, Any] = dict(kafka_python_config(settings))
    cfg.update(client_id=f"{settings.app_id}-upstream", bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS, acks="all",
               compression_type="gzip", linger_ms=5, batch_size=512 * 1024, max_request_size=4 * 1024 * 1024,
               enable_idempotence=False, max_in_flight_requests_per_connection=1, allow_auto_create_topics=False)
    return KafkaProducer(**cfg)


def publish_upstream(settings: Settings, lines: Iterable[bytes], rate: float | None = None,
                     on_progress: Callable[[int], None] | None = None) -> UpstreamReport:
    """Send JSON ``lines`` to their inbound topics, upstream-keyed and off their entity's partition.

    A typed line that does not validate goes with no key to a partition chosen by its
    bytes (the worker dead-letters it); an untyped one is skipped. ``rate`` paces the
    sending (events/s, absolute schedule); ``on_progress(1)`` follows each line.
    """
    report = UpstreamReport()
    names, partitions = topic_names(settings), settings.partitions
    producer = _producer(settings)
    started = time.perf_counter()
    try:
        for n, raw in enumerate(lines, 1):
            report.lines += 1
            try:
                event: AnyEvent | None = INBOUND_ADAPTER.validate_json(raw)
            except ValidationError:
                event = None
            if event is not None:
                kind: str = event.type
                key = upstream_key(event)
                home, partition = upstream_partition(event, key, partitions)
                report.hops += home != partition
            else:
                try:
                    doc = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    doc = None
                typed = doc.get("type") if isinstance(doc, dict) else None
                if not isinstance(typed, str) or typed not in INBOUND_KINDS:
                    report.skip(n, "no known type")
                    if on_progress is not None:
                        on_progress(1)
                    continue
                kind = typed
                key, partition = None, (murmur2(raw) & 0x7FFFFFFF) % partitions
                report.invalid_sent += 1
            if rate:
                ahead = started + n / rate - time.perf_counter()
                if ahead > 0.001:
                    time.sleep(ahead)  # pacing the replay, not waiting for anything
            topic = names.inbound(kind)
            future = producer.send(topic, value=raw, key=key, partition=partition)
            future.add_errback(lambda exc, topic=topic: report._failed(topic, exc))
            report.sent += 1
            report.per_topic[topic] += 1
            if on_progress is not None:
                on_progress(1)
        producer.flush(timeout=120)
    except KafkaError as exc:
        report.first_error = report.first_error or f"{type(exc).__name__}: {exc}"
        raise
    finally:
        producer.close(timeout=10)
        report.seconds = time.perf_counter() - started
    return report
