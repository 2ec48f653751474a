"""The stream dates every tier change as ``tierstream score`` does, time-driven ones included.

On the real embedded broker and Redis, with the workers' re-review timer
firing every second (the harness's ``TIERSTREAM_REVIEW_INTERVAL_S``). The
events exercise hysteresis over quiet calendar days (a supplier with a
delivery a month, a customer lapsing through margin and grace, a fall that a
hold must not undo); then one far later event moves the clock, and every
hold lapses and every recency change happens by time alone. The stream's
``tier-changes`` topic must hold exactly the offline run's changes, each with
the same ``occurred_at``.

The timer reviews an entity up to the latest event time the worker has seen;
a review past an event of the same entity still in flight would see a history
the file never had. So each entity's events come in one topic (one partition,
in order), entities come one after another in time, and each group is
published once the previous one is graded.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.streaming import Stream, offline_snapshot, poll
from tierstream.schemas.events import AnyEvent, DeliveryEvent, OrderEvent
from tierstream.schemas.outputs import TierChange
from tierstream.schemas.rules import load_rules
from tierstream.streams.client import publish
from tierstream.streams.offline.score import OfflineScorer, read_lines

pytestmark = pytest.mark.integration

T0 = datetime(2025, 1, 1, tzinfo=UTC)  # the clock event (day 400) is not in the future


def _at(day: int, hour: int = 12) -> datetime:
    return T0 + timedelta(days=day, hours=hour)


def _delivery(sup: str, day: int, delivered: int, accepted: int) -> DeliveryEvent:
    return DeliveryEvent(event_id=f"{sup}-d{day}", occurred_at=_at(day), supplier_id=sup, order_id=f"{sup}-p{day}",
                         promised_at=_at(day + 1), quantity_ordered=100, quantity_delivered=delivered,
                         quantity_accepted=accepted)


def _order(cust: str, day: int) -> OrderEvent:
    return OrderEvent(event_id=f"{cust}-o{day}", occurred_at=_at(day), order_id=f"{cust}-o{day}",
                      customer_id=cust, amount=1500.0, cost=900.0)


GROUPS: list[list[AnyEvent]] = [
    # a supplier with one delivery a month, the last one bad: held on quiet days, then lapsing
    [*(_delivery("s-month", d, 100, 100) for d in (0, 30, 60)), _delivery("s-month", 90, 100, 60)],
    # a customer buying every 5 days, then silent: recency ages it through margin and grace
    [_order("c-lapse", 100 + 5 * i) for i in range(6)],
    # a supplier that falls, is held by grace, drops, then comes back into the margin only
    [_delivery("s-fall", 130, 100, 100), _delivery("s-fall", 137, 100, 70), _delivery("s-fall", 160, 100, 95)],
    # the clock: a far later event, after which every time-driven change has happened
    [_delivery("s-clock", 400, 100, 100)],
]



def _write(path: Path, events: list[AnyEvent]) -> Path:
    path.write_text("".join(e.model_dump_json() + "\n" for e in events))
    return path


def _changes(stream: Stream) -> list[TierChange]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(stream.settings.topic("tier-changes"), bootstrap_servers=stream.bootstrap,
                             auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=2000,
                             group_id=None)
    try:
        return [TierChange.model_validate_json(r.value) for r in consumer]
    finally:
        consumer.close()


def _key(c: TierChange) -> tuple[str, str | None, str, str, str, float]:
    return (c.change_id, c.previous_tier, c.tier, c.occurred_at.isoformat(), c.cause, c.score)


def test_stream_dates_time_driven_changes_as_the_file_does(stream: Stream, tmp_path: Path) -> None:
    everything = _write(tmp_path / "all.jsonl", [e for g in GROUPS for e in g])
    scorer = OfflineScorer(load_rules())
    expected: list[TierChange] = []
    for lineno, raw in read_lines(everything):
        expected += scorer.feed_line(lineno, raw)
    expected += scorer.finish()[1]
    timed = [c for c in expected if c.cause == "re-review"]
    assert timed, "the sample must have time-driven changes"
    last_event = max(e.occurred_at for g in GROUPS[:-1] for e in g)
    assert any(last_event < c.occurred_at < GROUPS[-1][0].occurred_at for c in timed), \
        "some change must happen by time alone between the events and the as-of"

    stream.start_worker()
    sent: list[AnyEvent] = []
    for i, group in enumerate(GROUPS):
        sent += group
        prefix = _write(tmp_path / f"upto-{i}.jsonl", sent)
        report = publish(stream.settings, ((n, e.model_dump_json().encode()) for n, e in enumerate(group, 1)))
        assert report.failed == 0
        stream.wait_for_snapshot(offline_snapshot(prefix), 120, f"group {i} graded")

    want = sorted(_key(c) for c in expected)
    got: list[tuple[str, str | None, str, str, str, float]] = []

    def complete() -> bool:
        nonlocal got
        got = sorted(_key(c) for c in _changes(stream))
        return len(got) >= len(want)

    poll(complete, 120, "every tier change on the topic")
    assert got == want
