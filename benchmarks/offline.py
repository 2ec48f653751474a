"""The offline scorer on a 1M-event sample: ``python -m benchmarks.offline``.

Prints events per second for ``tierstream score`` as a user runs it: reading,
validation, scoring, CHANGES.jsonl and STATE.jsonl written (to a temporary
directory). The sample is ``tierstream sample --customers 70000 --suppliers 7000
--days 365 --seed 7`` (1,014,581 lines: a year of business for 77,000 entities,
with the generator's late, duplicated and invalid lines); it is written once
and kept in ``--workdir`` for the next run.

    python -m benchmarks.offline                    # default processes (one per core)
    python -m benchmarks.offline --workers 1,2      # compare process counts
    python -m benchmarks.offline --json FILE        # the figures as JSON too

Not a test: a figure of this machine, printed with the machine it was measured on.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from tierstream.schemas.rules import load_rules
from tierstream.streams.bench.common import rate, say
from tierstream.streams.bench.machine import machine
from tierstream.streams.dev.sample import write_sample
from tierstream.streams.offline.parallel import default_workers, score_parallel

__all__ = ["SAMPLE", "main", "sample_file", "score_once"]

SAMPLE = {"customers": 70_000, "suppliers": 7_000, "days": 365, "seed": 7}


def sample_file(workdir: Path, customers: int, suppliers: int, days: int, seed: int) -> Path:
    path = workdir / f"sample-c{customers}-s{suppliers}-d{days}-seed{seed}.jsonl"
    if not path.exists():
        say(f"writing {path.name} ...")
        write_sample(path, customers, suppliers, days, seed)
    return path


def score_once(sample: Path, workers: int, out_dir: Path) -> dict[str, Any]:
    """One ``tierstream score SAMPLE --out --changes`` run, timed from start to files closed."""
    rules = load_rules()
    started = time.perf_counter()
    changes = out_dir / f"changes-{workers}.jsonl"
    with changes.open("wb") as fh:
        res = score_parallel(sample, rules, workers, changes_out=fh) if workers > 1 else None
        if res is None:
            from tierstream.streams.offline.score import OfflineScorer, read_lines, run

            scorer = OfflineScorer(rules)
            as_of = run(scorer, read_lines(sample), fh)
            snaps = [orjson.dumps(s.model_dump(mode="json")) for s in scorer.snapshots(as_of)]
            lines, changed = scorer.report.lines, scorer.report.changes
        else:
            snaps = [line for _, _, line in res.snapshots]
            lines, changed = res.report.lines, res.report.changes
    state = out_dir / f"state-{workers}.jsonl"
    state.write_bytes(b"".join(s + b"\n" for s in snaps))
    seconds = time.perf_counter() - started
    digest = hashlib.sha256(changes.read_bytes() + state.read_bytes()).hexdigest()[:16]
    return {"workers": workers, "lines": lines, "seconds": round(seconds, 2), "eps": rate(lines, seconds) or 0.0,
            "tier_changes": changed, "entities": len(snaps), "output_sha256": digest,
            "fell_back": res.fell_back if res is not None else None}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.offline", description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", default=str(default_workers()),
                    help="comma-separated process counts to measure (default: %(default)s, one per core)")
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "tierstream-bench-offline",
                    help="where the sample is kept between runs (default: %(default)s)")
    for k, v in SAMPLE.items():
        ap.add_argument(f"--{k}", type=int, default=v, help=f"sample size (default: {v})")
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    args = ap.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    sample = sample_file(args.workdir, args.customers, args.suppliers, args.days, args.seed)
    runs = []
    with tempfile.TemporaryDirectory(prefix="tierstream-offline-") as tmp:
        for n in (int(w) for w in args.workers.split(",")):
            say(f"scoring {sample.name} with {n} process{'es' if n > 1 else ''} ...")
            runs.append(score_once(sample, n, Path(tmp)))
    if len({r["output_sha256"] for r in runs}) > 1:
        print("error: the process counts wrote different files", file=sys.stderr)
        return 1
    for r in runs:
        print(f"offline scorer, {r['workers']} process{'es' if r['workers'] > 1 else ''}: "
              f"{r['eps']:,.0f} events/s ({r['lines']:,} lines in {r['seconds']:.1f} s; "
              f"{r['tier_changes']:,} tier changes, {r['entities']:,} entities)"
              + (f" [fell back: {r['fell_back']}]" if r["fell_back"] else ""))
    m = machine()
    print(f"machine: {m['cpu_count']} CPUs, {m['cpu_model']}, Python {m['python']}, load {m['loadavg_start'][0]:.2f}")
    if args.json:
        args.json.write_bytes(orjson.dumps({"sample": SAMPLE | {"path": str(sample)}, "runs": runs, "machine": m},
                                           option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
