"""Scenarios where workers come and go: kill -9 during a replay, a worker added and one removed."""

from __future__ import annotations

import functools
import random
import time
from pathlib import Path

from tests.faults.checks import check_outputs, check_parity, check_state, reference
from tests.faults.deployment import fault_deployment, record_redelivery
from tests.faults.figures import Figures
from tests.faults.inputs import sized_sample
from tierstream.streams.dev.harness import Publisher, poll

__all__ = ["scenario_crash", "scenario_rebalance"]


def scenario_crash(bootstrap: str, tmp: Path, events: int = 20_000, kills: int = 3, seed: int = 1,
                   replay_s: float | None = None) -> Figures:
    """Two workers share the partitions; kill -9 one at random points of a replay, restart it."""
    fig = Figures("crash")
    started = time.monotonic()
    rng = random.Random(seed)
    lines = sized_sample(tmp, events, seed)
    ref = reference(lines)
    fig.events_in = len(lines)
    with fault_deployment(bootstrap, tmp / "crash") as dep:
        dep.start_worker()
        dep.start_worker()
        dep.wait_split()
        seconds = replay_s if replay_s is not None else max(20.0, 8.0 * kills)
        pub = Publisher(dep.settings, lines, seconds)
        points = sorted(rng.randint(len(lines) // 10, len(lines) * 9 // 10) for _ in range(kills))
        pub.start()
        killed: list[str] = []
        for point in points:
            poll(functools.partial(pub.reached, point), 600, f"the replay to reach line {point}", interval=0.02)
            victim = rng.choice(dep.workers)
            killed.append(f"line {pub.sent} (port {victim.port})")
            dep.kill9(victim)
            dep.start_worker()  # waits until it is ready (partitions assigned, tables recovered)
        pub.finish()
        fig.facts["kill -9 at"] = ", ".join(killed)
        if check_parity(dep, ref, fig):
            record_redelivery(dep, fig)
            check_state(dep, ref, fig)
            check_outputs(dep, fig)
        fig.check(all(w.alive for w in dep.workers), "a worker died on its own")
    fig.seconds = time.monotonic() - started
    return fig


def scenario_rebalance(bootstrap: str, tmp: Path, events: int = 20_000, seed: int = 2,
                       replay_s: float = 30.0) -> Figures:
    """Mid-stream: a second worker joins, later the first one leaves (graceful stop)."""
    fig = Figures("rebalance")
    started = time.monotonic()
    lines = sized_sample(tmp, events, seed)
    ref = reference(lines)
    fig.events_in = len(lines)
    with fault_deployment(bootstrap, tmp / "rebalance") as dep:
        first = dep.start_worker()
        pub = Publisher(dep.settings, lines, replay_s)
        pub.start()
        poll(lambda: pub.reached(len(lines) // 4), 600, "a quarter of the replay", interval=0.02)
        fig.facts["worker started at line"] = pub.sent
        dep.start_worker()
        dep.wait_split()
        fig.facts["worker added (ready, partitions split) at line"] = pub.sent
        poll(lambda: pub.reached(len(lines) * 3 // 5), 600, "three fifths of the replay", interval=0.02)
        fig.facts["worker removed at line"] = pub.sent
        dep.stop_worker(first)
        dep.wait_split()  # the remaining worker owns everything
        pub.finish()
        if check_parity(dep, ref, fig):
            record_redelivery(dep, fig)
            check_state(dep, ref, fig)
            check_outputs(dep, fig)
    fig.seconds = time.monotonic() - started
    return fig
