#!/usr/bin/env python
"""Fault scenarios for tierstream, on real worker processes, a real broker and a real Redis.

    python scripts/faults.py                              # every scenario, default sizes
    python scripts/faults.py --scenario crash --events 50000
    python scripts/faults.py --scenario hostile --malformed 10000
    python scripts/faults.py --scenario corpora --scenario fuzz --scenario flood-memory   # issue 15, scenario 6
    python scripts/faults.py --list

Each scenario runs an isolated deployment (own app id, topic prefix and Redis key prefix,
and a private embedded Valkey on a free port, memory only) on an embedded Tansu broker
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

The scenarios live in ``tests/faults/``; ``tests/test_faults.py`` runs them on small samples inside ``pytest``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python scripts/faults.py`: the scenarios live in tests/faults/
    sys.path.insert(0, str(ROOT))

from tests.faults.catalog import SCENARIOS, run_scenario  # noqa: E402
from tests.faults.figures import Figures, render_table  # noqa: E402
from tierstream.streams.dev.broker import EmbeddedBroker  # noqa: E402
from tierstream.streams.dev.valkey import EmbeddedRedis  # noqa: E402

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", action="append", choices=sorted(SCENARIOS),
                    help="run only this one (repeatable); default: all")
    ap.add_argument("--events", type=int, default=20_000, help="about this many sample events per scenario")
    ap.add_argument("--malformed", type=int, default=10_000, help="malformed messages in the hostile scenario")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--kills", type=int, default=3, help="kill -9 this many times in the crash and hop-crash scenarios")
    ap.add_argument("--entities", type=int, default=1_000_000, help="distinct entity ids in the flood scenario")
    ap.add_argument("--fuzz-seconds", type=int, default=600, help="how long the fuzz scenario runs")
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
            stack.callback(shutil.rmtree, tmp, True)
        broker = stack.enter_context(EmbeddedBroker(log_path=tmp / "tansu.log"))
        print(f"broker {broker.bootstrap}, work dir {tmp}", file=sys.stderr)
        if "TIERSTREAM_REDIS_URL" not in os.environ:  # the shared store of the scenarios without a private one
            os.environ["TIERSTREAM_REDIS_URL"] = stack.enter_context(EmbeddedRedis(log_path=tmp / "valkey.log")).url
        for name in names:
            print(f"--- {name}: {SCENARIOS[name]}", file=sys.stderr)
            try:
                fig = run_scenario(name, broker.bootstrap, tmp, args.events, args.malformed, args.seed, args.kills,
                                   args.entities, args.fuzz_seconds)
            except Exception as exc:  # one broken scenario must not hide the others' figures
                fig = Figures(name, failures=[f"{type(exc).__name__}: {exc}"])
            rows.append(fig)
            print(render_table([fig]), file=sys.stderr)
    print(render_table(rows))
    return 0 if all(f.ok for f in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
