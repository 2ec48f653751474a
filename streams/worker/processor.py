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
* **Tier changes, current tiers, supplier alerts, referral credits** go to
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

import base64
import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import orjson
from pydantic import ValidationError

from tierstream.schemas.errors import describe, error_kind
from tierstream.schemas.events import INBOUND_ADAPTER, entity_of
from tierstream.schemas.outputs import DeadLetter, ReferralCredit, TierChange
from tierstream.schemas.rules import Rules
from tierstream.schemas.settings import Settings
from tierstream.scorers.engine import Grader, Outcome, ts
from tierstream.scorers.layout import NEVER
from tierstream.scorers.state import EntityState
from tierstream.streams.kafka.topics import TopicNames, entity_key, topic_names
from tierstream.streams.worker.metrics import ServiceMetrics

__all__ = ["DLQ_MAX_BYTES", "BatchStore", "Outgoing", "Processor", "StateCache", "Table"]

#: A dead letter must stay well under the producer's request limit (Faust's default:
#: 1,000,000 bytes): sending a larger one crashes the worker, and the redelivered message
#: then crashes the next one. So its JSON, everything included, is kept under this; with the
#: default TIERSTREAM_MAX_EVENT_BYTES a message within the limit is always kept whole (its
#: worst escaping, NUL -> \u0000, is 6x), only oversized ones are cut to a prefix.
DLQ_MAX_BYTES = 512 * 1024
DLQ_MAX_KEY = 1024  # bytes of the message key kept (the dead letter's record key and ``key``)
DLQ_MAX_ERROR = 4096  # characters of the error text kept (many errors on one message)


@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str
    key: bytes
    value: bytes


class StateCache(Protocol):
    """Where the processor reads and writes entity states (decoded)."""

    def load(self, key: bytes) -> EntityState | None: ...

    def save(self, key: bytes, state: EntityState) -> None: ...

    def reviewed(self, key: bytes) -> None: ...


class Table(Protocol):
    """A ``bytes -> EntityState.to_bytes()`` mapping: the Faust table, or a dict."""

    def get(self, key: bytes) -> bytes | None: ...

    def __setitem__(self, key: bytes, value: bytes) -> None: ...


class BatchStore:
    """Decoded states in front of a table, for one batch of messages.

    Each entity is decoded once per batch and written (one changelog record)
    once per :meth:`flush`, however many of its messages the batch holds.

    It also tracks the entities whose state holds an *outbox*: the messages a
    state change produced (tier changes, alerts, referral credits). The worker
    sends them only once the state that holds them is on the broker, then
    clears them (:meth:`take_outbox`) -- so after a crash a message is either
    already sent or still in the recovered state, and is sent (again, with the
    same bytes) when the redelivered event reaches the entity.
    """

    def __init__(self, table: Table) -> None:
        self.table = table
        self.states: dict[bytes, EntityState | None] = {}
        self.dirty: set[bytes] = set()
        self.unsent: set[bytes] = set()
        self.review_at_load: dict[bytes, int | None] = {}
        #: (next_review, key) of written states whose next review moved: for the timer's index
        self.reviews: list[tuple[int, bytes]] = []

    def load(self, key: bytes) -> EntityState | None:
        if key in self.states:
            return self.states[key]
        raw = self.table.get(key)
        state = self.states[key] = EntityState.from_bytes(raw) if raw is not None else None
        self.review_at_load[key] = state.next_review if state is not None else None
        if state is not None and state.outbox:  # left by a worker that stopped before sending it
            self.unsent.add(key)
        return state

    def save(self, key: bytes, state: EntityState) -> None:
        self.states[key] = state
        self.dirty.add(key)
        if state.outbox:
            self.unsent.add(key)

    def reviewed(self, key: bytes) -> None:
        """The timer popped ``key``'s index entry (a review tick): index it again at the next flush."""
        self.review_at_load[key] = None

    def flush(self) -> None:
        """Write every state changed since the last flush (and note the next reviews that moved)."""
        for key in self.dirty:
            state = self.states[key]
            if state is not None:
                self.table[key] = state.to_bytes()
                nr = state.next_review
                if nr is not None and nr != self.review_at_load.get(key):
                    self.reviews.append((nr, key))
                self.review_at_load[key] = nr
        self.dirty.clear()

    def take_outbox(self) -> list[Outgoing]:
        """Every outbox's messages, in order; the outboxes are emptied (written at the next flush)."""
        msgs: list[Outgoing] = []
        for key in sorted(self.unsent):
            state = self.states[key]
            if state is not None and state.outbox:
                msgs.extend(Outgoing(t, k, v) for t, k, v in state.outbox)
                state.outbox = []
                self.dirty.add(key)
        self.unsent.clear()
        return msgs


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

    def __post_init__(self) -> None:
        self.names = topic_names(self.settings)
        self.grader = Grader(self.rules)
        self._inbound = set(self.names.all_inbound)
        self._in_counters = {t: self.metrics.events_in.labels(topic=t) for t in self.names.all_inbound}

    def set_rules(self, rules: Rules) -> None:
        """Swap the rules (already validated); states are kept, grading follows the new rules."""
        self.rules = rules
        self.grader = Grader(rules)

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
        """Apply one message to ``store``; returns the dead letters to send (outputs go to outboxes)."""
        counter = self._in_counters.get(topic)
        if counter is not None:
            counter.inc()
        raw = value or b""
        if len(raw) > self.settings.max_event_bytes:
            limit = self.settings.max_event_bytes
            return [self._dead(topic, partition, offset, key, raw, "too_large",
                               f"message of {len(raw):,} bytes exceeds the {limit:,}-byte limit")]
        if topic == self.names.reviews:
            return self._review(store, key, raw)
        if topic == self.names.referral_credits:
            return self._credit(store, topic, partition, offset, key, raw, timestamp)
        return self._event(store, topic, partition, offset, key, raw, timestamp)

    # --- inbound events ----------------------------------------------------------

    def _event(self, store: StateCache, topic: str, partition: int, offset: int, key: bytes | None,
               raw: bytes, timestamp: float | None) -> list[Outgoing]:
        try:
            event = INBOUND_ADAPTER.validate_json(raw)
        except ValidationError as exc:
            return [self._dead(topic, partition, offset, key, raw, error_kind(exc), describe(exc))]
        kind, eid = entity_of(event)
        ekey = entity_key(kind, eid).encode()
        if topic in self._inbound and topic != self.names.inbound(event.type):
            return [self._dead(topic, partition, offset, key, raw, "wrong_topic",
                               f"a {event.type} event does not belong on {topic}")]
        if key != ekey:
            return [self._dead(topic, partition, offset, key, raw, "key_mismatch",
                               f"message key {key!r} does not match the event's entity {ekey.decode()!r}")]
        prior = store.load(ekey)
        state = prior
        produced = False
        if state is not None and state.next_review is not None and state.next_review <= ts(event.occurred_at):
            produced = self._stash(state, self.grader.review_due(state, ts(event.occurred_at)), timestamp)
        state, out = self.grader.apply(state, event, received_at=int(self.wall_clock()))
        if out.status == "invalid":
            if produced:  # the review before it did publish: keep what it published
                store.save(ekey, state)
            return [self._dead(topic, partition, offset, key, raw, "invalid_event", out.detail)]
        self._count(out)
        if out.status in ("applied", "history"):
            self.watermark = max(self.watermark, ts(event.occurred_at))
        self._stash(state, out, timestamp)
        if prior is not None or out.status in ("applied", "history"):
            store.save(ekey, state)
        return []

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
        before = state.next_review
        out = self.grader.review_due(state, until)
        if self._stash(state, out, None) or state.next_review != before:
            store.save(key, state)
        return []

    # --- helpers -----------------------------------------------------------------

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
        for c in out.changes:
            msgs.extend(self.change_messages(c))
            self.metrics.tier_changes.labels(entity_type=c.entity_type, direction=c.direction).inc()
            if timestamp is not None and c.cause != "re-review":
                self.metrics.event_to_change.observe(max(0.0, self.wall_clock() - timestamp))
        for a in out.alerts:
            msgs.append(Outgoing(self.names.supplier_alerts, f"supplier:{a.supplier_id}".encode(),
                                 a.model_dump_json().encode()))
            self.metrics.supplier_alerts.labels(severity=a.severity).inc()
        for cr in out.credits:
            msgs.append(Outgoing(self.names.referral_credits, entity_key("customer", cr.referrer_id).encode(),
                                 cr.model_dump_json().encode()))
        return msgs

    def change_messages(self, c: TierChange) -> list[Outgoing]:
        key = entity_key(c.entity_type, c.entity_id).encode()
        current = orjson.dumps({
            "entity_type": c.entity_type, "entity_id": c.entity_id, "tier": c.tier, "score": c.score,
            "change_id": c.change_id, "occurred_at": c.occurred_at.isoformat(),
            "rules_version": c.rules_version,
        })
        return [Outgoing(self.names.tier_changes, key, c.model_dump_json().encode()),
                Outgoing(self.names.tiers, key, current)]

    def _dead(self, topic: str, partition: int, offset: int, key: bytes | None, raw: bytes,
              reason: str, error: str) -> Outgoing:
        self.metrics.events_invalid.labels(reason=reason).inc()
        if len(error) > DLQ_MAX_ERROR:
            error = f"{error[:DLQ_MAX_ERROR]}... ({len(error):,} characters in all)"
        if key is not None and len(key) > DLQ_MAX_KEY:
            error += f" (key of {len(key):,} bytes cut to its first {DLQ_MAX_KEY:,})"
            key = key[:DLQ_MAX_KEY]
        received = datetime.fromtimestamp(self.wall_clock(), UTC)
        kept = raw[:DLQ_MAX_BYTES]
        while True:
            try:
                text, b64 = kept.decode("utf-8"), None
            except UnicodeDecodeError:
                text, b64 = kept.decode("utf-8", "replace"), base64.b64encode(kept).decode()
            note = f" (dead letter keeps the first {len(kept):,} of {len(raw):,} bytes)" if len(kept) < len(raw) else ""
            letter = DeadLetter(
                source_topic=topic, partition=partition, offset=offset,
                key=key.decode("utf-8", "replace") if key is not None else None,
                value=text, value_b64=b64, error=error + note, reason=reason, received_at=received,
            )
            data = letter.model_dump_json().encode()
            if len(data) <= DLQ_MAX_BYTES or not kept:
                return Outgoing(self.names.dead_letters, key or b"", data)
            kept = kept[: len(kept) // 2]  # escaping made it too big: keep a shorter prefix

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
