"""The Quix Streams phase: tierstream's own :class:`Processor` run by a Quix Streams ``Application``.

What a user who writes the same grading on Quix Streams instead of tierstream's
runtime gets, measured on the same broker and the same pre-loaded sample as the
pipeline phase. One ``Application`` with a consumer group of its own reads the
inbound topics (one ``StreamingDataFrame`` per topic, concatenated, so that an
entity's orders, payments and the rest meet in one state store); per message it
runs :meth:`Processor.process` with the entity's state bytes kept in Quix's
RocksDB state (its changelog on, Quix's default) and sends what the message
produced -- dead letters, and the outbox of every state it changed (tier changes,
current tiers, alerts, notices, cases, credits) -- to one output topic through
Quix's producer. Quix commits the state, its changelog, the outputs and the
offsets together at each checkpoint (at-least-once), so the outbox leaves at
once instead of waiting for a state write as in the Faust worker.

The clock runs from the first message processed (the group joined, the empty
state recovered: the worker's ``ready``) until Quix's last checkpoint after the
last inbound message: every output, changelog record and offset committed, as
the pipeline phase's window ends.

quixstreams is an optional extra (``pip install -e '.[bench]'``): it is imported
only here, inside :func:`quix_phase`.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import shutil
import signal
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from kafka.errors import KafkaError

from tierstream.schemas.rules import load_rules
from tierstream.scorers.state import EntityState
from tierstream.streams.bench.common import Budget, rate, say
from tierstream.streams.bench.throughput import PROGRESS_EVERY_S, Loaded
from tierstream.streams.dev.harness import Deployment
from tierstream.streams.worker.letters import Outgoing
from tierstream.streams.worker.processor import Processor
from tierstream.streams.worker.profiles import fast_join_settings

if TYPE_CHECKING:
    from quixstreams import State

__all__ = ["INSTALL_HINT", "Progress", "QuixStore", "missing", "quix_phase"]

INSTALL_HINT = "pip install -e '.[bench]'"
_JOIN = fast_join_settings()
#: Tansu answers a JoinGroup only after session timeout / 2: the values of the worker's
#: embedded profile (streams/worker/profiles.py), not librdkafka's defaults
TANSU_CONSUMER = {"session.timeout.ms": round(_JOIN["broker_session_timeout"] * 1000),
                  "heartbeat.interval.ms": round(_JOIN["broker_heartbeat_interval"] * 1000)}
#: Tansu 0.6 keeps everything, but its DescribeConfigs has no retention.ms, which Quix
#: copies from the inbound topics to the changelog topic it creates
TANSU_RETENTION = {"retention.ms": "-1", "retention.bytes": "-1"}
IDLE_TIMEOUT_S = 30.0  # Quix stops by itself when no message came for this long


def missing() -> str | None:
    """Why the phase cannot run (quixstreams, the ``bench`` extra, is not installed), or None."""
    if importlib.util.find_spec("quixstreams") is None:
        return f"quixstreams is not installed ({INSTALL_HINT})"
    return None


class QuixStore:
    """The processor's :class:`~tierstream.streams.worker.states.StateCache` over one message's Quix ``State``.

    Quix scopes a ``State`` to the message key (keyed by entity here); the entity
    key is also the state key inside that scope, so a message keyed otherwise
    still finds its entity's state.
    """

    def __init__(self, state: State[str, bytes]) -> None:
        self.state = state
        self.saved: dict[bytes, EntityState] = {}

    def load(self, key: bytes) -> EntityState | None:
        if key in self.saved:
            return self.saved[key]
        raw = self.state.get_bytes(key.decode())
        return EntityState.from_bytes(raw) if raw is not None else None

    def save(self, key: bytes, state: EntityState) -> None:
        self.saved[key] = state

    def reviewed(self, key: bytes) -> None:
        """No review timer runs under Quix: nothing to re-index."""

    def write(self) -> list[Outgoing]:
        """Store every saved state with its outbox emptied; return the outbox messages, in order."""
        msgs: list[Outgoing] = []
        for key, state in self.saved.items():
            msgs.extend(Outgoing(t, k, v) for t, k, v in state.outbox)
            state.outbox = []
            self.state.set_bytes(key.decode(), state.to_bytes())
        self.saved.clear()
        return msgs


class Progress:
    """Counts the inbound messages Quix has processed; stops the app when all are, or at the deadline."""

    def __init__(self, expected: dict[str, int], deadline: float) -> None:
        self.expected, self.total, self.deadline = expected, sum(expected.values()), deadline
        self.counts: Counter[str] = Counter()
        self.done = 0
        self.first: float | None = None
        self.last: float | None = None
        self.stopped_by_us = False
        self.stop: Callable[[], None] = lambda: None  # the app's stop(), once the app exists
        self._said_at, self._said_done = 0.0, 0

    def processed(self, topic: str, partition: int, offset: int) -> None:
        now = time.monotonic()
        if self.first is None:
            self.first = self._said_at = now
        self.last = now
        self.counts[topic] += 1
        self.done += 1
        if now - self._said_at >= PROGRESS_EVERY_S:
            speed = (self.done - self._said_done) / (now - self._said_at)
            say(f"quix: {self.done:,}/{self.total:,} processed ({speed:,.0f}/s, {now - self.first:.0f}s)")
            self._said_at, self._said_done = now, self.done
        if self.done >= self.total or now >= self.deadline:
            self.stopped_by_us = True
            self.stop()


@contextlib.contextmanager
def _keep_signal_handlers() -> Iterator[None]:
    """Restore the SIGINT/SIGTERM handlers that ``Application.run()`` replaces with its own."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def quix_phase(loaded: Loaded, budget: Budget) -> dict[str, Any]:
    """Quix Streams running tierstream's :class:`Processor` over the pre-loaded sample (see the module doc)."""
    with warnings.catch_warnings(record=True):  # authlib's, through confluent-kafka's schema registry client
        warnings.simplefilter("ignore", DeprecationWarning)
        from quixstreams import Application, message_context
        from quixstreams.models import SerializationContext, Serializer, TopicConfig

    class OutgoingValue(Serializer):
        """An output's value bytes (its key is the message key)."""

        def __call__(self, value: Outgoing, ctx: SerializationContext) -> bytes:
            return value.value

    dep = loaded.dep
    settings = dep.settings
    processor = Processor(settings, load_rules(settings.rules))
    group = f"{dep.name}-quix"
    state_dir = dep.workdir / f"state-{group}"
    progress = Progress(dict(loaded.published), budget.deadline())
    app = Application(
        broker_address=dep.bootstrap, consumer_group=group, auto_offset_reset="earliest",
        processing_guarantee="at-least-once", state_dir=state_dir, loglevel="WARNING",
        on_message_processed=progress.processed, consumer_extra_config=TANSU_CONSUMER,
    )
    progress.stop = app.stop
    inbound = [app.topic(t, key_deserializer="bytes", value_deserializer="bytes") for t in dep.inbound]
    for topic in inbound:
        known = topic.broker_config
        topic.broker_config = TopicConfig(num_partitions=known.num_partitions,
                                          replication_factor=known.replication_factor,
                                          extra_config={**TANSU_RETENTION, **known.extra_config})
    outputs = app.topic(f"{dep.name}.quix-outputs", key_serializer="bytes", value_serializer=OutgoingValue(),
                        config=TopicConfig(num_partitions=dep.partitions, replication_factor=1))
    sent: Counter[str] = Counter()

    def grade(value: bytes, key: bytes | None, timestamp: int, headers: Any,
              state: State[str, bytes]) -> list[Outgoing]:
        ctx = message_context()
        store = QuixStore(state)
        now = processor.process(store, ctx.topic, ctx.partition, ctx.offset, key, value, timestamp / 1000)
        msgs = [*now, *store.write()]
        for m in msgs:
            sent[m.topic] += 1
        return msgs

    sdf = functools.reduce(lambda a, b: a.concat(b), (app.dataframe(t) for t in inbound))
    sdf = sdf.apply(grade, stateful=True, metadata=True, expand=True)
    sdf.to_topic(outputs, key=lambda m: m.key)
    say(f"quix: Quix Streams {_version()} over {loaded.total:,} events (group {group})")
    started = time.monotonic()
    try:
        with _keep_signal_handlers():
            app.run(timeout=IDLE_TIMEOUT_S, collect=False)
        ended = time.monotonic()
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)
        _delete_topics(dep, group)
    if not progress.stopped_by_us and ended - (progress.last or started) < IDLE_TIMEOUT_S - 1:
        raise KeyboardInterrupt  # neither done nor idle: Quix stopped on SIGINT/SIGTERM; unwind as Ctrl-C does
    complete = progress.done >= progress.total
    first = progress.first if progress.first is not None else ended
    seconds = ended - first
    names = processor.names
    return {
        "events": progress.done, "complete": complete, "seconds": seconds, "eps": rate(progress.done, seconds),
        "ready_s": first - started, "last_processed_s": (progress.last or first) - first,
        "per_topic": dict(progress.counts), "group": group,
        "tier_changes": sent[names.tier_changes], "dead_letters": sent[names.dead_letters],
        "events_rekeyed": sent[names.repartition], "outputs": sum(sent.values()),
        "credits_not_applied": sent[names.referral_credits],  # the worker reads its credits back; this phase does not
        "quixstreams": _version(),
    }


def _version() -> str:
    from importlib.metadata import version

    return version("quixstreams")


def _delete_topics(dep: Deployment, group: str) -> None:
    """Delete the phase's output topic and Quix's changelog (named after the group); best effort."""
    with contextlib.suppress(KafkaError, OSError):
        admin = dep.admin()
        try:
            doomed = [t for t in admin.list_topics() if group in t or t == f"{dep.name}.quix-outputs"]
            if doomed:
                admin.delete_topics(doomed)
        finally:
            admin.close()
