"""The scenarios by name, with what each does, as ``scripts/faults.py --scenario`` takes them."""

from __future__ import annotations

from pathlib import Path

from tests.faults.figures import Figures
from tests.faults.fuzz_decoder import scenario_fuzz
from tests.faults.scenario_corpora import scenario_corpora
from tests.faults.scenario_flood import scenario_flood, scenario_flood_memory
from tests.faults.scenario_grading import scenario_grading_errors
from tests.faults.scenario_hop import scenario_hop_crash
from tests.faults.scenario_hostile import scenario_hostile
from tests.faults.scenario_late import scenario_late
from tests.faults.scenario_redis import scenario_redis
from tests.faults.scenario_security import scenario_security
from tests.faults.scenario_transactions import scenario_transactions
from tests.faults.scenario_workers import scenario_crash, scenario_rebalance

__all__ = ["SCENARIOS", "run_scenario"]


SCENARIOS: dict[str, str] = {
    "crash": "kill -9 one of two workers at random points of a replay, 3 times, restart it each time",
    "hop-crash": "events keyed by order id or unkeyed, all re-keyed; kill -9 while re-keyed records wait, 3 times",
    "rebalance": "add a second worker mid-stream, later stop the first",
    "redis-restart": "SIGKILL Redis (memory only) for a third of the replay, start an empty one",
    "redis-freeze": "SIGSTOP Redis for a third of the replay (unreachable, data kept), SIGCONT",
    "hostile": "malformed messages (10k by default) mixed into valid traffic",
    "corpora": "every JSONTestSuite case and naughty string as a value, an entity id, a field and a key",
    "fuzz": "coverage-guided fuzzing (atheris) of the event decoder and message handler, 10 minutes by default",
    "flood": "distinct entity ids (--entities) through one worker, one order each: every one kept, memory per entity",
    "flood-memory": "1,000,000 distinct entity ids by default, the Processor in process, a private Valkey: memory",
    "late": "late, out-of-order, history-only and too-old events",
    "security": "secrets in logs/errors/HTTP answers, HTTP body limit, SASL client and worker",
    "transactions": "transactional producers (aiokafka, kafka-python) against the embedded broker",
    "grading-errors": "grading raises on 100 valid events and stalls 15 s on 5 others; kill -9 during a stall",
}


def run_scenario(name: str, bootstrap: str, tmp: Path, events: int, malformed: int, seed: int,
                 kills: int = 3, entities: int = 1_000_000, fuzz_s: int = 600) -> Figures:
    """Run the scenario called ``name`` with the command line's sizes and seed."""
    if name == "crash":
        return scenario_crash(bootstrap, tmp, events=events, seed=seed, kills=kills)
    if name == "hop-crash":
        return scenario_hop_crash(bootstrap, tmp, events=events, seed=seed + 5, kills=kills)
    if name == "rebalance":
        return scenario_rebalance(bootstrap, tmp, events=events, seed=seed + 1)
    if name in ("redis-restart", "redis-freeze"):
        return scenario_redis(bootstrap, tmp, events=events, seed=seed + 2, mode=name.split("-")[1])
    if name == "hostile":
        return scenario_hostile(bootstrap, tmp, events=events, malformed=malformed, seed=seed + 3)
    if name == "corpora":
        return scenario_corpora(bootstrap, tmp, seed=seed + 5)
    if name == "fuzz":
        return scenario_fuzz(tmp / "fuzz", fuzz_s)
    if name == "flood":
        return scenario_flood(bootstrap, tmp, entities=entities)
    if name == "flood-memory":
        return scenario_flood_memory(tmp, entities=entities)
    if name == "late":
        return scenario_late(bootstrap, tmp, events=min(events, 5_000), seed=seed + 4)
    if name == "security":
        return scenario_security(bootstrap, tmp, kafka_worker=True)
    if name == "transactions":
        return scenario_transactions(bootstrap, tmp)
    if name == "grading-errors":
        return scenario_grading_errors(bootstrap, tmp, events=events, seed=seed + 6)
    raise ValueError(name)
