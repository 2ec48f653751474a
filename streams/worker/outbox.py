"""The outbox round: write the states, await them, send their outputs, await those, mark the round sent.

A state change's outputs (tier changes, current tiers, alerts, referral credits)
travel in the state's *outbox* (:mod:`streams.worker.processor`). One
:class:`OutboxRound` covers what one fetch (batch path) or one message
(per-event path) changed, and owns the order that makes the outbox safe:

1. ``OPEN``: the processor updates decoded states in the round's stores
   (one :class:`BatchStore` per partition number); dead letters and events
   re-keyed to their entity's partition leave at once.
2. ``STATES_WRITTEN``: every changed state is written to the table, once (its
   changelog record holds the outbox, stamped with the round's id).
3. ``STATES_ACKED``: those changelog records are acknowledged by the broker.
4. ``OUTPUTS_SENT``: only now the outboxes' messages are sent.
5. ``OUTPUTS_ACKED``: they (and the round's dead letters) are acknowledged.
6. ``MARKED``: one marker per partition with outputs records that the round's
   outputs are on the broker (:mod:`streams.worker.rounds`), instead of a second
   write of every state with its outbox emptied; the states keep their outboxes
   until their next write, and a load drops an outbox its partition's marker
   covers. The markers are acknowledged by the next round's wait or before the
   offsets are committed; one lost in a crash only makes its outputs go again.

``ABORTED``: the round failed, was cancelled, or the consumer generation moved
(a rebalance: the partitions' new owner redelivers the messages and sends what
is left in the stored outboxes). Its decoded states are dropped, nothing more is
written or sent, and the worker's round ids start a new epoch, so no later
marker covers this round. A crash at any step leaves each output either
acknowledged or in a stored outbox no marker covers, which the redelivered
event sends again with the same bytes.

The round talks to the tables, the producer and the consumer through
:class:`OutboxIO`, so the order can be tested in-process with fakes.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from typing import Generic, Protocol, TypeVar

from tierstream.streams.worker.letters import Outgoing
from tierstream.streams.worker.rounds import AckedRounds, RoundId, RoundIds
from tierstream.streams.worker.states import BatchStore, Table

__all__ = ["OutboxIO", "OutboxRound", "RoundStatus", "delivered"]

#: what anchors a store's writes: the Faust message whose partition they belong to
A = TypeVar("A")
A_contra = TypeVar("A_contra", contravariant=True)


async def delivered(futures: Iterable[Awaitable[object]]) -> None:
    """Wait until every record is acknowledged by the broker (raises if one failed)."""
    await asyncio.gather(*futures)


class RoundStatus(enum.Enum):
    """Where an :class:`OutboxRound` is; each step only follows the one before it."""

    OPEN = "open"
    STATES_WRITTEN = "states_written"
    STATES_ACKED = "states_acked"
    OUTPUTS_SENT = "outputs_sent"
    OUTPUTS_ACKED = "outputs_acked"
    MARKED = "marked"
    ABORTED = "aborted"


class OutboxIO(Protocol[A_contra]):
    """What a round needs from the worker: the tables, the producer, the consumer generation."""

    def acked(self, partition: int) -> AckedRounds:
        """``partition``'s marker: the rounds whose outputs are on the broker."""

    def write(self, store: BatchStore, anchor: A_contra) -> None:
        """Write ``store``'s changed states to the table (records queued, not yet sent)."""

    async def written(self) -> None:
        """Send every table write queued so far and wait until all are acknowledged (raises if one failed)."""

    async def send(self, msgs: Sequence[Outgoing]) -> list[Awaitable[object]]:
        """Hand ``msgs`` to the producer; awaitables that complete when the broker acknowledged them."""

    def send_now(self, msgs: Sequence[Outgoing]) -> list[Awaitable[object]]:
        """Queue ``msgs`` (dead letters, re-keyed events) without waiting; one acknowledgement each."""

    async def mark(self, marks: Mapping[int, tuple[AckedRounds, A_contra]]) -> None:
        """Write each partition's new marker and hand it to the producer (acknowledged later)."""

    def generation(self) -> int:
        """The consumer generation: it moves when a rebalance starts."""


class OutboxRound(Generic[A]):
    """One round of state writes and outbox sends, driven by the worker through :meth:`finish`."""

    def __init__(self, io: OutboxIO[A], table: Table, ids: RoundIds) -> None:
        self.io = io
        self.table = table
        self.ids = ids
        self.round_id: RoundId | None = None
        self.status = RoundStatus.OPEN
        #: partition number -> (its decoded states, the latest message that touched them)
        self.stores: dict[int, tuple[BatchStore, A]] = {}
        self.letters: list[Awaitable[object]] = []

    def _step(self, expected: RoundStatus, status: RoundStatus) -> None:
        if self.status is not expected:
            raise RuntimeError(f"outbox round is {self.status.name}, not {expected.name}: cannot go to {status.name}")
        self.status = status

    def store(self, partition: int, anchor: A) -> BatchStore:
        """The decoded states of ``partition``'s entities for this round (``anchor``: the message at hand)."""
        if self.status is not RoundStatus.OPEN:
            raise RuntimeError(f"outbox round is {self.status.name}: no more messages")
        entry = self.stores.get(partition)
        store = entry[0] if entry is not None else BatchStore(self.table, self.io.acked(partition))
        self.stores[partition] = (store, anchor)
        return store

    def send_now(self, msgs: Sequence[Outgoing]) -> None:
        """Send dead letters and re-keyed events now; the round's end waits for them with the outputs."""
        if msgs:
            self.letters += self.io.send_now(msgs)

    def abort(self) -> None:
        """Forget the round: its decoded states (redelivered messages decode them again) and its sends.

        Once the round has an id (its states may be written), later rounds start a new
        epoch: no marker of theirs covers this round's outboxes.
        """
        if self.round_id is not None and self.status is not RoundStatus.ABORTED:
            self.ids.renew()
        self.status = RoundStatus.ABORTED
        self.stores.clear()
        self.letters = []

    async def finish(self) -> RoundStatus:
        """Write, await, send, await, mark (see the module); returns where the round ended.

        Two producer round trips however many entities and partitions the round covers;
        the waits are on the records' own acknowledgements, dead letters included, so
        what the caller acks next is on the broker. A failure aborts the round and
        propagates (the messages stay unacked and are processed again).
        """
        self._step(RoundStatus.OPEN, RoundStatus.OPEN)  # finishes once, and not after an abort
        try:
            return await self._finish()
        except BaseException:
            self.abort()
            raise

    async def _finish(self) -> RoundStatus:
        io, stores = self.io, self.stores
        generation = io.generation()
        self.round_id = self.ids.next(generation)
        self.status = RoundStatus.STATES_WRITTEN
        for store, anchor in stores.values():
            store.round_id = self.round_id
            io.write(store, anchor)
        await io.written()
        self._step(RoundStatus.STATES_WRITTEN, RoundStatus.STATES_ACKED)
        with_outputs = {p: entry for p, entry in stores.items() if entry[0].unsent}
        if not with_outputs:
            await delivered(self.letters)
            self._step(RoundStatus.STATES_ACKED, RoundStatus.OUTPUTS_ACKED)
            self.status = RoundStatus.MARKED  # nothing to mark
            return self.status
        if io.generation() != generation:
            self.abort()
            return self.status
        sent = list(self.letters)
        sent += await io.send([m for store, _ in with_outputs.values() for m in store.take_outbox()])
        self._step(RoundStatus.STATES_ACKED, RoundStatus.OUTPUTS_SENT)
        await delivered(sent)
        self._step(RoundStatus.OUTPUTS_SENT, RoundStatus.OUTPUTS_ACKED)
        if io.generation() != generation:
            self.abort()
            return self.status
        await io.mark({p: (store.acked.with_round(self.round_id), anchor)
                       for p, (store, anchor) in with_outputs.items()})
        self._step(RoundStatus.OUTPUTS_ACKED, RoundStatus.MARKED)
        return self.status
