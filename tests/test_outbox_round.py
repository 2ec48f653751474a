"""The outbox round (streams.worker.outbox.OutboxRound), in-process, failing at every step.

A fake broker keeps what survives a crash: the acknowledged table records, the
acknowledged per-partition markers (``streams.worker.rounds``) and the acknowledged
outputs. A fake worker table sees its own writes at once. The round's I/O
(:class:`FakeIO`) fails, hangs (then the round is cancelled) or starts a rebalance
at each step in turn, and checks as it goes that

* no output is sent before the state whose outbox holds it is acknowledged,
* no outbox entry leaves a written state before its output is acknowledged, and
* no marker covers a stored outbox whose outputs are not all acknowledged.

After the failure a new worker (its tables recovered from the broker) gets the same
messages again; the outputs on the broker must then be exactly a clean run's, byte
for byte, with every stored outbox covered by its partition's marker.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from tierstream.schemas.rules import load_rules
from tierstream.schemas.settings import Settings
from tierstream.scorers.state import EntityState
from tierstream.streams.kafka.topics import partition_of
from tierstream.streams.worker.outbox import OutboxRound, RoundStatus
from tierstream.streams.worker.processor import BatchStore, Outgoing, Processor
from tierstream.streams.worker.rounds import AckedRounds, RoundIds

NOW = datetime(2026, 6, 1, tzinfo=UTC).timestamp()
PROC = Processor(Settings(topic_prefix="or.", app_id="or"), load_rules(), wall_clock=lambda: NOW)
NAMES = PROC.names
STEPS = ("write", "written", "send", "outputs_ack", "mark")


def order(n: int, customer: str) -> bytes:
    return json.dumps({"type": "order", "event_id": f"e{n}", "occurred_at": "2026-05-30T10:00:00Z",
                       "order_id": f"o{n}", "customer_id": customer, "amount": 900.0,
                       "cost": 900.0}).encode()  # no margin: c1's first order is potential, its second general


#: (partition, offset, key, value): two entities on two partitions, and one bad message
#: each entity's messages on its own partition, as producers keyed by entity put them
P1, P2 = partition_of(b"customer:c1", PROC.settings.partitions), partition_of(b"customer:c2", PROC.settings.partitions)
MESSAGES = [
    (P1, 0, b"customer:c1", order(1, "c1")),
    (P1, 1, b"customer:c1", b"{not json"),
    (P2, 0, b"customer:c2", order(2, "c2")),
    (P1, 2, b"customer:c1", order(3, "c1")),
]


class Crash(Exception):
    """The step failed (a broker error, the process dying)."""


@dataclass
class Broker:
    """What outlives a worker: acknowledged table records, markers and outputs."""

    table: dict[bytes, bytes] = field(default_factory=dict)
    marks: dict[int, bytes] = field(default_factory=dict)
    outputs: list[Outgoing] = field(default_factory=list)

    def stored(self) -> set[Outgoing]:
        """Every entry of every stored outbox, sent or not."""
        return {Outgoing(*m) for raw in self.table.values() for m in EntityState.from_bytes(raw).outbox}

    def outboxes(self) -> set[Outgoing]:
        """The stored outbox entries a new owner would send: those no marker covers."""
        return unsent(self.table, self.marks)


def unsent(table: dict[bytes, bytes], marks: dict[int, bytes]) -> set[Outgoing]:
    left = set()
    for key, raw in table.items():
        state = EntityState.from_bytes(raw)
        if not AckedRounds.from_bytes(marks.get(partition_of(key, PROC.settings.partitions))).covers(
                state.outbox_round):
            left |= {Outgoing(*m) for m in state.outbox}
    return left


class WorkerTable:
    """The worker's table: recovered from the broker, then its own writes (acknowledged or not)."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.local = dict(broker.table)
        self.pending: dict[bytes, bytes] = {}
        self.marks = dict(broker.marks)
        self.pending_marks: dict[int, bytes] = {}

    def get(self, key: bytes) -> bytes | None:
        return self.local.get(key)

    def __setitem__(self, key: bytes, value: bytes) -> None:
        before = {Outgoing(*m) for m in EntityState.from_bytes(self.local[key]).outbox} if key in self.local else set()
        after = {Outgoing(*m) for m in EntityState.from_bytes(value).outbox}
        for gone in before - after:
            assert gone in self.broker.outputs, f"outbox entry cleared before its output was acknowledged: {gone}"
        self.local[key] = self.pending[key] = value


class FakeIO:
    """The round's I/O; ``fail``/``hang``/``rebalance`` name the step where that happens."""

    def __init__(self, table: WorkerTable, fail: str | None = None, hang: str | None = None,
                 rebalance: str | None = None, ids: RoundIds | None = None) -> None:
        self.table, self.broker = table, table.broker
        self.ids = ids or RoundIds()
        self.fail, self.hang, self.rebalance = fail, hang, rebalance
        self.gen = 0
        self.writes = 0
        self.hanging = asyncio.Event()

    async def _at(self, step: str) -> None:
        if self.rebalance == step:
            self.gen += 1
        if self.fail == step:
            raise Crash(step)
        if self.hang == step:
            self.hanging.set()
            await asyncio.Event().wait()  # until cancelled

    def _at_now(self, step: str) -> None:
        if self.rebalance == step:
            self.gen += 1
        if self.fail == step:
            raise Crash(step)

    def acked(self, partition: int) -> AckedRounds:
        return AckedRounds.from_bytes(self.table.marks.get(partition))

    def write(self, store: BatchStore, anchor: int) -> None:
        self.writes += 1
        assert self.writes <= len(MESSAGE_PARTITIONS), "a store written twice in one round"
        self._at_now("write")
        store.flush()

    async def written(self) -> None:
        await self._at("written")
        self.broker.table.update(self.table.pending)
        self.table.pending.clear()
        self.broker.marks.update(self.table.pending_marks)  # the markers of the round before
        self.table.pending_marks.clear()

    async def send(self, msgs: Sequence[Outgoing]) -> list[Awaitable[object]]:
        stored = self.broker.stored()
        for m in msgs:
            assert m in stored, f"output sent before the state holding it was acknowledged: {m}"
        self._at_now("send")
        return self.send_now(msgs)

    def send_now(self, msgs: Sequence[Outgoing]) -> list[Awaitable[object]]:
        return [asyncio.ensure_future(self._ack(m)) for m in msgs]  # the producer sends, awaited or not

    async def mark(self, marks: Mapping[int, tuple[AckedRounds, int]]) -> None:
        await self._at("mark")
        for partition, (acked, anchor) in marks.items():
            assert anchor == partition
            n = PROC.settings.partitions
            local = {k: v for k, v in self.table.local.items() if partition_of(k, n) == partition}
            for m in (unsent(local, self.table.marks) - unsent(local, {partition: acked.to_bytes()})):
                assert m in self.broker.outputs, f"marker covers an outbox entry not acknowledged: {m}"
            self.table.marks[partition] = self.table.pending_marks[partition] = acked.to_bytes()

    async def _ack(self, msg: Outgoing) -> object:
        if msg.topic != NAMES.dead_letters:
            await self._at("outputs_ack")
        self.broker.outputs.append(msg)
        return None

    def generation(self) -> int:
        return self.gen


MESSAGE_PARTITIONS = {p for p, _, _, _ in MESSAGES}


def fill(rnd: OutboxRound[int]) -> None:
    """The batch path's callback over every message: states in the round, dead letters sent."""
    for partition, offset, key, value in MESSAGES:
        topic = NAMES.inbound("order")
        rnd.send_now(PROC.process(rnd.store(partition, partition), topic, partition, offset, key, value))


async def run_round(io: FakeIO) -> OutboxRound[int]:
    rnd: OutboxRound[int] = OutboxRound(io, io.table, io.ids)
    fill(rnd)
    await rnd.finish()
    return rnd


@functools.cache
def clean_run() -> Broker:
    """The messages through one round that nothing disturbs."""
    broker = Broker()
    io = FakeIO(WorkerTable(broker))
    rnd = asyncio.run(run_round(io))
    assert rnd.status is RoundStatus.MARKED
    asyncio.run(io.written())  # the markers, acknowledged before the offsets are committed
    return broker


def outputs_of(broker: Broker) -> set[Outgoing]:
    return {m for m in broker.outputs if m.topic != NAMES.dead_letters}



def redeliver(broker: Broker) -> OutboxRound[int]:
    """A new worker (table recovered from ``broker``) gets the round's messages again and completes."""
    io = FakeIO(WorkerTable(broker))

    async def go() -> OutboxRound[int]:
        rnd = await run_round(io)
        await io.written()  # the markers, acknowledged before the offsets are committed
        return rnd

    return asyncio.run(go())


def assert_recovered(broker: Broker) -> None:
    rnd = redeliver(broker)
    assert rnd.status is RoundStatus.MARKED
    assert outputs_of(broker) == outputs_of(clean_run())  # none lost, none with other bytes
    assert broker.outboxes() == set()
    for key, raw in broker.table.items():
        assert EntityState.from_bytes(raw).seq == EntityState.from_bytes(clean_run().table[key]).seq


def test_a_clean_round_goes_through_every_status_and_marks_its_outputs_sent() -> None:
    assert len(outputs_of(clean_run())) == 6  # c1 changes twice, c2 once: a tier change and a current tier each
    assert clean_run().stored() == outputs_of(clean_run())  # written once: the states keep their outboxes ...
    assert clean_run().outboxes() == set()  # ... which their partitions' markers cover
    assert set(clean_run().marks) == MESSAGE_PARTITIONS
    assert [m.topic for m in clean_run().outputs].count(NAMES.dead_letters) == 1


@pytest.mark.parametrize("step", STEPS)
def test_a_failure_at_each_step_aborts_the_round_and_the_redelivery_completes_it(step: str) -> None:
    broker = Broker()
    io = FakeIO(WorkerTable(broker), fail=step)

    async def go() -> OutboxRound[int]:
        rnd: OutboxRound[int] = OutboxRound(io, io.table, io.ids)
        fill(rnd)
        with pytest.raises(Crash):
            await rnd.finish()
        return rnd

    rnd = asyncio.run(go())
    assert rnd.status is RoundStatus.ABORTED and rnd.stores == {}  # its decoded states dropped
    assert broker.outboxes() <= outputs_of(clean_run())
    if step in ("write", "written"):
        assert outputs_of(broker) == set()  # nothing left before the states were acknowledged
    else:  # what is not on the broker waits in a stored outbox
        assert outputs_of(clean_run()) <= broker.outboxes() | outputs_of(broker)
    assert_recovered(broker)


@pytest.mark.parametrize("step", ["written", "outputs_ack"])
def test_a_round_cancelled_while_it_waits_is_aborted_and_redelivery_completes_it(step: str) -> None:
    broker = Broker()
    io = FakeIO(WorkerTable(broker), hang=step)

    async def go() -> OutboxRound[int]:
        rnd: OutboxRound[int] = OutboxRound(io, io.table, io.ids)
        fill(rnd)
        task = asyncio.ensure_future(rnd.finish())
        await io.hanging.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return rnd

    rnd = asyncio.run(go())
    assert rnd.status is RoundStatus.ABORTED and rnd.stores == {}
    assert_recovered(broker)


@pytest.mark.parametrize("step", STEPS)
def test_a_rebalance_at_each_step_leaves_the_outboxes_to_the_new_owner(step: str) -> None:
    broker = Broker()
    io = FakeIO(WorkerTable(broker), rebalance=step)
    rnd = asyncio.run(run_round(io))
    if step == "mark":  # the round had nothing left to decide: it completed
        assert rnd.status is RoundStatus.MARKED
    else:
        assert rnd.status is RoundStatus.ABORTED and rnd.stores == {}
        left = broker.outboxes()
        assert left and left <= outputs_of(clean_run())  # every output still in a stored outbox
        if step in ("write", "written"):
            assert outputs_of(broker) == set()
        else:  # sent and acknowledged, no marker says so: the new owner sends them again
            assert outputs_of(broker) == left
    asyncio.run(io.written())
    assert_recovered(broker)


def test_a_left_over_outbox_is_resent_byte_for_byte_on_redelivery() -> None:
    broker = Broker()
    with pytest.raises(Crash):
        asyncio.run(run_round(FakeIO(WorkerTable(broker), fail="send")))
    left = broker.outboxes()
    assert len(left) == 6 and outputs_of(broker) == set()
    redeliver(broker)
    resent = [m for m in broker.outputs if m.topic != NAMES.dead_letters]
    assert len(resent) == len(left) and set(resent) == left  # each once, with the stored bytes
    assert set(broker.outputs) == set(clean_run().outputs)  # the same bytes as a clean run


def test_an_aborted_open_round_drops_its_states_and_takes_no_more_messages() -> None:
    broker = Broker()
    io = FakeIO(WorkerTable(broker))
    rnd: OutboxRound[int] = OutboxRound(io, io.table, io.ids)

    async def go() -> None:
        fill(rnd)
        assert rnd.stores
        rnd.abort()

    asyncio.run(go())
    assert rnd.status is RoundStatus.ABORTED and rnd.stores == {} and rnd.letters == []
    assert io.table.local == {} and broker.table == {}  # nothing of it was written
    with pytest.raises(RuntimeError, match="ABORTED"):
        rnd.store(0, 0)
    with pytest.raises(RuntimeError, match="ABORTED"):
        asyncio.run(rnd.finish())


def test_a_round_finishes_once() -> None:
    io = FakeIO(WorkerTable(Broker()))
    rnd = asyncio.run(run_round(io))
    assert rnd.status is RoundStatus.MARKED
    with pytest.raises(RuntimeError, match="MARKED"):
        asyncio.run(rnd.finish())


def copy_of(broker: Broker) -> Broker:
    return Broker(dict(broker.table), dict(broker.marks), list(broker.outputs))


def test_a_state_loaded_with_an_outbox_of_a_marked_round_sends_nothing_and_drops_it() -> None:
    broker = copy_of(clean_run())
    before = len(broker.outputs)
    rnd = redeliver(broker)  # the same messages again: duplicates for the states
    assert rnd.status is RoundStatus.MARKED
    assert [m.topic for m in broker.outputs[before:]] == [NAMES.dead_letters]  # the bad message, nothing else
    assert broker.stored() == set()  # the states were written again, without the sent outboxes


def test_outputs_acknowledged_but_not_marked_are_sent_again_with_the_same_bytes() -> None:
    broker = Broker()
    with pytest.raises(Crash):
        asyncio.run(run_round(FakeIO(WorkerTable(broker), fail="mark")))
    first = sorted(outputs_of(broker), key=repr)
    assert set(first) == outputs_of(clean_run()) and broker.outboxes() == set(first)
    before = len(broker.outputs)
    redeliver(broker)
    again = sorted((m for m in broker.outputs[before:] if m.topic != NAMES.dead_letters), key=repr)
    assert again == first  # at least once: each again, byte for byte
    assert broker.outboxes() == set()


def key_on(partition: int, taken: set[bytes]) -> bytes:
    """A customer key whose entity lives on ``partition`` (not one of ``taken``)."""
    return next(k for n in range(1000) if (k := f"customer:x{n}".encode()) not in taken
                and partition_of(k, PROC.settings.partitions) == partition)


def test_a_later_round_of_the_same_worker_does_not_vouch_for_an_aborted_one() -> None:
    broker, ids = Broker(), RoundIds()
    with pytest.raises(Crash):  # states written, outputs never sent
        asyncio.run(run_round(FakeIO(WorkerTable(broker), fail="send", ids=ids)))
    left = broker.outboxes()
    assert len(left) == 6
    other = key_on(P1, {b"customer:c1"})
    io = FakeIO(WorkerTable(broker), ids=ids)  # the same worker's next round: another customer of P1

    async def go() -> OutboxRound[int]:
        rnd: OutboxRound[int] = OutboxRound(io, io.table, ids)
        raw = order(9, other.decode().split(":", 1)[1])
        rnd.send_now(PROC.process(rnd.store(P1, P1), NAMES.inbound("order"), P1, 7, other, raw))
        await rnd.finish()
        await io.written()
        return rnd

    assert asyncio.run(go()).status is RoundStatus.MARKED
    assert P1 in broker.marks and outputs_of(broker)  # P1's marker now covers that round ...
    assert left <= broker.outboxes()  # ... and not the aborted one: its outboxes still go on redelivery
    redeliver(broker)
    assert outputs_of(clean_run()) <= outputs_of(broker) and broker.outboxes() == set()
