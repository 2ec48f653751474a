"""Message handling for the worker, without Faust: bytes in, state updated, messages out.

The Faust agents (per-event or batched) feed every inbound message to
:meth:`Processor.process` with a :class:`BatchStore` (decoded states in front
of the ``entities`` table). Keeping this free of Faust makes the two paths
provably identical and the logic testable.

What a message produces goes two ways:

* **Dead letters** are returned, to send at once. Every failure is one,
  carrying the original bytes, the error and the source topic/partition/
  offset; nothing is dropped silently. A redelivered bad message is
  dead-lettered again (it never touched state), so they need nothing more.
* **Tier changes, current tiers, supplier alerts, notices, cases, referral credits** go to
  the *outbox* of the state that produced them and are written with it. The
  worker sends them only after that state write is acknowledged, then clears
  the outbox (``streams.worker.outbox``). Sending them first could, after a crash,
  publish messages the state never recorded (the redelivered events then
  take another path); writing the state without them would, on redelivery,
  find the events already applied and publish nothing. With the outbox a
  message is either on the broker or in the recovered state, sent again with
  the same bytes -- at-least-once, never two versions of one change.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
from pydantic import ValidationError

from tierstream.schemas.errors import MappingError, describe, error_kind
from tierstream.schemas.events import INBOUND_ADAPTER, AnyEvent, entity_of
from tierstream.schemas.mapping import SourceMapper, Sources
from tierstream.schemas.outputs import ReferralCredit, TierChange
from tierstream.schemas.rules import Rules
from tierstream.schemas.settings import Settings
from tierstream.scorers.audit import audit_of
from tierstream.scorers.engine import Grader, Outcome, ts
from tierstream.scorers.layout import NEVER
from tierstream.scorers.state import EntityState
from tierstream.scorers.wording import reworded
from tierstream.streams.kafka.topics import TopicNames, entity_key, partition_of, topic_names
from tierstream.streams.worker import rollout
from tierstream.streams.worker.faults import GradingFaults
from tierstream.streams.worker.letters import DLQ_MAX_BYTES, Outgoing, dead_letter
from tierstream.streams.worker.metrics import ServiceMetrics
from tierstream.streams.worker.states import BatchStore, StateCache, Table

__all__ = ["DLQ_MAX_BYTES", "BatchStore", "Outgoing", "Processor", "StateCache", "Table"]


@dataclass
class Processor:
    settings: Settings
    rules: Rules
    wall_clock: Callable[[], float] = time.time
    metrics: ServiceMetrics = field(default_factory=ServiceMetrics)
    names: TopicNames = field(init=False)
    grader: Grader = field(init=False)
    watermark: int = NEVER  # the latest event time seen by this worker (NEVER: none yet; any age is valid)
    due: list[tuple[int, bytes]] = field(default_factory=list)  # (next_review, key) heap
    #: the upstream topics read through a field mapping (``TIERSTREAM_SOURCES``)
    sources: Sources | None = None
    #: a topic's partition count, once known (``None`` before): an event is graded where it
    #: arrives only on a topic partitioned as the table, on its entity's partition
    #: (default: tierstream's own inbound topics have the table's count, as ``ensure_topics`` makes them)
    partitions_of: Callable[[str], int | None] | None = None
    #: the partitions this worker owns, and the entity keys of one: for a re-grade under new rules
    owned_partitions: Callable[[], Iterable[int]] = lambda: ()
    keys_of: Callable[[int], Iterable[bytes]] = lambda partition: ()
    #: rules loaded before their ``effective_from``; the rules before the current ones
    pending: Rules | None = None
    previous: Grader | None = None
    #: every rules version this worker took, in order (the HTTP ``/rules`` history)
    history: list[rollout.RulesVersion] = field(default_factory=list)
    #: tests only: events on which grading raises or stalls (``TIERSTREAM_TEST_GRADING_FAULTS``)
    faults: GradingFaults | None = None

    def __post_init__(self) -> None:
        self.names = topic_names(self.settings)
        self.grader = Grader(self.rules)
        self._inbound = set(self.names.all_inbound)
        self._mappers: dict[str, SourceMapper] = dict(self.sources.by_topic) if self.sources else {}
        self._copartitioned: dict[str, bool] = {}
        if self.partitions_of is None:
            own = self.settings.partitions
            self.partitions_of = lambda topic: own if topic in self._inbound else None
        self._in_counters = {t: self.metrics.events_in.labels(topic=t) for t in self.event_topics}
        self.history.append(rollout.RulesVersion.of(self.rules, None, self.wall_clock()))
        if self.faults is None and self.settings.test_grading_faults is not None:
            self.faults = GradingFaults.load(self.settings.test_grading_faults)

    @property
    def event_topics(self) -> list[str]:
        """Every topic events arrive on: tierstream's inbound topics, the sources' topics, the re-keyed events."""
        return list(dict.fromkeys([*self.names.all_inbound, *self._mappers, self.names.repartition]))

    def set_rules(self, rules: Rules) -> None:
        """Swap the rules (already validated); states are kept, grading follows the new rules."""
        self.previous, self.rules, self.grader = self.grader, rules, Grader(rules)

    def offer_rules(self, rules: Rules) -> list[Outgoing]:
        """Take new rules at their ``effective_from`` (at once without one, or when it has passed).

        Before it, they wait (:attr:`pending`) and the first event at or after it
        switches. Returns what to send now: with ``regrade: now``, one re-grade
        marker per partition this worker owns (``streams.worker.rollout``).
        """
        start = rollout.effective(rules)
        if start is not None and (self.watermark == NEVER or start > self.watermark):
            self.pending = rules
            return []
        self.pending = None
        return self._activate(rules, start)

    def _activate(self, rules: Rules, start: int | None) -> list[Outgoing]:
        self.set_rules(rules)
        at = start if start is not None else self.watermark  # NEVER: no event yet, nothing to re-grade
        self.history.append(rollout.RulesVersion.of(rules, None if at == NEVER else at, self.wall_clock()))
        if rules.regrade != "now" or at == NEVER:
            return []
        return [rollout.marker(self.names.reviews, p, rules, at) for p in sorted(self.owned_partitions())]

    # --- entry point -----------------------------------------------------------

    def process(
        self,
        store: StateCache,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        timestamp: float | None = None,
    ) -> list[Outgoing]:
        """Apply one message to ``store``; returns what to send now (outputs go to outboxes).

        That is a dead letter for a message that cannot be used, or the event itself,
        re-keyed to its entity for the ``repartition`` topic, when it arrived on a
        partition that is not its entity's.
        """
        counter = self._in_counters.get(topic)
        if counter is not None:
            counter.inc()
        raw = value or b""
        if len(raw) > self.settings.max_event_bytes:
            limit = self.settings.max_event_bytes
            return [self._dead(topic, partition, offset, key, raw, "too_large",
                               f"message of {len(raw):,} bytes exceeds the {limit:,}-byte limit")]
        if topic == self.names.reviews:
            if key is not None and key.startswith(rollout.MARKER_KEY):
                return self._regrade(store, partition, raw)
            return self._review(store, key, raw)
        if topic == self.names.referral_credits:
            return self._credit(store, topic, partition, offset, key, raw, timestamp)
        mapper = self._mappers.get(topic)
        if mapper is None:
            return self._event(store, topic, partition, offset, key, raw, timestamp)
        try:
            mapped = mapper.map(raw)
        except MappingError as exc:
            return [self._dead(topic, partition, offset, key, raw, "mapping_error", str(exc))]
        if mapped is None:  # a tombstone, a change that grades nothing
            self.metrics.events_ignored.inc()
            return []
        return self._event(store, topic, partition, offset, key, mapped, timestamp, mapper.name)

    # --- inbound events ----------------------------------------------------------

    def _event(self, store: StateCache, topic: str, partition: int, offset: int, key: bytes | None,
               raw: bytes, timestamp: float | None, source: str | None = None) -> list[Outgoing]:
        try:
            event = INBOUND_ADAPTER.validate_json(raw)
        except ValidationError as exc:
            error = describe(exc) if source is None else f"source {source!r}: {describe(exc)}"
            return [self._dead(topic, partition, offset, key, raw, error_kind(exc), error)]
        kind, eid = entity_of(event)
        ekey = entity_key(kind, eid).encode()
        if topic == self.names.repartition:
            if key != ekey:  # only tierstream writes here, always keyed by entity
                return [self._dead(topic, partition, offset, key, raw, "key_mismatch",
                                   f"message key {key!r} does not match the event's entity {ekey.decode()!r}")]
        else:
            if source is None and topic in self._inbound and topic != self.names.inbound(event.type):
                return [self._dead(topic, partition, offset, key, raw, "wrong_topic",
                                   f"a {event.type} event does not belong on {topic}")]
            if not self._on_its_partition(topic, partition, ekey):
                self.metrics.events_rekeyed.inc()
                return [Outgoing(self.names.repartition, ekey, raw)]
        now: list[Outgoing] = []
        if self.pending is not None and ts(event.occurred_at) >= (rollout.effective(self.pending) or NEVER):
            now, self.pending = self._activate(self.pending, rollout.effective(self.pending)), None
        prior = store.load(ekey)
        state = prior
        reviewed = False
        if state is not None and state.next_review is not None and state.next_review <= ts(event.occurred_at):
            self._stash(state, self.grader.review_due(state, ts(event.occurred_at)), timestamp)
            reviewed = True
        if self.faults is not None:
            self.faults.before_grading(event.event_id)
        state, out = self.grader.apply(state, event, received_at=int(self.wall_clock()))
        audit = self._audit(event, out, ekey)
        if out.status == "invalid":
            if reviewed:  # the review before it ran: keep what it published, and what its notices noted
                store.save(ekey, state)
            return [self._dead(topic, partition, offset, key, raw, "invalid_event", out.detail), *audit]
        self._count(out)
        if out.status in ("applied", "history"):
            self.watermark = max(self.watermark, ts(event.occurred_at))
            state.outbox.extend((m.topic, m.key, m.value) for m in audit)  # sent with the state it changed
        else:
            now.extend(audit)  # refused: the state did not change, nothing to wait for
        self._stash(state, out, timestamp)
        if prior is not None or out.status in ("applied", "history"):
            store.save(ekey, state)
        return now

    def _credit(self, store: StateCache, topic: str, partition: int, offset: int, key: bytes | None,
                raw: bytes, timestamp: float | None) -> list[Outgoing]:
        try:
            credit = ReferralCredit.model_validate_json(raw)
        except ValidationError as exc:
            return [self._dead(topic, partition, offset, key, raw, error_kind(exc), describe(exc))]
        ekey = entity_key("customer", credit.referrer_id).encode()
        if key != ekey:
            return [self._dead(topic, partition, offset, key, raw, "key_mismatch",
                               f"message key {key!r} does not match the referrer {ekey.decode()!r}")]
        prior = store.load(ekey)
        state, out = self.grader.credit(prior, credit)
        self._count(out)
        self._stash(state, out, timestamp)
        if prior is not None or out.status in ("applied", "history"):
            store.save(ekey, state)
        return []

    def _regrade(self, store: StateCache, partition: int, raw: bytes) -> list[Outgoing]:
        """Re-grade every entity of ``partition`` under the rules a marker names (if still in force)."""
        found = rollout.read_marker(raw)
        if found is None or found[0] != self.rules.sha256 or self.previous is None:
            return []  # superseded by newer rules, or nothing to take over from
        at, tag = found[1], self.grader.tag
        for key in self.keys_of(partition):
            state = store.load(key)
            if state is None or state.is_empty():
                continue
            before = (state.next_review, dict(state.announced))  # a notice's condition may end silently
            # graded under these rules already (an event, or this marker delivered again): no old reviews
            previous = self.previous if state.rules_tag != tag else self.grader
            if (self._stash(state, self.grader.regrade(state, at, previous), None)
                    or (state.next_review, state.announced) != before):
                store.save(key, state)
        return []

    def _review(self, store: StateCache, key: bytes | None, raw: bytes) -> list[Outgoing]:
        if key is None:
            return []
        try:
            until = int(raw)
        except ValueError:
            return []
        state = store.load(key)
        if state is None:
            return []
        store.reviewed(key)
        before = state.next_review  # a review that ran moved it past ``until``: the state is saved
        out = self.grader.review_due(state, until)
        if self._stash(state, out, None) or state.next_review != before:
            store.save(key, state)
        return []

    # --- helpers -----------------------------------------------------------------

    def _on_its_partition(self, topic: str, partition: int, ekey: bytes) -> bool:
        """Whether an event arrived where its entity lives: a topic partitioned as the table, the entity's partition.

        Whatever its key: a message keyed by order id or not at all that lands on
        its entity's partition is graded at once; any other takes one hop.
        """
        same = self._copartitioned.get(topic)
        if same is None:
            count = self.partitions_of(topic) if self.partitions_of is not None else None
            if count is None:
                return False  # not known yet: the hop is always right
            same = self._copartitioned[topic] = count == self.settings.partitions
        return same and partition == partition_of(ekey, self.settings.partitions)

    def _audit(self, event: AnyEvent, out: Outcome, ekey: bytes) -> list[Outgoing]:
        """The audit record of a manual assessment, with what became of it (none for a duplicate)."""
        entry = audit_of(event, out)
        return [] if entry is None else [Outgoing(self.names.audit, ekey, entry.model_dump_json().encode())]

    def _count(self, out: Outcome) -> None:
        if out.status == "duplicate":
            self.metrics.events_duplicate.inc()
        elif out.status == "too_old":
            self.metrics.events_too_old.inc()
        elif out.status == "too_new":
            self.metrics.events_too_new.inc()

    def _stash(self, state: EntityState, out: Outcome, timestamp: float | None) -> bool:
        """Put the outcome's messages in the state's outbox (sent once the state is stored); any?"""
        msgs = self._outputs(out, timestamp)
        state.outbox.extend((m.topic, m.key, m.value) for m in msgs)
        return bool(msgs)

    def _outputs(self, out: Outcome, timestamp: float | None) -> list[Outgoing]:
        msgs: list[Outgoing] = []
        language = self.settings.language
        for c in out.changes:
            msgs.extend(self.change_messages(reworded(c, language)))
            self.metrics.tier_changes.labels(entity_type=c.entity_type, direction=c.direction).inc()
            if timestamp is not None and c.cause != "re-review":
                self.metrics.event_to_change.observe(max(0.0, self.wall_clock() - timestamp))
        for a in out.alerts:
            msgs.append(Outgoing(self.names.supplier_alerts, f"supplier:{a.supplier_id}".encode(),
                                 reworded(a, language).model_dump_json().encode()))
            self.metrics.supplier_alerts.labels(severity=a.severity).inc()
        for n in out.notices:
            msgs.append(Outgoing(self.names.tier_notices, entity_key(n.entity_type, n.entity_id).encode(),
                                 reworded(n, language).model_dump_json().encode()))
            self.metrics.tier_notices.labels(kind=n.kind).inc()
        for k in out.cases:
            msgs.append(Outgoing(self.names.supplier_cases, entity_key("supplier", k.supplier_id).encode(),
                                 k.model_dump_json().encode()))
            self.metrics.supplier_cases.labels(status=k.status).inc()
        for cr in out.credits:
            msgs.append(Outgoing(self.names.referral_credits, entity_key("customer", cr.referrer_id).encode(),
                                 cr.model_dump_json().encode()))
        return msgs

    def change_messages(self, c: TierChange) -> list[Outgoing]:
        key = entity_key(c.entity_type, c.entity_id).encode()
        current = orjson.dumps({
            "entity_type": c.entity_type, "entity_id": c.entity_id, "tier": c.tier, "score": c.score,
            "change_id": c.change_id, "occurred_at": c.occurred_at.isoformat(),
            "rules_version": c.rules_version, "actions": [a.model_dump(mode="json") for a in c.actions],
        })
        return [Outgoing(self.names.tier_changes, key, c.model_dump_json().encode()),
                Outgoing(self.names.tiers, key, current)]

    def processing_error(self, topic: str, partition: int, offset: int, key: bytes | None, raw: bytes,
                         error: str) -> Outgoing:
        """The dead letter of a message whose grading raised (``streams.worker.isolation``)."""
        return self._dead(topic, partition, offset, key, raw, "processing_error", error)

    def _dead(self, topic: str, partition: int, offset: int, key: bytes | None, raw: bytes,
              reason: str, error: str) -> Outgoing:
        self.metrics.events_invalid.labels(reason=reason).inc()
        received = datetime.fromtimestamp(self.wall_clock(), UTC)
        return dead_letter(self.names.dead_letters, topic, partition, offset, key, raw, reason, error, received)

    # --- the re-review timer's index ------------------------------------------------

    def index_reviews(self, store: BatchStore) -> None:
        """Add the next reviews a flushed store noted to the timer's index (once per entity per flush).

        Every stored state's ``next_review`` has an entry: from the flush that set it, or
        from the rebuild after an assignment; a review tick pops it and moves it.
        """
        for entry in store.reviews:
            heapq.heappush(self.due, entry)
        store.reviews.clear()

    def pop_due(self, until: int, owned: Callable[[bytes], bool]) -> list[bytes]:
        """Entities whose next review is at or before ``until`` (each once), owned by this worker."""
        keys: list[bytes] = []
        seen: set[bytes] = set()
        while self.due and self.due[0][0] <= until:
            _, key = heapq.heappop(self.due)
            if key not in seen and owned(key):
                seen.add(key)
                keys.append(key)
        return keys
