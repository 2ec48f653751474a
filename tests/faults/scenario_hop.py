"""The repartition hop under kill -9: every event published upstream-keyed, off its entity's partition.

Every valid event is re-keyed by the worker that reads it to ``<prefix>repartition``
and graded by the owner of its entity's partition there. A worker is killed while
that topic holds records the grading side has not committed: the hop is done, the
grading is not (or not committed). Nothing may be lost or counted twice.
"""

from __future__ import annotations

import functools
import random
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient, TopicPartition
from pydantic import ValidationError

from tests.faults.checks import check_outputs, check_parity, check_state, reference
from tests.faults.deployment import fault_deployment, record_redelivery
from tests.faults.figures import Figures
from tests.faults.inputs import sized_sample
from tierstream.schemas.events import INBOUND_ADAPTER, entity_of
from tierstream.streams.dev.harness import Deployment, PollTimeout, Publisher, Worker, poll
from tierstream.streams.dev.upstream import publish_upstream
from tierstream.streams.kafka.read import consumer, read_to_end
from tierstream.streams.kafka.topics import entity_key

__all__ = ["UpstreamPublisher", "hop_backlog", "scenario_hop_crash"]


class UpstreamPublisher(Publisher):
    """The harness's paced publisher, sending as upstream does: document keys or none, off the entity's partition."""

    def run(self) -> None:
        try:
            self.failed = publish_upstream(self.settings, self.lines, self.rate, self._progress).failed
        except BaseException as exc:  # reported by finish()
            self.error = exc


@dataclass
class Backlog:
    """Records on the repartition topic the worker group has not committed yet, per partition."""

    ahead: dict[int, int]

    @property
    def total(self) -> int:
        return sum(self.ahead.values())

    def owner(self, workers: list[Worker]) -> Worker | None:
        """The live worker that owns the partition with the most records ahead of the commit."""
        for partition, n in sorted(self.ahead.items(), key=lambda kv: -kv[1]):
            for w in workers:
                if n > 0 and partition in ((w.health() or {}).get("assigned_partitions") or []):
                    return w
        return None


def hop_backlog(dep: Deployment, admin: KafkaAdminClient, ends_reader: Any) -> Backlog:
    """Repartition end offsets (ListOffsets, a lower bound on Tansu) minus the group's committed offsets."""
    topic = dep.names.repartition
    tps = [TopicPartition(topic, p) for p in range(dep.partitions)]
    ends = ends_reader.end_offsets(tps)
    committed = admin.list_group_offsets(dep.name).get(dep.name, {})
    ahead = {}
    for tp in tps:
        meta = committed.get(tp)
        ahead[tp.partition] = max(0, ends.get(tp, 0) - (meta.offset if meta is not None and meta.offset > 0 else 0))
    return Backlog(ahead)


def _valid_lines(lines: list[bytes]) -> tuple[Counter[bytes], dict[bytes, bytes]]:
    """The lines that validate (how often each), and each one's entity key: what the worker re-keys."""
    valid: Counter[bytes] = Counter()
    keys: dict[bytes, bytes] = {}
    for raw in lines:
        try:
            event = INBOUND_ADAPTER.validate_json(raw)
        except ValidationError:
            continue
        valid[raw] += 1
        keys[raw] = entity_key(*entity_of(event)).encode()
    return valid, keys


def _check_hops(dep: Deployment, lines: list[bytes], fig: Figures) -> None:
    """Every valid line crossed the repartition topic with its own bytes, keyed by its entity."""
    valid, keys = _valid_lines(lines)
    hops: Counter[bytes] = Counter()
    wrong_key = 0
    for r in read_to_end(dep.settings, dep.names.repartition):
        hops[r.value] += 1
        wrong_key += keys.get(r.value) != r.key
    missing = sum(1 for raw in valid if raw not in hops)
    foreign = sum(1 for raw in hops if raw not in valid)
    records = sum(hops.values())
    fig.facts["re-keyed records on the repartition topic (valid lines published)"] = (
        f"{records:,} ({sum(valid.values()):,}): {records - sum(valid.values()):,} re-keyed again after a kill")
    fig.check(missing == 0, f"{missing} valid events never crossed the repartition topic")
    fig.check(foreign == 0, f"{foreign} records on the repartition topic are no published line's bytes")
    fig.check(wrong_key == 0, f"{wrong_key} records on the repartition topic not keyed by their entity")


def scenario_hop_crash(bootstrap: str, tmp: Path, events: int = 20_000, kills: int = 3, seed: int = 6,
                       replay_s: float | None = None) -> Figures:
    """Two workers, every event takes the hop; kill -9 the grading side while the hop has records ahead of it."""
    fig = Figures("hop-crash")
    started = time.monotonic()
    rng = random.Random(seed)
    lines = sized_sample(tmp, events, seed)
    ref = reference(lines)
    fig.events_in = len(lines)
    with fault_deployment(bootstrap, tmp / "hop-crash") as dep:
        dep.start_worker()
        dep.start_worker()
        dep.wait_split()
        seconds = replay_s if replay_s is not None else max(30.0, 12.0 * kills)
        pub = UpstreamPublisher(dep.settings, lines, seconds)
        # spread over the replay (a restart takes seconds), each moved by up to 5 % at random
        jitter = len(lines) // 20
        points = [len(lines) * (i + 1) // (kills + 1) + rng.randint(-jitter, jitter) for i in range(kills)]
        admin, ends_reader = dep.admin(), consumer(dep.settings, "hop-probe", group_id=None)
        killed: list[str] = []
        ahead: list[int] = []
        try:
            pub.start()
            for point in points:
                poll(functools.partial(pub.reached, point), 600, f"the replay to reach line {point}", interval=0.02)
                try:  # a moment when re-keyed records wait for the grading side, and whose they are
                    backlog, victim = poll(lambda: _target(dep, admin, ends_reader), 5.0,
                                           "re-keyed records not yet committed by the grading side", interval=0.02)
                except PollTimeout:
                    backlog, victim = Backlog({}), rng.choice(dep.workers)
                killed.append(f"line {pub.sent} ({backlog.total} re-keyed records ahead of the commit)")
                ahead.append(backlog.total)
                dep.kill9(victim)
                dep.start_worker()  # waits until it is ready (partitions assigned, tables recovered)
            pub.finish()
        finally:
            admin.close()
            ends_reader.close()
        fig.facts["kill -9 at"] = ", ".join(killed)
        fig.check(any(ahead), "no kill landed while re-keyed records were ahead of the grading side")
        if check_parity(dep, ref, fig):
            record_redelivery(dep, fig)
            # a valid event is read twice (its source message, then its re-keyed record)
            fig.reprocessed = max(0, dep.processed - fig.events_in - sum(_valid_lines(lines)[0].values()))
            check_state(dep, ref, fig)
            check_outputs(dep, fig)
            _check_hops(dep, lines, fig)
        fig.check(all(w.alive for w in dep.workers), "a worker died on its own")
    fig.seconds = time.monotonic() - started
    return fig


def _target(dep: Deployment, admin: KafkaAdminClient, ends_reader: Any) -> tuple[Backlog, Worker] | None:
    backlog = hop_backlog(dep, admin, ends_reader)
    victim = backlog.owner(dep.workers)
    return (backlog, victim) if victim is not None else None
