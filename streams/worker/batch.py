"""The batch path: Faust's consumer hands each fetched partition batch to one synchronous callback.

Why: Faust's stock path costs several asyncio tasks, futures and awaits per
message (``Consumer._drain_messages`` awaits ``wait_first(callback(message),
suspend_flow.wait())`` for every record, then the conductor's ``on_message``
waits for flow control and for the producer buffer to ebb, the channel queue
and the stream iterator each take their turn). The batch path handles about
three times as many events per CPU-second (benchmarks/README.md, "Why the
settings are what they are").

What: :class:`BatchConsumer` is Faust's aiokafka ``Consumer`` with one hook,
``_getmany`` (the call that returns one ``getmany()`` worth of records). For
the topics of a :class:`BatchHandler` it

1. drops a partition's records if they start past the next offset to read
   (fetched before a rebalance; see :meth:`BatchConsumer._in_sequence`);
2. turns each partition's records into Faust messages (``_to_message``),
   in chunks of at most ``handler.max_batch``, and calls
   ``handler.callback(tp, messages)`` synchronously per chunk -- no await
   per message; the callback updates its state and queues its outputs;
3. once every partition of the fetch went through, awaits
   ``handler.finish()`` once -- the place to write states and send outputs
   with as few producer round trips as possible (one fetch, one finish);
4. unless a rebalance started meanwhile, acks every message of the round
   through ``Consumer.ack``, so Faust's own bookkeeping (acked offsets,
   gaps, ``broker_commit_every``) decides what to commit, and
   ``_commit_offsets`` flushes the producer before it commits: offsets are
   committed only after the outputs and changelog writes of the processed
   messages are acknowledged by the broker (at-least-once);
5. hands each fetch of a changelog partition under recovery to
   ``restore`` (:mod:`streams.worker.recovery`: applied to the table at once);
6. returns the records of every other topic (the ``tier-changes`` Redis sink)
   to the stock ``getmany``, which delivers them per message as usual.

Faust stays the runtime: tables, changelogs, recovery, standbys, rebalancing,
the commit timer and flow control (``stop_flow`` during a rebalance,
``pause_partitions`` during recovery) all run unchanged; this module only
decides *how* fetched records of the batch topics reach the processing code.

This module and :mod:`streams.worker.recovery` (the consumer's recovery side: bulk
changelog restore, true high watermarks) are the only ones allowed Faust's private
names; :data:`FAUST_PRIVATE_NAMES` lists those of both.

Install with :func:`install_batch_path` right after creating the app, before
anything touches ``app.transport`` / ``app.consumer``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from time import monotonic
from typing import Any, ClassVar, cast

import faust
from faust.events import Event
from faust.streams import _current_event
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP, AppT, Message

from tierstream.streams.worker.batching import (
    BATCH_PRODUCER_SETTINGS,
    BatchCallback,
    BatchFinish,
    BatchHandler,
)
from tierstream.streams.worker.recovery import RecoveringConsumer

__all__ = [
    "BATCH_PRODUCER_SETTINGS",
    "FAUST_PRIVATE_NAMES",
    "BatchCallback",
    "BatchConsumer",
    "BatchFinish",
    "BatchHandler",
    "BatchTransport",
    "PrivateName",
    "aiokafka_producer",
    "as_current_event",
    "committed_offsets",
    "install_batch_path",
]

log = logging.getLogger("tierstream.batch")


@dataclass(frozen=True)
class PrivateName:
    """A private Faust / mode / aiokafka name this module or :mod:`streams.worker.recovery` relies on."""

    #: ``"module"`` or ``"module:Class"``
    owner: str
    name: str
    #: a function's or method's parameters, in order (``None``: an attribute)
    params: tuple[str, ...] | None = None
    #: set on each instance (in ``__init__``), so only an instance has it
    per_instance: bool = False


_DRIVER = "faust.transport.drivers.aiokafka"
#: Every private name used below or in streams/worker/recovery.py (the only two modules allowed them):
#: ``tests/test_faust_contract.py`` checks each against the installed packages, so an
#: upgrade that removes or changes one fails there, naming it, not at run time.
FAUST_PRIVATE_NAMES: tuple[PrivateName, ...] = (
    PrivateName("faust.streams", "_current_event"),
    PrivateName("faust:App", "_transport", per_instance=True),
    PrivateName(f"{_DRIVER}:AIOKafkaConsumerThread", "_create_worker_consumer", ("self", "transport")),
    PrivateName(f"{_DRIVER}:AIOKafkaConsumerThread", "_create_client_consumer", ("self", "transport")),
    PrivateName("aiokafka:AIOKafkaConsumer", "_fetch_max_wait_ms", per_instance=True),
    PrivateName(f"{_DRIVER}:Consumer", "_new_consumer_thread", ("self",)),
    PrivateName(f"{_DRIVER}:Consumer", "_getmany", ("self", "active_partitions", "timeout")),
    PrivateName(f"{_DRIVER}:Consumer", "_to_message", ("self", "tp", "record")),
    PrivateName(f"{_DRIVER}:Consumer", "_add_gap", ("self", "tp", "offset_from", "offset_to")),
    PrivateName("faust.tables:TableManager", "_update_channels", ("self",)),
    PrivateName(f"{_DRIVER}:Producer", "_ensure_producer", ("self",)),
    *(PrivateName(f"{_DRIVER}:Consumer", name, per_instance=True) for name in (
        "_thread", "_read_offset", "_active_partitions", "_buffered_partitions", "_commit_every", "_n_acked",
        "_committed_offset",
    )),
)


@contextlib.contextmanager
def as_current_event(app: faust.App, message: Message) -> Iterator[None]:
    """Make ``message`` Faust's "current event" for the block.

    Table stores that place a key by the current event's partition (RocksDB's
    ``_set``) need one; the batch callback writes the table outside any stream
    iteration. All messages of a chunk are on one partition, so any of them is
    right. ``faust.streams`` exposes only a getter for the context variable.
    """
    event = Event(app, message.key, message.value, message.headers, message)
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


class BatchConsumerThread(aiokafka_driver.AIOKafkaConsumerThread):
    """Faust's aiokafka consumer thread, with the batch handler's broker-side fetch wait."""

    def _create_worker_consumer(self, transport: aiokafka_driver.Transport) -> Any:
        consumer = super()._create_worker_consumer(transport)
        handler: BatchHandler | None = getattr(transport, "batch_handler", None)
        if handler is not None:
            consumer._fetch_max_wait_ms = handler.fetch_max_wait_ms  # read by AIOKafkaConsumer.start()
        return consumer


class BatchConsumer(RecoveringConsumer):
    """Faust's aiokafka consumer that hands the batch topics' records over per partition batch."""

    _round_lock: asyncio.Lock | None = None

    def _new_consumer_thread(self) -> BatchConsumerThread:
        return BatchConsumerThread(self, loop=self.loop, beacon=self.beacon)

    @property
    def in_round(self) -> asyncio.Lock:
        """Held while a round runs (its ``finish`` awaits the producer between its writes)."""
        if self._round_lock is None:
            self._round_lock = asyncio.Lock()
        return self._round_lock

    async def wait_empty(self) -> None:
        """Faust's "wait for the streams to finish", also waiting for the round in progress.

        Faust calls this when partitions are revoked (after stopping the flow) and at
        shutdown, then flushes the producer and commits. A round's ``finish`` awaits
        between its state writes and its outputs; letting it finish first means the
        partition's next owner recovers the states it wrote with their outboxes already
        sent and cleared. (The round stays unacked -- the flow stopped -- so it is
        redelivered, finds its events already applied, and sends nothing twice.)
        """
        async with self.in_round:
            pass
        await super().wait_empty()

    @property
    def batch_handler(self) -> BatchHandler | None:
        handler: BatchHandler | None = getattr(self.transport, "batch_handler", None)
        return handler

    async def _getmany(self, active_partitions: set[TP] | None, timeout: float) -> Mapping[TP, list[Any]]:
        records: Mapping[TP, list[Any]] = await super()._getmany(active_partitions, timeout)
        if not records:
            return records
        handler = self.batch_handler
        rest: dict[TP, list[Any]] = {}
        taken: dict[TP, list[Message]] = {}
        generation_id = self.app.consumer_generation_id
        async with self.in_round:
            try:
                for tp, recs in records.items():
                    if not await self._in_sequence(tp, recs):
                        continue
                    if handler is not None and tp.topic in handler.topics:
                        taken[tp] = await self._consume_batch(handler, tp, recs, generation_id)
                    elif left := self.restore(tp, recs, generation_id):
                        rest[tp] = list(left)
                if handler is not None and any(taken.values()):
                    await handler.finish()
            except BaseException:
                if handler is not None:
                    handler.abort()  # nothing of the round is acked: it is processed again
                raise
        if handler is not None and taken:
            ack = self.ack
            for tp, messages in taken.items():
                if messages and self._may_process(tp, generation_id):  # else: redelivered to its owner
                    for message in messages:
                        ack(message)
                    self.app.monitor.stream_inbound_time[tp] = monotonic()  # livelock detector
            await self._after_round(handler)
        return rest

    _gap_probe: dict[TP, tuple[int, int]] | None = None  # tp -> (generation, first offset fetched)

    async def _in_sequence(self, tp: TP, records: Sequence[Any]) -> bool:
        """False (and the partition seeked back) for records that start past the next offset to read.

        Faust reads the consumer generation only once ``getmany`` has returned, so
        records fetched before a rebalance can arrive after the partition was seeked
        back to its committed offset. If they start past it, the stock path (and a
        naive batch path) registers the offsets in between as a gap -- as if
        compaction had removed them -- commits past them and drops them when they
        are fetched again: events lost (faust-streaming#221 is the same race). So
        a batch that starts past the read offset is dropped and the partition
        seeked back to the read offset; if the refetch starts at the same offset
        again, the gap is real (compaction, transaction markers) and goes through.
        """
        if self._gap_probe is None:
            self._gap_probe = {}
        probes = self._gap_probe
        probe = probes.pop(tp, None)
        read_offset = self._read_offset[tp]
        if read_offset is None or not records or records[0].offset - read_offset <= 1:
            return True
        first = next((r.offset for r in records if r.offset >= read_offset), None)
        if first is None or first - read_offset <= 1:
            return True  # only already-read records before the next one: dropped as usual
        generation = self.app.consumer_generation_id
        if probe == (generation, first):
            return True  # fetched again from the read offset: a real gap
        probes[tp] = (generation, first)
        log.info("%s: records from offset %d fetched while the next to read is %d (fetched before a "
                 "rebalance?): seeking back to %d", tp, first, read_offset, read_offset)
        try:
            # through the consumer thread (aiokafka runs there); also sets the read offset.
            # After a read, the read offset is the last offset read: that one record comes
            # again and is deduplicated like any redelivery.
            await self._thread.seek_wait({tp: read_offset})
        except Exception as exc:  # e.g. no longer assigned: the next assignment seeks anyway
            log.warning("could not seek %s back to %d: %r", tp, read_offset, exc)
        return False

    async def _consume_batch(self, handler: BatchHandler, tp: TP, records: Sequence[Any],
                             generation_id: int) -> list[Message]:
        """Hand one partition's records to the callback in chunks; the messages it took."""
        to_message = self._to_message
        step = max(1, handler.max_batch)
        acks_enabled = self.app.topics.acks_enabled_for(tp.topic)
        taken: list[Message] = []
        for start in range(0, len(records), step):
            if not self._may_process(tp, generation_id):
                break
            read_offset: int | None = self._read_offset[tp]
            chunk: list[Message] = []
            for record in records[start:start + step]:
                offset = record.offset
                if read_offset is not None and offset < read_offset:
                    continue  # already processed (the stock path drops these too)
                if read_offset and offset - read_offset > 1 and acks_enabled:
                    # offsets missing from the log (compaction, transaction markers):
                    # registered as a gap so the commit can move past them
                    await self._add_gap(tp, read_offset + 1, offset)
                    if not self._may_process(tp, generation_id):
                        return taken
                chunk.append(to_message(tp, record))
                read_offset = offset
            if not chunk:
                continue
            handler.callback(tp, chunk)
            taken += chunk
            self._read_offset[tp] = chunk[-1].offset
            await asyncio.sleep(0)  # let the web server and timers run between chunks
        return taken

    async def _after_round(self, handler: BatchHandler) -> None:
        commit_every = self._commit_every
        if commit_every is not None and self._n_acked >= commit_every:
            self._n_acked = 0
            await self.commit()
        buffer = self.app.producer.buffer
        while buffer.size > handler.max_pending_sends and not self.should_stop:
            await buffer.flush_atmost(buffer.size - handler.max_pending_sends)
        await asyncio.sleep(0)  # let the producer, the web server, timers run between rounds

class BatchTransport(aiokafka_driver.Transport):
    """The aiokafka transport with :class:`BatchConsumer`; ``batch_handler`` says what to batch."""

    Consumer: ClassVar[type] = BatchConsumer
    batch_handler: BatchHandler | None = None


def aiokafka_producer(app: AppT) -> Any:
    """The started ``AIOKafkaProducer`` under ``app``'s Faust producer (for its batch API, ``streams.worker.bulk``)."""
    return cast(aiokafka_driver.Producer, app.producer)._ensure_producer()


def committed_offsets(consumer: object) -> Mapping[TP, int | None]:
    """The consumer's last committed offset per partition (Faust keeps them in a private dict)."""
    committed: Mapping[TP, int | None] = getattr(consumer, "_committed_offset", {})
    return committed


def install_batch_path(app: faust.App, handler: BatchHandler) -> BatchTransport:
    """Make ``app`` consume through :class:`BatchConsumer`, handing ``handler.topics`` to ``handler``.

    ``faust.App`` builds its transport lazily from ``broker``'s URL scheme;
    assigning ``app.transport`` before first use is the documented setter and
    the smallest hook (no custom URL scheme, no registry entry). The app's
    topics must still be subscribed by an agent (that also enables acks for
    them); its stream only sees what the batch path does not take.
    """
    if getattr(app, "_transport", None) is not None:
        raise RuntimeError("install_batch_path() must run before the app's transport is created")
    transport = BatchTransport(app.conf.broker_consumer, app)
    transport.batch_handler = handler
    app.transport = transport
    return transport
