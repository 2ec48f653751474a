"""The worker's audit records: an accepted assessment leaves with its state, a refused one at once, a duplicate not."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from tierstream.schemas.outputs import AuditEntry
from tierstream.schemas.rules import load_rules
from tierstream.schemas.settings import Settings
from tierstream.streams.worker.processor import BatchStore, Processor

NOW = datetime(2026, 6, 1, tzinfo=UTC).timestamp()
PROC = Processor(Settings(topic_prefix="au.", app_id="au", partitions=1), load_rules(), wall_clock=lambda: NOW)
NAMES = PROC.names
KEY = b"supplier:s1"


def assessment(eid: str, **fields: Any) -> bytes:
    body = {"type": "assessment", "event_id": eid, "occurred_at": "2026-05-30T10:00:00Z", "entity_type": "supplier",
            "entity_id": "s1", "reason": "site audit", "expires_at": "2026-07-01T00:00:00Z", "author": "ana",
            **fields}
    return json.dumps(body).encode()


def audits(messages: list[tuple[str, bytes, bytes]]) -> list[AuditEntry]:
    return [AuditEntry.model_validate_json(v) for t, _, v in messages if t == NAMES.audit]


def send(store: BatchStore, raw: bytes, offset: int) -> list[tuple[str, bytes, bytes]]:
    return [(m.topic, m.key, m.value) for m in PROC.process(store, NAMES.inbound("assessment"), 0, offset, KEY, raw)]


def test_accepted_waits_in_the_outbox_refused_goes_now_duplicate_not_at_all() -> None:
    table: dict[bytes, bytes] = {}
    store = BatchStore(table)
    assert send(store, assessment("a1", tier_override="good"), 0) == []
    store.flush()
    (accepted,) = audits([(m.topic, m.key, m.value) for m in store.take_outbox()])
    assert (accepted.event_id, accepted.kind, accepted.value, accepted.status) == ("a1", "tier_override", "good",
                                                                                   "accepted")
    assert accepted.author == "ana" and accepted.reason == "site audit"
    assert send(store, assessment("a1", tier_override="good"), 1) == []  # a duplicate: nothing
    store.flush()
    assert audits([(m.topic, m.key, m.value) for m in store.take_outbox()]) == []
    now = send(store, assessment("a2", tier_override="gold"), 2)
    assert [t for t, _, _ in now] == [NAMES.dead_letters, NAMES.audit]
    (refused,) = audits(now)
    assert refused.status == ("refused: tier_override 'gold' is not a supplier tier "
                              "(excellent, good, qualified, unqualified)")
    assert now[1][1] == KEY


def test_too_far_ahead_is_refused_at_once() -> None:
    store = BatchStore({})
    now = send(store, assessment("a3", prospect_score=70, occurred_at="2026-06-09T00:00:00Z",
                                 expires_at="2026-07-09T00:00:00Z"), 0)
    (refused,) = audits(now)
    assert refused.kind == "prospect_score" and refused.value == 70
    assert refused.status == "refused: occurred_at is more than 24 h ahead"


def test_a_dimension_assessment_is_audited_with_its_dimension() -> None:
    """The default rules declare no assessed dimension: one naming market_reputation is refused, and says so."""
    store = BatchStore({})
    now = send(store, assessment("a4", dimension="market_reputation", score=80), 0)
    (entry,) = audits(now)
    assert (entry.kind, entry.dimension, entry.value) == ("dimension", "market_reputation", 80)
    assert entry.status.startswith("refused: dimension 'market_reputation' is not an assessed supplier dimension")
