"""State bytes per entity at rest: outboxes kept until the next write (a marker covers them) or emptied.

    python -m benchmarks.state_at_rest [--customers 30000] [--suppliers 800] [--days 120] [--round 2000]

Runs a sample through the :class:`Processor` in process (one partition, rounds of
``--round`` messages, each round's outputs marked sent as the worker does) and prints the
mean stored state size with the outboxes as the worker leaves them, and with them
emptied (what the clear write stored before issue 14's bulk rounds). Prints figures; not a test.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from tierstream.schemas.events import INBOUND_ADAPTER, entity_of
from tierstream.schemas.rules import load_rules
from tierstream.schemas.settings import Settings
from tierstream.scorers.state import EntityState
from tierstream.streams.dev.sample import write_sample
from tierstream.streams.kafka.topics import entity_key
from tierstream.streams.worker.processor import BatchStore, Processor
from tierstream.streams.worker.rounds import AckedRounds

__all__ = ["main"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, default=30_000)
    ap.add_argument("--suppliers", type=int, default=800)
    ap.add_argument("--days", type=int, default=120)
    ap.add_argument("--round", type=int, default=2_000)
    args = ap.parse_args()
    sample = Path(tempfile.mkdtemp(prefix="tierstream-at-rest-")) / "sample.jsonl"
    write_sample(sample, customers=args.customers, suppliers=args.suppliers, days=args.days, seed=5)
    proc = Processor(Settings(topic_prefix="r.", app_id="r", partitions=1), load_rules())
    table: dict[bytes, bytes] = {}
    acked = AckedRounds()
    lines = sample.read_bytes().splitlines()
    for number, start in enumerate(range(0, len(lines), args.round), 1):
        store = BatchStore(table, acked)
        store.round_id = ("at-rest", number)
        for offset, raw in enumerate(lines[start:start + args.round], start):
            try:
                event = INBOUND_ADAPTER.validate_json(raw)
            except ValueError:
                continue
            proc.process(store, proc.names.inbound(event.type), 0, offset, entity_key(*entity_of(event)).encode(), raw)
        store.flush()
        store.take_outbox()
        acked = acked.with_round(store.round_id)
    states = [EntityState.from_bytes(v) for v in table.values()]
    kept = sum(len(v) for v in table.values()) / len(table)
    with_outbox = sum(1 for s in states if s.outbox)
    for s in states:
        s.outbox = []
    emptied = sum(len(s.to_bytes()) for s in states) / len(states)
    print(f"{len(lines):,} lines, {len(states):,} entities, {with_outbox:,} keep an outbox at rest: "
          f"{kept:,.0f} bytes per entity as stored, {emptied:,.0f} with the outboxes emptied")


if __name__ == "__main__":
    main()
