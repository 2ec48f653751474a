"""The synchronous client side of tierstream (kafka-python): publish, watch, subscribe, snapshot.

* :func:`publish` sends JSONL events to the inbound topics, keyed by entity.
* :func:`watch` follows the tier-changes topic without a consumer group (a tail).
* :class:`TierChangeSubscriber` is the API for downstream systems: a consumer
  group that commits only what the caller has handled and drops redelivered
  duplicates (``change_id`` is deterministic, delivery is at-least-once).
* :func:`read_states` / :func:`snapshot` read the worker's ``entities`` table
  from its compacted changelog and grade every entity as of one instant.

Connection settings come from :class:`~schemas.settings.Settings` through
:func:`streams.kafka.config.kafka_python_config`. Error messages name topics,
bootstrap servers and env vars, never credentials.

Two quirks of the embedded Tansu broker (0.6) are handled here, harmlessly on
a real Kafka:

* ListOffsets "latest" answers the base offset of the last record *batch* + 1
  rather than the high watermark, so an end offset can be short by up to a
  batch. :func:`read_states` applies every record it is given and stops at a
  position >= the captured end (fetches return whole batches, so the tail of
  the last batch is read too); :func:`watch` from the end re-anchors on the
  high watermark of its first fetch so it does not replay that tail.
* Metadata requests auto-create unknown topics (4 partitions) even when the
  client asks not to: publish after the worker has created the topics.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Self

import orjson
from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError, KafkaTimeoutError
from kafka.partitioner.default import murmur2
from kafka.structs import OffsetAndMetadata
from pydantic import ValidationError

from tierstream.schemas.errors import ClientError
from tierstream.schemas.events import INBOUND_ADAPTER, entity_of
from tierstream.schemas.outputs import Direction, EntitySnapshot, TierChange
from tierstream.schemas.settings import Settings
from tierstream.scorers.engine import Grader
from tierstream.scorers.state import EntityState
from tierstream.streams.kafka.config import kafka_python_config
from tierstream.streams.kafka.topics import INBOUND_KINDS, entity_key, topic_names

__all__ = [
    "ClientError",
    "PublishReport",
    "TierChangeSubscriber",
    "TierChangeWatch",
    "publish",
    "read_states",
    "snapshot",
    "watch",
]

log = logging.getLogger(__name__)

EntityTypeFilter = Literal["customer", "supplier"]
ProgressCallback = Callable[[int], None]

#: Raw fields that name the entity of an event that failed validation, by event type
#: (first non-empty string wins): the same choice :func:`schemas.events.entity_of` makes.
_KEY_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "order": (("customer", "customer_id"), ("supplier", "supplier_id")),
    "payment": (("customer", "customer_id"),),
    "delivery": (("supplier", "supplier_id"),),
    "service": (("supplier", "supplier_id"),),
    "referral": (("customer", "referred_id"),),
}
_ANY_KEY_FIELDS = (
    ("customer", "customer_id"),
    ("supplier", "supplier_id"),
    ("customer", "referred_id"),
)
UNKNOWN_KEY = "unknown"
_MAX_KEY_ID = 1024
_KEEP_SKIPPED = 20
_BOOTSTRAP_TIMEOUT_MS = 10_000  # an unreachable bootstrap fails in 10 s, not 30
_CHECKPOINT_EVERY = 5_000
_MAX_CHECKPOINTS = 40  # at most ~200k records queued in the producer


# --------------------------------------------------------------------------- helpers


def _client_id(settings: Settings, role: str) -> str:
    return f"{settings.app_id}-{role}"


def _consumer(settings: Settings, role: str, **extra: Any) -> Any:
    """A kafka-python consumer with the connection settings; no auto-commit by default."""
    cfg: dict[str, Any] = dict(kafka_python_config(settings))
    cfg.update(
        client_id=_client_id(settings, role),
        bootstrap_timeout_ms=_BOOTSTRAP_TIMEOUT_MS,
        enable_auto_commit=False,
        allow_auto_create_topics=False,
    )
    cfg.update(extra)
    try:
        return KafkaConsumer(**cfg)
    except KafkaError as exc:
        raise ClientError(
            f"cannot connect to Kafka at {settings.kafka_bootstrap} "
            f"(TIERSTREAM_KAFKA_BOOTSTRAP): {exc}"
        ) from None


def _partitions(consumer: Any, topic: str, settings: Settings) -> list[TopicPartition]:
    parts = consumer.partitions_for_topic(topic)
    if not parts:
        raise ClientError(
            f"topic {topic!r} not found at {settings.kafka_bootstrap}: start the worker "
            "(`tierstream worker` or `tierstream dev`), which creates the topics, and check "
            "TIERSTREAM_TOPIC_PREFIX / TIERSTREAM_APP_ID"
        )
    return [TopicPartition(topic, p) for p in sorted(parts)]


def _ident(doc: dict[str, Any], name: str) -> str | None:
    value = doc.get(name)
    if isinstance(value, str) and value and len(value) <= _MAX_KEY_ID:
        return value
    return None


def raw_entity_key(event_type: str, doc: dict[str, Any]) -> str:
    """Best-effort entity key of an event body that did not validate (``"unknown"`` if none).

    Same partition as the entity's valid events, so the dead letter lands where
    the entity's other events are; for a valid body this equals the key from
    :func:`schemas.events.entity_of`.
    """
    if event_type == "assessment":
        kind = doc.get("entity_type")
        eid = _ident(doc, "entity_id")
        if kind in ("customer", "supplier") and eid is not None:
            return entity_key(kind, eid)
    for kind, name in _KEY_FIELDS.get(event_type, ()) + _ANY_KEY_FIELDS:
        eid = _ident(doc, name)
        if eid is not None:
            return entity_key(kind, eid)
    return UNKNOWN_KEY


# --------------------------------------------------------------------------- publish


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
        client_id=_client_id(settings, "publish"),
        bootstrap_timeout_ms=_BOOTSTRAP_TIMEOUT_MS,
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


# --------------------------------------------------------------------------- watch


def _decode_change(record: Any) -> TierChange | None:
    try:
        return TierChange.model_validate_json(record.value)
    except (ValidationError, TypeError, ValueError) as exc:
        log.warning(
            "skipping a message that is not a TierChange at %s[%d]@%d: %s",
            record.topic, record.partition, record.offset, type(exc).__name__,
        )
        return None


def _wanted(change: TierChange, entity_type: str | None, direction: str | None) -> bool:
    return (entity_type is None or change.entity_type == entity_type) and (
        direction is None or change.direction == direction
    )


class TierChangeWatch(Iterator[TierChange]):
    """Iterator over the tier-changes topic, positioned when constructed (see :func:`watch`)."""

    def __init__(
        self,
        settings: Settings,
        entity_type: EntityTypeFilter | None = None,
        direction: Direction | None = None,
        from_beginning: bool = False,
        timeout_s: float | None = None,
    ) -> None:
        self.entity_type = entity_type
        self.direction = direction
        self.timeout_s = timeout_s
        self.topic = topic_names(settings).tier_changes
        self._buffer: list[TierChange] = []
        self._closed = False
        self._consumer = _consumer(settings, "watch", group_id=None)
        try:
            tps = _partitions(self._consumer, self.topic, settings)
            self._consumer.assign(tps)
            # start[tp]: records below this offset existed before the watch started
            self._start: dict[TopicPartition, int] = {}
            if from_beginning:
                self._consumer.seek_to_beginning(*tps)
            else:
                self._anchor_at_end(tps)
        except BaseException:
            self.close()
            raise
        self._idle_deadline = self._deadline()

    def _deadline(self) -> float | None:
        return None if self.timeout_s is None else time.monotonic() + self.timeout_s

    def _anchor_at_end(self, tps: list[TopicPartition]) -> None:
        ends = self._consumer.end_offsets(tps)
        for tp in tps:
            self._consumer.seek(tp, ends[tp])
        self._start = dict(ends)
        # A real Kafka's end offset is exact; Tansu's may stop short of the last batch's
        # tail. The first fetch's high watermark is exact, so anchor there.
        deadline = time.monotonic() + 10.0
        unknown = set(tps)
        while unknown and time.monotonic() < deadline:
            records = self._consumer.poll(timeout_ms=200)
            for tp in list(unknown):
                hw = self._consumer.highwater(tp)
                if hw is not None:
                    self._start[tp] = max(self._start[tp], hw)
                    unknown.discard(tp)
            self._take(records)

    def _take(self, records: dict[TopicPartition, list[Any]]) -> None:
        for tp, batch in records.items():
            start = self._start.get(tp, 0)
            for record in batch:
                if record.offset < start:
                    continue
                change = _decode_change(record)
                if change is not None and _wanted(change, self.entity_type, self.direction):
                    self._buffer.append(change)

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> TierChange:
        while not self._buffer:
            if self._closed:
                raise StopIteration
            wait_ms = 1000
            if self._idle_deadline is not None:
                left = self._idle_deadline - time.monotonic()
                if left <= 0:
                    self.close()
                    raise StopIteration
                wait_ms = max(1, min(wait_ms, int(left * 1000)))
            self._take(self._consumer.poll(timeout_ms=wait_ms))
        self._idle_deadline = self._deadline()
        return self._buffer.pop(0)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._consumer.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def watch(
    settings: Settings,
    entity_type: EntityTypeFilter | None = None,
    direction: Direction | None = None,
    from_beginning: bool = False,
    timeout_s: float | None = None,
) -> TierChangeWatch:
    """Follow the tier-changes topic: every partition, no consumer group, nothing committed.

    Positioned when called (at the beginning, or at the current end: only changes
    published from now on), so changes produced after this returns are seen.
    Filters on ``entity_type`` / ``direction``. Iteration stops after
    ``timeout_s`` seconds without a matching change (``None``: follow forever).
    Messages that are not valid TierChange JSON are logged and skipped. Close
    it (or use ``with``) when done early.
    """
    return TierChangeWatch(settings, entity_type, direction, from_beginning, timeout_s)


# --------------------------------------------------------------------------- subscriber


class _Committer(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, sub: TierChangeSubscriber) -> None:
        self.sub = sub

    def on_partitions_revoked(self, revoked: Any) -> None:
        self.sub._commit(only=set(revoked))

    def on_partitions_assigned(self, assigned: Any) -> None:
        pass


class TierChangeSubscriber:
    """Tier changes for a downstream system, in a consumer group, at least once, deduplicated.

    ::

        with TierChangeSubscriber(settings, group_id="crm", entity_type="supplier") as sub:
            for change in sub:
                crm.update(change)   # committed only after this returns

    * Offsets are committed for changes the loop body has finished with (when it
      asks for the next one), at the end of each fetched batch, at most every
      ``commit_interval_s`` in between, on rebalance and on close. The change
      being handled when the loop is left (``break`` or an exception) is not
      committed: it comes again next time.
    * Redeliveries are dropped by ``change_id`` within an LRU of ``dedup_size``
      ids (this process only; across restarts the caller's own idempotence
      on ``change_id`` covers the few uncommitted changes).
    * A new group starts at the earliest change (``from_beginning=True``) or at
      the end. ``idle_timeout_s`` ends the iteration after that long without a
      matching change (``None``: forever). ``session_timeout_ms`` also bounds how
      long joining the group takes on Tansu (about half of it).
    """

    def __init__(
        self,
        settings: Settings,
        group_id: str,
        *,
        entity_type: EntityTypeFilter | None = None,
        direction: Direction | None = None,
        from_beginning: bool = True,
        idle_timeout_s: float | None = None,
        dedup_size: int = 100_000,
        commit_interval_s: float = 1.0,
        session_timeout_ms: int = 10_000,
    ) -> None:
        if not group_id:
            raise ValueError("group_id is required")
        self.settings = settings
        self.group_id = group_id
        self.entity_type = entity_type
        self.direction = direction
        self.from_beginning = from_beginning
        self.idle_timeout_s = idle_timeout_s
        self.dedup_size = max(1, dedup_size)
        self.commit_interval_s = commit_interval_s
        self.session_timeout_ms = session_timeout_ms
        self.topic = topic_names(settings).tier_changes
        self.duplicates = 0
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._done: dict[TopicPartition, int] = {}  # next offset to commit, per partition
        self._consumer: Any = None
        self._last_commit = time.monotonic()

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def open(self) -> None:
        if self._consumer is not None:
            return
        self._consumer = _consumer(
            self.settings,
            f"subscriber-{self.group_id}",
            group_id=self.group_id,
            auto_offset_reset="earliest" if self.from_beginning else "latest",
            session_timeout_ms=self.session_timeout_ms,
            heartbeat_interval_ms=max(100, self.session_timeout_ms // 3),
        )
        self._consumer.subscribe([self.topic], listener=_Committer(self))

    def close(self) -> None:
        """Commit what has been handled and leave the group."""
        if self._consumer is None:
            return
        try:
            self._commit()
        finally:
            consumer, self._consumer = self._consumer, None
            consumer.close(autocommit=False)

    def _commit(self, only: set[TopicPartition] | None = None) -> None:
        if self._consumer is None or not self._done:
            return
        offsets = {
            tp: OffsetAndMetadata(off, "", -1)
            for tp, off in self._done.items()
            if only is None or tp in only
        }
        if not offsets:
            return
        try:
            self._consumer.commit(offsets)
        except KafkaError as exc:  # e.g. rebalanced away: those changes come again
            log.warning("commit failed for group %s: %s", self.group_id, type(exc).__name__)
        for tp in offsets:
            self._done.pop(tp, None)
        self._last_commit = time.monotonic()

    def _remember(self, change_id: str) -> bool:
        """True if ``change_id`` was already handled (and refresh it)."""
        if change_id in self._seen:
            self._seen.move_to_end(change_id)
            return True
        self._seen[change_id] = None
        if len(self._seen) > self.dedup_size:
            self._seen.popitem(last=False)
        return False

    def __iter__(self) -> Iterator[TierChange]:
        if self._consumer is None:
            self.open()
        idle = self.idle_timeout_s
        deadline = None if idle is None else time.monotonic() + idle
        records: dict[TopicPartition, list[Any]] = {}
        unhandled: dict[TopicPartition, int] = {}  # first offset not yet handled, this batch
        inflight: str | None = None
        try:
            while self._consumer is not None:
                wait_ms = 1000
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return
                    wait_ms = max(1, min(wait_ms, int(left * 1000)))
                records = self._consumer.poll(timeout_ms=wait_ms)
                unhandled = {tp: batch[0].offset for tp, batch in records.items() if batch}
                for tp, batch in records.items():
                    for record in batch:
                        change = _decode_change(record)
                        if change is not None and _wanted(change, self.entity_type, self.direction):
                            if self._remember(change.change_id):
                                self.duplicates += 1
                            else:
                                inflight = change.change_id
                                yield change  # the caller handles it ...
                                inflight = None
                                if idle is not None:
                                    deadline = time.monotonic() + idle
                        # ... and asks for the next one: this offset is done
                        unhandled[tp] = self._done[tp] = record.offset + 1
                        if time.monotonic() - self._last_commit >= self.commit_interval_s:
                            self._commit()
                records, unhandled = {}, {}
                self._commit()
        finally:
            # Left mid-batch (break, exception): the change in flight and the rest of the
            # batch were not handled. Forget that id, rewind so the next iteration gets
            # them again, and commit only what was handled.
            if inflight is not None:
                self._seen.pop(inflight, None)
            if self._consumer is not None:
                for tp, batch in records.items():
                    if batch and unhandled.get(tp, batch[0].offset) <= batch[-1].offset:
                        with contextlib.suppress(KafkaError, AssertionError):  # revoked
                            self._consumer.seek(tp, unhandled.get(tp, batch[0].offset))
            self._commit()


# --------------------------------------------------------------------------- table state


def _decode_table_key(raw: bytes) -> str:
    """Faust writes a table key raw when ``key_type=bytes``, as JSON when ``key_type=str``."""
    if raw[:1] == b'"':
        value = orjson.loads(raw)
        if isinstance(value, str):
            return value
    return raw.decode("utf-8")


def _decode_table_value(raw: bytes) -> bytes:
    """``EntityState.to_bytes()`` as is; also accepts a JSON string wrapping it."""
    if raw[:1] == b'"':
        value = orjson.loads(raw)
        if isinstance(value, str):
            return value.encode("utf-8")
    return raw


def _apply_records(records: dict[Any, list[Any]], states: dict[str, bytes], topic: str) -> int:
    """Fold changelog records into ``states`` (last value wins, tombstones delete)."""
    n = 0
    for batch in records.values():
        for record in batch:
            n += 1
            if record.key is None:
                log.warning("changelog record without a key at %s[%d]@%d", topic, record.partition, record.offset)
                continue
            key = _decode_table_key(record.key)
            if record.value is None:
                states.pop(key, None)
            else:
                states[key] = _decode_table_value(record.value)
    return n


def read_states(settings: Settings, timeout_s: float = 60.0) -> dict[str, bytes]:
    """The worker's ``entities`` table: entity key -> ``EntityState`` bytes.

    Reads the changelog topic (``TopicNames.entities_changelog``) of every
    partition from the beginning up to the end offsets captured at the start
    (progress is measured by offsets, not by waiting); the last value of a key
    wins and a tombstone (``None``) deletes it. Raises :class:`TimeoutError` if
    the end is not reached within ``timeout_s``.
    """
    topic = topic_names(settings).entities_changelog
    consumer = _consumer(settings, "snapshot", group_id=None, max_partition_fetch_bytes=8 << 20)
    states: dict[str, bytes] = {}
    try:
        tps = _partitions(consumer, topic, settings)
        consumer.assign(tps)
        begins = consumer.beginning_offsets(tps)
        ends = consumer.end_offsets(tps)
        pending = {tp for tp in tps if ends[tp] > begins[tp]}
        consumer.seek_to_beginning(*tps)
        idle = [tp for tp in tps if tp not in pending]
        if idle:
            consumer.pause(*idle)
        deadline = time.monotonic() + timeout_s
        read = 0
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                behind = ", ".join(
                    f"{tp.partition}: {consumer.position(tp)}/{ends[tp]}"
                    for tp in sorted(pending)
                )
                raise TimeoutError(
                    f"read {read:,} records of {topic!r} in {timeout_s:g} s without reaching "
                    f"the end (partition: position/end {behind})"
                )
            records = consumer.poll(timeout_ms=max(1, min(500, int(left * 1000))))
            read += _apply_records(records, states, topic)
            for tp in list(pending):
                if consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
        # Tansu answers "latest" with the base offset of the newest record batch + 1, so the
        # tail of that batch can lie past ``ends``: drain until the fetches return nothing.
        consumer.resume(*tps)
        while time.monotonic() < deadline:
            records = consumer.poll(timeout_ms=300)
            if not records:
                break
            read += _apply_records(records, states, topic)
    finally:
        consumer.close()
    return states


def snapshot(
    settings: Settings,
    grader: Grader,
    as_of: int | None = None,
    timeout_s: float = 60.0,
) -> list[EntitySnapshot]:
    """Every entity in the worker's table, graded as of ``as_of`` (epoch seconds).

    ``as_of`` defaults to the latest event time any entity has applied (the
    largest ``EntityState.clock``), which is what the offline scorer uses, so
    ``tierstream score`` and ``tierstream snapshot`` on the same events agree.
    Sorted by (entity_type, entity_id).
    """
    states: list[EntityState] = []
    for key, data in read_states(settings, timeout_s).items():
        try:
            states.append(EntityState.from_bytes(data))
        except Exception as exc:  # any decoding failure: name the entity, not the bytes
            raise ClientError(
                f"cannot decode the state of {key!r} from the changelog: {type(exc).__name__}: "
                f"{str(exc)[:200]} (is the table written with EntityState.to_bytes()?)"
            ) from None
    if not states:
        return []
    instant = as_of if as_of is not None else max(s.clock for s in states)
    snaps = [grader.snapshot(s, instant) for s in states if not s.is_empty()]
    snaps.sort(key=lambda s: (s.entity_type, s.entity_id))
    return snaps
