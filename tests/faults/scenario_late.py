"""Late, out-of-order, history-only and too-old events."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.faults.checks import check_outputs, check_parity, check_state, reference
from tests.faults.deployment import fault_deployment, record_redelivery
from tests.faults.figures import Figures
from tests.faults.inputs import compact, delivery, order, sized_sample
from tierstream.streams.client import publish
from tierstream.streams.kafka.read import read_to_end
from tierstream.streams.kafka.topics import entity_key

__all__ = ["late_events", "scenario_late"]


D = "2026-10-01"


def late_events() -> tuple[list[bytes], dict[str, Any]]:
    """Events per entity, each after a recent one on the same topic and key (order fixed), and
    what the engine must make of them (customers: window 365 + lookback 60 days; suppliers:
    180 + 60)."""
    def o(eid: str, cid: str, day: str, amount: float = 100.0) -> bytes:
        return compact(order(eid, cid, at=f"{day}T10:00:00Z", amount=amount, cost=amount / 2))

    def dlv(eid: str, sid: str, day: str) -> bytes:
        return compact(delivery(eid, sid) | {"occurred_at": f"{day}T10:00:00Z", "promised_at": f"{day}T12:00:00Z"})

    lines = [
        o("late-c1-now", "late-c1", D),
        o("late-c1-in", "late-c1", "2026-09-21"),  # 10 days late, in the window: its own day
        o("late-c1-hist", "late-c1", "2025-09-01"),  # before the 365-day window, inside the lookback
        o("late-c1-old", "late-c1", "2025-06-01"),  # before window + lookback: too old
        dlv("late-s1-now", "late-s1", D),
        dlv("late-s1-in", "late-s1", "2026-08-01"),  # in the 180-day window
        dlv("late-s1-hist", "late-s1", "2026-03-15"),  # 200 days back: history only
        dlv("late-s1-old", "late-s1", "2026-01-01"),  # 273 days back: too old
    ]
    # Out of order: one customer's year of orders in reverse time order.
    lines += [o(f"late-c2-{m}", "late-c2", f"2026-{m:02d}-15", 50.0 * m) for m in range(10, 0, -1)]
    expect = {"too_old": 2, "history": 2, "days": {"late-c1": ["2026-09-21", "2025-09-01"],
                                                  "late-s1": ["2026-08-01", "2026-03-15"]}}
    return lines, expect


def scenario_late(bootstrap: str, tmp: Path, events: int = 5_000, seed: int = 5) -> Figures:
    """Late events land in their own day; before the window they are history only; before the
    retention they are refused as too_old (metric), never dead-lettered."""
    from datetime import date

    fig = Figures("late")
    started = time.monotonic()
    late, expect = late_events()
    lines = sized_sample(tmp, events, seed) + late
    ref = reference(lines)
    fig.events_in = len(lines)
    fig.check(ref.report.too_old == expect["too_old"] and ref.report.history == expect["history"],
              f"offline counted {ref.report.too_old} too old / {ref.report.history} history")
    with fault_deployment(bootstrap, tmp / "late") as dep:
        w = dep.start_worker()
        rep = publish(dep.settings, enumerate(lines, 1))
        fig.check(rep.failed == 0, f"{rep.failed} events not acknowledged")
        if check_parity(dep, ref, fig):
            record_redelivery(dep, fig)
            states = check_state(dep, ref, fig)
            check_outputs(dep, fig)
            epoch = date(1970, 1, 1).toordinal()
            for owner, days in expect["days"].items():
                kind = "customer" if owner.startswith("late-c") else "supplier"
                st = states[entity_key(kind, owner)]
                for d in days:
                    fig.check(date.fromisoformat(d).toordinal() - epoch in st.days, f"{owner}: no bucket for {d}")
            snap = ref.snapshots[("customer", "late-c1")]
            fig.facts["late-c1 order_count in the window (now + 10 days late)"] = snap["aggregates"]["order_count"]
            fig.check(snap["aggregates"]["order_count"] == 2, "history or too-old orders counted in the window")
        metrics = w.metrics()
        got = metrics.get("tierstream_events_too_old_total", -1)
        fig.facts["tierstream_events_too_old_total"] = f"{got:g} (offline: {ref.report.too_old})"
        fig.facts["offline report"] = (f"{ref.report.applied} applied, {ref.report.history} history-only, "
                                       f"{ref.report.too_old} too old, {ref.report.duplicates} duplicates")
        fig.check(got == ref.report.too_old, "too_old metric differs from the offline count")
        letters = list(read_to_end(dep.settings, dep.names.dead_letters))
        late_letters = [r for r in letters if b"late-" in r.value]
        fig.check(not late_letters, f"{len(late_letters)} late events were dead-lettered")
        fig.dead_letters = len(letters)
    fig.seconds = time.monotonic() - started
    return fig
