"""Malformed messages mixed into valid traffic: dead-lettered with their reason, the worker unharmed."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path

from tests.faults.checks import check_outputs, check_parity, check_state, reference
from tests.faults.deployment import fault_deployment, record_redelivery
from tests.faults.figures import Figures
from tests.faults.hostile import Sent, as_sent, hostile_units, letter_bytes, self_check, send_raw
from tests.faults.inputs import sized_sample
from tierstream.schemas.outputs import DeadLetter
from tierstream.streams.dev.harness import Deployment, poll
from tierstream.streams.kafka.read import read_to_end

__all__ = ["check_dead_letters", "scenario_hostile"]


def scenario_hostile(bootstrap: str, tmp: Path, events: int = 20_000, malformed: int = 10_000,
                     seed: int = 4) -> Figures:
    """Malformed messages mixed into valid traffic: each dead-lettered with its reason (or counted
    too_new / too_old), the worker never crashes, the valid events are graded as offline."""
    fig = Figures("hostile")
    started = time.monotonic()
    rng = random.Random(seed)
    lines = sized_sample(tmp, events, seed)
    with fault_deployment(bootstrap, tmp / "hostile") as dep:
        names = dep.names
        base = [as_sent(raw, names) for raw in lines]
        anchors = sorted({m.key.decode().partition(":")[2] for m in base
                          if m.expect == "valid" and m.key and m.key.startswith(b"customer:")})
        units = hostile_units(malformed, rng, names, anchors)
        self_check(units)
        # Interleave: every unit goes after a random sample line, units keep their own order.
        slots: dict[int, list[list[Sent]]] = {}
        for u in units:
            slots.setdefault(rng.randrange(len(base) + 1), []).append(u)
        msgs: list[Sent] = []
        for pos in range(len(base) + 1):
            for u in slots.get(pos, []):
                msgs.extend(u)
            if pos < len(base):
                msgs.append(base[pos])
        hostile = [m for u in units for m in u if m.kind != "too_old_anchor"]
        fig.facts["malformed or refused messages"] = len(hostile)
        fig.facts["by kind"] = dict(sorted(Counter(m.kind for m in hostile).items()))
        fig.events_in = len(msgs)
        ref = reference([m.value for m in msgs if m.value is not None and not m.expect.startswith("dlq:")])
        w = dep.start_worker()
        send_raw(dep.settings, msgs)
        if check_parity(dep, ref, fig):
            record_redelivery(dep, fig)
            check_state(dep, ref, fig)
            check_outputs(dep, fig)
        check_dead_letters(dep, msgs, fig)
        metrics = w.metrics()
        for status in ("too_new", "too_old"):
            want = sum(1 for m in msgs if m.expect == status)
            got = metrics.get(f"tierstream_events_{status}_total", -1)
            fig.facts[f"tierstream_events_{status}_total"] = f"{got:g} (sent {want})"
            fig.check(got == want, f"tierstream_events_{status}_total is {got:g}, {want} were sent")
        fig.check(w.alive and bool((w.health() or {}).get("ready")), "the worker is not alive and ready")
        fig.facts["worker restarts"] = 0 if w.alive else "died"
    fig.seconds = time.monotonic() - started
    return fig


def check_dead_letters(dep: Deployment, msgs: Sequence[Sent], fig: Figures) -> None:
    """Check that every malformed message has exactly one dead letter, with its reason and bytes."""
    by_pos = {(m.topic, m.partition, m.offset): m for m in msgs}
    want = [m for m in msgs if m.expect.startswith("dlq:")]
    letters: list[DeadLetter] = []

    def all_there() -> bool:
        nonlocal letters
        letters = [DeadLetter.model_validate_json(r.value) for r in read_to_end(dep.settings, dep.names.dead_letters)]
        return len({(d.source_topic, d.partition, d.offset) for d in letters}) >= len(want)

    with suppress(AssertionError):
        poll(all_there, 120, "every dead letter", interval=1.0)
    fig.dead_letters = len(letters)
    seen: Counter[tuple[str, int, int]] = Counter()
    wrong: list[str] = []
    for d in letters:
        pos = (d.source_topic, d.partition, d.offset)
        seen[pos] += 1
        m = by_pos.get(pos)
        if m is None or not m.expect.startswith("dlq:"):
            wrong.append(f"unexpected dead letter for a {m.kind if m else 'unknown'} message: {d.reason}: {d.error}")
            continue
        if m.expect != "dlq:*" and d.reason != m.expect[4:]:
            wrong.append(f"{m.kind}: reason {d.reason} (expected {m.expect[4:]}): {d.error[:120]}")
        original = m.value or b""
        kept = letter_bytes(d)
        if kept != original and not (d.reason == "too_large" and original.startswith(kept) and kept):
            wrong.append(f"{m.kind}: the dead letter does not carry the original bytes")
    missing = [m for m in want if seen[(m.topic, m.partition, m.offset)] == 0]
    fig.facts["dead letters by reason"] = dict(sorted(Counter(d.reason for d in letters).items()))
    fig.facts["largest dead letter (bytes)"] = max((len(d.model_dump_json()) for d in letters), default=0)
    fig.check(not missing, f"{len(missing)} malformed messages have no dead letter, e.g. "
              + "; ".join(f"{m.kind} ({len(m.value or b''):,} bytes)" for m in missing[:5]))
    fig.check(not wrong, f"{len(wrong)} dead letters wrong: " + " | ".join(wrong[:5]))
    fig.check(sum(seen.values()) == len(seen), f"{sum(seen.values()) - len(seen)} messages dead-lettered twice")
