"""Send JSONL events to the inbound topics, keyed by entity: :func:`publish`.

Tansu (0.6) auto-creates unknown topics (4 partitions) on metadata requests
even when the client asks not to: publish after the worker has created the topics.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from kafka import KafkaProducer
from kafka.errors import KafkaError, KafkaTimeoutError
from kafka.partitioner.default import murmur2
from pydantic import ValidationError

from tierstream.schemas.errors import ClientError
from tierstream.schemas.events import INBOUND_ADAPTER, entity_of
from tierstream.schemas.routing import raw_entity_key
from tierstream.schemas.settings import Settings
from tierstream.streams.kafka.config import kafka_python_config
from tierstream.streams.kafka.read import BOOTSTRAP_TIMEOUT_MS
from tierstream.streams.kafka.topics import INBOUND_KINDS, entity_key, topic_names

__all__ = ["PublishReport", "publish"]

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int], None]

_KEEP_SKIPPED = 20
_CHECKPOINT_EVERY = 5_000
_MAX_CHECKPOINTS = 40  # at most ~200k records queued in the producer


@dataclass
class PublishReport:
    """What :func:`publish` did. ``per_topic`` counts records handed to the producer;
    ``failed`` counts those the broker did not acknowledge (``per_topic_failed``)."""

    lines: int = 0
    sent: int = 0
    invalid_sent: int = 0  # typed but invalid: sent anyway, the worker dead-letters them
    skipped: int = 0  # not a JSON object, or no known ``type``: not sent
    skipped_lines: list[tuple[int, str]] = field(default_factory=list)  # first 20 (line, reason)
    per_topic: Counter[str] = field(default_factory=Counter)
    per_topic_failed: Counter[str] = field(default_factory=Counter)
    first_error: str | None = None
    idempotent: bool = False
    seconds: float = 0.0

    @property
    def failed(self) -> int:
        return sum(self.per_topic_failed.values())

    @property
    def delivered(self) -> int:
        return self.sent - self.failed

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0

    def skip(self, lineno: int, reason: str) -> None:
        self.skipped += 1
        if len(self.skipped_lines) < _KEEP_SKIPPED:
            self.skipped_lines.append((lineno, reason))

    def _failed(self, topic: str, exc: BaseException) -> None:  # producer IO thread
        self.per_topic_failed[topic] += 1
        if self.first_error is None:
            self.first_error = f"{topic}: {type(exc).__name__}: {exc}"

    def __str__(self) -> str:
        return self.summary()

    def summary(self) -> str:
        mode = "idempotent" if self.idempotent else "acks=all, 1 in flight"
        return (
            f"{self.lines:,} lines in {self.seconds:.2f}s: {self.delivered:,} delivered "
            f"({self.rate:,.0f} events/s, {mode}), {self.invalid_sent:,} of them invalid "
            f"(the worker dead-letters them), {self.skipped:,} skipped, {self.failed:,} failed"
        )


class _Pacer:
    """Absolute schedule ``start + n / rate``: sleeping never accumulates drift."""

    def __init__(self, rate: float) -> None:
        if not rate > 0:
            raise ValueError("rate must be > 0 events/s")
        self.rate = rate
        self.start = time.monotonic()
        self.n = 0

    def wait(self) -> None:
        self.n += 1
        ahead = self.start + self.n / self.rate - time.monotonic()
        if ahead > 0.001:  # below a millisecond, sleeping costs more than it paces
            time.sleep(ahead)


def _producer_config(settings: Settings, idempotent: bool) -> dict[str, Any]:
    cfg: dict[str, Any] = dict(kafka_python_config(settings))
    cfg.update(
        client_id=f"{settings.app_id}-publish",
        bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
        acks="all",
        # gzip makes kafka-python *faster* here (~25k vs ~17k events/s on the embedded
        # broker): fewer bytes through its pure-Python IO path outweigh zlib's cost.
        compression_type="gzip",
        linger_ms=5,
        batch_size=512 * 1024,
        max_request_size=4 * 1024 * 1024,
        max_block_ms=30_000,
        allow_auto_create_topics=False,
    )
    if idempotent:
        # Ordered per partition with up to 5 requests in flight, and no duplicates on retry.
        cfg.update(enable_idempotence=True, max_in_flight_requests_per_connection=5)
    else:
        # Without idempotence, retries could reorder unless one request is in flight.
        cfg.update(enable_idempotence=False, max_in_flight_requests_per_connection=1)
    return cfg


class _Sender:
    """A producer that starts idempotent and falls back when the broker refuses it.

    The first record is awaited (one round trip): that is when an idempotent
    producer obtains its producer id. If that fails with anything but a timeout,
    the producer is rebuilt with ``enable_idempotence=False`` and one request in
    flight, which keeps per-key order, and the record is sent again.
    """

    def __init__(self, settings: Settings, report: PublishReport, idempotent: bool | None) -> None:
        self.settings = settings
        self.report = report
        self.probe = idempotent is None
        self.producer = self._new(idempotent is not False)
        report.idempotent = idempotent is not False
        # kafka-python 3 has no buffer_memory bound: the accumulator grows without limit.
        # Every _CHECKPOINT_EVERY-th future is kept; past _MAX_CHECKPOINTS of them the
        # oldest is awaited, which bounds the records queued in memory.
        self._sent = 0
        self._checkpoints: deque[Any] = deque()
        self._delivery_timeout_s = 180.0
        self._parts: dict[str, list[int]] = {}
        self._hashes: dict[bytes, int] = {}
        self._errbacks: dict[str, Callable[[BaseException], None]] = {}

    def _new(self, idempotent: bool) -> Any:
        try:
            return KafkaProducer(**_producer_config(self.settings, idempotent))
        except KafkaError as exc:
            raise ClientError(
                f"cannot create a Kafka producer for {self.settings.kafka_bootstrap} "
                f"(TIERSTREAM_KAFKA_BOOTSTRAP): {exc}"
            ) from None

    def _timeout(self) -> ClientError:
        return ClientError(
            f"Kafka at {self.settings.kafka_bootstrap} (TIERSTREAM_KAFKA_BOOTSTRAP) did not answer "
            "in 30 s: is it running, and are the security settings (TIERSTREAM_KAFKA_*) right?"
        )

    def _partition(self, topic: str, key: bytes) -> int:
        """kafka-python's default partitioner (murmur2, as the Java client and Faust's
        aiokafka), with the per-key hash and the partition list cached: the pure-Python
        murmur2 and metadata lookups are a large part of the per-record cost."""
        parts = self._parts.get(topic)
        if parts is None:
            try:
                parts = self._parts[topic] = sorted(self.producer.partitions_for(topic))
            except KafkaTimeoutError:
                raise self._timeout() from None
            self._errbacks[topic] = functools.partial(self.report._failed, topic)
        h = self._hashes.get(key)
        if h is None:
            if len(self._hashes) >= 1_000_000:
                self._hashes.clear()
            h = self._hashes[key] = murmur2(key) & 0x7FFFFFFF
        return parts[h % len(parts)]

    def send(self, topic: str, key: bytes, value: bytes) -> None:
        try:
            partition = self._partition(topic, key)
            future = self.producer.send(topic, value=value, key=key, partition=partition)
        except KafkaTimeoutError:
            raise self._timeout() from None
        except KafkaError as exc:  # e.g. record too large: refused before sending
            self.report._failed(topic, exc)
            return
        if self.probe:
            self.probe = False
            try:
                future.get(timeout=30)
            except KafkaTimeoutError:
                raise self._timeout() from None
            except KafkaError as exc:
                if not self.report.idempotent:
                    self.report._failed(topic, exc)
                    return
                log.warning(
                    "idempotent producer refused (%s); falling back to acks=all with "
                    "one request in flight", type(exc).__name__,
                )
                self.producer.close(timeout=5)
                self.producer = self._new(False)
                self.report.idempotent = False
                self.send(topic, key, value)
            return
        future.add_errback(self._errbacks[topic])
        self._sent += 1
        if self._sent % _CHECKPOINT_EVERY == 0:
            self._checkpoints.append(future)
            if len(self._checkpoints) > _MAX_CHECKPOINTS:
                self._wait(self._checkpoints.popleft())

    def _wait(self, future: Any) -> None:
        """Block until ``future`` completes; its failure is counted by its errback."""
        with contextlib.suppress(KafkaError):
            future.get(timeout=self._delivery_timeout_s)

    def finish(self, timeout_s: float) -> None:
        try:
            self.producer.flush(timeout=timeout_s)
        except KafkaTimeoutError:
            if self.report.first_error is None:
                self.report.first_error = f"flush did not complete in {timeout_s:g} s"
            raise ClientError(
                f"{self.report.first_error}: some events may not have been delivered"
            ) from None

    def close(self) -> None:
        self.producer.close(timeout=10)


def publish(
    settings: Settings,
    lines: Iterable[tuple[int, bytes]],
    rate: float | None = None,
    on_progress: ProgressCallback | None = None,
    *,
    idempotent: bool | None = None,
    flush_timeout_s: float = 120.0,
) -> PublishReport:
    """Send ``(line number, JSON bytes)`` events to their inbound topics; return the counts.

    Each line goes to ``TopicNames.inbound(type)`` unchanged, keyed by its entity
    (``customer:c00012``) so an entity's events stay in order on one partition.
    A line with a known ``type`` that fails validation is still sent (keyed as
    well as its raw fields allow, else ``"unknown"``): the worker dead-letters it
    with the reason. Lines that are not JSON objects or have no known ``type``
    are skipped and reported by line number.

    ``rate`` paces sending to that many events per second (absolute schedule,
    no drift). ``on_progress`` is given the number of lines handled since its
    last call (the CLI draws a bar with it). Nothing waits per message: the
    producer batches in the background and everything is flushed at the end.
    ``idempotent``: ``None`` tries an idempotent producer and falls back if the
    broker refuses it; ``True`` / ``False`` force the choice.
    """
    return _publish(settings, lines, rate, on_progress, idempotent, flush_timeout_s)


def _publish(
    settings: Settings,
    lines: Iterable[tuple[int, bytes]],
    rate: float | None,
    progress: ProgressCallback | None,
    idempotent: bool | None,
    flush_timeout_s: float,
) -> PublishReport:
    report = PublishReport()
    names = topic_names(settings)
    topics = {kind: names.inbound(kind) for kind in INBOUND_KINDS}
    pacer = _Pacer(rate) if rate else None
    validate = INBOUND_ADAPTER.validate_json
    started = time.perf_counter()
    sender = _Sender(settings, report, idempotent)
    done = 0
    every = 1 if pacer is not None else 512
    try:
        for lineno, raw in lines:
            report.lines += 1
            done += 1
            if progress is not None and done >= every:
                progress(done)
                done = 0
            try:
                event = validate(raw)
            except ValidationError:
                event = None
            if event is not None:
                event_type: str = event.type
                key = entity_key(*entity_of(event))
            else:
                try:
                    doc = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    report.skip(lineno, "not JSON")
                    continue
                if not isinstance(doc, dict):
                    report.skip(lineno, f"not a JSON object ({type(doc).__name__})")
                    continue
                kind = doc.get("type")
                if not isinstance(kind, str) or kind not in topics:
                    reason = "no type field" if kind is None else f"unknown type {str(kind)[:40]!r}"
                    report.skip(lineno, reason)
                    continue
                event_type = kind
                key = raw_entity_key(kind, doc)
                report.invalid_sent += 1
            if pacer is not None:
                pacer.wait()
            topic = topics[event_type]
            sender.send(topic, key.encode("utf-8"), raw)
            report.sent += 1
            report.per_topic[topic] += 1
        sender.finish(flush_timeout_s)
    finally:
        sender.close()
        report.seconds = time.perf_counter() - started
        if progress is not None and done:
            progress(done)
    return report
