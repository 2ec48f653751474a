"""Errors inside grading: chosen valid events make grading raise, others stall it; kill -9 during a stall."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from contextlib import suppress
from pathlib import Path

from pydantic import ValidationError

from tests.faults.checks import SETTLE_S, check_outputs, check_parity, check_state, reference
from tests.faults.deployment import fault_deployment, record_redelivery
from tests.faults.figures import Figures
from tests.faults.inputs import sized_sample
from tierstream.schemas.events import INBOUND_ADAPTER
from tierstream.schemas.outputs import DeadLetter
from tierstream.streams.dev.harness import Deployment, Publisher, poll
from tierstream.streams.kafka.read import read_to_end

__all__ = ["scenario_grading_errors"]


def _choose(lines: list[bytes], n: int, rng: random.Random) -> list[str]:
    """Pick ``n`` valid events whose id appears once in the sample (a raise is then one message)."""
    ids: Counter[str] = Counter()
    valid: list[str] = []
    for raw in lines:
        try:
            eid = INBOUND_ADAPTER.validate_json(raw).event_id
        except ValidationError:
            continue
        ids[eid] += 1
        valid.append(eid)
    once = sorted({e for e in valid if ids[e] == 1})
    return rng.sample(once, n)


def scenario_grading_errors(bootstrap: str, tmp: Path, events: int = 20_000, raising: int = 100, stalls: int = 5,
                            stall_s: float = 15.0, seed: int = 6, replay_s: float = 30.0) -> Figures:
    """Grading raises on ``raising`` valid events and stalls ``stall_s`` on ``stalls`` others; kill -9 during a stall.

    Each raising event must become one dead letter (``processing_error``, its original bytes),
    never be acked silently; everything else is graded as offline without those events (so no
    commit passed an unfinished event); the worker restarted once (by the test) never loops.
    """
    fig = Figures("grading-errors")
    started = time.monotonic()
    rng = random.Random(seed)
    lines = sized_sample(tmp, events, seed)
    chosen = _choose(lines, raising + stalls, rng)
    raise_on, stall_on = set(chosen[:raising]), chosen[raising:]
    kept = [raw for raw in lines if not any(f'"event_id":"{e}"'.encode() in raw for e in raise_on)]
    fig.check(len(kept) == len(lines) - raising, f"{len(lines) - len(kept)} lines dropped for {raising} events")
    ref = reference(kept)
    fig.events_in = len(lines)
    work = tmp / "grading"
    work.mkdir(parents=True, exist_ok=True)
    stalling = work / "stalling"
    switch = work / "faults.json"
    switch.write_text(json.dumps({"raise": sorted(raise_on), "stall": {e: stall_s for e in stall_on},
                                  "stalling": str(stalling)}))
    env = {"TIERSTREAM_TEST_GRADING_FAULTS": str(switch)}
    fig.facts["raising events"] = raising
    fig.facts[f"stalls of {stall_s:g} s"] = stalls
    with fault_deployment(bootstrap, work) as dep:
        victim = dep.start_worker(extra_env=env)
        pub = Publisher(dep.settings, lines, replay_s)
        pub.start()
        poll(lambda: stalling.exists() and stalling.read_text() != "", 600, "a stall in grading", interval=0.05)
        fig.facts["kill -9 during the stall of"] = f"{stalling.read_text()} (line {pub.sent} published)"
        dep.kill9(victim)
        stalling.write_text("")
        worker = dep.start_worker(extra_env=env)
        pub.finish()
        # each stall holds the worker, and the one killed runs again after the restart
        if check_parity(dep, ref, fig, deadline_s=SETTLE_S + 2 * stalls * stall_s):
            record_redelivery(dep, fig)
            check_state(dep, ref, fig)
            check_outputs(dep, fig)
        _check_letters(dep, raise_on, fig)
        fig.check(worker.alive and bool((worker.health() or {}).get("ready")), "the worker is not alive and ready")
        fig.facts["worker restarts"] = "1 (the kill)" if worker.alive else "died again"
    fig.seconds = time.monotonic() - started
    return fig


def _check_letters(dep: Deployment, raise_on: set[str], fig: Figures) -> None:
    """One dead letter (by source position) per raising event, with reason processing_error; none for others."""
    letters: list[DeadLetter] = []

    def all_there() -> bool:
        nonlocal letters
        letters = [DeadLetter.model_validate_json(r.value) for r in read_to_end(dep.settings, dep.names.dead_letters)
                   if r.value is not None]
        errors = {json.loads(d.value)["event_id"] for d in letters if d.reason == "processing_error"}
        return errors >= raise_on

    with suppress(AssertionError):  # what is missing is recorded below
        poll(all_there, 120, "a dead letter for every raising event", interval=1.0)
    errors = [d for d in letters if d.reason == "processing_error"]
    by_event: dict[str, set[tuple[str, int, int]]] = {}
    for d in errors:
        by_event.setdefault(json.loads(d.value)["event_id"], set()).add((d.source_topic, d.partition, d.offset))
    fig.dead_letters = len(letters)
    fig.facts["processing_error dead letters (records; distinct messages)"] = (
        f"{len(errors)}; {sum(len(p) for p in by_event.values())}")
    missing = sorted(raise_on - set(by_event))
    extra = sorted(set(by_event) - raise_on)
    twice = sorted(e for e, p in by_event.items() if len(p) > 1)
    fig.check(not missing, f"{len(missing)} raising events have no dead letter (acked silently?): {missing[:5]}")
    fig.check(not extra, f"{len(extra)} events dead-lettered as processing_error without raising: {extra[:5]}")
    fig.check(not twice, f"{len(twice)} raising events dead-lettered from two messages: {twice[:5]}")
    fig.check(all(d.error.startswith("InjectedGradingError: injected grading error on event ") for d in errors),
              "a processing_error dead letter does not name the error")
    other = Counter(d.reason for d in letters if d.reason != "processing_error")
    fig.facts["other dead letters (the sample's invalid lines)"] = dict(sorted(other.items()))
