"""Grading that raises (streams.worker.isolation): one dead letter for the message, the others graded, nothing twice."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from tierstream.schemas.outputs import DeadLetter
from tierstream.schemas.rules import load_rules
from tierstream.schemas.settings import Settings
from tierstream.scorers.state import EntityState, event_hash
from tierstream.streams.worker.faults import GradingFaults, InjectedGradingError
from tierstream.streams.worker.isolation import RoundGrader, Savepoint
from tierstream.streams.worker.letters import Outgoing
from tierstream.streams.worker.processor import BatchStore, Processor

NOW = datetime(2026, 6, 1, tzinfo=UTC).timestamp()
SETTINGS = Settings(topic_prefix="iso.", app_id="iso", partitions=1)


@dataclass(frozen=True)
class Msg:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float = NOW


@dataclass
class Round:
    """An outbox round reduced to what RoundGrader uses: decoded states per partition, sends, abort."""

    table: dict[bytes, bytes]
    stores: dict[int, BatchStore] = field(default_factory=dict)
    sent: list[Outgoing] = field(default_factory=list)
    aborted: bool = False

    def store(self, partition: int, anchor: Any) -> BatchStore:
        return self.stores.setdefault(partition, BatchStore(self.table))

    def send_now(self, msgs: Sequence[Outgoing]) -> None:
        self.sent += msgs

    def abort(self) -> None:
        self.aborted = True
        self.stores.clear()

    async def finish(self) -> None:
        raise AssertionError("not used here")


def processor(raise_on: set[str]) -> Processor:
    return Processor(SETTINGS, load_rules(), wall_clock=lambda: NOW, faults=GradingFaults(frozenset(raise_on), {}))


def order(eid: str, customer: str, offset: int) -> Msg:
    value = json.dumps({"type": "order", "event_id": eid, "occurred_at": "2026-05-30T10:00:00Z",
                        "order_id": f"o-{eid}", "customer_id": customer, "amount": 900.0}).encode()
    return Msg(SETTINGS.topic_prefix + "orders", 0, offset, f"customer:{customer}".encode(), value)


def grade(proc: Processor, chunks: list[list[Msg]]) -> tuple[RoundGrader, list[Round]]:
    table: dict[bytes, bytes] = {}
    rounds = [Round(table)]

    def new_round() -> Round:
        rounds.append(Round(table))
        return rounds[-1]

    grader = RoundGrader(proc, new_round, rounds[0])
    for chunk in chunks:
        grader.grade(0, chunk)
    return grader, rounds


def applied(rnd: Round, customer: str) -> set[str]:
    state = rnd.stores[0].load(f"customer:{customer}".encode())
    return set() if state is None else {e for e in ("e1", "e2", "e3", "e4", "e5") if event_hash(e) in state.seen}


def letters(sent: list[Outgoing]) -> list[DeadLetter]:
    return [DeadLetter.model_validate_json(m.value) for m in sent if m.topic == SETTINGS.topic_prefix + "dead-letters"]


def test_the_raising_event_is_one_dead_letter_and_the_others_are_graded() -> None:
    bad = Msg(SETTINGS.topic_prefix + "orders", 0, 1, b"customer:c1", b"{not json")
    msgs = [order("e1", "c1", 0), bad, order("e2", "c1", 2), order("e3", "c1", 3)]
    grader, rounds = grade(processor({"e2"}), [msgs])
    assert [r.aborted for r in rounds] == [True, False]  # the first pass is dropped, the replay is the round
    assert applied(rounds[1], "c1") == {"e1", "e3"}
    sent = [d for r in rounds for d in letters(r.sent)]
    # the malformed message's letter went out in the first pass, and only then
    assert [(d.offset, d.reason) for d in sent] == [(1, "invalid_json"), (2, "processing_error")]
    error = sent[1]
    assert error.value == msgs[2].value.decode()  # type: ignore[union-attr]
    assert error.error.startswith("InjectedGradingError: injected grading error on event e2 (at ")
    assert grader.errors == 1


def test_a_raise_leaves_the_entity_as_it_was_before_the_event() -> None:
    # e2 is c2's only event: its half-applied state must not survive
    _, rounds = grade(processor({"e2"}), [[order("e1", "c1", 0), order("e2", "c2", 1)]])
    assert rounds[1].stores[0].load(b"customer:c2") is None
    assert applied(rounds[1], "c1") == {"e1"}


def test_chunks_after_the_raise_are_graded_one_at_a_time_and_send_what_they_owe() -> None:
    bad = Msg(SETTINGS.topic_prefix + "orders", 0, 9, b"customer:c3", b"[]")
    grader, rounds = grade(processor({"e1", "e4"}), [[order("e1", "c1", 0)], [order("e3", "c3", 1), bad],
                                                     [order("e4", "c3", 2), order("e5", "c3", 3)]])
    assert len(rounds) == 2 and grader.isolating
    assert applied(rounds[1], "c3") == {"e3", "e5"}
    assert [(d.offset, d.reason) for d in letters(rounds[1].sent)] == [
        (0, "processing_error"), (9, "invalid_event"), (2, "processing_error")]
    assert letters(rounds[0].sent) == []


def test_without_a_raise_nothing_is_graded_twice() -> None:
    grader, rounds = grade(processor(set()), [[order("e1", "c1", 0), order("e2", "c1", 1)]])
    assert len(rounds) == 1 and not grader.isolating and grader.errors == 0
    assert applied(rounds[0], "c1") == {"e1", "e2"}


def test_a_savepoint_hands_over_nothing_until_it_commits() -> None:
    table: dict[bytes, bytes] = {}
    store = BatchStore(table)
    store.save(b"customer:c1", EntityState(kind="customer", entity_id="c1"))
    sp = Savepoint(store)
    copy = sp.load(b"customer:c1")
    assert copy is not None and copy is not store.load(b"customer:c1")
    copy.clock = 99
    sp.save(b"customer:c1", copy)
    assert store.load(b"customer:c1").clock != 99  # type: ignore[union-attr]
    sp.commit()
    assert store.load(b"customer:c1").clock == 99  # type: ignore[union-attr]


def test_the_switch_raises_only_on_its_events() -> None:
    faults = GradingFaults(frozenset({"x"}), {})
    faults.before_grading("y")
    with pytest.raises(InjectedGradingError, match="event x"):
        faults.before_grading("x")


def test_every_agent_runs_one_at_a_time() -> None:
    """Faust commits past a message still in flight with concurrency above 1 (faust-streaming#606): never here."""
    from tierstream.streams.worker.app import create_app

    pipeline = create_app(Settings(app_id="iso-agents", topic_prefix="iso-agents."))
    agents = {name: agent.concurrency for name, agent in pipeline.app.agents.items()}
    assert "grade" in agents and len(agents) >= 6
    assert {name: c for name, c in agents.items() if c != 1} == {}
