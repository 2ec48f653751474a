"""Redis goes away mid-stream (killed and restarted empty, or frozen) and comes back."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.faults.checks import (
    changes_by_id,
    check_outputs,
    check_parity,
    check_state,
    explain_entity,
    redis_behind,
    redis_history_dups,
    reference,
    table_states,
)
from tests.faults.deployment import fault_deployment, record_redelivery, redis_of
from tests.faults.figures import Figures
from tests.faults.inputs import sized_sample
from tierstream.schemas.outputs import TierChange
from tierstream.streams.dev.harness import Deployment, Publisher, poll
from tierstream.streams.kafka.read import read_to_end
from tierstream.streams.kafka.topics import entity_key
from tierstream.streams.store.redis import AsyncTierStore

__all__ = ["scenario_redis"]


def _latest_change_times(dep: Deployment) -> dict[str, tuple[int, float]]:
    """entity key -> (highest seq on the tier-changes topic, its record's produce time, epoch s)."""
    out: dict[str, tuple[int, float]] = {}
    for r in read_to_end(dep.settings, dep.names.tier_changes):
        c = TierChange.model_validate_json(r.value)
        key = entity_key(c.entity_type, c.entity_id)
        seq = int(c.change_id.rsplit(":", 1)[1])
        if key not in out or seq > out[key][0]:
            out[key] = (seq, r.timestamp / 1000)
    return out


def scenario_redis(bootstrap: str, tmp: Path, events: int = 20_000, seed: int = 3, replay_s: float = 24.0,
                   mode: str = "restart") -> Figures:
    """Redis goes away mid-stream for a third of the replay, then comes back.

    ``restart``: SIGKILL and a new empty server on the same port (memory only, as Redis
    without persistence restarts). ``freeze``: SIGSTOP/SIGCONT (unreachable, data kept).
    """
    fig = Figures(f"redis-{mode}")
    started = time.monotonic()
    lines = sized_sample(tmp, events, seed)
    ref = reference(lines)
    fig.events_in = len(lines)
    with fault_deployment(bootstrap, tmp / f"redis-{mode}") as dep:
        w = dep.start_worker()
        pub = Publisher(dep.settings, lines, replay_s)
        pub.start()
        poll(lambda: pub.reached(len(lines) // 3), 600, "a third of the replay", interval=0.02)
        down_at = time.time()
        redis_of(dep).kill() if mode == "restart" else redis_of(dep).freeze()
        fig.facts["Redis down at line"] = pub.sent
        poll(lambda: pub.reached(len(lines) * 2 // 3), 600, "two thirds of the replay", interval=0.02)
        # ... and until the sink has hit the outage (a write failed), however sparse the changes.
        poll(lambda: w.metrics().get("tierstream_redis_errors_total", 0) > 0, 120, "the sink to see Redis down")
        fig.facts["Redis back at line"] = pub.sent
        fig.facts["Redis down for (s)"] = round(time.time() - down_at, 1)
        if mode == "restart":
            redis_of(dep).start()  # same port: the worker's client reconnects
        else:
            redis_of(dep).thaw()
        pub.finish()
        metrics = w.metrics()
        fig.facts["tierstream_redis_errors_total during the outage"] = metrics.get("tierstream_redis_errors_total")
        fig.check(metrics.get("tierstream_redis_errors_total", 0) > 0, "the sink never saw Redis down")
        if check_parity(dep, ref, fig):
            record_redelivery(dep, fig)
            check_state(dep, ref, fig)
            if mode == "freeze":
                check_outputs(dep, fig)
            else:
                _redis_restart_checks(dep, fig, down_at)
        fig.check(w.alive, "the worker died")
    fig.seconds = time.monotonic() - started
    return fig


def _redis_restart_checks(dep: Deployment, fig: Figures, down_at: float) -> None:
    """After an empty restart: every change produced from the outage on reaches Redis; the
    rest was lost with Redis's memory, and replaying the topic (idempotent) restores it."""
    latest = _latest_change_times(dep)
    after = {k for k, (_, t) in latest.items() if t >= down_at}
    fig.facts["entities whose latest change came during/after the outage"] = len(after)
    states = check_outputs(dep, fig, redis_scope=lambda st: after & set(st))
    lost_with_redis = redis_behind(dep, states)
    fig.facts["entities missing from the restarted (empty) Redis before resync"] = len(lost_with_redis)
    fig.check(all(latest[k][1] < down_at for k in lost_with_redis if k in latest),
              "an entity whose latest change came after the outage is missing from Redis")
    # Resync: replay the whole tier-changes topic through the same idempotent script.
    async def resync() -> int:
        store = AsyncTierStore.from_url(redis_of(dep).url, prefix=dep.settings.redis_key_prefix)
        try:
            return sum([await store.apply_change(TierChange.model_validate_json(r.value))
                        for r in read_to_end(dep.settings, dep.names.tier_changes)])
        finally:
            await store.close()

    applied = asyncio.run(resync())
    fig.facts["resync from the topic: changes applied / behind after"] = (
        f"{applied} / {len(redis_behind(dep, states))}")
    still = redis_behind(dep, states)
    deadline = time.monotonic() + 30
    while still and time.monotonic() < deadline:
        # The changelog record of a batch is produced after its outputs: a state read just
        # before the worker's next flush can trail Redis. Read it again until it settles.
        time.sleep(0.5)  # polling interval, not synchronization
        states = {**states, **{k: v for k, v in table_states(dep.settings).items() if k in states}}
        still = redis_behind(dep, states)
    if still:
        by_id, _ = changes_by_id(dep)
        fig.failures.append("Redis still behind after replaying the tier-changes topic: "
                            + "; ".join(explain_entity(dep, states[k], by_id) for k in still[:3]))
    hist, stream_dups = redis_history_dups(dep, states)
    fig.redis_history_dups = hist
    fig.check(hist == 0 and stream_dups == 0, f"duplicates in Redis after resync: {hist} history, {stream_dups} stream")
