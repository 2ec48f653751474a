"""The outbox round's I/O on Faust: the ``entities`` and ``outbox-acks`` tables, the producer, the generation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Protocol

import faust
from faust.types import Message

from tierstream.streams.worker.batch import aiokafka_producer, as_current_event
from tierstream.streams.worker.bulk import send_batches
from tierstream.streams.worker.letters import Outgoing
from tierstream.streams.worker.rounds import AckedRounds, marker_key
from tierstream.streams.worker.states import BatchStore
from tierstream.streams.worker.tables import EntityTable

__all__ = ["FaustOutboxIO"]


class Worker(Protocol):
    """What the round's I/O needs of the worker (``streams.worker.app.Pipeline``)."""

    app: faust.App
    entities: EntityTable
    outbox_acks: EntityTable

    def send(self, msgs: Sequence[Outgoing]) -> Sequence[Awaitable[object]]: ...

    def index_reviews(self, store: BatchStore) -> None: ...


class FaustOutboxIO:
    """:class:`streams.worker.outbox.OutboxIO` on Faust; states, outputs and markers leave as record batches."""

    def __init__(self, worker: Worker, generation: Callable[[], int]) -> None:
        self.worker = worker
        self.generation = generation

    def acked(self, partition: int) -> AckedRounds:
        return AckedRounds.from_bytes(self.worker.outbox_acks.get(marker_key(partition)))

    def write(self, store: BatchStore, anchor: Message) -> None:
        """Flush ``store`` with ``anchor`` as the current event (stores that place keys by partition)."""
        with as_current_event(self.worker.app, anchor):
            store.flush()
        self.worker.index_reviews(store)

    async def written(self) -> None:
        # the records' own futures: ``Producer.flush()`` is no barrier (streams.worker.tables);
        # the markers of the round before are acknowledged here too
        await self.worker.entities.written()
        await self.worker.outbox_acks.written()

    async def send(self, msgs: Sequence[Outgoing]) -> list[Awaitable[object]]:
        producer = aiokafka_producer(self.worker.app)
        return [*await send_batches(producer, [(m.topic, m.partition, m.key, m.value) for m in msgs])]

    def send_now(self, msgs: Sequence[Outgoing]) -> list[Awaitable[object]]:
        return [*self.worker.send(msgs)]

    async def mark(self, marks: Mapping[int, tuple[AckedRounds, Message]]) -> None:
        table = self.worker.outbox_acks
        for partition, (acked, anchor) in marks.items():
            with as_current_event(self.worker.app, anchor):  # the marker's changelog partition is the anchor's
                table[marker_key(partition)] = acked.to_bytes()
        await table.send_queued()
