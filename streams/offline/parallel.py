"""``tierstream score`` on several cores: shards by entity, merged into the one-process result.

Every entity's state depends only on its own events and on the referral credits
it receives, and a credit only travels along a referral (from the referred
customer to the referrer). So the entities are split into shards that no
credit crosses:

1. a pre-pass reads the referral lines only (a substring test, then JSON) and
   joins referrer and referred customer into one component (union-find);
2. an entity's shard is its component's (customers with referrals) or a stable
   hash of its key (everyone else);
3. each shard is a forked process running the ordinary :class:`OfflineScorer`
   over the whole file in file order, skipping the lines of other shards;
4. the parent merges what the shards produced: tier changes by (line, order
   within the line), the final reviews and the snapshots by entity key, as the
   one-process run orders them. The output is byte for byte the same.

Nothing is assumed silently. A shard checks that every event it applies is its
own by pydantic's reading too (not only the pre-pass's JSON reading), and that
every referral credit stays inside it; if either ever fails, the parent throws
the shards' work away and runs the file in one process (:class:`ShardMismatch`
is never an answer). ``--strict`` also runs in one process: it stops at the
first bad line, in file order.
"""

from __future__ import annotations

import heapq
import multiprocessing as mp
import os
import time
import traceback
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Any

import orjson

from tierstream.schemas.errors import ForeignCredit, InputError, ShardMismatch
from tierstream.schemas.events import entity_of
from tierstream.schemas.routing import doc_entity
from tierstream.schemas.rules import Rules
from tierstream.scorers.layout import NEVER
from tierstream.streams.gc_tuning import fewer_collections
from tierstream.streams.offline.rejects import SHOWN, Reject
from tierstream.streams.offline.score import Key, OfflineScorer, Report, read_lines

#: sort keys of merged output: (line, order within the line) for changes while reading,
#: (entity kind, entity id) for the final reviews and the snapshots
LineKey = tuple[int, int]


def default_workers() -> int:
    """One shard per core this process may use (at most 8: the merge is serial)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 8))


# --------------------------------------------------------------------------- the split


#: The entity a decoded line belongs to, read as :func:`schemas.events.entity_of` reads it;
#: ``None`` when the line cannot be a valid event (it is rejected by whichever shard the
#: line number picks).
line_entity: Callable[[Any], Key | None] = doc_entity


def candidate_lines(data: bytes) -> Iterator[bytes]:
    """The lines of ``data`` that can be a referral: the word ``referral`` appears in them,
    unless JSON escapes spell it (``\\u``). Found with ``bytes.find``, not line by line."""
    starts: set[int] = set()
    for needle in (b"referral", b"\\u"):
        i = data.find(needle)
        while i != -1:
            start = data.rfind(b"\n", 0, i) + 1
            end = data.find(b"\n", i)
            end = len(data) if end == -1 else end
            if start not in starts:
                starts.add(start)
                yield data[start:end]
            i = data.find(needle, end)


def referral_components(lines: Iterable[bytes]) -> dict[str, str]:
    """Customer id -> representative of its referral component (only customers in a referral)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    for raw in lines:
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(doc, dict) or doc.get("type") != "referral":
            continue
        a, b = doc.get("referrer_id"), doc.get("referred_id")
        if not (isinstance(a, str) and isinstance(b, str)):
            continue
        for x in (a, b):
            parent.setdefault(x, x)
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)  # deterministic representative
    return {x: find(x) for x in parent}


@dataclass(frozen=True)
class Split:
    """Which shard holds an entity."""

    shards: int
    components: dict[str, str]

    def of(self, key: Key) -> int:
        kind, eid = key
        if kind == "customer":
            eid = self.components.get(eid, eid)
        return zlib.crc32(f"{kind}:{eid}".encode()) % self.shards


# --------------------------------------------------------------------------- one shard


@dataclass
class ShardResult:
    report: Report
    #: the shard's rejected lines in line order: every one when a rejects file is wanted
    rejects: list[Reject] = field(default_factory=list)
    changes: list[tuple[LineKey, bytes]] = field(default_factory=list)
    final: list[tuple[Key, bytes]] = field(default_factory=list)
    notices: list[tuple[LineKey, bytes]] = field(default_factory=list)
    final_notices: list[tuple[Key, bytes]] = field(default_factory=list)
    cases: list[tuple[LineKey, bytes]] = field(default_factory=list)
    audits: list[tuple[LineKey, bytes]] = field(default_factory=list)
    final_cases: list[tuple[Key, bytes]] = field(default_factory=list)
    snapshots: list[tuple[Key, str, bytes]] = field(default_factory=list)  # (key, tier, JSON line)
    latest: int = 0
    mismatch: str | None = None


def _shard(
    conn: Connection, path: Path, rules: Rules, as_of: int | None, received_at: int,
    split: Split, me: int, want_changes: bool, want_snapshots: bool, want_rejects: bool, done: Any,
    language: str = "en",
    want_notices: bool = False,
) -> None:
    """A forked shard: score its entities, report ``latest``, take the run's as-of, finish."""
    scorer = OfflineScorer(rules, as_of=as_of, received_at=received_at, language=language)
    scorer.keep_notices = want_notices
    scorer.owns = lambda key: split.of(key) == me
    res = ShardResult(scorer.report)
    rep = scorer.report
    if want_rejects:
        rep.sink = res.rejects.append
    n = split.shards
    count = 0
    try:
        for lineno, raw in read_lines(path):
            count += len(raw) + 1
            if lineno % 4096 == 0:
                done.value = count
            try:
                key = line_entity(orjson.loads(raw))
            except orjson.JSONDecodeError:
                key = None
            if (split.of(key) if key is not None else lineno % n) != me:
                continue
            rep.lines += 1
            try:
                event = scorer.decode(lineno, raw)
                if split.of(entity_of(event)) != me:
                    raise ShardMismatch(f"line {lineno}: pydantic and the split read its entity differently")
                changes = scorer.feed(lineno, event)
            except InputError as exc:
                rep.reject(Reject.of(exc))
                continue
            finally:
                res.notices += [((lineno, i), n.model_dump_json().encode())
                                for i, n in enumerate(scorer.take_notices())]
                res.cases += [((lineno, i), c.model_dump_json().encode()) for i, c in enumerate(scorer.take_cases())]
                res.audits += [((lineno, i), a.model_dump_json().encode()) for i, a in enumerate(scorer.take_audits())]
            if want_changes:
                for i, c in enumerate(changes):
                    res.changes.append(((lineno, i), c.model_dump_json().encode()))
        done.value = count
        rep.sink = None  # a bound method of the result itself: not sent
        if not want_rejects:
            res.rejects = rep.rejected
        conn.send(("latest", scorer.latest))
        run_as_of: int | None = conn.recv()
        if run_as_of is None:  # another shard failed: the run is redone in one process
            conn.send(("result", res))
            return
        _, final = scorer.finish(run_as_of)
        if want_changes:
            res.final = [((c.entity_type, c.entity_id), c.model_dump_json().encode()) for c in final]
        res.final_notices = [((n.entity_type, n.entity_id), n.model_dump_json().encode())
                             for n in scorer.take_notices()]
        res.final_cases = [(("supplier", c.supplier_id), c.model_dump_json().encode()) for c in scorer.take_cases()]
        if want_snapshots:
            res.snapshots = [
                ((s.entity_type, s.entity_id), s.tier, orjson.dumps(s.line()))
                for s in scorer.snapshots(run_as_of)
            ]
        res.latest = scorer.latest
    except (ShardMismatch, ForeignCredit) as exc:
        res.mismatch = f"{type(exc).__name__}: {exc}"
        conn.send(("latest", None))
        conn.recv()
    except BaseException:  # a bug: the parent re-raises it with this traceback
        conn.send(("error", traceback.format_exc()))
        return
    conn.send(("result", res))


# --------------------------------------------------------------------------- the run


@dataclass
class ParallelRun:
    as_of: int
    report: Report
    snapshots: Sequence[tuple[Key, str, bytes]]
    shards: int
    fell_back: str | None = None  # why the run went to one process after all


def _merge_reports(parts: list[ShardResult], rejects_out: IO[bytes] | None) -> Report:
    """Sum the shards' counts; write their rejected lines in line order; keep the first few."""
    total = Report()
    for part in parts:
        for f in fields(Report):
            if f.type in ("int", int):
                setattr(total, f.name, getattr(total, f.name) + getattr(part.report, f.name))
    for r in heapq.merge(*(p.rejects for p in parts), key=_line_of):
        if len(total.rejected) < SHOWN:
            total.rejected.append(r)
        elif rejects_out is None:
            break
        if rejects_out is not None:
            rejects_out.write(r.to_json() + b"\n")
    return total


def _line_of(r: Reject) -> int:
    return r.line


@fewer_collections()  # the shards are forked with it
def score_parallel(
    path: Path,
    rules: Rules,
    workers: int,
    as_of: int | None = None,
    changes_out: IO[bytes] | None = None,
    want_snapshots: bool = True,
    on_progress: Callable[[int], None] | None = None,
    finish_at: int | None = None,
    rejects_out: IO[bytes] | None = None,
    language: str = "en",
    notices_out: IO[bytes] | None = None,
    cases_out: IO[bytes] | None = None,
    audit_out: IO[bytes] | None = None,
) -> ParallelRun:
    """Score ``path`` in ``workers`` shards; write changes (notices, case events) in file order.

    ``as_of`` skips later events and is the instant of the final reviews and snapshots
    (default: the latest event time); ``finish_at`` sets that instant alone (``rules
    diff`` grades both rule sets at the same one). Every rejected line goes to
    ``rejects_out`` (JSON lines, in line order).
    """
    started = time.perf_counter()
    received_at = int(time.time())
    split = Split(workers, referral_components(candidate_lines(path.read_bytes())))
    ctx = mp.get_context("fork")
    procs, conns, counters = [], [], []
    for me in range(workers):
        parent_end, child_end = ctx.Pipe()
        done = ctx.Value("q", 0, lock=False)
        p = ctx.Process(
            target=_shard, name=f"tierstream-score-{me}",
            args=(child_end, path, rules, as_of, received_at, split, me, changes_out is not None,
                  want_snapshots, rejects_out is not None, done, language,
                  any(f is not None for f in (notices_out, cases_out, audit_out))),
        )
        p.start()
        child_end.close()
        procs.append(p)
        conns.append(parent_end)
        counters.append(done)
    try:
        reported = 0

        def progress() -> None:
            nonlocal reported
            # every shard reads the whole file: the slowest one is how far the run is
            now = min(c.value for c in counters)
            if on_progress is not None and now > reported:
                on_progress(now - reported)
                reported = now

        latests: list[int | None] = []
        for conn in conns:
            while not conn.poll(0.1):
                progress()
                if not any(p.is_alive() for p in procs):
                    break
            latests.append(_receive(conn, "latest"))
        progress()
        ok = all(v is not None for v in latests)
        latest = max((v for v in latests if v is not None), default=NEVER)
        latest = 0 if latest == NEVER else latest  # no event applied: as one process says
        run_as_of = finish_at if finish_at is not None else as_of if as_of is not None else latest
        for conn in conns:
            conn.send(run_as_of if ok else None)
        parts: list[ShardResult] = [_receive(conn, "result") for conn in conns]
    finally:
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.kill()
    mismatch = next((p.mismatch for p in parts if p.mismatch), None)
    if mismatch is not None:
        return _one_process(path, rules, as_of, changes_out, want_snapshots, started, mismatch, finish_at,
                            rejects_out, language, notices_out, cases_out, audit_out)
    if changes_out is not None:
        for _, line in heapq.merge(*(p.changes for p in parts)):
            changes_out.write(line + b"\n")
        for _, line in heapq.merge(*(p.final for p in parts)):
            changes_out.write(line + b"\n")
    if notices_out is not None:
        for _, line in heapq.merge(*(p.notices for p in parts)):
            notices_out.write(line + b"\n")
        for _, line in heapq.merge(*(p.final_notices for p in parts)):
            notices_out.write(line + b"\n")
    if audit_out is not None:  # graded lines only: no review makes one
        for _, line in heapq.merge(*(p.audits for p in parts)):
            audit_out.write(line + b"\n")
    if cases_out is not None:
        for _, line in heapq.merge(*(p.cases for p in parts)):
            cases_out.write(line + b"\n")
        for _, line in heapq.merge(*(p.final_cases for p in parts)):
            cases_out.write(line + b"\n")
    report = _merge_reports(parts, rejects_out)
    snapshots = list(heapq.merge(*(p.snapshots for p in parts))) if want_snapshots else []
    report.seconds = time.perf_counter() - started
    return ParallelRun(run_as_of, report, snapshots, workers)


def _receive(conn: Connection, expected: str) -> Any:
    try:
        tag, value = conn.recv()
    except EOFError:
        raise RuntimeError("a scoring shard died without a word (killed? out of memory?)") from None
    if tag == "error":
        raise RuntimeError(f"a scoring shard failed:\n{value}")
    assert tag == expected, (tag, expected)
    return value


def _one_process(
    path: Path, rules: Rules, as_of: int | None, changes_out: IO[bytes] | None, want_snapshots: bool,
    started: float, why: str, finish_at: int | None = None, rejects_out: IO[bytes] | None = None,
    language: str = "en",
    notices_out: IO[bytes] | None = None, cases_out: IO[bytes] | None = None, audit_out: IO[bytes] | None = None,
) -> ParallelRun:
    from tierstream.streams.offline.score import run

    scorer = OfflineScorer(rules, as_of=as_of, language=language)
    run_as_of = run(scorer, read_lines(path), changes_out, finish_at=finish_at, rejects_out=rejects_out,
                    notices_out=notices_out, cases_out=cases_out, audit_out=audit_out)
    snaps = [((s.entity_type, s.entity_id), s.tier, orjson.dumps(s.line()))
             for s in scorer.snapshots(run_as_of)] if want_snapshots else []
    scorer.report.seconds = time.perf_counter() - started
    return ParallelRun(run_as_of, scorer.report, snaps, 1, fell_back=why)
