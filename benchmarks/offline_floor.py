"""How far below the offline target pure Python's floor already is: ``python -m benchmarks.offline_floor``.

On the sample of :mod:`benchmarks.offline` (1M events), in one process, it prints
the cost per event of the least work any Python scorer of these rules must do,
next to the real run:

1. read and validate each line (pydantic, as ``tierstream score`` does);
2. the least state work: entity key, event-id hash, state lookup, three counter adds;
3. one composite score (customer metrics and weighted scales), the least a grade does,
   times the grades the real run makes per event (events and time-driven reviews);
4. the real run (``streams.offline.score.run`` and the snapshots), with its grades counted.

``--target`` (100,000 events/s, the issue's) over this machine's cores is the CPU
budget per event; the floor (1 + 2 + 3) leaves what is left of it for everything
else the engine does (hysteresis lookback, next review, explanations, outputs).
Not a test: figures of this machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from pydantic import ValidationError

from benchmarks.offline import SAMPLE, sample_file
from tierstream.schemas.events import INBOUND_ADAPTER, AnyEvent, entity_of
from tierstream.schemas.rules import load_rules
from tierstream.scorers.engine import Grade, Grader, ts
from tierstream.scorers.grading import composite
from tierstream.scorers.metrics import customer_metrics
from tierstream.scorers.state import EntityState, event_hash
from tierstream.streams.gc_tuning import fewer_collections
from tierstream.streams.offline.score import OfflineScorer, read_lines, run

__all__ = ["CountingGrader", "least_state_work", "main", "one_score", "real_run", "validated"]

def _us(seconds: float, n: int) -> float:
    return 1e6 * seconds / n


def validated(path: Path) -> tuple[list[AnyEvent], float, int]:
    """Every valid event of ``path``, the seconds it took, and the number of lines."""
    events: list[AnyEvent] = []
    lines = 0
    started = time.perf_counter()
    for _, raw in read_lines(path):
        lines += 1
        try:
            events.append(INBOUND_ADAPTER.validate_json(raw))
        except ValidationError:
            continue  # rejected, as ``tierstream score`` rejects it
    return events, time.perf_counter() - started, lines


def least_state_work(events: list[AnyEvent]) -> float:
    """Seconds for the state work no scorer of these rules can skip (dedup, lookup, counters)."""
    states: dict[tuple[str, str], tuple[set[int], list[int]]] = {}
    started = time.perf_counter()
    for ev in events:
        t = ts(ev.occurred_at)
        key = entity_of(ev)
        h = event_hash(ev.event_id)
        st = states.get(key)
        if st is None:
            st = states[key] = (set(), [0, 0, 0])
        if h in st[0]:
            continue
        st[0].add(h)
        counters = st[1]
        counters[0] += 1
        counters[1] += t // 86_400
        counters[2] += 1
    return time.perf_counter() - started


def one_score(grader: Grader, n: int) -> float:
    """Seconds for ``n`` customer scores: metrics from window totals, then the weighted scales."""
    dims = grader._dims["customer"]
    totals = [5, 123_456, 23_456, 4, 1, 3, 2, 4, 5, 123_456, 0, 40_000, 30_000]
    started = time.perf_counter()
    for _ in range(n):
        composite(dims, customer_metrics(totals, 20_000, 19_990, 0, 0, 0, 0, None, None))
    return time.perf_counter() - started


class CountingGrader(Grader):
    grades = 0

    def grade(self, state: EntityState, now: int) -> Grade:
        self.grades += 1
        return super().grade(state, now)


def real_run(path: Path) -> tuple[float, int, int]:
    """Seconds, events applied and grades made by the one-process scorer, snapshots included."""
    scorer = OfflineScorer(load_rules())
    grader = scorer.grader = CountingGrader(load_rules())
    started = time.perf_counter()
    as_of = run(scorer, read_lines(path))
    for _ in scorer.snapshots(as_of):
        pass
    return time.perf_counter() - started, scorer.report.lines, grader.grades


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.offline_floor", description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "tierstream-bench-offline",
                    help="where benchmarks.offline keeps its sample (default: %(default)s)")
    ap.add_argument("--target", type=float, default=100_000, help="events/s to compare with (default: %(default)s)")
    for k, v in SAMPLE.items():
        ap.add_argument(f"--{k}", type=int, default=v, help=f"sample size (default: {v})")
    args = ap.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    path = sample_file(args.workdir, args.customers, args.suppliers, args.days, args.seed)
    cores = len(os.sched_getaffinity(0))
    with fewer_collections():
        events, validate_s, lines = validated(path)
        state_s = least_state_work(events)
        score_s = one_score(Grader(load_rules()), len(events))
        run_s, run_lines, grades = real_run(path)
    per_grade = grades / run_lines
    validate_us = _us(validate_s, lines)
    state_us = _us(state_s, len(events))
    score_us = _us(score_s, len(events)) * per_grade
    floor = validate_us + state_us + score_us
    budget = 1e6 * cores / args.target
    print(f"{path.name}: {lines:,} lines, {len(events):,} valid events")
    print(f"1. read + validate:                 {validate_us:6.2f} us/line")
    print(f"2. least state work:                {state_us:6.2f} us/event")
    print(f"3. {per_grade:.2f} composite scores per event: {score_us:6.2f} us/event "
          f"({_us(score_s, len(events)):.2f} us each)")
    print(f"   floor (1 + 2 + 3):               {floor:6.2f} us/event")
    print(f"4. the real run, one process:       {_us(run_s, run_lines):6.2f} us/event "
          f"({run_lines / run_s:,.0f} events/s, {grades:,} grades)")
    print(f"budget at {args.target:,.0f} events/s on {cores} cores: {budget:.2f} us of CPU per event; "
          f"left after the floor: {budget - floor:.2f} us for everything else the real run spends "
          f"{_us(run_s, run_lines) - floor:.2f} us on")
    return 0


if __name__ == "__main__":
    sys.exit(main())
