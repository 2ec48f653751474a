"""The worker's tables: Faust tables whose changelog writes leave in per-partition batches, awaited.

``table[key] = value`` updates the table at once and queues the changelog record;
:meth:`EntityTable.written` hands every queued record to aiokafka as
per-partition record batches (:mod:`streams.worker.bulk`) and waits for their
acknowledgements. That is both the outbox's barrier (outputs leave only once the
state holding them is on the broker; Faust's ``Producer.flush()`` is none: its
buffer gives up waiting after 0.1 s without a record handed to aiokafka) and
cheaper than Faust's per-record producer path (a future and a buffered send per
record). A record is queued with the partition Faust would give it: none with
``use_partitioner`` (aiokafka's partitioner places it by key), else the current
event's.

Its changelog may be restored in bulk (``restore_in_bulk``, read by
:mod:`streams.worker.recovery`): it has no per-record ``on_changelog_event``
callback, which the bulk restore does not call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, ClassVar

import faust
from faust.types import AppT

from tierstream.streams.worker.bulk import Record, send_batches
from tierstream.streams.worker.outbox import delivered

__all__ = ["EntityTable"]


class EntityTable(faust.Table[bytes, bytes]):
    """``faust.Table`` (raw bytes) whose changelog records are sent and awaited by :meth:`written`."""

    #: recovery may apply a fetch of its changelog at once (streams.worker.recovery)
    restore_in_bulk: ClassVar[bool] = True
    #: the ``AIOKafkaProducer`` to send through (set by the worker, ``streams.worker.batch.aiokafka_producer``)
    producer_of: Callable[[AppT], Any] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: (partition or ``None``: by key, key, value) of the changelog records not yet sent
        self.queued: list[tuple[int | None, bytes, bytes]] = []
        self.unacked: list[asyncio.Future[Any]] = []

    def on_key_set(self, key: bytes, value: bytes) -> None:
        """Queue the changelog record of ``table[key] = value`` (sent by :meth:`send_queued`)."""
        self.queued.append((self.partition_for_key(key), key, value))
        self.app.sensors.on_table_set(self, key, value)

    async def send_queued(self) -> None:
        """Hand the queued changelog records to the producer (acknowledged later; see :meth:`written`)."""
        if not self.queued:
            return
        if self.producer_of is None:
            raise RuntimeError("EntityTable.producer_of is not set: the worker sets it when it builds the app")
        topic = self.changelog_topic.get_topic_name()
        records: list[Record] = [(topic, partition, key, value) for partition, key, value in self.queued]
        self.queued = []
        self.unacked += await send_batches(self.producer_of(self.app), records)

    async def written(self) -> None:
        """Send what is queued and wait until every changelog write made so far is acknowledged."""
        await self.send_queued()
        pending, self.unacked = self.unacked, []
        await delivered(pending)
