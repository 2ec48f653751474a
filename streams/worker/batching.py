"""The batch path as its users see it, free of Faust internals: the handler of its topics, its settings.

:mod:`streams.worker.batch` (the consumer; with :mod:`streams.worker.recovery`, the only
modules allowed Faust's private names) hands each fetched partition batch of
``BatchHandler.topics`` to the handler and runs with these settings.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from faust.types import TP, Message

__all__ = ["BATCH_PRODUCER_SETTINGS", "BatchCallback", "BatchFinish", "BatchHandler"]

#: ``faust.App`` settings for the batch path, over the broker profile's settings
#: (:mod:`streams.worker.profiles`). Multi-record producer batches are safe for recovery
#: because the batch consumer reads true high watermarks; the linger is short because every
#: round waits for the producer twice (the outbox: states, then their outputs). The
#: measurements behind each value are in benchmarks/README.md.
BATCH_PRODUCER_SETTINGS: dict[str, object] = {
    "producer_max_batch_size": 64 * 1024,
    "producer_linger": 0.002,  # seconds: each round waits for it twice (state, then outputs)
    # One fetch is one round (processed, written, sent, then acked): bounded, so a backlog
    # does not make one round of every buffered record (memory, commit cadence, latency).
    "broker_max_poll_records": 2000,
}

#: ``callback(tp, messages)``: handle one chunk of one partition, synchronously. Must not
#: raise for bad input (the processor dead-letters it); an exception stops the consumer with
#: the round unacked, so it is processed again after the restart.
BatchCallback = Callable[[TP, Sequence[Message]], None]
#: ``await finish()``: after every chunk of one fetch went through ``callback`` and before any
#: of them is acked (write what they changed, send what they produced).
BatchFinish = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class BatchHandler:
    """Which topics take the batch path, and what handles them."""

    topics: frozenset[str]
    callback: BatchCallback
    finish: BatchFinish
    #: at most this many messages per callback; the event loop runs between chunks
    max_batch: int = 2000
    #: after a chunk, wait while more than this many messages sit in Faust's producer
    #: buffer (the stock conductor waits above 100 per message): bounds memory when the
    #: broker is slower than processing, without a wait per message.
    max_pending_sends: int = 20_000
    #: called instead of ``finish`` when a round fails or is cancelled before it
    abort: Callable[[], None] = lambda: None
    #: the longest a fetch may wait at the broker for data (Faust hard-codes 1,500 ms);
    #: per broker profile, see :func:`streams.worker.profiles.fetch_max_wait_ms`
    fetch_max_wait_ms: int = 500

