"""The Faust app: topics, the ``entities`` table, the agents, the timer, the web views.

Thin wiring around :class:`streams.worker.processor.Processor`:

* ``grade``: one agent over every inbound topic plus the internal
  ``referral-credits`` and ``reviews`` topics. All are keyed by entity and
  have the same partition count, so an entity's messages and its table row
  live on one partition.
* ``entities``: a changelog-backed table, ``bytes -> EntityState.to_bytes()``.
  ``use_partitioner=True`` makes the changelog partition the key's hash
  partition (murmur2, as Kafka clients partition the inbound topics), which
  lets the batch path write rows without a "current event".
* ``store_tiers``: follows ``tier-changes`` into Redis; when Redis is down it
  retries without committing, so the store catches up when Redis is back.
* ``store_audit``: follows ``audit`` (every manual assessment received, with its
  status) into each entity's Redis audit trail, the same way.
* ``publish_notices``: follows ``tier-notices`` onto Redis pub/sub, retrying the same way
  (``publish_alerts`` likewise ``supplier-alerts``, for the dashboard's live feed);
  ``store_cases`` follows ``supplier-cases`` into each supplier's case hash.
* a timer sends review ticks for entities whose tier can change with time
  alone (the processor's heap), through the ``reviews`` topic, so the review
  runs on the partition that owns the entity.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any, cast

import faust
from faust.types import TP, FutureMessage, Message

from tierstream.schemas.mapping import Sources
from tierstream.schemas.outputs import AuditEntry, SupplierAlert, SupplierCase, TierChange, TierNotice
from tierstream.schemas.rules import Rules, load_rules
from tierstream.schemas.settings import Settings
from tierstream.schemas.sources import load_sources
from tierstream.scorers.layout import NEVER
from tierstream.scorers.review import ReviewRow, review_rows
from tierstream.scorers.state import EntityState
from tierstream.streams.engine import active_engine
from tierstream.streams.kafka.config import faust_broker_kwargs
from tierstream.streams.kafka.topics import partition_of
from tierstream.streams.store.redis import AsyncTierStore, StoreUnavailable
from tierstream.streams.worker.batch import (
    BATCH_PRODUCER_SETTINGS,
    BatchHandler,
    aiokafka_producer,
    committed_offsets,
    install_batch_path,
)
from tierstream.streams.worker.control import register_control
from tierstream.streams.worker.dashboard import register_dashboard
from tierstream.streams.worker.isolation import RoundGrader
from tierstream.streams.worker.metrics import ServiceMetrics, install_faust_sensor
from tierstream.streams.worker.outbox import OutboxRound
from tierstream.streams.worker.processor import BatchStore, Outgoing, Processor
from tierstream.streams.worker.profiles import broker_profile, faust_settings, fetch_max_wait_ms
from tierstream.streams.worker.recovery import PromptTableManager
from tierstream.streams.worker.roundio import FaustOutboxIO
from tierstream.streams.worker.rounds import RoundIds
from tierstream.streams.worker.tables import EntityTable
from tierstream.streams.worker.web import register_web

__all__ = ["Pipeline", "create_app"]

log = logging.getLogger("tierstream")



class Pipeline:
    """Builds the Faust app for the given settings and rules."""

    def __init__(self, settings: Settings | None = None, rules: Rules | None = None, batch: bool = True) -> None:
        self.settings = settings or Settings()
        self.rules = rules or load_rules(self.settings.rules)
        self.metrics = ServiceMetrics()
        sources = self.settings.sources
        self.sources = None if sources is None else Sources(load_sources(sources), self.rules.timezone)
        self.processor = Processor(self.settings, self.rules, metrics=self.metrics, sources=self.sources,
                                   partitions_of=self._topic_partitions, owned_partitions=self._owned_partitions,
                                   keys_of=self._keys_of)
        self.names = self.processor.names
        self.batch = batch
        self._round: RoundGrader | None = None  # the batch path's fetch in progress
        s = self.settings
        self.app = faust.App(
            s.app_id,
            **faust_broker_kwargs(s),
            store=s.store,
            datadir=str(s.data_dir),
            topic_partitions=s.partitions,
            topic_replication_factor=s.replication_factor,
            web_port=s.web_port,
            web_host=s.web_host,
            web_enabled=True,
            Table=EntityTable,
            TableManager=PromptTableManager,
            consumer_auto_offset_reset="earliest",
            producer_acks=-1,
            **{**faust_settings(broker_profile(s)), **(BATCH_PRODUCER_SETTINGS if batch else {})},
        )
        install_faust_sensor(self.app, self.metrics)
        self.app.on_partitions_revoked.connect(cast(Any, self._forget_revoked))  # mode types receivers loosely
        grade_topics = (*self.processor.event_topics, self.names.referral_credits, self.names.reviews)
        if batch:
            # Before anything creates the app's transport: the grade topics take the batch path.
            install_batch_path(self.app, BatchHandler(
                topics=frozenset(grade_topics), callback=self.grade_batch, finish=self.finish_batch,
                abort=self.abort_batch,
                max_batch=s.batch_size, fetch_max_wait_ms=fetch_max_wait_ms(broker_profile(s)),
            ))
        raw: dict[str, Any] = {
            "key_serializer": "raw", "value_serializer": "raw", "key_type": bytes, "value_type": bytes,
        }
        self.inbound = self.app.topic(*grade_topics, partitions=s.partitions, **raw)
        self.out: dict[str, faust.TopicT] = {}
        for name in (self.names.tier_changes, self.names.supplier_alerts, self.names.tier_notices,
                     self.names.supplier_cases, self.names.dead_letters,
                     self.names.referral_credits, self.names.reviews, self.names.repartition, self.names.audit):
            self.out[name] = self.app.topic(name, partitions=s.partitions, **raw)
        self.out[self.names.tiers] = self.app.topic(
            self.names.tiers, partitions=s.partitions, compacting=True, **raw
        )
        # key_type/value_type, not only the schema: Faust derives the table's (and so the
        # changelog topic's) serializers from them, defaulting to JSON -- which also rewrote
        # the shared schema to JSON, so recovery could not decode the changelog and a
        # restarted worker never became ready ("Error in recovery unexpected character").
        self.entities = cast(EntityTable, self.app.Table(
            "entities", default=None, partitions=s.partitions, use_partitioner=True,
            key_type=bytes, value_type=bytes,
            schema=faust.Schema(key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"),
        ))
        #: per partition, the rounds whose outputs are on the broker (streams.worker.rounds)
        self.outbox_acks = cast(EntityTable, self.app.Table(
            "outbox-acks", default=None, partitions=s.partitions, key_type=bytes, value_type=bytes,
            schema=faust.Schema(key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"),
        ))
        self.entities.producer_of = self.outbox_acks.producer_of = aiokafka_producer
        self.outbox_io = FaustOutboxIO(self, lambda: int(self.app.consumer_generation_id))
        self.round_ids = RoundIds()
        self.tier_store = AsyncTierStore.from_settings(s)
        self.started = time.time()
        self._register()

    # --- wiring ------------------------------------------------------------------

    def send(self, msgs: Sequence[Outgoing]) -> list[FutureMessage]:
        return [self.out[m.topic].send_soon(key=m.key, value=m.value, partition=m.partition) for m in msgs]

    def index_reviews(self, store: BatchStore) -> None:
        """Index the next reviews ``store``'s written states moved (the timer's heap)."""
        self.processor.index_reviews(store)

    def new_round(self) -> OutboxRound[Message]:
        """An outbox round over the ``entities`` table (:mod:`streams.worker.outbox`)."""
        return OutboxRound(self.outbox_io, self.entities, self.round_ids)

    def grade_batch(self, tp: TP, messages: Sequence[Message]) -> None:
        """The batch path's callback (:mod:`streams.worker.batch`): one partition's messages, in offset order.

        States are decoded once per fetch and kept in the round's store of the partition
        number: an entity's orders, payments, credits and review ticks all live on the same
        partition number of their topics, so they meet in one store. Dead letters leave now;
        states and their outboxes wait for :meth:`finish_batch`; events re-keyed to their
        entity leave now too, and the round acks nothing before the broker has them.
        """
        if self._round is None:
            self._round = RoundGrader(self.processor, self.new_round, self.new_round())
        self._round.grade(tp.partition, messages)  # a raise: the round graded again, the raising one dead-lettered
        self.metrics.batch_size.observe(len(messages))

    async def finish_batch(self) -> None:
        """The batch path's end of a fetch: the round's writes and sends (:meth:`OutboxRound.finish`)."""
        rnd, self._round = self._round, None
        if rnd is not None:
            await rnd.round.finish()

    def abort_batch(self) -> None:
        """A round that failed or was cancelled before its finish: forget its decoded states."""
        rnd, self._round = self._round, None
        if rnd is not None:
            rnd.round.abort()

    def _register(self) -> None:
        app, proc = self.app, self.processor

        @app.agent(self.inbound, name="grade")
        async def grade(stream: Any) -> None:
            # The per-event path. With batch=True the BatchConsumer hands these topics to
            # grade_batch() before they reach this stream; the agent still subscribes them
            # (which also enables acks for them) and processes anything left to it.
            async for ev in stream.events():
                rnd = RoundGrader(proc, self.new_round, self.new_round())
                rnd.grade(ev.message.partition, [ev.message])
                await rnd.round.finish()

        store = self.tier_store
        self._sink(self.names.tier_changes, "store_tiers", "tier store", self._store_changes)
        self._sink(self.names.audit, "store_audit", "audit trail",
                   lambda vs: store.record_audit([AuditEntry.model_validate_json(v) for v in vs]))
        self._sink(self.names.tier_notices, "publish_notices", "notice channel",
                   lambda vs: store.publish_notices([TierNotice.model_validate_json(v) for v in vs]))
        self._sink(self.names.supplier_alerts, "publish_alerts", "alert channel",
                   lambda vs: store.publish_alerts([SupplierAlert.model_validate_json(v) for v in vs]))
        self._sink(self.names.supplier_cases, "store_cases", "case store",
                   lambda vs: store.apply_cases([SupplierCase.model_validate_json(v) for v in vs]))

        @app.timer(interval=self.settings.review_interval_s)  # type: ignore[untyped-decorator]
        async def review_tick() -> None:
            await self._rebuild_due_if_reassigned()
            self._update_lag()
            until = proc.watermark
            if until == NEVER:  # no event yet (event times may be 0 or before 1970)
                return
            owned = self._owned_partitions()
            keys = proc.pop_due(until, lambda k: self._partition_of(k) in owned)
            topic = self.out[self.names.reviews]
            for key in keys:
                topic.send_soon(key=key, value=str(until).encode())

        register_web(app, self.tier_store, self.health, self.metrics, self.review,
                     language=self.settings.language)
        register_dashboard(app, self.tier_store, lambda: proc.rules)
        self.control = register_control(self)

    def _sink(self, topic: str, name: str, what: str, write: Callable[[list[bytes]], Awaitable[object]]) -> None:
        """Follow ``topic`` into Redis with an agent: ``write`` each batch of values, retried while Redis is down."""
        source = self.app.topic(topic, partitions=self.settings.partitions, key_serializer="raw",
                                value_serializer="raw", key_type=bytes, value_type=bytes)

        async def follow(stream: Any) -> None:
            async for values in stream.take(500, within=0.2):
                await self._until_stored(what, partial(write, list(values)))

        self.app.agent(source, name=name)(follow)

    async def _store_changes(self, values: list[bytes]) -> None:
        """Write a batch of tier changes to the tier store, counting them as pending meanwhile."""
        changes = [TierChange.model_validate_json(v) for v in values]
        self.metrics.redis_pending.set(len(changes))
        await self.tier_store.apply_many(changes)
        self.metrics.redis_pending.set(0)

    async def _until_stored(self, what: str, write: Callable[[], Awaitable[object]]) -> None:
        """Run ``write`` until Redis takes it, backing off while it is down (offsets stay uncommitted)."""
        delay = 0.2
        while True:
            try:
                await write()
                return
            except StoreUnavailable as exc:
                self.metrics.redis_errors.inc()
                log.warning("%s unavailable, retrying in %.1fs: %s", what, delay, exc)
                await asyncio.sleep(delay)  # back off; offsets stay uncommitted meanwhile
                delay = min(delay * 2, 5.0)

    def _update_lag(self) -> None:
        """Consumer lag per inbound partition: the partition's end offset minus the committed offset."""
        consumer = self.app.consumer
        try:
            tps = self.app.assignor.assigned_actives()
        except Exception:  # not assigned yet
            return
        committed = committed_offsets(consumer)
        event_topics = set(self.processor.event_topics)
        for tp in tps:
            if tp.topic not in event_topics:
                continue
            try:
                high = consumer.highwater(tp)
            except Exception:  # partition not fetched yet
                continue
            if high is not None:
                lag = max(0, high - (committed.get(tp) or 0))
                self.metrics.set_lag(tp.topic, tp.partition, lag)

    async def _forget_revoked(self, sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
        """``on_partitions_revoked(revoked)``: their lag is no longer this worker's to report."""
        revoked: set[TP] = args[0]
        self.metrics.forget_partitions(revoked)

    # --- review index -----------------------------------------------------------------

    _assigned: frozenset[int] = frozenset()

    def _owned_partitions(self) -> frozenset[int]:
        try:
            tps: set[TP] = self.app.assignor.assigned_actives()
        except Exception:  # not assigned yet
            return frozenset()
        return frozenset(tp.partition for tp in tps if tp.topic in self.names.all_inbound)

    def _topic_partitions(self, topic: str) -> int | None:
        """A topic's partition count from the consumer's metadata (``None`` until it has some)."""
        try:
            count = self.app.consumer.topic_partitions(topic)
        except Exception:  # no consumer yet
            return None
        return int(count) if count else None

    def _keys_of(self, partition: int) -> list[bytes]:
        """The keys of the ``entities`` table's rows on ``partition`` (a re-grade under new rules)."""
        n = self.settings.partitions
        return [k for k in list(self.entities.keys()) if partition_of(k, n) == partition]

    def _partition_of(self, key: bytes) -> int:
        return partition_of(key, self.settings.partitions)

    async def _rebuild_due_if_reassigned(self) -> None:
        """After a (re)assignment, index the owned entities' next reviews from the table, once.

        Reads only ``next_review`` from each value and yields to the event loop every
        20,000 entities: over a million recovered entities this takes seconds, during
        which the worker keeps processing and answering health checks. Waits for the
        table's recovery: an index of a half-recovered table would miss entities.
        """
        owned = self._owned_partitions()
        if owned == self._assigned or not self.ready():
            return
        self._assigned = owned
        items = list(self.entities.items())  # a copy: processing goes on while this runs
        heap: list[tuple[int, bytes]] = []
        next_review_of = EntityState.next_review_of
        for i, (key, value) in enumerate(items):
            if value is not None and (nr := next_review_of(value)) is not None:
                heap.append((nr, key))
            if i % 20_000 == 19_999:
                await asyncio.sleep(0)
        heap += self.processor.due  # what processing indexed meanwhile
        heapq.heapify(heap)
        self.processor.due = heap

    # --- periodic review ----------------------------------------------------------------

    async def review(self, as_of: int | None, within_days: int, entity_type: str | None
                     ) -> tuple[int, list[dict[str, Any]]]:
        """What is due for review over the entities of this worker's partitions (``GET /review``).

        As of ``as_of``, default the latest event time this worker applied. Decodes the
        states in slices, yielding to the event loop between them: processing goes on.
        """
        owned = self._owned_partitions()
        items = [(k, v) for k, v in list(self.entities.items()) if v is not None and self._partition_of(k) in owned]
        at = as_of if as_of is not None else (0 if self.processor.watermark == NEVER else self.processor.watermark)
        grader = self.processor.grader
        rows: list[ReviewRow] = []
        for i in range(0, len(items), 2_000):
            states = [EntityState.from_bytes(v) for _, v in items[i:i + 2_000]]
            rows += review_rows(states, grader, at, within_days, entity_type=entity_type)
            await asyncio.sleep(0)
        rows.sort(key=lambda r: (r.due, r.entity_type, r.entity_id, r.kind))
        return at, [r.as_dict() for r in rows]

    # --- health ---------------------------------------------------------------------------

    def ready(self) -> bool:
        """Partitions assigned and table recovery done: the worker is processing."""
        recovery = getattr(self.app.tables, "recovery", None)
        recovered = recovery is not None and recovery.completed.is_set()
        return bool(recovered and self._owned_partitions())

    def health(self) -> dict[str, object]:
        return {
            "ok": True,
            "ready": self.ready(),
            "app": self.settings.app_id,
            **self.control.status(),
            "uptime_s": round(time.time() - self.started, 1),
            "watermark": None if self.processor.watermark == NEVER else self.processor.watermark,
            "assigned_partitions": sorted(self._owned_partitions()),
            "entities_in_table": len(self.entities),
            "engine": active_engine().kind,
        }


def create_app(settings: Settings | None = None, rules: Rules | None = None, batch: bool = True) -> Pipeline:
    return Pipeline(settings, rules, batch=batch)
