"""Checks of a scenario's end state against the offline scorer: snapshots, event ids, tier changes, Redis."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass

import redis
from pydantic import ValidationError

from tests.faults.deployment import redis_of
from tests.faults.figures import Figures
from tests.faults.lost import dropped_ids, explain_lost, late_arrivals, raw_by_hash
from tierstream.schemas.events import INBOUND_ADAPTER
from tierstream.schemas.outputs import TierChange
from tierstream.schemas.rules import load_rules
from tierstream.schemas.settings import Settings
from tierstream.scorers.state import EntityState, event_hash
from tierstream.streams.dev.harness import Deployment, Snapshots, diff, poll
from tierstream.streams.kafka.read import consumer, partitions, read_states, read_to_end
from tierstream.streams.kafka.topics import entity_key
from tierstream.streams.offline.score import OfflineScorer, Report, run
from tierstream.streams.store.redis import changes_stream_key, history_key, tier_key

__all__ = [
    "SETTLE_S",
    "Reference",
    "Scope",
    "change_id",
    "changes_beyond",
    "changes_by_id",
    "check_outputs",
    "check_parity",
    "check_state",
    "explain_entity",
    "redis_behind",
    "redis_history_dups",
    "reference",
    "table_states",
    "topic_ends",
    "wait_processed",
]

#: How long the stream may take to agree with the offline scorer once everything is published.
SETTLE_S = 180.0


@dataclass
class Reference:
    """The offline scorer's result on the events, and the facts the checks compare with."""

    snapshots: Snapshots
    seen: dict[str, set[int]]  # entity key -> event-id hashes held in its state
    event_ids: set[int]  # hashes of every distinct valid inbound event id
    report: Report
    states: dict[str, EntityState]  # entity key -> its offline state
    raw: dict[int, bytes]  # event-id hash -> its (first) input line


def reference(lines: Sequence[bytes]) -> Reference:
    """Return the offline scorer's result on ``lines``."""
    scorer = OfflineScorer(load_rules())
    as_of = run(scorer, enumerate(lines, 1))
    snaps: Snapshots = {(s.entity_type, s.entity_id): s.model_dump(mode="json") for s in scorer.snapshots(as_of)}
    ids: set[int] = set()
    for raw in lines:
        with suppress(ValidationError):
            ids.add(event_hash(INBOUND_ADAPTER.validate_json(raw).event_id))
    seen = {entity_key(*k): set(st.seen) for k, st in scorer.states.items()}
    states = {entity_key(*k): st for k, st in scorer.states.items()}
    return Reference(snaps, seen, ids, scorer.report, states, raw_by_hash(lines))


def table_states(settings: Settings) -> dict[str, EntityState]:
    """Return the worker's ``entities`` table, read from its changelog to the end."""
    return {k: EntityState.from_bytes(v) for k, v in read_states(settings, 120).items()}


def check_parity(dep: Deployment, ref: Reference, fig: Figures, deadline_s: float = SETTLE_S) -> bool:
    """Poll until the stream's snapshot equals the offline one; record the diff if it never does."""
    last: Snapshots = {}

    def equal() -> bool:
        nonlocal last
        dep.check_recovery()
        last = dep.snapshot()
        return last == ref.snapshots

    try:
        poll(equal, deadline_s, "stream snapshot == offline snapshot", interval=1.0)
    except AssertionError:
        fig.failures.append("snapshot differs from the offline scorer: " + diff(ref.snapshots, last))
        return False
    fig.parity = True
    fig.entities = len(ref.snapshots)
    return True


def topic_ends(settings: Settings, topics: Sequence[str], timeout_s: float = 60.0) -> dict[str, int]:
    """Each topic's end offsets summed over its partitions, from fetch responses (one consumer).

    Fetch responses carry the true high watermark (see ``streams.kafka.read``): every
    partition is fetched once from its beginning until each one's is known.
    """
    kafka = consumer(settings, "ends", group_id=None)
    try:
        tps = [tp for t in topics for tp in partitions(kafka, t, settings)]
        kafka.assign(tps)
        kafka.seek_to_beginning(*tps)
        deadline = time.monotonic() + timeout_s
        while any(kafka.highwater(tp) is None for tp in tps):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no fetch answered for some partitions of {list(topics)} in {timeout_s:g} s")
            kafka.poll(timeout_ms=200)
        return {t: sum(int(kafka.highwater(tp)) for tp in tps if tp.topic == t) for t in topics}
    finally:
        kafka.close()


def wait_processed(dep: Deployment, fig: Figures, deadline_s: float = 60.0) -> None:
    """Poll until the group has committed every inbound and re-keyed message.

    Parity cannot tell: an event that leaves every snapshot as it was (the profile of an
    entity with no activity yet, which snapshots leave out; an order cancelled later) may
    still be in flight when the snapshots first agree. An offset is committed only once the
    state its message changed is acknowledged on the changelog (``streams.worker.outbox``),
    so with every offset committed the changelog holds every event. Offsets on these fresh
    topics are contiguous from 0, so a committed sum equal to the ends' sum means every
    partition is done. The offsets are read before the ends: with every inbound message
    committed, the re-keyed messages they caused are on the broker when the ends are read.
    """
    topics = [*dep.inbound, dep.names.repartition]
    behind: dict[str, int] = {}

    def committed_all() -> bool:
        nonlocal behind
        admin = dep.admin()
        try:
            committed = dep.committed(admin, topics)
        finally:
            admin.close()
        ends = topic_ends(dep.settings, topics)
        behind = {t: ends[t] - committed[t] for t in topics if ends[t] != committed[t]}
        return not behind

    try:
        poll(committed_all, deadline_s, "the group to commit every inbound and re-keyed message", interval=0.5)
    except AssertionError:
        fig.facts["messages not committed (topic: how many) when the state was read"] = behind


def check_state(dep: Deployment, ref: Reference, fig: Figures, processed_s: float = 60.0) -> dict[str, EntityState]:
    """Event ids in the table against the offline scorer's: nothing lost, nothing unexpected.

    Also along each entity's changelog: an id the offline state keeps, once written, is in
    every later record (only the retention removes one). A record without it was written
    from a stale copy of the state -- a loss even when a later record happens to restore it.
    On a loss, prints what is missing (``tests/faults/lost.py``). Reads the changelog once
    every message is processed (:func:`wait_processed`), not merely when the snapshots agree.
    """
    wait_processed(dep, fig, processed_s)
    read_from = time.time()
    states = table_states(dep.settings)
    read = (read_from, time.time())
    fig.valid = len(ref.event_ids)
    fig.input_duplicates = ref.report.duplicates
    lost: dict[str, set[int]] = {}
    extra: list[bytes] = []
    for key, seen in ref.seen.items():
        want = seen & ref.event_ids
        got = set(states[key].seen) & ref.event_ids if key in states else set()
        fig.expected_in_state += len(want)
        fig.in_state += len(got)
        fig.lost_events += len(want - got)
        # A profile's id is remembered while its day is in the retention as of the entity's clock
        # when it arrives (scorers/engine.py): an old profile that arrives before later events is
        # remembered, after them not. Applying it again changes nothing, so either way is right.
        unexpected = {h for h in got - want if b'"type":"profile"' not in ref.raw.get(h, b"")}
        fig.extra_events += len(unexpected)
        extra += [ref.raw.get(h, b"?")[:160] for h in sorted(unexpected)]
        if want - got:
            lost[key] = want - got
    if extra:
        fig.facts["event ids the offline scorer refused, in the stream's state"] = extra[:5]
    for key, st in states.items():
        if key not in ref.seen:
            fig.extra_events += len(set(st.seen) & ref.event_ids)
    dropped = dropped_ids(dep, {k: v & ref.event_ids for k, v in ref.seen.items()})
    if dropped:
        fig.facts["changelog records without an id an earlier record of their entity held"] = dropped[:5]
    if lost:
        fig.facts["lost event ids"] = "\n" + explain_lost(dep, ref.raw, ref.states, lost, read)
        late = late_arrivals(dep, lost, min(20.0, processed_s))
        fig.facts["lost event ids on the changelog soon after the check's read"] = len(late)
    fig.check(fig.lost_events == 0, f"{fig.lost_events} event ids missing from the stream's state")
    fig.check(fig.extra_events == 0, f"{fig.extra_events} event ids in the stream's state the offline scorer refused")
    fig.check(not dropped, f"{len(dropped)} entities' changelogs drop an event id an earlier record held "
                           "(a state written from a stale copy)")
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
    client = redis_of(dep).client()
    try:
        cur = _redis_current(client, dep.settings.redis_key_prefix, states)
    finally:
        client.close()
    return [k for k, (seq, tier) in cur.items()
            if (only is None or k in only) and (seq != str(states[k].seq) or tier != states[k].published_tier)]


def redis_history_dups(dep: Deployment, states: dict[str, EntityState]) -> tuple[int, int]:
    """(duplicate change ids across the entities' history lists, duplicates in the changes stream)."""
    prefix = dep.settings.redis_key_prefix
    client = redis_of(dep).client()
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


def changes_by_id(dep: Deployment) -> tuple[dict[str, set[bytes]], int]:
    """change_id -> the distinct contents published under it; and the number of records."""
    records = list(read_to_end(dep.settings, dep.names.tier_changes))
    by_id: dict[str, set[bytes]] = {}
    for r in records:
        by_id.setdefault(TierChange.model_validate_json(r.value).change_id, set()).add(r.value)
    return by_id, len(records)


def change_id(st: EntityState, seq: int) -> str:
    """Return the change id of an entity's ``seq``-th tier change."""
    return f"tc:{st.kind}:{st.entity_id}:{seq}"


def changes_beyond(states: dict[str, EntityState], by_id: dict[str, set[bytes]]) -> list[tuple[str, str]]:
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
    client = redis_of(dep).client()
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

    Polls until Redis holds every entity's latest change and no change on the topic is ahead
    of its state (state and topic re-read each time: review ticks may still move tiers), for
    the entities whose latest change is on the topic exactly once. Then: every change 1..seq
    of every entity is on the topic (none lost), a change_id never has two contents, Redis
    history and stream hold no duplicate.
    """
    states: dict[str, EntityState] = {}
    by_id: dict[str, set[bytes]] = {}
    records = 0
    behind: list[str] = []

    def caught_up() -> bool:
        nonlocal states, by_id, records, behind
        states = table_states(dep.settings)
        by_id, records = changes_by_id(dep)
        ahead = {k for k, _ in changes_beyond(states, by_id)}
        scope = {k for k, st in states.items()
                 if st.seq and len(by_id.get(change_id(st, st.seq), ())) == 1 and k not in ahead}
        if redis_scope is not None:
            scope &= redis_scope(states) or set()
        behind = redis_behind(dep, states, scope)
        # A change read on the topic after its state was read (a review tick in between) is not
        # yet in that state: read both again. A state is on the changelog before its outputs are
        # sent, so a change truly beyond its state stays beyond and is reported below.
        return not behind and not ahead

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
    beyond = changes_beyond(states, by_id)
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
