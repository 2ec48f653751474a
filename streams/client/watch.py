"""Follow the tier-changes topic without a consumer group: :func:`watch` (a tail).

Tansu (0.6) answers ListOffsets "latest" with the base offset of the last record
*batch* + 1 rather than the high watermark, so an end offset can be short by up
to a batch: :func:`watch` from the end re-anchors on the high watermark of its
first fetch so it does not replay that tail (harmless on a real Kafka).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any, Self

from kafka import TopicPartition

from tierstream.schemas.outputs import Direction, TierChange
from tierstream.schemas.settings import Settings
from tierstream.streams.client.changes import EntityTypeFilter, decode_change, wanted
from tierstream.streams.kafka.read import consumer, partitions
from tierstream.streams.kafka.topics import topic_names

__all__ = ["TierChangeWatch", "watch"]


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
        self._consumer = consumer(settings, "watch", group_id=None)
        try:
            tps = partitions(self._consumer, self.topic, settings)
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
                change = decode_change(record)
                if change is not None and wanted(change, self.entity_type, self.direction):
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
