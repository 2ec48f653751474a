"""A fault scenario's deployment: the harness's, with a private memory-only Redis."""

from __future__ import annotations

from pathlib import Path

from tests.faults.figures import Figures
from tierstream.streams.dev.harness import Deployment, RedisServer

__all__ = ["fault_deployment", "record_redelivery", "redis_of"]


def fault_deployment(bootstrap: str, tmp: Path, partitions: int = 4) -> Deployment:
    """Return an isolated deployment in ``tmp`` with its own embedded Valkey, its topics created."""
    tmp.mkdir(parents=True, exist_ok=True)
    dep = Deployment(bootstrap, tmp, partitions, redis=RedisServer(tmp).start())
    dep.create_topics()
    return dep


def redis_of(dep: Deployment) -> RedisServer:
    """Return the deployment's private Redis."""
    if dep.redis is None:
        raise RuntimeError(f"deployment {dep.name} has no private Redis (use fault_deployment)")
    return dep.redis


def record_redelivery(dep: Deployment, fig: Figures) -> None:
    """At the end: the live workers' counters, and what they say about redelivery."""
    for w in dep.workers:
        dep.harvest(w)
    fig.reprocessed = max(0, dep.processed - fig.events_in)
    fig.facts["inbound messages processed, all workers (>=)"] = dep.processed
    fig.facts["dedup hits in state (events_duplicate_total, >=)"] = dep.dedup_hits


