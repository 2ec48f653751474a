"""Table recovery on the batch consumer: a fetch of changelog records applied at once, true high watermarks.

Why: Faust's recovery loop (``Recovery._slurp_changelogs``) takes changelog
records one per iteration from a queue the conductor fills one per await, with a
``wait_for``, an await and two debug f-strings each: about 81 us per record, so a
worker restarted over a 1,000,000-entity changelog took 81 s to become ready
(benchmarks/README.md, "Recovery").

What: :class:`RecoveringConsumer` (the base of ``streams.worker.batch.BatchConsumer``)
takes, in ``restore``, each fetched batch of a changelog partition that Faust's
``Recovery`` follows (active or standby) for a table that allows it
(``restore_in_bulk``, see :class:`streams.worker.tables.EntityTable`):

1. the records past the offset ``Recovery`` has seen for the partition are decoded
   with the changelog topic's schema, as the stock path decodes them, and applied
   with one ``table.apply_changelog_batch`` call (last write of a key wins, a
   tombstone deletes it); that offset -- the very ``active_offsets`` /
   ``standby_offsets`` entry Faust's loop reads and compares with the high
   watermark -- becomes the last one's;
2. the fetch's last record is handed on to the stock path: Faust's loop receives
   it, finds it already applied (its offset is not past the one seen) and runs its
   own checks as after any record -- "recovery complete" once every active
   partition reached its high watermark, standbys ready -- so Faust still decides
   when recovery ends, resumes the streams and sets ``Recovery.completed`` (the
   worker's readiness);
3. records the stock path would not deliver (flow stopped for a rebalance, the
   partition paused or revoked, a newer consumer generation) are dropped: recovery
   seeks the changelog partitions to the offsets it has seen before it reads again.

No fresh changelog record of those partitions goes through Faust's queue, so none
can be applied after a newer one of the same key. Everything else of recovery --
rebalancing, standbys, offsets, highwaters, "recovery complete", the in-memory
store dropping revoked partitions -- is Faust's ``Recovery`` service, unchanged.

Also here: the high watermarks Faust's recovery reads up to (Tansu 0.6's
ListOffsets LATEST falls short, see :meth:`RecoveringConsumer.highwaters`), and a
table manager that starts recovery without a fixed one-second pause. This module
and :mod:`streams.worker.batch` are the only ones allowed Faust's private names;
``streams.worker.batch.FAUST_PRIVATE_NAMES`` lists those of both.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, cast

import faust
from faust.exceptions import KeyDecodeError, ValueDecodeError
from faust.tables import TableManager
from faust.tables.recovery import Recovery
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP, AppT, EventT, Message
from faust.types.serializers import SchemaT

from tierstream.streams.worker.highwaters import fetched_highwaters

__all__ = ["PromptTableManager", "RecoveringConsumer", "apply_changelog", "changelog_decoder", "restoring_table"]

log = logging.getLogger("tierstream.recovery")


def restoring_table(recovery: Recovery, tp: TP) -> faust.Table[Any, Any] | None:
    """The table whose changelog partition ``tp`` recovery follows, if it may be restored in bulk."""
    if tp not in recovery.active_tps and tp not in recovery.standby_tps:
        return None
    table = recovery.tp_to_table.get(tp)
    if table is None or not getattr(table, "restore_in_bulk", False):
        return None
    return cast("faust.Table[Any, Any]", table)


def changelog_decoder(app: AppT, schema: SchemaT[Any, Any]) -> Callable[[Message], tuple[Any, Any]]:
    """Decode a changelog record's key and value as the stock path does (raw bytes: as they are)."""
    if (schema.key_type is bytes and schema.value_type is bytes
            and schema.key_serializer == "raw" and schema.value_serializer == "raw"):
        return lambda message: (message.key, message.value)  # what Faust's raw codec gives, without its cost
    loads_key, loads_value = app.serializers.loads_key, app.serializers.loads_value

    def decode(message: Message) -> tuple[Any, Any]:
        value = None if message.value is None else schema.loads_value(app, message, loads=loads_value)
        return schema.loads_key(app, message, loads=loads_key), value

    return decode


def apply_changelog(app: AppT, recovery: Recovery, table: faust.Table[Any, Any], tp: TP,
                    messages: Sequence[Message]) -> int:
    """Apply the records of ``messages`` past the offset recovery has seen, at once; how many.

    Moves that offset (the one Faust's recovery compares with the high watermark) to
    the last message's. A record that cannot be decoded is skipped with a warning, as
    the stock path does.
    """
    offsets = recovery.active_offsets if tp in recovery.active_tps else recovery.standby_offsets
    seen = offsets.get(tp)
    decode = changelog_decoder(app, table.changelog_topic.schema)
    event = cast(Callable[..., EventT[Any]], app.conf.Event)  # app.create_event, looked up once
    events: list[EventT[Any]] = []
    for message in messages:
        if seen is not None and message.offset <= seen:
            continue
        try:
            key, value = decode(message)
        except (KeyDecodeError, ValueDecodeError) as exc:
            log.warning("Error in recovery: %s offset %d cannot be decoded: %r", tp, message.offset, exc)
            continue
        events.append(event(app, key, value, message.headers, message))
    if events:
        table.apply_changelog_batch(events)
    if messages and (seen is None or messages[-1].offset > seen):
        offsets[tp] = messages[-1].offset
    return len(events)


class RecoveringConsumer(aiokafka_driver.Consumer):
    """Faust's aiokafka consumer that restores changelog fetches in bulk and reads true high watermarks."""

    #: client-only consumer used to read true high watermarks (see :meth:`highwaters`)
    highwater_probe_timeout: ClassVar[float] = 10.0
    #: changelog records applied by :meth:`restore` so far
    restored: int = 0

    def _may_process(self, tp: TP, generation_id: int) -> bool:
        # The conditions under which the stock ``getmany`` yields a record: flow active
        # (no rebalance in progress), the partition neither paused nor revoked, and no
        # new consumer generation since we started on these records. What we drop here
        # is fetched again: a rebalance or a recovery seeks the partition back to its
        # committed offset (changelogs: to the offset recovery has seen) before resuming it.
        return bool(self.flow_active and not self.should_stop
                    and generation_id == self.app.consumer_generation_id
                    and (tp in self._active_partitions or tp in self._buffered_partitions))

    def restore(self, tp: TP, records: Sequence[Any], generation_id: int) -> Sequence[Any]:
        """Apply one fetch of a changelog partition under recovery at once; the records left to the stock path.

        All of ``records`` for any other partition; none if Faust would not deliver
        them now; else only the last, already applied, for Faust's recovery loop.
        """
        tables = cast(TableManager, self.app.tables)
        if not records or tp.topic not in tables.changelog_topics:
            return records
        recovery = tables.recovery
        table = restoring_table(recovery, tp)
        if table is None:
            return records
        if not self._may_process(tp, generation_id):
            return []
        to_message = self._to_message
        self.restored += apply_changelog(self.app, recovery, table, tp, [to_message(tp, r) for r in records])
        read_offset = self._read_offset[tp]
        if read_offset is None or records[-1].offset > read_offset:
            self._read_offset[tp] = records[-1].offset
        return records[-1:]

    # --- Tansu: ListOffsets LATEST is the base offset of the newest batch + 1 -------------

    async def highwaters(self, *partitions: TP) -> Mapping[TP, int]:
        """High watermarks, read from a fetch response rather than trusted from ListOffsets.

        Faust's table recovery reads each changelog partition up to this value.
        Tansu 0.6 returns "base offset of the newest record batch + 1" for
        ListOffsets LATEST (batches [0..4] [5] [6..9] give 7, not 10), so a
        changelog written with multi-record batches looked shorter than it is:
        actives stopped recovering early and standbys failed with
        ``ConsistencyError``. A fetch response carries the true high
        watermark, so every partition whose listed end is past its start is
        fetched once from ``listed - 1`` (the newest batch) by a short-lived
        group-less consumer. On Kafka the listed value is already right and
        the fetch only confirms it (the larger of the two is used).
        """
        listed: dict[TP, int] = dict(await super().highwaters(*partitions))
        if self.in_transaction:  # Faust reads last stable offsets then, not high watermarks
            return listed
        probe = {tp: end for tp, end in listed.items() if end is not None and end > 0}
        if not probe:
            return listed
        try:
            fetched = await self._fetch_highwaters(probe)
        except Exception as exc:  # the listed values are still a lower bound
            log.warning("could not read high watermarks from a fetch (%r); using ListOffsets", exc)
            return listed
        for tp, hw in fetched.items():
            if hw is not None and hw > listed[tp]:
                log.info("high watermark of %s is %d (ListOffsets said %d)", tp, hw, listed[tp])
                listed[tp] = hw
        return listed

    async def _fetch_highwaters(self, ends: Mapping[TP, int]) -> dict[TP, int | None]:
        consumer = self._thread._create_client_consumer(cast(aiokafka_driver.Transport, self.transport))
        return await fetched_highwaters(consumer, ends, self.highwater_probe_timeout)


class PromptTableManager(TableManager):
    """Faust's table manager without the fixed one-second pause before it starts the tables.

    ``TableManager.on_start`` sleeps a second so that tables declared late can still
    register; tierstream declares its one table when it builds the app, so the pause
    only delays every worker's readiness (and each restart's recovery) by a second.
    """

    async def on_start(self) -> None:
        """Start the tables' changelog channels and recovery at once."""
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()
