"""Explain event ids missing from the stream's state: the event, its records, its entity's changelog."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import orjson

from tierstream.schemas.events import INBOUND_ADAPTER, entity_of
from tierstream.scorers.state import EntityState, event_hash
from tierstream.streams.dev.harness import Deployment
from tierstream.streams.kafka.read import decode_table_key, decode_table_value, read_states, read_to_end
from tierstream.streams.kafka.topics import entity_key, partition_of

__all__ = ["dropped_ids", "explain_lost", "late_arrivals", "raw_by_hash"]


def _when(epoch_s: float | None) -> str:
    return "-" if epoch_s is None else datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4]


def _records_of(dep: Deployment, event_id: str, topics: list[str]) -> list[str]:
    """Where the event's records are: topic, partition, offset, broker timestamp."""
    out = []
    for topic in topics:
        for r in read_to_end(dep.settings, topic, timeout_s=60, role="explain"):
            if r.value is not None and event_id.encode() in r.value:
                with_id = orjson.loads(r.value).get("event_id") == event_id
                if with_id:
                    out.append(f"{topic}[{r.partition}]@{r.offset} key {r.key!r} at {_when(r.timestamp / 1000)}")
    return out


def _changelog_of(dep: Deployment, key: str, h: int) -> list[str]:
    """Every changelog record of ``key``, in order, with whether its ``seen`` holds ``h``."""
    out = []
    for r in read_to_end(dep.settings, dep.names.entities_changelog, timeout_s=60, role="explain"):
        if r.key is None or decode_table_key(r.key) != key:
            continue
        if r.value is None:
            out.append(f"  [{r.partition}]@{r.offset} at {_when(r.timestamp / 1000)}: tombstone")
            continue
        st = EntityState.from_bytes(decode_table_value(r.value))
        out.append(f"  [{r.partition}]@{r.offset} at {_when(r.timestamp / 1000)}: clock {_when(st.clock)} "
                   f"seq {st.seq} seen {len(st.seen)} {'HOLDS' if h in st.seen else 'lacks'} the id; "
                   f"outbox {len(st.outbox)}")
    return out


def dropped_ids(dep: Deployment, expected: Mapping[str, set[int]]) -> list[str]:
    """Expected event ids that a changelog record of their entity holds and a later one lacks.

    An applied id only leaves a state with the retention (``expected`` holds none of those),
    so a record without it after one with it is a state written from an older copy: a
    writer that missed the newer record (two owners of a partition, or a recovery that
    stopped short), whatever the final record holds.
    """
    held: dict[str, tuple[set[int], str]] = {}
    out = []
    for r in read_to_end(dep.settings, dep.names.entities_changelog, timeout_s=60, role="dropped"):
        if r.key is None or r.value is None:
            continue
        key = decode_table_key(r.key)
        want = expected.get(key)
        if not want:
            continue
        seen = set(EntityState.from_bytes(decode_table_value(r.value)).seen) & want
        where = f"[{r.partition}]@{r.offset} at {_when(r.timestamp / 1000)}"
        before = held.get(key)
        if before is not None and before[0] - seen:
            out.append(f"{key}: {len(before[0] - seen)} ids held at {before[1]}, not at {where}")
        if before is None or seen - before[0]:
            held[key] = ((before[0] if before else set()) | seen, where)
    return out


def late_arrivals(dep: Deployment, lost: Mapping[str, set[int]], wait_s: float = 20.0) -> set[int]:
    """The lost ids that reach their entity's state on the changelog within ``wait_s`` (the check read too early)."""
    deadline = time.monotonic() + wait_s
    arrived: set[int] = set()
    pending = {h: k for k, hs in lost.items() for h in hs}
    while pending and time.monotonic() < deadline:
        states = read_states(dep.settings, 60)
        for h, k in list(pending.items()):
            raw = states.get(k)
            if raw is not None and h in EntityState.from_bytes(raw).seen:
                arrived.add(h)
                del pending[h]
        if pending:
            time.sleep(1.0)  # re-read at a human pace: diagnostics only, after the check failed
    return arrived


def explain_lost(dep: Deployment, raw_of: Mapping[int, bytes], offline: Mapping[str, EntityState],
                 lost: Mapping[str, set[int]], read: tuple[float, float], limit: int = 3) -> str:
    """Describe up to ``limit`` lost event ids: the event, its inbound and re-keyed records, its entity's changelog.

    ``read``: when the check's read of the changelog began and ended (epoch s): a record
    written before it began should have been in it.
    """
    parts = dep.settings.partitions
    names = dep.names
    lines = [f"the check read the changelog from {_when(read[0])} to {_when(read[1])}"]
    shown = 0
    for key, hashes in lost.items():
        for h in sorted(hashes):
            if shown >= limit:
                return "\n".join(lines)
            shown += 1
            raw = raw_of.get(h)
            if raw is None:
                lines.append(f"{key}: id hash {h} (no input line has it)")
                continue
            ev = INBOUND_ADAPTER.validate_json(raw)
            kind, eid = entity_of(ev)
            ekey = entity_key(kind, eid)
            off = offline.get(ekey)
            lines.append(f"{ekey} (partition {partition_of(ekey.encode(), parts)}): lost {ev.type} "
                         f"{ev.event_id} occurred {ev.occurred_at.isoformat()}; offline clock "
                         f"{_when(off.clock if off else None)}, seen {len(off.seen) if off else 0}")
            lines.append(f"  line: {raw.decode(errors='replace')[:300]}")
            lines += ["  record " + r for r in _records_of(dep, ev.event_id, [names.inbound(ev.type),
                                                                               names.repartition])]
            lines.append("  changelog of the entity, in order:")
            lines += _changelog_of(dep, ekey, h)
    return "\n".join(lines)


def raw_by_hash(lines: Sequence[bytes]) -> dict[int, bytes]:
    """Input line of each valid event id's hash (the first one)."""
    out: dict[int, bytes] = {}
    for raw in lines:
        try:
            ev = INBOUND_ADAPTER.validate_json(raw)
        except ValueError:
            continue
        out.setdefault(event_hash(ev.event_id), raw)
    return out
