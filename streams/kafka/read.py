"""Read a topic from its beginning to its end: the one helper every reader of whole topics uses.

The end is the high watermark that the fetch responses report, not what
``end_offsets`` (ListOffsets "latest") answers: Tansu answers that with the base
offset of the newest record batch + 1, so a reader stopping there misses the
tail of a multi-record batch. A partition is done when its position has
reached the high watermark of a fetch response; progress is measured by
offsets, never by waiting for silence.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from tierstream.schemas.errors import ClientError
from tierstream.schemas.settings import Settings
from tierstream.streams.kafka.config import kafka_python_config
from tierstream.streams.kafka.topics import topic_names

__all__ = [
    "BOOTSTRAP_TIMEOUT_MS",
    "consumer",
    "decode_table_key",
    "decode_table_value",
    "partitions",
    "read_states",
    "read_to_end",
]

log = logging.getLogger(__name__)

#: How long a client waits for the first broker answer before it says it cannot connect.
BOOTSTRAP_TIMEOUT_MS = 10_000


def consumer(settings: Settings, role: str, **extra: Any) -> Any:
    """Open a kafka-python consumer with the connection settings and no auto-commit.

    ``role`` names the client (``<app_id>-<role>``) in the broker's logs.
    """
    cfg: dict[str, Any] = dict(kafka_python_config(settings))
    cfg.update(
        client_id=f"{settings.app_id}-{role}",
        bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
        enable_auto_commit=False,
        allow_auto_create_topics=False,
    )
    cfg.update(extra)
    try:
        return KafkaConsumer(**cfg)
    except KafkaError as exc:
        raise ClientError(
            f"cannot connect to Kafka at {settings.kafka_bootstrap} (TIERSTREAM_KAFKA_BOOTSTRAP): {exc}"
        ) from None


def partitions(kafka: Any, topic: str, settings: Settings) -> list[TopicPartition]:
    """Return every partition of ``topic``, or raise a :class:`ClientError` that says how to create it."""
    parts = kafka.partitions_for_topic(topic)
    if not parts:
        raise ClientError(
            f"topic {topic!r} not found at {settings.kafka_bootstrap}: start the worker "
            "(`tierstream worker` or `tierstream dev`), which creates the topics, and check "
            "TIERSTREAM_TOPIC_PREFIX / TIERSTREAM_APP_ID"
        )
    return [TopicPartition(topic, p) for p in sorted(parts)]


def read_to_end(
    settings: Settings,
    topic: str,
    *,
    timeout_s: float = 120.0,
    role: str = "reader",
    on_batch: Callable[[int], None] | None = None,
) -> Iterator[Any]:
    """Yield every record of ``topic``, in fetch order, from its beginning up to its end.

    Raises :class:`TimeoutError` naming the partitions still behind if the end
    is not reached within ``timeout_s``. ``on_batch(n)`` is called with the
    number of records of each fetch, for a progress bar.
    """
    kafka = consumer(settings, role, group_id=None, max_partition_fetch_bytes=16 << 20,
                     fetch_max_bytes=64 << 20, max_poll_records=100_000)
    try:
        tps = partitions(kafka, topic, settings)
        kafka.assign(tps)
        kafka.seek_to_beginning(*tps)
        pending = set(tps)
        deadline = time.monotonic() + timeout_s
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                behind = ", ".join(f"{tp.partition}: {kafka.position(tp)}/{kafka.highwater(tp)}"
                                   for tp in sorted(pending))
                raise TimeoutError(f"could not read {topic!r} to its end in {timeout_s:g} s "
                                   f"(partition: position/high watermark {behind})")
            for batch in kafka.poll(timeout_ms=max(1, min(500, int(left * 1000)))).values():
                if on_batch is not None:
                    on_batch(len(batch))
                yield from batch
            for tp in list(pending):
                hw = kafka.highwater(tp)
                if hw is not None and kafka.position(tp) >= hw:
                    pending.discard(tp)
    finally:
        kafka.close()


def decode_table_key(raw: bytes) -> str:
    """Return a Faust table key: JSON-encoded by Faust's default key serializer, or plain UTF-8."""
    if raw[:1] == b'"':
        value = orjson.loads(raw)
        if isinstance(value, str):
            return value
    return raw.decode("utf-8")


def decode_table_value(raw: bytes) -> bytes:
    """Return ``EntityState.to_bytes()`` as is; also accepts a JSON string wrapping it."""
    if raw[:1] == b'"':
        value = orjson.loads(raw)
        if isinstance(value, str):
            return value.encode("utf-8")
    return raw


def read_states(settings: Settings, timeout_s: float = 60.0) -> dict[str, bytes]:
    """Return the worker's ``entities`` table from its changelog: entity key -> state bytes.

    The last value of a key wins and a tombstone (``None``) deletes it.
    """
    topic = topic_names(settings).entities_changelog
    states: dict[str, bytes] = {}
    for record in read_to_end(settings, topic, timeout_s=timeout_s, role="snapshot"):
        if record.key is None:
            log.warning("changelog record without a key at %s[%d]@%d", topic, record.partition, record.offset)
            continue
        key = decode_table_key(record.key)
        if record.value is None:
            states.pop(key, None)
        else:
            states[key] = decode_table_value(record.value)
    return states
