"""Coverage-guided fuzzing of the event decoder and the message handler (atheris, libFuzzer).

    python -m tests.faults.fuzz_decoder --seconds 600      # prints the figures, exit 1 on a crash

:func:`fuzz` runs this module as a child process (libFuzzer ends the process it runs in)
with a seed corpus and a dictionary, and reads libFuzzer's figures from its output. The
child instruments tierstream's Python code (``atheris.instrument_imports``) so coverage
guides it through the decoder's error mapping, the routing and the grading; pydantic-core
(Rust) is not instrumented.

One input is up to 8 messages (split on a newline), the first byte of each picking its
topic, processed in order over one fresh dict table: sequences reach the grading paths that
need an earlier event. A *crash* is anything :meth:`Processor.process` raises, or a broken
promise: an invalid message without exactly one dead letter, a dead letter without the
original bytes, a valid message dead-lettered for a schema reason.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.faults.figures import Figures

__all__ = ["FuzzResult", "fuzz", "main", "scenario_fuzz", "seeds"]

ROOT = Path(__file__).resolve().parents[2]
MAX_LEN = 8192
MESSAGES_PER_INPUT = 8
#: JSON tokens and the schema's words, so mutations build events rather than noise
DICTIONARY = [
    '"type"', '"order"', '"payment"', '"delivery"', '"referral"', '"service"', '"assessment"', '"profile"',
    '"event_id"', '"occurred_at"', '"order_id"', '"customer_id"', '"supplier_id"', '"amount"', '"cost"',
    '"status"', '"placed"', '"cancelled"', '"returned"', '"invoice_id"', '"due_at"', '"promised_at"',
    '"quantity_ordered"', '"quantity_delivered"', '"quantity_accepted"', '"referrer_id"', '"referred_id"',
    '"ticket_id"', '"first_response_at"', '"entity_type"', '"entity_id"', '"prospect_score"',
    '"tier_override"', '"reason"', '"expires_at"', '"author"', '"customer"', '"supplier"', '"currency"',
    '"CNY"', '"USD"', '"customer_group"', '"retail"', '"wholesale"', '"returned_amount"', '"market_amount"',
    '"2026-10-01T10:00:00Z"', '"2026-10-01T10:00:00+08:00"', '"2099-12-31T23:59:59Z"', '"0100-01-01T00:00:00Z"',
    "1e12", "-0", "NaN", "Infinity", "null", "true", "false", "{}", "[]", '"\\u0000"', '"\\ud800"', ":", ",",
]


@dataclass
class FuzzResult:
    """What one fuzzing run did, from libFuzzer's own figures."""

    seconds: float
    exit_code: int
    executions: int = 0
    coverage: int = 0  # libFuzzer's ``cov``: instrumented edges (tierstream's Python code) reached
    features: int = 0  # ``ft``
    corpus: int = 0  # inputs kept for new coverage
    exec_per_s: int = 0
    peak_rss_mb: int = 0
    crashes: list[str] = field(default_factory=list)
    tail: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.crashes and self.executions > 0


def seeds() -> list[bytes]:
    """The seed inputs: one valid event of each kind, an event stream, JSONTestSuite's ``y_`` cases."""
    from tests.faults.corpora import json_test_suite
    from tests.faults.inputs import compact, delivery, order

    docs: list[dict[str, Any]] = [
        order("e1", "c1"), delivery("e2", "s1"),
        order("e3", "c1", status="returned", returned_amount=20.0),
        {"type": "order", "event_id": "e4", "occurred_at": "2026-10-01T18:00:00+08:00", "order_id": "p1",
         "supplier_id": "s1", "amount": 990.0, "market_amount": 1000.0},
        {"type": "payment", "event_id": "e5", "occurred_at": "2026-10-01T10:00:00Z", "customer_id": "c1",
         "invoice_id": "i1", "amount": 120.5, "due_at": "2026-10-15T00:00:00Z"},
        {"type": "referral", "event_id": "e6", "occurred_at": "2026-10-01T10:00:00Z", "referrer_id": "c1",
         "referred_id": "c2"},
        {"type": "service", "event_id": "e7", "occurred_at": "2026-10-01T10:00:00Z", "supplier_id": "s1",
         "ticket_id": "t1", "first_response_at": "2026-10-01T14:30:00Z"},
        {"type": "assessment", "event_id": "e8", "occurred_at": "2026-10-01T10:00:00Z", "entity_type": "supplier",
         "entity_id": "s1", "tier_override": "unqualified", "reason": "quality incident",
         "expires_at": "2027-01-01T00:00:00Z", "author": "m.garcia"},
    ]
    # the first byte picks the topic (see _topic): 0 orders, 1 payments, 2 deliveries, ...
    lines = [bytes([_TOPIC_INDEX.get(str(d["type"]), 0)]) + compact(d) for d in docs]
    out = [*lines, b"\n".join(lines), b"\n".join(lines[:2] * 4)]
    out += [b"\x00" + raw for name, raw in json_test_suite() if name.startswith("y_") and len(raw) < MAX_LEN]
    return out


_TOPIC_INDEX = {"order": 0, "payment": 1, "delivery": 2, "referral": 3, "service": 4, "assessment": 5}


def fuzz(seconds: int, work: Path, extra: Sequence[str] = ()) -> FuzzResult:
    """Fuzz for ``seconds`` in a child process (corpus and crashes kept under ``work``)."""
    work.mkdir(parents=True, exist_ok=True)
    seed_dir, corpus_dir = work / "seeds", work / "corpus"
    seed_dir.mkdir(exist_ok=True)
    corpus_dir.mkdir(exist_ok=True)
    for i, s in enumerate(seeds()):
        (seed_dir / f"seed-{i:04d}").write_bytes(s)
    dictionary = work / "events.dict"
    dictionary.write_text("".join(f"{json.dumps(t)}\n" for t in DICTIONARY), encoding="utf-8")
    cmd = [sys.executable, "-m", "tests.faults.fuzz_decoder", "--child",
           f"-max_total_time={seconds}", f"-max_len={MAX_LEN}", "-timeout=60", "-rss_limit_mb=4096",
           "-print_final_stats=1", f"-dict={dictionary}", f"-artifact_prefix={work}/", *extra,
           str(corpus_dir), str(seed_dir)]
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, errors="replace",
                          timeout=seconds + 300, check=False)
    res = FuzzResult(time.monotonic() - started, proc.returncode, tail=proc.stderr[-4000:])
    for line in proc.stderr.splitlines():
        m = re.match(r"#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)", line)
        if m:
            res.executions, res.coverage, res.features, res.corpus = (int(g) for g in m.groups())
        stat = re.match(r"stat::(\w+):\s+(\d+)", line)
        if stat:
            name, value = stat.group(1), int(stat.group(2))
            if name == "number_of_executed_units":
                res.executions = value
            elif name == "average_exec_per_sec":
                res.exec_per_s = value
            elif name == "peak_rss_mb":
                res.peak_rss_mb = value
    res.crashes = sorted(p.name for p in work.glob("crash-*")) + sorted(p.name for p in work.glob("oom-*"))
    return res


def scenario_fuzz(work: Path, seconds: int = 600) -> Figures:
    """Fuzz for ``seconds``: ok with zero crashes; libFuzzer's figures as facts."""
    fig = Figures("fuzz")
    res = fuzz(seconds, work)
    fig.seconds = res.seconds
    fig.events_in = res.executions
    fig.facts["executions / exec per s"] = f"{res.executions:,} / {res.exec_per_s:,}"
    fig.facts["coverage: edges / features / corpus"] = f"{res.coverage:,} / {res.features:,} / {res.corpus:,}"
    fig.facts["peak RSS (MB)"] = res.peak_rss_mb
    fig.facts["crashes"] = len(res.crashes)
    fig.check(res.ok, f"exit {res.exit_code}, crashes {res.crashes}: {res.tail[-1500:]}")
    return fig


def _child(argv: list[str]) -> None:  # pragma: no cover - runs under libFuzzer in the child
    import atheris

    with atheris.instrument_imports(include=["tierstream"]):
        from pydantic import ValidationError

        from tierstream.schemas.events import INBOUND_ADAPTER
        from tierstream.schemas.outputs import DeadLetter
        from tierstream.schemas.rules import load_rules
        from tierstream.schemas.settings import Settings
        from tierstream.streams.worker.processor import BatchStore, Processor
    from tests.faults.hostile import letter_bytes  # after: it imports tierstream modules too

    now = 1795564800.0  # 2026-11-25T00:00:00Z: the seeds' events are recent, 2099 is too new
    proc = Processor(Settings(topic_prefix="fz.", app_id="fz"), load_rules(), wall_clock=lambda: now)
    topics = [*proc.names.all_inbound, proc.names.repartition, proc.names.referral_credits, proc.names.reviews]
    schema_reasons = {"invalid_json", "missing_field", "unknown_type"}  # invalid_event: also the rules' refusals

    def one_input(data: bytes) -> None:
        store = BatchStore({})
        for offset, msg in enumerate(data.split(b"\n", MESSAGES_PER_INPUT - 1)):
            topic = topics[msg[0] % len(topics)] if msg else topics[0]
            value = msg[1:]
            key = b"customer:c1" if msg and msg[0] & 0x80 else None
            out = proc.process(store, topic, 0, offset, key, value, now)
            letters = [DeadLetter.model_validate_json(o.value) for o in out if o.topic == proc.names.dead_letters]
            if len(letters) > 1:
                raise AssertionError(f"{len(letters)} dead letters for one message")
            for d in letters:
                kept = letter_bytes(d)
                if kept != value and not (d.reason == "too_large" and value.startswith(kept)):
                    raise AssertionError("a dead letter without the original bytes")
            if topic in proc.names.all_inbound:
                try:
                    INBOUND_ADAPTER.validate_json(value)
                    valid = True
                except ValidationError:
                    valid = False
                if not valid and len(value) <= proc.settings.max_event_bytes and not letters:
                    raise AssertionError("an invalid message without a dead letter")
                if valid and any(d.reason in schema_reasons for d in letters):
                    raise AssertionError(f"a valid event dead-lettered as {letters[0].reason}")
            store.take_outbox()
            store.flush()

    atheris.Setup([sys.argv[0], *argv], one_input)
    atheris.Fuzz()


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--child"]:
        _child(args[1:])
        return 0
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=600)
    ap.add_argument("--work", type=Path, default=Path("/tmp/tierstream-fuzz"))
    a = ap.parse_args(args)
    res = fuzz(a.seconds, a.work)
    print(f"executions {res.executions:,}  coverage {res.coverage:,} edges  features {res.features:,}  "
          f"corpus {res.corpus:,}  exec/s {res.exec_per_s:,}  peak RSS {res.peak_rss_mb} MB  "
          f"{res.seconds:.0f} s  crashes {len(res.crashes)}  exit {res.exit_code}")
    if not res.ok:
        print(res.tail, file=sys.stderr)
    return 0 if res.ok else 1


if __name__ == "__main__":
    sys.exit(main())
