"""Tier changes for a downstream system: :class:`TierChangeSubscriber`.

A consumer group that commits only what the caller has handled and drops
redelivered duplicates (``change_id`` is deterministic, delivery is at-least-once).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Iterator
from types import TracebackType
from typing import Any, Self

from kafka import ConsumerRebalanceListener, TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from tierstream.schemas.outputs import Direction, TierChange
from tierstream.schemas.settings import Settings
from tierstream.streams.client.changes import EntityTypeFilter, decode_change, wanted
from tierstream.streams.kafka.read import consumer
from tierstream.streams.kafka.topics import topic_names

__all__ = ["TierChangeSubscriber"]

log = logging.getLogger(__name__)


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
        self._consumer = consumer(
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
            kafka, self._consumer = self._consumer, None
            kafka.close(autocommit=False)

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
                        change = decode_change(record)
                        if change is not None and wanted(change, self.entity_type, self.direction):
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
