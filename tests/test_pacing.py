"""The paced publish of the parity tests (tests/pacing.py): what waits, what is brought forward.

No broker: a :class:`Flight` that only records where the publish would wait.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.pacing import Flight, paced
from tests.sample_parity import (
    cases_per_supplier,
    notices_per_entity,
    offline_cases,
    offline_changes,
    offline_notices,
    per_entity,
)
from tierstream.schemas.errors import InputError
from tierstream.schemas.events import INBOUND_ADAPTER, entity_of
from tierstream.schemas.outputs import SupplierCase, TierChange, TierNotice
from tierstream.schemas.rules import load_rules
from tierstream.streams.dev.sample import write_sample
from tierstream.streams.offline.score import OfflineScorer, read_lines

__all__: list[str] = []

WAIT = "|"


class _Recorded(Flight):
    """The lines in the order published, a :data:`WAIT` where the publish waits for the worker."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[int | str] = []

    def barrier(self) -> None:
        super().barrier()
        self.log.append(WAIT)


def _published(lines: list[tuple[int, bytes]]) -> list[int | str]:
    """The paced order of ``lines``: their line numbers, and a :data:`WAIT` where the publish waits."""
    flight = _Recorded()
    for lineno, _ in paced(flight, lines):
        flight.log.append(lineno)
    return flight.log


def _c1_late_order(at: str) -> list[tuple[int, bytes]]:
    return list(enumerate([
        b'{"type":"order","event_id":"o1","occurred_at":"1998-06-01T10:00:00Z","order_id":"so1",'
        b'"customer_id":"c1","amount":120,"cost":80}',
        b'{"type":"assessment","event_id":"a1","occurred_at":"1998-06-01T11:00:00Z","entity_type":"customer",'
        b'"entity_id":"c1","tier_override":"key","reason":"strategic account","expires_at":"1998-06-01T15:00:00Z",'
        b'"author":"k.tanaka"}',
        b'{"type":"order","event_id":"o2","occurred_at":"1998-06-01T16:00:00Z","order_id":"so2",'
        b'"customer_id":"c2","amount":50,"cost":30}',
        b'{"type":"order","event_id":"o3","occurred_at":"1998-06-01T' + at.encode() + b'Z","order_id":"so3",'
        b'"customer_id":"c1","amount":60,"cost":40}',
    ], 1))


def test_a_late_line_goes_before_the_line_that_passes_its_entitys_review() -> None:
    """c1's override expires at 15:00, its next review (README: re-reviews are dated the instant an
    assessment expires). Its order of 12:00 comes in the file after c2's order of 16:00: the file
    grades it before that review, the worker's timer would review c1 at 15:00 as soon as it has
    c2's order. So line 4 goes before line 3, and line 3 waits until c1's lines are graded (c1 has
    one in flight with a review due before 16:00). Lines 2 and 4 wait too: c1 has a line in flight
    on another topic (orders, assessments)."""
    assert _published(_c1_late_order("12:00:00")) == [1, WAIT, 2, WAIT, 4, WAIT, 3]


def test_a_line_after_its_entitys_review_stays_in_place() -> None:
    """c1's order of 15:30 comes after its 15:00 review in the file too: nothing moves; line 3 waits
    as c1's assessment is in flight with that review due before 16:00."""
    assert _published(_c1_late_order("15:30:00")) == [1, WAIT, 2, WAIT, 3, 4]


def _worst_timer(lines: list[tuple[int, bytes]]) -> tuple[dict[Any, Any], dict[Any, Any], dict[Any, Any]]:
    """What the stream publishes when its timer runs every review as early as it can, per entity.

    Between two waits the worker may grade the published lines in any order across topics, so
    before an entity's line its clock may already be the latest time of any line published up
    to the next wait: the timer reviews the entity up to there, then the line is graded.
    """
    log = _published(lines)
    raw = dict(lines)
    segments: list[list[int]] = [[]]
    for x in log:
        if x == WAIT:
            segments.append([])
        else:
            segments[-1].append(int(x))
    clock = OfflineScorer(load_rules())  # the worker's clock: the latest time of a line applied
    reach: dict[int, int] = {}
    for seg in segments:
        for lineno in seg:
            with contextlib.suppress(InputError):
                clock.feed_line(lineno, raw[lineno])
        reach.update({lineno: clock.latest for lineno in seg})
    stream = OfflineScorer(load_rules())
    stream.keep_notices = True
    changes: list[TierChange] = []
    notices: list[TierNotice] = []
    cases: list[SupplierCase] = []
    for lineno in (int(x) for x in log if x != WAIT):
        try:
            event = INBOUND_ADAPTER.validate_json(raw[lineno])
        except ValueError:
            continue
        state = stream.states.get(entity_of(event))
        if state is not None:
            changes += stream._settle(stream.grader.review_due(state, reach[lineno]))
        with contextlib.suppress(InputError):
            changes += stream.feed(lineno, event)
        notices += stream.take_notices()
        cases += stream.take_cases()
    changes += stream.finish()[1]
    return per_entity(changes), notices_per_entity(notices + stream.take_notices()), \
        cases_per_supplier(cases + stream.take_cases())


@pytest.mark.parametrize("late", [False, True], ids=["every-point sample", "sample with late lines"])
def test_the_stream_publishes_the_files_changes_whenever_its_timer_fires(tmp_path: Path, late: bool) -> None:
    """On the every-point sample of tests/test_pipeline.py (answers dated when their ticket opened)
    and on one with late lines, the timer running every review as early as the pacing lets it
    gives each entity the changes, notices and case events of ``score``, as the timer never
    running does (the file's order per entity)."""
    path = tmp_path / "events.jsonl"
    write_sample(path, customers=200, suppliers=50, days=150, seed=3 if late else 7,
                 end=datetime(1998, 11, 1, tzinfo=UTC), late_ratio=0.01 if late else 0.0)
    changes, notices, cases = _worst_timer(list(read_lines(path)))
    assert changes == offline_changes(path)[1]
    assert notices == notices_per_entity(offline_notices(path))
    assert cases == cases_per_supplier(offline_cases(path))
