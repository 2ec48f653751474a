"""Profile one batch worker over a pre-loaded sample: where a worker's CPU goes.

    python -m benchmarks.profile_worker [--customers N] [--days D] [--per-event] [--top 30] [--no-profile]

Starts the embedded broker, publishes the sample, runs ``tierstream worker`` under
cProfile until the group has committed every message, stops it gracefully (the
profile is written at exit) and prints the functions by own time and the
cumulative time of the main stages. Prints figures; not a test.
"""

from __future__ import annotations

import argparse
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tierstream.streams.bench.throughput import preload, wait_processed
from tierstream.streams.cli.run import stop_process
from tierstream.streams.dev.broker import EmbeddedBroker
from tierstream.streams.dev.harness import Deployment, Worker, free_port, fresh_name
from tierstream.streams.dev.sample import write_sample
from tierstream.streams.dev.valkey import EmbeddedRedis

__all__ = ["STAGES", "main"]

STAGES = (
    ("processor (validate + grade)", "processor.py", "process"),
    ("grader: apply", "engine.py", "apply"),
    ("grader: grade", "tiering.py", "grade"),
    ("grader: emit a change", "evaluation.py", "_emit"),
    ("state decode", "state.py", "from_bytes"),
    ("state encode", "state.py", "to_bytes"),
    ("outbox: write, send, mark", "outbox.py", "_finish"),
    ("record batches (changelog, outputs)", "bulk.py", "send_batches"),
    ("faust: record -> Message", "consumer.py", "_to_message"),
    ("faust: ack", "consumer.py", "ack"),
    ("faust: table __setitem__", "table.py", "__setitem__"),
    ("producer: send", "aiokafka.py", "send"),
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, default=20_000)
    ap.add_argument("--suppliers", type=int, default=300)
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--per-event", action="store_true", help="profile the stock per-event path")
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--no-profile", action="store_true", help="only time it: events/s from ready to done")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tierstream-profile-"))
    sample = work / "sample.jsonl"
    write_sample(sample, customers=args.customers, suppliers=args.suppliers, days=args.days, seed=5)
    out = work / "worker.prof"
    with EmbeddedBroker() as broker, EmbeddedRedis(log_path=work / "valkey.log") as store:
        dep = Deployment(broker.bootstrap, work, 4, os.environ.get("TIERSTREAM_REDIS_URL", store.url),
                         review_interval_s=None, name=fresh_name("bench"))
        loaded = preload(dep, sample)
        print(f"published {loaded.total:,} messages", file=sys.stderr)
        profiler = [] if args.no_profile else ["-m", "cProfile", "-o", str(out)]
        cmd = [sys.executable, *profiler, "-m", "tierstream", "worker"]
        if args.per_event:
            cmd.append("--per-event")
        log = work / "worker.log"
        started = time.monotonic()
        proc = subprocess.Popen(cmd, env=dep.env(port := free_port()), stdout=log.open("ab"),
                                stderr=subprocess.STDOUT, start_new_session=True)
        worker = dep.adopt(Worker(proc, port, log, started))
        try:
            ready_s = dep.wait_ready(worker, 120)
            ready_at = time.monotonic()
            complete, done = wait_processed(loaded, time.monotonic() + 900, "profile", [worker])
            seconds = time.monotonic() - ready_at
        finally:
            stop_process(proc, timeout_s=60)
            dep.close(purge=True)
    print(f"{done:,} messages processed (complete: {complete}) in {seconds:.1f} s after ready "
          f"({ready_s:.1f} s to ready): {done / seconds:,.0f} messages/s")
    if args.no_profile:
        return
    stats = pstats.Stats(str(out))
    total = max(stats.total_tt, 1e-9)  # type: ignore[attr-defined]
    print(f"profile: {total:.1f} s of CPU in the worker's main thread")
    print("\nstage                              cumulative s   share   per message")
    raw = stats.stats  # type: ignore[attr-defined]
    for label, file, func in STAGES:
        cum = sum(v[3] for (f, _, fn), v in raw.items() if f.endswith(file) and fn == func)
        print(f"{label:<34} {cum:>12.2f} {cum / total:>7.0%} {cum / max(done, 1) * 1e6:>9.1f} µs")
    print()
    stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
