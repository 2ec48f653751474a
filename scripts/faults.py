#!/usr/bin/env python
"""Fault scenarios for tierstream, on real worker processes, a real broker and a real Redis.

    python scripts/faults.py                              # every scenario, default sizes
    python scripts/faults.py --scenario crash --events 50000
    python scripts/faults.py --scenario hostile --malformed 10000
    python scripts/faults.py --list

Each scenario runs an isolated deployment (own app id, topic prefix and Redis key prefix,
and a private ``redis-server`` on a free port, memory only) on an embedded Tansu broker
started for the run, and checks the stream's final state against the offline scorer on
the same events, entity by entity. It prints one table of figures:

* **events in**: messages published to the inbound topics (duplicates and junk included);
* **in state / expected**: inbound event ids held in the stream's table (``seen``) against
  those the offline scorer holds after the same events;
* **lost**: expected event ids missing from the table, plus tier changes missing from the
  tier-changes topic (a sequence number the state reached but no record carries);
* **dup**: duplicate lines in the input / inbound messages processed more than once
  (redeliveries after a kill or rebalance, absorbed by the dedup in state; a lower bound:
  counters are scraped just before each kill) / tier-change records republished under an
  existing ``change_id`` (at-least-once) / duplicate change ids in Redis history (must be 0);
* **parity**: the stream's snapshot equals the offline snapshot for every entity;
* **result**: ``ok`` or ``FAILED`` (with what failed).

See docs/RELIABILITY.md for what each scenario proves and the figures measured.

``tests/test_faults.py`` runs the same functions on small samples inside ``pytest``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import functools
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python scripts/faults.py`: the test helpers live in tests/
    sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
from kafka import KafkaConsumer, KafkaProducer, TopicPartition  # noqa: E402
from pydantic import SecretStr, ValidationError  # noqa: E402

from tests.streaming import Stream, diff, free_port, poll  # noqa: E402
from tierstream.schemas.events import INBOUND_ADAPTER, entity_of  # noqa: E402
from tierstream.schemas.outputs import DeadLetter, TierChange  # noqa: E402
from tierstream.schemas.rules import load_rules  # noqa: E402
from tierstream.schemas.settings import Settings  # noqa: E402
from tierstream.scorers.engine import Grader  # noqa: E402
from tierstream.scorers.state import EntityState, event_hash  # noqa: E402
from tierstream.streams.cli.run import stop_process, wait_ready  # noqa: E402
from tierstream.streams.client.api import _decode_table_key, _decode_table_value, publish, raw_entity_key  # noqa: E402
from tierstream.streams.dev.broker import EmbeddedBroker  # noqa: E402
from tierstream.streams.dev.sample import estimate_lines, write_sample  # noqa: E402
from tierstream.streams.kafka.config import kafka_python_config  # noqa: E402
from tierstream.streams.kafka.topics import TopicNames, entity_key, topic_names  # noqa: E402
from tierstream.streams.offline.score import OfflineScorer, Report, run  # noqa: E402
from tierstream.streams.store.redis import TierStore, changes_stream_key, history_key, tier_key  # noqa: E402

Key = tuple[str, str]
Snapshots = dict[Key, dict[str, Any]]

#: How long the stream may take to agree with the offline scorer once everything is published.
SETTLE_S = 180.0


# =============================================================================== figures


@dataclass
class Figures:
    """What one scenario measured; ``failures`` empty means every check held."""

    scenario: str
    events_in: int = 0
    valid: int = 0  # distinct valid event ids published
    expected_in_state: int = 0
    in_state: int = 0
    lost_events: int = 0
    extra_events: int = 0
    entities: int = 0
    parity: bool = False
    input_duplicates: int = 0
    reprocessed: int = 0  # inbound messages processed more than once (at least; scraped before each kill)
    changes: int = 0  # distinct tier changes on the topic
    redelivered_changes: int = 0
    conflicting_changes: int = 0  # one change_id, two contents
    lost_changes: int = 0
    redis_behind: int = 0
    redis_history_dups: int = 0
    dead_letters: int = 0
    seconds: float = 0.0
    facts: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return self.lost_events + self.lost_changes

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def result(self) -> str:
        return "FAILED" if self.failures else "ok"

    def check(self, condition: bool, message: str) -> None:
        if not condition:
            self.failures.append(message)


def render_table(rows: Sequence[Figures]) -> str:
    head = ["scenario", "events in", "valid", "in state", "expected", "lost", "dup in/reproc/redeliv/redis",
            "entities", "parity", "dead letters", "s", "result"]
    body = [[
        f.scenario, f"{f.events_in:,}", f"{f.valid:,}", f"{f.in_state:,}", f"{f.expected_in_state:,}",
        str(f.lost), f"{f.input_duplicates}/{f.reprocessed}/{f.redelivered_changes}/{f.redis_history_dups}",
        f"{f.entities:,}", "equal" if f.parity else "-", f"{f.dead_letters:,}", f"{f.seconds:.0f}",
        f.result,
    ] for f in rows]
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [line.format(*head), line.format(*("-" * w for w in widths))]
    out += [line.format(*r) for r in body]
    for f in rows:
        for k, v in f.facts.items():
            out.append(f"  {f.scenario}: {k}: {v}")
        for msg in f.failures:
            out.append(f"  {f.scenario}: FAILED: {msg}")
    return "\n".join(out)


RECOVERY_SIGNATURE = b"Error in recovery"


# =============================================================================== infrastructure


class RedisServer:
    """A private, memory-only ``redis-server`` on a free loopback port (never the shared 6379)."""

    def __init__(self, workdir: Path, password: str | None = None) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.password = password
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / f"redis-{self.port}.log"

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.workdir)]
        if self.password:
            args += ["--requirepass", self.password]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        client = redis.Redis.from_url(self.url, socket_timeout=1, socket_connect_timeout=1)

        def answers() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}; see {self.log}")
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        try:
            poll(answers, 20, f"redis-server on port {self.port}", interval=0.05)
        finally:
            client.close()
        return self

    def kill(self) -> None:
        """SIGKILL: memory-only, so everything it held is gone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a frozen server must be able to die
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def freeze(self) -> None:
        """SIGSTOP: the port stays open but nothing answers (clients time out); data is kept."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def client(self) -> redis.Redis[str]:
        return redis.Redis.from_url(self.url, decode_responses=True, socket_timeout=5)


@dataclass
class Worker:
    proc: subprocess.Popen[bytes]
    port: int

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None


class Deployment:
    """An isolated tierstream deployment: a :class:`tests.streaming.Stream` plus a private Redis."""

    def __init__(self, bootstrap: str, tmp: Path, partitions: int = 4) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        self.tmp = tmp
        self.stream = Stream(bootstrap, tmp, partitions=partitions)
        self.redis = RedisServer(tmp).start()
        self.workers: list[Worker] = []
        self.processed = 0  # inbound messages processed, summed over every worker incarnation
        self.dedup_hits = 0  # tierstream_events_duplicate_total, summed likewise
        self.stream.create_topics()

    def __enter__(self) -> Deployment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.stream.stop()
        self.workers.clear()
        self.redis.kill()

    @property
    def settings(self) -> Settings:
        return self.stream.settings.model_copy(update={"redis_url": SecretStr(self.redis.url)})

    @property
    def names(self) -> TopicNames:
        return topic_names(self.settings)

    def start_worker(self, extra_env: dict[str, str] | None = None, deadline_s: float = 60.0) -> Worker:
        """Spawn ``tierstream worker`` (as :meth:`tests.streaming.Stream.start_worker` does) and
        wait until /health says ready; a worker that cannot recover its table fails fast."""
        port = free_port()
        env = {**self.stream.env(port), "TIERSTREAM_REDIS_URL": self.redis.url, **(extra_env or {})}
        log = self.tmp / f"worker-{port}.log"
        with log.open("ab") as fh:
            proc = subprocess.Popen([sys.executable, "-m", "tierstream", "worker"], env=env, stdout=fh,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.stream.workers.append(proc)
        w = Worker(proc, port)
        self.workers.append(w)

        def ready() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited with {proc.returncode}; see {log}")
            self.check_recovery()
            try:
                return bool(self.health(w).get("ready"))
            except (OSError, ValueError):
                return False

        poll(ready, deadline_s, f"worker on port {port} to be ready", interval=0.1)
        return w

    def check_recovery(self) -> None:
        """Fail at once (not after a deadline) if a worker cannot recover the table from its
        changelog (faust-streaming logs it and retries forever; the worker never gets ready)."""
        for log in self.tmp.glob("worker-*.log"):
            if RECOVERY_SIGNATURE in log.read_bytes():
                raise RuntimeError(f"table recovery failed ('Error in recovery' in {log}): a restarted "
                                   "worker can never become ready")

    def harvest(self, w: Worker) -> None:
        """Add the worker's processing counters to the deployment's (before it goes away)."""
        with suppress(OSError, ValueError):
            m = self.metrics(w)
            self.processed += int(sum(v for k, v in m.items() if k.startswith("tierstream_events_in_total{")))
            self.dedup_hits += int(m.get("tierstream_events_duplicate_total", 0))

    def harvest_all(self, fig: Figures) -> None:
        """At the end: the live workers' counters, and what they say about redelivery."""
        for w in self.workers:
            self.harvest(w)
        fig.reprocessed = max(0, self.processed - fig.events_in)
        fig.facts["inbound messages processed, all workers (>=)"] = self.processed
        fig.facts["dedup hits in state (events_duplicate_total, >=)"] = self.dedup_hits

    def kill9(self, w: Worker) -> None:
        """SIGKILL the worker's whole process group: no shutdown, no final commit or flush."""
        self.harvest(w)  # a moment before the kill: what it processed after this is not counted
        with suppress(ProcessLookupError):
            os.killpg(w.proc.pid, signal.SIGKILL)
        w.proc.wait()
        self._forget(w)

    def stop_worker(self, w: Worker) -> None:
        """A graceful stop (SIGTERM): the worker leaves the group and commits."""
        self.harvest(w)
        stop_process(w.proc)
        self._forget(w)

    def _forget(self, w: Worker) -> None:
        self.workers.remove(w)
        if w.proc in self.stream.workers:
            self.stream.workers.remove(w.proc)

    def health(self, w: Worker) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{w.port}/health", timeout=3) as r:
            doc: dict[str, Any] = json.loads(r.read())
            return doc

    def metrics(self, w: Worker) -> dict[str, float]:
        """The worker's /metrics as ``{series: value}`` (series with their labels)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{w.port}/metrics", timeout=3) as r:
            text = r.read().decode()
        out: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                out[name] = float(value)
        return out

    def wait_split(self, deadline_s: float = 60.0) -> None:
        """Until the live workers own every partition between them, each at least one."""
        everything = list(range(self.stream.partitions))

        def split() -> bool:
            parts: list[list[int]] = []
            for w in self.workers:
                try:
                    parts.append(self.health(w)["assigned_partitions"])
                except (OSError, ValueError):
                    return False
            return all(parts) and sorted(p for ps in parts for p in ps) == everything

        poll(split, deadline_s, f"{len(self.workers)} workers to share the partitions")

    def tier_store(self) -> TierStore:
        return TierStore.from_url(self.redis.url, prefix=self.settings.redis_key_prefix)


class Publisher(threading.Thread):
    """``streams.client.api.publish`` in a thread, paced, with its progress readable for kill points."""

    def __init__(self, settings: Settings, lines: Sequence[bytes], seconds: float) -> None:
        super().__init__(daemon=True)
        self.settings = settings
        self.lines = lines
        self.rate = max(1.0, len(lines) / max(seconds, 0.1))
        self.sent = 0
        self.error: BaseException | None = None
        self.failed = 0

    def _progress(self, n: int) -> None:
        self.sent += n

    def run(self) -> None:
        try:
            rep = publish(self.settings, enumerate(self.lines, 1), rate=self.rate, on_progress=self._progress)
            self.failed = rep.failed
        except BaseException as exc:  # reported by finish()
            self.error = exc

    def reached(self, line: int) -> bool:
        return self.sent >= line or not self.is_alive()

    def finish(self, timeout_s: float = 600) -> None:
        self.join(timeout_s)
        if self.is_alive():
            raise RuntimeError("publisher did not finish")
        if self.error is not None:
            raise self.error
        if self.failed:
            raise RuntimeError(f"{self.failed} events were not acknowledged by the broker")


@dataclass
class Sent:
    """One raw message produced to an inbound topic, with where it landed and what should happen."""

    topic: str
    key: bytes | None
    value: bytes | None
    expect: str  # "valid", "too_new", "too_old", "dlq:<reason>" or "dlq:*" (any reason)
    kind: str = ""
    partition: int = -1
    offset: int = -1


def send_raw(settings: Settings, msgs: Sequence[Sent], timeout_s: float = 300) -> None:
    """Produce ``msgs`` in order, unchanged (junk included), and record partition and offset."""
    cfg: dict[str, Any] = dict(kafka_python_config(settings))
    producer = KafkaProducer(**cfg, acks="all", linger_ms=5, max_request_size=8 << 20,
                             enable_idempotence=False, max_in_flight_requests_per_connection=1)
    try:
        futures = [producer.send(m.topic, key=m.key, value=m.value) for m in msgs]
        producer.flush(timeout=timeout_s)
        for m, fut in zip(msgs, futures, strict=True):
            md = fut.get(timeout=timeout_s)
            m.partition, m.offset = md.partition, md.offset
    finally:
        producer.close(timeout=10)


def read_topic(settings: Settings, topic: str, timeout_s: float = 120) -> list[Any]:
    """Every record of ``topic``, up to the high watermark its fetch responses report.

    Not ``end_offsets``: Tansu answers ListOffsets LATEST with the newest record *batch*'s base
    offset + 1, so with multi-record batches a reader that stops there misses the batch's tail
    (``streams.client.api.read_states`` does; see docs/RELIABILITY.md). A fetch response's high
    watermark is exact; the read is over when every partition's position has reached it.
    """
    consumer = KafkaConsumer(**dict(kafka_python_config(settings)), group_id=None, enable_auto_commit=False,
                             max_partition_fetch_bytes=16 << 20, fetch_max_bytes=64 << 20,
                             max_poll_records=1_000_000)
    out: list[Any] = []
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        pending = set(tps)
        deadline = time.monotonic() + timeout_s
        while pending:
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {topic} to its end in {timeout_s:g} s")
            for batch in consumer.poll(timeout_ms=500).values():
                out.extend(batch)
            for tp in list(pending):
                hw = consumer.highwater(tp)
                if hw is not None and consumer.position(tp) >= hw:
                    pending.discard(tp)
    finally:
        consumer.close()
    return out


def read_table(settings: Settings) -> dict[str, EntityState]:
    """The worker's ``entities`` table from its changelog (last value per key; None deletes)."""
    rows: dict[str, bytes] = {}
    for r in read_topic(settings, topic_names(settings).entities_changelog):
        key = _decode_table_key(r.key)
        if r.value is None:
            rows.pop(key, None)
        else:
            rows[key] = _decode_table_value(r.value)
    return {k: EntityState.from_bytes(v) for k, v in rows.items()}


def stream_snapshot(settings: Settings) -> Snapshots:
    """What ``tierstream snapshot`` computes (every entity as of the latest clock), from :func:`read_table`."""
    states = [st for st in read_table(settings).values()]
    if not states:
        return {}
    grader = Grader(load_rules())
    as_of = max(st.clock for st in states)
    return {(st.kind, st.entity_id): grader.snapshot(st, as_of).model_dump(mode="json")
            for st in states if not st.is_empty()}


# =============================================================================== reference and checks


@dataclass
class Reference:
    """The offline scorer's result on the events, and the facts the checks compare with."""

    snapshots: Snapshots
    seen: dict[str, set[int]]  # entity key -> event-id hashes held in its state
    event_ids: set[int]  # hashes of every distinct valid inbound event id
    report: Report


def reference(lines: Sequence[bytes]) -> Reference:
    scorer = OfflineScorer(load_rules())
    as_of = run(scorer, enumerate(lines, 1))
    snaps: Snapshots = {(s.entity_type, s.entity_id): s.model_dump(mode="json") for s in scorer.snapshots(as_of)}
    ids: set[int] = set()
    for raw in lines:
        with suppress(ValidationError):
            ids.add(event_hash(INBOUND_ADAPTER.validate_json(raw).event_id))
    seen = {entity_key(*k): set(st.seen) for k, st in scorer.states.items()}
    return Reference(snaps, seen, ids, scorer.report)


def _states(settings: Settings) -> dict[str, EntityState]:
    return read_table(settings)


def check_parity(dep: Deployment, ref: Reference, fig: Figures, deadline_s: float = SETTLE_S) -> bool:
    """Poll until the stream's snapshot equals the offline one; record the diff if it never does."""
    last: Snapshots = {}

    def equal() -> bool:
        nonlocal last
        dep.check_recovery()
        last = stream_snapshot(dep.settings)
        return last == ref.snapshots

    try:
        poll(equal, deadline_s, "stream snapshot == offline snapshot", interval=1.0)
    except AssertionError:
        fig.failures.append("snapshot differs from the offline scorer: " + diff(ref.snapshots, last))
        return False
    fig.parity = True
    fig.entities = len(ref.snapshots)
    return True


def check_state(dep: Deployment, ref: Reference, fig: Figures) -> dict[str, EntityState]:
    """Event ids in the table against the offline scorer's: nothing lost, nothing unexpected."""
    states = _states(dep.settings)
    fig.valid = len(ref.event_ids)
    fig.input_duplicates = ref.report.duplicates
    for key, seen in ref.seen.items():
        want = seen & ref.event_ids
        got = set(states[key].seen) & ref.event_ids if key in states else set()
        fig.expected_in_state += len(want)
        fig.in_state += len(got)
        fig.lost_events += len(want - got)
        fig.extra_events += len(got - want)
    for key, st in states.items():
        if key not in ref.seen:
            fig.extra_events += len(set(st.seen) & ref.event_ids)
    fig.check(fig.lost_events == 0, f"{fig.lost_events} event ids missing from the stream's state")
    fig.check(fig.extra_events == 0, f"{fig.extra_events} event ids in the stream's state the offline scorer refused")
    return states


def _redis_current(client: redis.Redis[str], prefix: str, states: dict[str, EntityState]) -> dict[str, tuple[str, str]]:
    pipe = client.pipeline(transaction=False)
    keys = [k for k, st in states.items() if st.seq]
    for k in keys:
        st = states[k]
        pipe.hmget(tier_key(prefix, st.kind, st.entity_id), ["seq", "tier"])
    return {k: (seq or "", tier or "") for k, (seq, tier) in zip(keys, pipe.execute(), strict=True)}


def redis_behind(dep: Deployment, states: dict[str, EntityState], only: set[str] | None = None) -> list[str]:
    """Entities whose Redis current tier is not the state's latest change (seq and tier)."""
    client = dep.redis.client()
    try:
        cur = _redis_current(client, dep.settings.redis_key_prefix, states)
    finally:
        client.close()
    return [k for k, (seq, tier) in cur.items()
            if (only is None or k in only) and (seq != str(states[k].seq) or tier != states[k].published_tier)]


def redis_history_dups(dep: Deployment, states: dict[str, EntityState]) -> tuple[int, int]:
    """(duplicate change ids across the entities' history lists, duplicates in the changes stream)."""
    prefix = dep.settings.redis_key_prefix
    client = dep.redis.client()
    try:
        pipe = client.pipeline(transaction=False)
        for st in states.values():
            pipe.lrange(history_key(prefix, st.kind, st.entity_id), 0, -1)
        dups = 0
        for items in pipe.execute():
            ids = [json.loads(i)["change_id"] for i in items]
            dups += len(ids) - len(set(ids))
        entries = client.xrange(changes_stream_key(prefix))
        ids = [json.loads(fields["change"])["change_id"] for _, fields in entries]
        return dups, len(ids) - len(set(ids))
    finally:
        client.close()


Scope = Callable[[dict[str, EntityState]], set[str] | None]


def _changes_by_id(dep: Deployment) -> tuple[dict[str, set[bytes]], int]:
    """change_id -> the distinct contents published under it; and the number of records."""
    records = read_topic(dep.settings, dep.names.tier_changes)
    by_id: dict[str, set[bytes]] = {}
    for r in records:
        by_id.setdefault(TierChange.model_validate_json(r.value).change_id, set()).add(r.value)
    return by_id, len(records)


def change_id(st: EntityState, seq: int) -> str:
    return f"tc:{st.kind}:{st.entity_id}:{seq}"


def _beyond(states: dict[str, EntityState], by_id: dict[str, set[bytes]]) -> list[tuple[str, str]]:
    """(entity key, change_id) of changes on the topic whose seq the entity's state has not reached."""
    out = []
    for cid in by_id:
        key, _, seq = cid.removeprefix("tc:").rpartition(":")  # entity ids may contain ':'
        st = states.get(key)
        if st is not None and seq.isdigit() and int(seq) > st.seq:
            out.append((key, cid))
    return out


def explain_entity(dep: Deployment, st: EntityState, by_id: dict[str, set[bytes]]) -> str:
    """State, Redis and topic views of one entity, for a failure message."""
    client = dep.redis.client()
    try:
        cur = client.hgetall(tier_key(dep.settings.redis_key_prefix, st.kind, st.entity_id))
    finally:
        client.close()
    prefix = f"tc:{st.kind}:{st.entity_id}:"
    on_topic = sorted(int(k[len(prefix):]) for k in by_id if k.startswith(prefix) and k[len(prefix):].isdigit())
    return (f"{st.kind}:{st.entity_id} state seq {st.seq} tier {st.published_tier}; Redis seq {cur.get('seq')} "
            f"tier {cur.get('tier')} change {cur.get('change_id')}; on the topic: seqs {on_topic}")


def check_outputs(dep: Deployment, fig: Figures, deadline_s: float = 90.0,
                  redis_scope: Scope | None = None) -> dict[str, EntityState]:
    """Tier changes on the topic and in Redis against the state's change counter.

    Polls until Redis holds every entity's latest change (state and topic re-read each time:
    review ticks may still move tiers), for the entities whose latest change is on the topic
    exactly once. Then: every change 1..seq of every entity is on the topic (none lost), a
    change_id never has two contents, Redis history and stream hold no duplicate.
    """
    states: dict[str, EntityState] = {}
    by_id: dict[str, set[bytes]] = {}
    records = 0
    behind: list[str] = []

    def caught_up() -> bool:
        nonlocal states, by_id, records, behind
        states = _states(dep.settings)
        by_id, records = _changes_by_id(dep)
        ahead = {k for k, _ in _beyond(states, by_id)}
        scope = {k for k, st in states.items()
                 if st.seq and len(by_id.get(change_id(st, st.seq), ())) == 1 and k not in ahead}
        if redis_scope is not None:
            scope &= redis_scope(states) or set()
        behind = redis_behind(dep, states, scope)
        return not behind

    try:
        poll(caught_up, deadline_s, "Redis to hold every entity's latest change", interval=1.0)
    except AssertionError:
        fig.redis_behind = len(behind)
        detail = f"{len(behind)} entities' latest change not in Redis: " + "; ".join(
            explain_entity(dep, states[k], by_id) for k in behind[:3])
        fig.failures.append(detail)
    fig.changes = len(by_id)
    fig.redelivered_changes = records - len(by_id)
    conflicts = {k: v for k, v in by_id.items() if len(v) > 1}
    fig.conflicting_changes = len(conflicts)
    for cid, versions in list(conflicts.items())[:3]:
        docs = [json.loads(v) for v in versions]
        fields = sorted(f for f in docs[0] if any(d.get(f) != docs[0].get(f) for d in docs))
        fig.facts[f"{cid} published twice, differing in"] = {f: [d.get(f) for d in docs] for f in fields}
    missing = [change_id(st, n) for st in states.values() for n in range(1, st.seq + 1)
               if change_id(st, n) not in by_id]
    fig.lost_changes = len(missing)
    if missing:
        fig.failures.append(f"{len(missing)} tier changes lost (e.g. {missing[:3]})")
    beyond = _beyond(states, by_id)
    fig.conflicting_changes += len(beyond)
    if beyond:
        fig.facts["changes on the topic beyond the state's seq"] = [cid for _, cid in beyond[:5]]
    if conflicts or beyond:
        fig.failures.append(f"{len(conflicts)} change ids with two contents, {len(beyond)} beyond the state's seq")
    ahead = {k for k, _ in beyond}
    unchecked = [k for k, st in states.items()
                 if st.seq and (len(by_id.get(change_id(st, st.seq), ())) != 1 or k in ahead)]
    if unchecked:
        fig.facts["entities left out of the Redis check (latest change lost or conflicting)"] = len(unchecked)
    hist, stream_dups = redis_history_dups(dep, states)
    fig.redis_history_dups = hist
    fig.check(hist == 0, f"{hist} duplicate change ids in Redis history lists")
    fig.check(stream_dups == 0, f"{stream_dups} duplicate change ids in the Redis changes stream")
    return states


def sample_lines(tmp: Path, customers: int, suppliers: int, days: int, seed: int) -> list[bytes]:
    path = tmp / f"sample-{customers}-{suppliers}-{days}-{seed}.jsonl"
    if not path.exists():
        write_sample(path, customers=customers, suppliers=suppliers, days=days, seed=seed)
    return [line for line in path.read_bytes().split(b"\n") if line.strip()]


def sized_sample(tmp: Path, events: int, seed: int, days: int = 150) -> list[bytes]:
    """A sample of about ``events`` lines (10 customers per supplier) over ``days`` days.

    150 days stays inside every retention (customers 365 + 60, suppliers 180 + 60 days), so
    the state's event ids are a function of the set of events (see docs/RELIABILITY.md).
    """
    customers = 20
    while estimate_lines(customers, max(2, customers // 10), days) < events:
        customers = max(customers + 1, int(customers * 1.1))
    return sample_lines(tmp, customers, max(2, customers // 10), days, seed)


# =============================================================================== scenarios


def scenario_crash(bootstrap: str, tmp: Path, events: int = 20_000, kills: int = 3, seed: int = 1,
                   replay_s: float | None = None) -> Figures:
    """Two workers share the partitions; kill -9 one at random points of a replay, restart it."""
    fig = Figures("crash")
    started = time.monotonic()
    rng = random.Random(seed)
    lines = sized_sample(tmp, events, seed)
    ref = reference(lines)
    fig.events_in = len(lines)
    with Deployment(bootstrap, tmp / "crash") as dep:
        dep.start_worker()
        dep.start_worker()
        dep.wait_split()
        seconds = replay_s if replay_s is not None else max(20.0, 8.0 * kills)
        pub = Publisher(dep.settings, lines, seconds)
        points = sorted(rng.randint(len(lines) // 10, len(lines) * 9 // 10) for _ in range(kills))
        pub.start()
        killed: list[str] = []
        for point in points:
            poll(functools.partial(pub.reached, point), 600, f"the replay to reach line {point}", interval=0.02)
            victim = rng.choice(dep.workers)
            killed.append(f"line {pub.sent} (port {victim.port})")
            dep.kill9(victim)
            dep.start_worker()  # waits until it is ready (partitions assigned, tables recovered)
        pub.finish()
        fig.facts["kill -9 at"] = ", ".join(killed)
        if check_parity(dep, ref, fig):
            dep.harvest_all(fig)
            check_state(dep, ref, fig)
            check_outputs(dep, fig)
        fig.check(all(w.alive for w in dep.workers), "a worker died on its own")
    fig.seconds = time.monotonic() - started
    return fig


def scenario_rebalance(bootstrap: str, tmp: Path, events: int = 20_000, seed: int = 2,
                       replay_s: float = 30.0) -> Figures:
    """Mid-stream: a second worker joins, later the first one leaves (graceful stop)."""
    fig = Figures("rebalance")
    started = time.monotonic()
    lines = sized_sample(tmp, events, seed)
    ref = reference(lines)
    fig.events_in = len(lines)
    with Deployment(bootstrap, tmp / "rebalance") as dep:
        first = dep.start_worker()
        pub = Publisher(dep.settings, lines, replay_s)
        pub.start()
        poll(lambda: pub.reached(len(lines) // 4), 600, "a quarter of the replay", interval=0.02)
        dep.start_worker()
        dep.wait_split()
        fig.facts["worker added at line"] = pub.sent
        poll(lambda: pub.reached(len(lines) * 3 // 5), 600, "three fifths of the replay", interval=0.02)
        fig.facts["worker removed at line"] = pub.sent
        dep.stop_worker(first)
        dep.wait_split()  # the remaining worker owns everything
        pub.finish()
        if check_parity(dep, ref, fig):
            dep.harvest_all(fig)
            check_state(dep, ref, fig)
            check_outputs(dep, fig)
    fig.seconds = time.monotonic() - started
    return fig


def _latest_change_times(dep: Deployment) -> dict[str, tuple[int, float]]:
    """entity key -> (highest seq on the tier-changes topic, its record's produce time, epoch s)."""
    out: dict[str, tuple[int, float]] = {}
    for r in read_topic(dep.settings, dep.names.tier_changes):
        c = TierChange.model_validate_json(r.value)
        key = entity_key(c.entity_type, c.entity_id)
        seq = int(c.change_id.rsplit(":", 1)[1])
        if key not in out or seq > out[key][0]:
            out[key] = (seq, r.timestamp / 1000)
    return out


def scenario_redis(bootstrap: str, tmp: Path, events: int = 20_000, seed: int = 3, replay_s: float = 24.0,
                   mode: str = "restart") -> Figures:
    """Redis goes away mid-stream for a third of the replay, then comes back.

    ``restart``: SIGKILL and a new empty server on the same port (memory only, as Redis
    without persistence restarts). ``freeze``: SIGSTOP/SIGCONT (unreachable, data kept).
    """
    fig = Figures(f"redis-{mode}")
    started = time.monotonic()
    lines = sized_sample(tmp, events, seed)
    ref = reference(lines)
    fig.events_in = len(lines)
    with Deployment(bootstrap, tmp / f"redis-{mode}") as dep:
        w = dep.start_worker()
        pub = Publisher(dep.settings, lines, replay_s)
        pub.start()
        poll(lambda: pub.reached(len(lines) // 3), 600, "a third of the replay", interval=0.02)
        down_at = time.time()
        dep.redis.kill() if mode == "restart" else dep.redis.freeze()
        fig.facts["Redis down at line"] = pub.sent
        poll(lambda: pub.reached(len(lines) * 2 // 3), 600, "two thirds of the replay", interval=0.02)
        # ... and until the sink has hit the outage (a write failed), however sparse the changes.
        poll(lambda: dep.metrics(w).get("tierstream_redis_errors_total", 0) > 0, 120, "the sink to see Redis down")
        fig.facts["Redis back at line"] = pub.sent
        fig.facts["Redis down for (s)"] = round(time.time() - down_at, 1)
        if mode == "restart":
            dep.redis.start()  # same port: the worker's client reconnects
        else:
            dep.redis.thaw()
        pub.finish()
        metrics = dep.metrics(w)
        fig.facts["tierstream_redis_errors_total during the outage"] = metrics.get("tierstream_redis_errors_total")
        fig.check(metrics.get("tierstream_redis_errors_total", 0) > 0, "the sink never saw Redis down")
        if check_parity(dep, ref, fig):
            dep.harvest_all(fig)
            check_state(dep, ref, fig)
            if mode == "freeze":
                check_outputs(dep, fig)
            else:
                _redis_restart_checks(dep, fig, down_at)
        fig.check(w.alive, "the worker died")
    fig.seconds = time.monotonic() - started
    return fig


def _redis_restart_checks(dep: Deployment, fig: Figures, down_at: float) -> None:
    """After an empty restart: every change produced from the outage on reaches Redis; the
    rest was lost with Redis's memory, and replaying the topic (idempotent) restores it."""
    latest = _latest_change_times(dep)
    after = {k for k, (_, t) in latest.items() if t >= down_at}
    fig.facts["entities whose latest change came during/after the outage"] = len(after)
    states = check_outputs(dep, fig, redis_scope=lambda st: after & set(st))
    lost_with_redis = redis_behind(dep, states)
    fig.facts["entities missing from the restarted (empty) Redis before resync"] = len(lost_with_redis)
    fig.check(all(latest[k][1] < down_at for k in lost_with_redis if k in latest),
              "an entity whose latest change came after the outage is missing from Redis")
    # Resync: replay the whole tier-changes topic through the same idempotent script.
    store = dep.tier_store()
    applied = 0
    try:
        for r in read_topic(dep.settings, dep.names.tier_changes):
            applied += store.apply_change(TierChange.model_validate_json(r.value))
    finally:
        store.close()
    fig.facts["resync from the topic: changes applied / behind after"] = (
        f"{applied} / {len(redis_behind(dep, states))}")
    still = redis_behind(dep, states)
    deadline = time.monotonic() + 30
    while still and time.monotonic() < deadline:
        # The changelog record of a batch is produced after its outputs: a state read just
        # before the worker's next flush can trail Redis. Read it again until it settles.
        time.sleep(0.5)  # polling interval, not synchronization
        states = {**states, **{k: v for k, v in _states(dep.settings).items() if k in states}}
        still = redis_behind(dep, states)
    if still:
        by_id, _ = _changes_by_id(dep)
        fig.failures.append("Redis still behind after replaying the tier-changes topic: "
                            + "; ".join(explain_entity(dep, states[k], by_id) for k in still[:3]))
    hist, stream_dups = redis_history_dups(dep, states)
    fig.redis_history_dups = hist
    fig.check(hist == 0 and stream_dups == 0, f"duplicates in Redis after resync: {hist} history, {stream_dups} stream")


# --------------------------------------------------------------------------- hostile input

_AT = "2026-10-01T10:00:00Z"


def _order(eid: str, cid: str, at: str = _AT, **extra: Any) -> dict[str, Any]:
    return {"type": "order", "event_id": eid, "occurred_at": at, "order_id": "o-" + eid, "customer_id": cid,
            "amount": 120.5, "cost": 80.0, **extra}


def _delivery(eid: str, sid: str, **extra: Any) -> dict[str, Any]:
    return {"type": "delivery", "event_id": eid, "occurred_at": _AT, "supplier_id": sid, "order_id": "p-" + eid,
            "promised_at": "2026-10-02T00:00:00Z", "quantity_ordered": 10, "quantity_delivered": 10,
            "quantity_accepted": 9, **extra}


def _j(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


ODD = ["\u200f", "\u202e", "\U0001f600", "\u200d", "e\u0301", "\u4e2d\u6587", "\u0627\u0644", "\ufeff", "\u2028"]


def hostile_units(n: int, rng: random.Random, names: TopicNames, anchors: Sequence[str]) -> list[list[Sent]]:
    """About ``n`` malformed messages (plus a few valid ones they need), in units kept in order.

    Every malformed message says what must become of it: ``dlq:<reason>``; valid-but-refused
    events say ``too_new`` / ``too_old``; valid events with odd unicode say ``valid``.
    """
    orders, pays, deliveries = names.inbound("order"), names.inbound("payment"), names.inbound("delivery")
    units: list[list[Sent]] = []
    big_budget = max(1, n // 2000)  # messages over 1 MiB: a few, they are expensive
    key_budget = max(1, n // 2000)  # keys of 20-400 KB
    count = 0
    i = 0

    def one(topic: str, key: bytes | None, value: bytes | None, expect: str, kind: str) -> None:
        units.append([Sent(topic, key, value, expect, kind)])

    while count < n:
        i += 1
        eid = f"hx-{i}"
        cid = rng.choice(anchors)
        ckey = entity_key("customer", cid).encode()
        good = _j(_order(eid, cid))
        kind = rng.choice(CATEGORIES)
        count += 1
        if kind == "truncated":
            one(orders, ckey, good[: rng.randint(1, len(good) - 1)], "dlq:invalid_json", kind)
        elif kind == "binary":
            one(orders, ckey, b"\xff" + rng.randbytes(rng.randint(0, 200)), "dlq:invalid_json", kind)
        elif kind == "lone_surrogate":
            one(orders, ckey, good.replace(cid.encode(), cid.encode() + b"\\ud800", 1), "dlq:invalid_json", kind)
        elif kind == "invalid_utf8":
            one(orders, ckey, good.replace(b"o-hx", b"o-\xc3\x28hx", 1), "dlq:invalid_json", kind)
        elif kind == "raw_control_char":
            one(orders, ckey, good.replace(b"o-hx", b"o-\x01hx", 1), "dlq:invalid_json", kind)
        elif kind == "trailing_garbage":
            one(orders, ckey, good + b"}{", "dlq:invalid_json", kind)
        elif kind == "bom":
            one(orders, ckey, b"\xef\xbb\xbf" + good, "dlq:invalid_json", kind)
        elif kind == "deep_nesting":
            depth = rng.randint(300, 20_000)
            one(orders, ckey, b"[" * depth + b"]" * depth, "dlq:invalid_json", kind)
        elif kind == "empty_or_tombstone":
            one(orders, ckey, rng.choice([b"", None]), "dlq:invalid_json", kind)
        elif kind == "not_an_object":
            one(orders, ckey, rng.choice([b"[1,2]", b'"order"', b"42", b"null", b"true"]), "dlq:invalid_event", kind)
        elif kind == "wrong_type":
            field_, bad = rng.choice([("amount", "12.5"), ("event_id", 7), ("occurred_at", 1790000000),
                                      ("customer_id", {"id": cid}), ("cost", [1]), ("status", True)])
            one(orders, ckey, _j({**_order(eid, cid), field_: bad}), "dlq:invalid_event", kind)
        elif kind == "missing_field":
            doc = _order(eid, cid)
            del doc[rng.choice(["amount", "order_id", "event_id", "occurred_at"])]
            one(orders, ckey, _j(doc), "dlq:missing_field", kind)
        elif kind == "long_string":
            doc = _order(eid, cid, order_id="o" * rng.randint(129, 20_000))
            one(orders, ckey, _j(doc), "dlq:invalid_event", kind)
        elif kind == "too_large":
            size = rng.randint(64 * 1024 + 1, 400 * 1024)
            value = rng.choice([
                _j(_order(eid, cid, currency="CNY")) + b" " * size,  # valid JSON, padded: size alone refuses it
                _j({**_order(eid, cid), "order_id": "x" * size}),
                b"\x00" * size,
                rng.randbytes(size),
            ])
            if big_budget > 0 and rng.random() < 0.05:
                big_budget -= 1
                value = b'"' * (1536 * 1024)  # 1.5 MiB of quotes (escaped: twice that in JSON)
            one(orders, ckey, value, "dlq:too_large", kind)
        elif kind == "nan_inf":
            lit = rng.choice([b"NaN", b"Infinity", b"-Infinity", b'"NaN"', b"1e400", b'"inf"'])
            one(orders, ckey, good.replace(b'"amount":120.5', b'"amount":' + lit), "dlq:invalid_event", kind)
        elif kind == "negative":
            sid = "s-" + cid
            if rng.random() < 0.5:
                one(orders, ckey, _j({**_order(eid, cid), "amount": -rng.randint(1, 10**6)}), "dlq:invalid_event", kind)
            else:
                one(deliveries, entity_key("supplier", sid).encode(),
                    _j(_delivery(eid, sid, quantity_delivered=-3)), "dlq:invalid_event", kind)
        elif kind == "bad_timestamp":
            at = rng.choice(["2150-01-01T00:00:00Z", "1999-12-31T23:59:59Z", "2026-10-01T10:00:00",
                             "2026-02-30T10:00:00Z", "yesterday", "2026-10-01T25:00:00Z"])
            one(orders, ckey, _j(_order(eid, cid, at=at)), "dlq:invalid_event", kind)
        elif kind == "too_new":
            one(orders, ckey, _j(_order(eid, cid, at=f"2099-0{rng.randint(1, 9)}-01T00:00:00Z")), "too_new", kind)
        elif kind == "too_old":
            owner = f"hx-old-{i}"
            okey = entity_key("customer", owner).encode()
            units.append([Sent(orders, okey, _j(_order(eid + "-now", owner)), "valid", "too_old_anchor"),
                          Sent(orders, okey, _j(_order(eid, owner, at=f"20{rng.randint(10, 23)}-03-01T00:00:00Z")),
                               "too_old", kind)])
        elif kind == "unknown_type":
            t = rng.choice(["refund", "ORDER", "", "order ", 7, None])
            doc = {**_order(eid, cid), "type": t}
            if t is None:
                del doc["type"]
            one(orders, ckey, _j(doc), "dlq:unknown_type", kind)
        elif kind == "odd_unicode_valid":
            odd = rng.choice(ODD)
            owner = f"hx-u{i}-{odd}x"  # odd character inside the id: allowed (printable, not at an end)
            one(orders, entity_key("customer", owner).encode(), _j(_order(eid + odd + "e", owner)), "valid", kind)
        elif kind == "odd_unicode_invalid":
            bad_id = rng.choice([cid + "\x00", "\x00", " " + cid, cid + "\n", "\u2028" + cid, cid + "\x7f"])
            one(orders, ckey, _j(_order(eid, cid) | {"order_id": bad_id}), "dlq:invalid_event", kind)
        elif kind == "key_mismatch":
            key = rng.choice([None, b"", entity_key("customer", cid + "-other").encode(),
                              entity_key("supplier", cid).encode(), cid.encode(), ckey.upper()])
            one(orders, key, good, "dlq:key_mismatch", kind)
        elif kind == "wrong_topic":
            pay = {"type": "payment", "event_id": eid, "occurred_at": _AT, "customer_id": cid, "invoice_id": "i" + eid,
                   "amount": 10.0, "due_at": _AT}
            one(orders, ckey, _j(pay), "dlq:wrong_topic", kind)
        elif kind == "rule_violation":
            doc = rng.choice([
                {"type": "referral", "event_id": eid, "occurred_at": _AT, "referrer_id": cid, "referred_id": cid},
                _delivery(eid, "s-" + cid, quantity_accepted=11),
                {**_order(eid, cid), "supplier_id": "s1"},
                {"type": "assessment", "event_id": eid, "occurred_at": _AT, "entity_type": "customer",
                 "entity_id": cid, "tier_override": "platinum", "reason": "x", "expires_at": "2027-01-01T00:00:00Z",
                 "author": "mallory"},
            ])
            topic = names.inbound(doc["type"])
            one(topic, entity_key(*entity_of_raw(doc)).encode(), _j(doc), "dlq:invalid_event", kind)
        elif kind == "huge_key":
            if key_budget > 0:
                key_budget -= 1
                key = rng.choice([b"\x00", b"k", "\U0001f600".encode()]) * rng.randint(20_000, 100_000)
            else:
                key = b"customer:" + b"x" * rng.randint(200, 5_000)
            one(orders, key, good, "dlq:key_mismatch", kind)
        elif kind == "many_errors":
            extra = {f"x{k}": k for k in range(rng.randint(100, 5_000))}
            one(orders, ckey, _j({**_order(eid, cid), **extra}), "dlq:invalid_event", kind)
        elif kind == "extra_field":
            one(orders, ckey, _j({**_order(eid, cid), "admin": True}), "dlq:invalid_event", kind)
        elif kind == "duplicate_json_keys":
            one(orders, ckey, good[:-1] + b',"amount":-1}', "dlq:invalid_event", kind)
        elif kind == "payment_amount_string":
            pay = {"type": "payment", "event_id": eid, "occurred_at": _AT, "customer_id": cid, "invoice_id": "i" + eid,
                   "amount": "10", "due_at": _AT}
            one(pays, ckey, _j(pay), "dlq:invalid_event", kind)
    return units


def entity_of_raw(doc: dict[str, Any]) -> Key:
    key = raw_entity_key(str(doc["type"]), doc)
    kind, _, eid = key.partition(":")
    return kind, eid


CATEGORIES = [
    "truncated", "binary", "lone_surrogate", "invalid_utf8", "raw_control_char", "trailing_garbage", "bom",
    "deep_nesting", "empty_or_tombstone", "not_an_object", "wrong_type", "missing_field", "long_string",
    "too_large", "nan_inf", "negative", "bad_timestamp", "too_new", "too_old", "unknown_type",
    "odd_unicode_valid", "odd_unicode_invalid", "key_mismatch", "wrong_topic", "rule_violation", "extra_field",
    "duplicate_json_keys", "payment_amount_string", "huge_key", "many_errors",
]


def _self_check(units: Sequence[Sequence[Sent]]) -> None:
    """The generator's promises hold offline: valid ones validate, schema-invalid ones do not."""
    for unit in units:
        for m in unit:
            try:
                INBOUND_ADAPTER.validate_json(m.value or b"")
                valid = True
            except ValidationError:
                valid = False
            schema_dlq = m.expect.startswith("dlq:") and m.expect not in (
                "dlq:key_mismatch", "dlq:wrong_topic", "dlq:too_large") and m.kind != "rule_violation"
            if m.expect in ("valid", "too_new", "too_old") and not valid:
                raise AssertionError(f"generator bug: {m.kind} should validate: {m.value!r:.200}")
            if schema_dlq and valid:
                raise AssertionError(f"generator bug: {m.kind} should not validate: {m.value!r:.200}")


def _as_sent(raw: bytes, names: TopicNames) -> Sent:
    """A sample line as a raw message: topic and key as ``publish`` would choose them."""
    try:
        ev = INBOUND_ADAPTER.validate_json(raw)
        return Sent(names.inbound(ev.type), entity_key(*entity_of(ev)).encode(), raw, "valid", "sample")
    except ValidationError:
        pass
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and doc.get("type") in ("order", "payment", "delivery", "referral", "service",
                                                     "assessment"):
        return Sent(names.inbound(doc["type"]), raw_entity_key(doc["type"], doc).encode(), raw, "dlq:*", "sample")
    return Sent(names.inbound("order"), b"unknown", raw, "dlq:*", "sample")


def _letter_bytes(d: DeadLetter) -> bytes:
    return base64.b64decode(d.value_b64) if d.value_b64 is not None else d.value.encode("utf-8")


def scenario_hostile(bootstrap: str, tmp: Path, events: int = 20_000, malformed: int = 10_000,
                     seed: int = 4) -> Figures:
    """Malformed messages mixed into valid traffic: each dead-lettered with its reason (or counted
    too_new / too_old), the worker never crashes, the valid events are graded as offline."""
    fig = Figures("hostile")
    started = time.monotonic()
    rng = random.Random(seed)
    lines = sized_sample(tmp, events, seed)
    with Deployment(bootstrap, tmp / "hostile") as dep:
        names = dep.names
        base = [_as_sent(raw, names) for raw in lines]
        anchors = sorted({m.key.decode().partition(":")[2] for m in base
                          if m.expect == "valid" and m.key and m.key.startswith(b"customer:")})
        units = hostile_units(malformed, rng, names, anchors)
        _self_check(units)
        # Interleave: every unit goes after a random sample line, units keep their own order.
        slots: dict[int, list[list[Sent]]] = {}
        for u in units:
            slots.setdefault(rng.randrange(len(base) + 1), []).append(u)
        msgs: list[Sent] = []
        for pos in range(len(base) + 1):
            for u in slots.get(pos, []):
                msgs.extend(u)
            if pos < len(base):
                msgs.append(base[pos])
        hostile = [m for u in units for m in u if m.kind != "too_old_anchor"]
        fig.facts["malformed or refused messages"] = len(hostile)
        fig.facts["by kind"] = dict(sorted(Counter(m.kind for m in hostile).items()))
        fig.events_in = len(msgs)
        ref = reference([m.value for m in msgs if m.value is not None and not m.expect.startswith("dlq:")])
        w = dep.start_worker()
        send_raw(dep.settings, msgs)
        if check_parity(dep, ref, fig):
            dep.harvest_all(fig)
            check_state(dep, ref, fig)
            check_outputs(dep, fig)
        _check_dead_letters(dep, msgs, fig)
        metrics = dep.metrics(w)
        for status in ("too_new", "too_old"):
            want = sum(1 for m in msgs if m.expect == status)
            got = metrics.get(f"tierstream_events_{status}_total", -1)
            fig.facts[f"tierstream_events_{status}_total"] = f"{got:g} (sent {want})"
            fig.check(got == want, f"tierstream_events_{status}_total is {got:g}, {want} were sent")
        fig.check(w.alive and bool(dep.health(w).get("ready")), "the worker is not alive and ready")
        fig.facts["worker restarts"] = 0 if w.alive else "died"
    fig.seconds = time.monotonic() - started
    return fig


def _check_dead_letters(dep: Deployment, msgs: Sequence[Sent], fig: Figures) -> None:
    by_pos = {(m.topic, m.partition, m.offset): m for m in msgs}
    want = [m for m in msgs if m.expect.startswith("dlq:")]
    letters: list[DeadLetter] = []

    def all_there() -> bool:
        nonlocal letters
        letters = [DeadLetter.model_validate_json(r.value) for r in read_topic(dep.settings, dep.names.dead_letters)]
        return len({(d.source_topic, d.partition, d.offset) for d in letters}) >= len(want)

    with suppress(AssertionError):
        poll(all_there, 120, "every dead letter", interval=1.0)
    fig.dead_letters = len(letters)
    seen: Counter[tuple[str, int, int]] = Counter()
    wrong: list[str] = []
    for d in letters:
        pos = (d.source_topic, d.partition, d.offset)
        seen[pos] += 1
        m = by_pos.get(pos)
        if m is None or not m.expect.startswith("dlq:"):
            wrong.append(f"unexpected dead letter for a {m.kind if m else 'unknown'} message: {d.reason}: {d.error}")
            continue
        if m.expect != "dlq:*" and d.reason != m.expect[4:]:
            wrong.append(f"{m.kind}: reason {d.reason} (expected {m.expect[4:]}): {d.error[:120]}")
        original = m.value or b""
        kept = _letter_bytes(d)
        if kept != original and not (d.reason == "too_large" and original.startswith(kept) and kept):
            wrong.append(f"{m.kind}: the dead letter does not carry the original bytes")
    missing = [m for m in want if seen[(m.topic, m.partition, m.offset)] == 0]
    fig.facts["dead letters by reason"] = dict(sorted(Counter(d.reason for d in letters).items()))
    fig.facts["largest dead letter (bytes)"] = max((len(d.model_dump_json()) for d in letters), default=0)
    fig.check(not missing, f"{len(missing)} malformed messages have no dead letter, e.g. "
              + "; ".join(f"{m.kind} ({len(m.value or b''):,} bytes)" for m in missing[:5]))
    fig.check(not wrong, f"{len(wrong)} dead letters wrong: " + " | ".join(wrong[:5]))
    fig.check(sum(seen.values()) == len(seen), f"{sum(seen.values()) - len(seen)} messages dead-lettered twice")


# --------------------------------------------------------------------------- late and out-of-order events

D = "2026-10-01"


def late_events() -> tuple[list[bytes], dict[str, Any]]:
    """Events per entity, each after a recent one on the same topic and key (order fixed), and
    what the engine must make of them (customers: window 365 + lookback 60 days; suppliers:
    180 + 60)."""
    def o(eid: str, cid: str, day: str, amount: float = 100.0) -> bytes:
        return _j(_order(eid, cid, at=f"{day}T10:00:00Z", amount=amount, cost=amount / 2))

    def dlv(eid: str, sid: str, day: str) -> bytes:
        return _j(_delivery(eid, sid) | {"occurred_at": f"{day}T10:00:00Z", "promised_at": f"{day}T12:00:00Z"})

    lines = [
        o("late-c1-now", "late-c1", D),
        o("late-c1-in", "late-c1", "2026-09-21"),  # 10 days late, in the window: its own day
        o("late-c1-hist", "late-c1", "2025-09-01"),  # before the 365-day window, inside the lookback
        o("late-c1-old", "late-c1", "2025-06-01"),  # before window + lookback: too old
        dlv("late-s1-now", "late-s1", D),
        dlv("late-s1-in", "late-s1", "2026-08-01"),  # in the 180-day window
        dlv("late-s1-hist", "late-s1", "2026-03-15"),  # 200 days back: history only
        dlv("late-s1-old", "late-s1", "2026-01-01"),  # 273 days back: too old
    ]
    # Out of order: one customer's year of orders in reverse time order.
    lines += [o(f"late-c2-{m}", "late-c2", f"2026-{m:02d}-15", 50.0 * m) for m in range(10, 0, -1)]
    expect = {"too_old": 2, "history": 2, "days": {"late-c1": ["2026-09-21", "2025-09-01"],
                                                  "late-s1": ["2026-08-01", "2026-03-15"]}}
    return lines, expect


def scenario_late(bootstrap: str, tmp: Path, events: int = 5_000, seed: int = 5) -> Figures:
    """Late events land in their own day; before the window they are history only; before the
    retention they are refused as too_old (metric), never dead-lettered."""
    from datetime import date

    fig = Figures("late")
    started = time.monotonic()
    late, expect = late_events()
    lines = sized_sample(tmp, events, seed) + late
    ref = reference(lines)
    fig.events_in = len(lines)
    fig.check(ref.report.too_old == expect["too_old"] and ref.report.history == expect["history"],
              f"offline counted {ref.report.too_old} too old / {ref.report.history} history")
    with Deployment(bootstrap, tmp / "late") as dep:
        w = dep.start_worker()
        rep = publish(dep.settings, enumerate(lines, 1))
        fig.check(rep.failed == 0, f"{rep.failed} events not acknowledged")
        if check_parity(dep, ref, fig):
            dep.harvest_all(fig)
            states = check_state(dep, ref, fig)
            check_outputs(dep, fig)
            epoch = date(1970, 1, 1).toordinal()
            for owner, days in expect["days"].items():
                kind = "customer" if owner.startswith("late-c") else "supplier"
                st = states[entity_key(kind, owner)]
                for d in days:
                    fig.check(date.fromisoformat(d).toordinal() - epoch in st.days, f"{owner}: no bucket for {d}")
            snap = ref.snapshots[("customer", "late-c1")]
            fig.facts["late-c1 order_count in the window (now + 10 days late)"] = snap["aggregates"]["order_count"]
            fig.check(snap["aggregates"]["order_count"] == 2, "history or too-old orders counted in the window")
        metrics = dep.metrics(w)
        got = metrics.get("tierstream_events_too_old_total", -1)
        fig.facts["tierstream_events_too_old_total"] = f"{got:g} (offline: {ref.report.too_old})"
        fig.facts["offline report"] = (f"{ref.report.applied} applied, {ref.report.history} history-only, "
                                       f"{ref.report.too_old} too old, {ref.report.duplicates} duplicates")
        fig.check(got == ref.report.too_old, "too_old metric differs from the offline count")
        letters = read_topic(dep.settings, dep.names.dead_letters)
        late_letters = [r for r in letters if b"late-" in r.value]
        fig.check(not late_letters, f"{len(late_letters)} late events were dead-lettered")
        fig.dead_letters = len(letters)
    fig.seconds = time.monotonic() - started
    return fig


# --------------------------------------------------------------------------- secrets and limits

REDIS_PASSWORD = "Redis-pw-7f3a9c"
ADMIN_TOKEN = "admin-token-4be21d"
KAFKA_PASSWORD = "Kafka-pw-c0ffee"


def _http(port: int, path: str, body: bytes | None = None, token: str | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body,
                                 method="POST" if body is not None else "GET")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def scenario_security(bootstrap: str, tmp: Path, kafka_worker: bool = False) -> Figures:
    """No secret in logs, errors or HTTP answers; input size limits hold.

    A worker runs with a password-bearing Redis URL that points at a dead port and a fake
    admin token (debug logging); the client runs with SASL credentials the embedded broker
    cannot honour; a misconfiguration error is provoked. Every output is searched for the
    secrets. ``kafka_worker`` also starts a worker with the SASL settings (30 s to fail).
    """
    fig = Figures("security")
    started = time.monotonic()
    tmp.mkdir(parents=True, exist_ok=True)
    secrets = [REDIS_PASSWORD, ADMIN_TOKEN, KAFKA_PASSWORD]
    outputs: dict[str, bytes] = {}
    stream = Stream(bootstrap, tmp / "security")
    (tmp / "security").mkdir(exist_ok=True)
    stream.create_topics()
    sasl_env = {**os.environ, **stream.env(free_port()), "TIERSTREAM_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "TIERSTREAM_KAFKA_SASL_MECHANISM": "PLAIN", "TIERSTREAM_KAFKA_SASL_USERNAME": "tierstream",
                "TIERSTREAM_KAFKA_SASL_PASSWORD": KAFKA_PASSWORD}
    empty = tmp / "security" / "one.jsonl"
    empty.write_bytes(_j(_order("sec-1", "sec-c1")) + b"\n")
    # The client with SASL against a broker without it: runs in the background (about 11 s).
    sasl_client = subprocess.Popen([sys.executable, "-m", "tierstream", "publish", str(empty)], env=sasl_env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    misconf = subprocess.run([sys.executable, "-m", "tierstream", "publish", str(empty)],
                             env={**sasl_env, "TIERSTREAM_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"},
                             capture_output=True, timeout=60)
    outputs["client, SASL password with PLAINTEXT (misconfiguration)"] = misconf.stdout + misconf.stderr
    fig.check(misconf.returncode != 0 and b"TIERSTREAM_KAFKA_SASL_PASSWORD" in misconf.stdout + misconf.stderr,
              "the misconfiguration was not refused by name")
    dead = free_port()
    port = free_port()
    log = tmp / "security" / "worker-secrets.log"
    env = {**os.environ, **stream.env(port), "TIERSTREAM_REDIS_URL": f"redis://:{REDIS_PASSWORD}@127.0.0.1:{dead}/0",
           "TIERSTREAM_ADMIN_TOKEN": ADMIN_TOKEN}
    with log.open("ab") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "tierstream", "worker", "--loglevel", "debug"], env=env,
                                stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_ready(port, 60, proc)
        publish(stream.settings, enumerate([_j(_order("sec-2", "sec-c2"))], 1))
        poll(lambda: b"tier store unavailable" in log.read_bytes(), 60, "the sink to report Redis down")
        body = _j({"type": "assessment", "event_id": "sec-a1", "occurred_at": _AT, "entity_type": "customer",
                   "entity_id": "sec-c3", "tier_override": "key", "reason": "x" * 100,
                   "expires_at": "2027-01-01T00:00:00Z", "author": "alice"})
        answers = {
            "GET /tiers (Redis down)": _http(port, "/tiers/customer/sec-c2"),
            "GET /health": _http(port, "/health"),
            "GET /metrics": _http(port, "/metrics"),
            "POST /assessments no token": _http(port, "/assessments", body),
            "POST /assessments wrong token": _http(port, "/assessments", body, token="nope"),
            "POST /assessments invalid body": _http(port, "/assessments", b'{"type":"assessment"}', ADMIN_TOKEN),
            "POST /assessments 16 KiB + 1": _http(port, "/assessments", b" " * (16 * 1024 + 1), ADMIN_TOKEN),
            "POST /assessments 2 MiB": _http(port, "/assessments", b" " * (2 << 20), ADMIN_TOKEN),
            "POST /assessments valid": _http(port, "/assessments", body, ADMIN_TOKEN),
        }
        codes = {k: v[0] for k, v in answers.items()}
        fig.facts["HTTP status"] = codes
        fig.check(codes["GET /tiers (Redis down)"] == 503, "tier lookup with Redis down is not 503")
        fig.check(codes["POST /assessments no token"] == 401 and codes["POST /assessments wrong token"] == 401,
                  "writes without the right token are not 401")
        fig.check(codes["POST /assessments 16 KiB + 1"] == 413, "a body over 16 KiB is not refused with 413")
        fig.check(codes["POST /assessments 2 MiB"] == 413, "a 2 MiB body is not refused with 413")
        fig.check(codes["POST /assessments valid"] == 202, "a valid assessment was not accepted")
        for name, (_, payload) in answers.items():
            outputs[f"HTTP {name}"] = payload
        fig.check(proc.poll() is None and wait_ready(port, 10, proc).get("ready") is True,
                  "the worker did not survive")
    finally:
        stop_process(proc)
    outputs["worker log (debug)"] = log.read_bytes()
    try:
        out, _ = sasl_client.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        sasl_client.kill()
        out, _ = sasl_client.communicate()
    outputs["client with SASL against a broker without SASL"] = out
    fig.check(sasl_client.returncode != 0, "the SASL client did not fail")
    if kafka_worker:
        try:
            r = subprocess.run([sys.executable, "-m", "tierstream", "worker", "--loglevel", "debug"], env=sasl_env,
                               capture_output=True, timeout=120)
            outputs["worker with SASL against a broker without SASL"] = r.stdout + r.stderr
        except subprocess.TimeoutExpired as e:
            outputs["worker with SASL against a broker without SASL"] = (e.stdout or b"") + (e.stderr or b"")
    leaks = [f"{name} contains {s[:6]}..." for name, data in outputs.items() for s in secrets if s.encode() in data]
    fig.facts["outputs searched"] = {k: f"{len(v):,} bytes" for k, v in outputs.items()}
    fig.check(not leaks, "secret leaked: " + "; ".join(leaks))
    fig.seconds = time.monotonic() - started
    return fig


# --------------------------------------------------------------------------- Kafka transactions


def transactions_probe(bootstrap: str) -> dict[str, str]:
    """What the broker does with transactional producers (aiokafka, as Faust uses, and kafka-python).

    Returns facts: ``aiokafka_init`` ("ok" or the error), ``kafka_python`` ("ok" or the error),
    ``read_committed_sees_aborted`` ("yes"/"no"), ``read_committed_sees_open`` ("yes"/"no").
    """
    from aiokafka import AIOKafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic

    topic = f"txn-probe-{os.getpid()}-{random.randrange(1 << 30)}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        admin.close()
    facts: dict[str, str] = {}

    async def aio() -> str:
        p = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=topic + "-aio")
        try:
            await asyncio.wait_for(p.start(), 30)
            async with p.transaction():
                await p.send(topic, b"aio-committed")
            return "ok"
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
        finally:
            await p.stop()

    facts["aiokafka_init"] = asyncio.run(aio())
    producer = KafkaProducer(bootstrap_servers=bootstrap, transactional_id=topic + "-kp")
    try:
        producer.init_transactions()
        producer.begin_transaction()
        producer.send(topic, b"committed")
        producer.commit_transaction()
        producer.begin_transaction()
        producer.send(topic, b"aborted")
        producer.flush()
        producer.abort_transaction()
        producer.begin_transaction()
        producer.send(topic, b"open")
        producer.flush()
        facts["kafka_python"] = "ok"
    except Exception as exc:
        facts["kafka_python"] = f"{type(exc).__name__}: {exc}"
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, isolation_level="read_committed",
                             enable_auto_commit=False)
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        values: list[bytes] = []
        deadline = time.monotonic() + 10
        while b"committed" not in values and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                values += [r.value for r in batch]
        for batch in consumer.poll(timeout_ms=1000).values():  # anything after it, within one more fetch
            values += [r.value for r in batch]
    finally:
        consumer.close()
        with suppress(Exception):
            producer.close(timeout=2)
    facts["read_committed_values"] = repr(values)
    facts["read_committed_sees_aborted"] = "yes" if b"aborted" in values else "no"
    facts["read_committed_sees_open"] = "yes" if b"open" in values else "no"
    return facts


def scenario_transactions(bootstrap: str, tmp: Path) -> Figures:
    fig = Figures("transactions")
    started = time.monotonic()
    fig.facts.update(transactions_probe(bootstrap))
    fig.seconds = time.monotonic() - started
    return fig


# =============================================================================== command line

SCENARIOS: dict[str, str] = {
    "crash": "kill -9 one of two workers at random points of a replay, 3 times, restart it each time",
    "rebalance": "add a second worker mid-stream, later stop the first",
    "redis-restart": "SIGKILL Redis (memory only) for a third of the replay, start an empty one",
    "redis-freeze": "SIGSTOP Redis for a third of the replay (unreachable, data kept), SIGCONT",
    "hostile": "malformed messages (10k by default) mixed into valid traffic",
    "late": "late, out-of-order, history-only and too-old events",
    "security": "secrets in logs/errors/HTTP answers, HTTP body limit, SASL client and worker",
    "transactions": "transactional producers (aiokafka, kafka-python) against the embedded broker",
}


def run_scenario(name: str, bootstrap: str, tmp: Path, events: int, malformed: int, seed: int,
                 kills: int = 3) -> Figures:
    if name == "crash":
        return scenario_crash(bootstrap, tmp, events=events, seed=seed, kills=kills)
    if name == "rebalance":
        return scenario_rebalance(bootstrap, tmp, events=events, seed=seed + 1)
    if name in ("redis-restart", "redis-freeze"):
        return scenario_redis(bootstrap, tmp, events=events, seed=seed + 2, mode=name.split("-")[1])
    if name == "hostile":
        return scenario_hostile(bootstrap, tmp, events=events, malformed=malformed, seed=seed + 3)
    if name == "late":
        return scenario_late(bootstrap, tmp, events=min(events, 5_000), seed=seed + 4)
    if name == "security":
        return scenario_security(bootstrap, tmp, kafka_worker=True)
    if name == "transactions":
        return scenario_transactions(bootstrap, tmp)
    raise ValueError(name)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", action="append", choices=sorted(SCENARIOS),
                    help="run only this one (repeatable); default: all")
    ap.add_argument("--events", type=int, default=20_000, help="about this many sample events per scenario")
    ap.add_argument("--malformed", type=int, default=10_000, help="malformed messages in the hostile scenario")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--kills", type=int, default=3, help="kill -9 this many times in the crash scenario")
    ap.add_argument("--list", action="store_true", help="list the scenarios")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs) after the run")
    args = ap.parse_args(argv)
    if args.list:
        for k, v in SCENARIOS.items():
            print(f"{k:14} {v}")
        return 0
    names = args.scenario or list(SCENARIOS)
    rows: list[Figures] = []
    with ExitStack() as stack:
        tmp = Path(tempfile.mkdtemp(prefix="tierstream-faults-"))
        if not args.keep:
            import shutil

            stack.callback(shutil.rmtree, tmp, True)
        broker = stack.enter_context(EmbeddedBroker(log_path=tmp / "tansu.log"))
        print(f"broker {broker.bootstrap}, work dir {tmp}", file=sys.stderr)
        for name in names:
            print(f"--- {name}: {SCENARIOS[name]}", file=sys.stderr)
            try:
                fig = run_scenario(name, broker.bootstrap, tmp, args.events, args.malformed, args.seed, args.kills)
            except Exception as exc:  # one broken scenario must not hide the others' figures
                fig = Figures(name, failures=[f"{type(exc).__name__}: {exc}"])
            rows.append(fig)
            print(render_table([fig]), file=sys.stderr)
    print(render_table(rows))
    return 0 if all(f.ok for f in rows) else 1



if __name__ == "__main__":
    sys.exit(main())
