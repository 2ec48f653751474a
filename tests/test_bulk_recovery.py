"""Bulk changelog restore (:mod:`streams.worker.recovery`): a fetch of changelog records applied at once.

In-process (no broker): the batch consumer applies a changelog partition's fetch to
its table through Faust's own ``Recovery`` bookkeeping, leaves the last record to
Faust's recovery loop, and leaves everything else alone.

End to end (embedded broker): a worker started over an existing changelog -- keys
written several times, tombstones, several fetches per partition -- holds exactly
the changelog's content, and every record went through the bulk restore.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple, cast

import faust
import pytest
from aiokafka import AIOKafkaProducer
from faust.tables import TableManager
from faust.tables.recovery import Recovery
from faust.types import TP

from tests.records import Rec
from tests.streaming import Stream, free_port
from tierstream.scorers.state import EntityState
from tierstream.streams.client import read_states
from tierstream.streams.kafka.read import decode_table_key
from tierstream.streams.kafka.topics import partition_of, topic_names
from tierstream.streams.worker.batch import BatchConsumer, install_batch_path
from tierstream.streams.worker.batching import BatchHandler
from tierstream.streams.worker.recovery import changelog_decoder
from tierstream.streams.worker.tables import EntityTable

# --------------------------------------------------------------------------- in-process

CHANGELOG = "unit-restore-entities-changelog"




def rec(partition: int, offset: int, key: bytes, value: bytes | None, topic: str = CHANGELOG) -> Rec:
    return Rec(topic, partition, offset, 1_000, 0, [], key, value, None, len(key), len(value or b""))


class Unit(NamedTuple):
    app: faust.App
    consumer: BatchConsumer
    table: EntityTable
    fetched: dict[TP, list[Rec]]


def unit(active: Sequence[TP] = (), standby: Sequence[TP] = ()) -> Unit:
    """An app with the worker's kind of table, whose recovery follows ``active`` / ``standby`` (never started)."""
    app = faust.App("unit-restore", broker="kafka://127.0.0.1:1", web_enabled=False, Table=EntityTable)

    async def finish() -> None:
        return None

    install_batch_path(app, BatchHandler(topics=frozenset({"events"}), callback=lambda tp, ms: None,
                                         finish=finish))
    table = app.Table("entities", default=None, partitions=2, key_type=bytes, value_type=bytes,
                      schema=faust.Schema(key_type=bytes, value_type=bytes, key_serializer="raw",
                                          value_serializer="raw"))
    assert isinstance(table, EntityTable) and table.changelog_topic.get_topic_name() == CHANGELOG
    recovery = cast(TableManager, app.tables).recovery
    for tp in active:
        recovery.add_active(table, tp)
        recovery.active_offsets[tp] = -1  # what Recovery._build_offsets sets for an empty store
    for tp in standby:
        recovery.add_standby(table, tp)
        recovery.standby_offsets[tp] = -1
    consumer = app.consumer
    assert isinstance(consumer, BatchConsumer)
    fetched: dict[TP, list[Rec]] = {}

    async def getmany(active: Any, timeout: float) -> dict[TP, list[Rec]]:
        return dict(fetched)

    setattr(consumer._thread, "getmany", getmany)  # noqa: B010 - replace the fetch from the broker
    consumer._active_partitions = {*active, *standby, TP("events", 0)}
    return Unit(app, consumer, table, fetched)


def recovery_of(u: Unit) -> Recovery:
    return cast(TableManager, u.app.tables).recovery


def fetch(u: Unit, records: dict[TP, list[Rec]]) -> dict[TP, list[Any]]:
    """One ``getmany`` returning ``records``; what the batch consumer left to the stock path."""
    u.fetched.clear()
    u.fetched.update(records)
    return dict(asyncio.run(u.consumer._getmany(set(records), 1.0)))


C0, C1 = TP(CHANGELOG, 0), TP(CHANGELOG, 1)


def test_a_fetch_is_applied_at_once_last_write_wins_and_tombstones_delete() -> None:
    u = unit(active=[C0, C1])
    recovery = recovery_of(u)
    first = [rec(0, 0, b"a", b"a1"), rec(0, 1, b"b", b"b1"), rec(0, 2, b"a", b"a2"), rec(0, 3, b"c", b"c1"),
             rec(0, 4, b"b", None)]
    rest = fetch(u, {C0: first, C1: [rec(1, 0, b"x", b"x1")]})

    assert dict(u.table.items()) == {b"a": b"a2", b"c": b"c1", b"x": b"x1"}
    assert recovery.active_offsets[C0] == 4 and recovery.active_offsets[C1] == 0
    # only the last record of each partition goes on to Faust's loop (already applied there)
    assert {tp: [r.offset for r in rs] for tp, rs in rest.items()} == {C0: [4], C1: [0]}
    assert u.consumer._read_offset[C0] == 4

    # the next fetch: a key of the first written again, a tombstone of one never seen, a deleted key back
    rest = fetch(u, {C0: [rec(0, 5, b"c", b"c2"), rec(0, 6, b"z", None), rec(0, 7, b"b", b"b2")]})
    assert dict(u.table.items()) == {b"a": b"a2", b"b": b"b2", b"c": b"c2", b"x": b"x1"}
    assert recovery.active_offsets[C0] == 7 and [r.offset for r in rest[C0]] == [7]


def test_records_already_seen_are_not_applied_again() -> None:
    u = unit(active=[C0])
    recovery_of(u).active_offsets[C0] = 1  # offsets 0 and 1 already in the table
    u.table.data[b"a"] = b"a-newer"  # what offsets 0..1 left in the store (a key written again later)

    fetch(u, {C0: [rec(0, 0, b"a", b"a-old"), rec(0, 1, b"b", b"b-old"), rec(0, 2, b"c", b"c1")]})

    assert dict(u.table.items()) == {b"a": b"a-newer", b"c": b"c1"}
    assert recovery_of(u).active_offsets[C0] == 2


def test_standby_partitions_are_restored_into_the_standby_offsets() -> None:
    u = unit(standby=[C1])
    fetch(u, {C1: [rec(1, 10, b"s", b"s1"), rec(1, 11, b"s", b"s2")]})

    assert dict(u.table.items()) == {b"s": b"s2"}
    assert recovery_of(u).standby_offsets[C1] == 11


def test_nothing_is_applied_while_faust_would_not_deliver() -> None:
    u = unit(active=[C0])
    u.consumer.stop_flow()  # a rebalance started: recovery seeks the changelog back before reading again

    rest = fetch(u, {C0: [rec(0, 0, b"a", b"a1")]})

    assert rest == {} and dict(u.table.items()) == {}
    assert recovery_of(u).active_offsets[C0] == -1


def test_other_records_are_left_to_the_stock_path() -> None:
    u = unit(active=[C0])  # C1: a changelog partition recovery does not follow
    events = [rec(0, 0, b"e", b"{}", topic="events-other")]
    others = {C1: [rec(1, 0, b"a", b"a1"), rec(1, 1, b"b", b"b1")], TP("events-other", 0): events}
    u.consumer._active_partitions |= set(others)

    rest = fetch(u, others)

    assert rest == others and dict(u.table.items()) == {}


def test_a_table_that_does_not_allow_it_is_left_to_faust() -> None:
    u = unit(active=[C0])
    u.table.restore_in_bulk = False  # type: ignore[misc]  # e.g. a table with an on_changelog_event callback

    records = [rec(0, 0, b"a", b"a1")]
    assert fetch(u, {C0: records}) == {C0: records}
    assert dict(u.table.items()) == {}


def test_records_are_decoded_as_the_stock_path_decodes_them() -> None:
    u = unit()
    to_message = u.consumer._to_message
    raw = changelog_decoder(u.app, u.table.changelog_topic.schema)
    assert raw(to_message(C0, rec(0, 0, b"k", b"v"))) == (b"k", b"v")
    assert raw(to_message(C0, rec(0, 1, b"k", None))) == (b"k", None)
    as_json = changelog_decoder(u.app, faust.Schema(key_type=str, value_type=None, key_serializer="json",
                                                     value_serializer="json"))
    assert as_json(to_message(C0, rec(0, 2, b'"k"', b'{"n": 1}'))) == ("k", {"n": 1})
    assert as_json(to_message(C0, rec(0, 3, b'"k"', None))) == ("k", None)


# --------------------------------------------------------------------------- end to end


def state(entity: str, seq: int) -> bytes:
    return EntityState(kind="customer", entity_id=entity, seq=seq).to_bytes()


async def _write_changelog(bootstrap: str, topic: str, partitions: int,
                           records: list[tuple[bytes, bytes | None]]) -> None:
    """Write ``records`` in order, each on its key's partition, in multi-record batches."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    await producer.start()
    try:
        futures = [await producer.send(topic, key=k, value=v, partition=partition_of(k, partitions))
                   for k, v in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


@pytest.mark.integration
def test_a_restarted_worker_holds_the_changelog_content(stream: Stream, tmp_path: Path) -> None:
    from tierstream.streams.worker.app import Pipeline

    key = "customer:c{:04d}".format
    pass1: list[tuple[bytes, bytes | None]] = []
    pass2: list[tuple[bytes, bytes | None]] = []
    for i in range(1200):  # first written (seq 1) then: rewritten, deleted, or left
        pass1.append((key(i).encode(), state(f"c{i:04d}", 1)))
    for i in range(1200, 1300):  # deleted before ever being written, then written (seq 5)
        pass1.append((key(i).encode(), None))
    for i in range(0, 1000):
        pass2.append((key(i).encode(), state(f"c{i:04d}", 2)))
    for i in range(1000, 1100):
        pass2.append((key(i).encode(), None))
    for i in range(1200, 1300):
        pass2.append((key(i).encode(), state(f"c{i:04d}", 5)))
    hot = [(b"customer:hot", state("hot", n)) for n in range(1, 3001)]  # one key, 3000 times: past one fetch
    settings = stream.settings
    topic = topic_names(settings).entities_changelog
    asyncio.run(_write_changelog(stream.bootstrap, topic, stream.partitions, [*pass1, *hot, *pass2]))

    expected = {key(i): state(f"c{i:04d}", 2) for i in range(1000)}  # rewritten: the second write
    expected |= {key(i): state(f"c{i:04d}", 1) for i in range(1100, 1200)}  # written once
    expected |= {key(i): state(f"c{i:04d}", 5) for i in range(1200, 1300)}  # tombstone, then written
    expected["customer:hot"] = state("hot", 3000)  # keys 1000..1099: deleted
    assert read_states(settings) == expected  # the changelog as the project's reader sees it

    worker_settings = settings.model_copy(update={"web_port": free_port(), "data_dir": tmp_path / "data"})
    pipeline = Pipeline(worker_settings)

    async def run() -> dict[str, bytes]:
        app = pipeline.app
        await app.start()
        try:
            deadline = asyncio.get_running_loop().time() + 60
            while not pipeline.ready():
                assert asyncio.get_running_loop().time() < deadline, "the worker did not become ready in 60 s"
                await asyncio.sleep(0.05)  # polling interval
            return {decode_table_key(k): v for k, v in pipeline.entities.items()}
        finally:
            await app.stop()

    table = asyncio.run(run())
    assert table == expected
    consumer = pipeline.app.consumer
    assert isinstance(consumer, BatchConsumer)
    assert consumer.restored == len(pass1) + len(hot) + len(pass2)  # every record through the bulk restore
