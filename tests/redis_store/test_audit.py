"""An entity's audit trail: each assessment once, latest first, capped, surviving a flushed script cache."""

from __future__ import annotations

from datetime import timedelta

from tests.redis_store.helpers import REDIS_URL, T0, Store, open_store
from tierstream.schemas.outputs import AuditEntry
from tierstream.streams.store.redis import AUDIT_CAP, audit_key, key_layout


def entry(n: int, entity_id: str = "s-1", status: str = "accepted") -> AuditEntry:
    return AuditEntry(
        event_id=f"as-{n}", entity_type="supplier", entity_id=entity_id, kind="tier_override", value="good",
        author="ana", reason=f"audit visit {n}", occurred_at=T0 + timedelta(days=n),
        expires_at=T0 + timedelta(days=n + 30), status=status,
    )


def test_each_event_id_kept_once_latest_first(store: Store, prefix: str) -> None:
    assert store.run(store.store.record_audit([entry(1), entry(2)])) == [True, True]
    assert store.run(store.store.record_audit([entry(2), entry(3), entry(1)])) == [False, True, False]
    trail = store.run(store.store.audit("supplier", "s-1"))
    assert [e["event_id"] for e in trail] == ["as-3", "as-2", "as-1"]
    assert AuditEntry.model_validate(trail[0]) == entry(3)
    assert store.raw.llen(audit_key(prefix, "supplier", "s-1")) == 3
    assert store.run(store.store.audit("supplier", "nobody")) == []


def test_sorted_by_occurred_at_whatever_the_arrival(store: Store) -> None:
    store.run(store.store.record_audit([entry(5), entry(2, status="refused: tier_override 'gold' is not ...")]))
    store.run(store.store.record_audit([entry(4)]))
    trail = store.run(store.store.audit("supplier", "s-1"))
    assert [e["event_id"] for e in trail] == ["as-5", "as-4", "as-2"]
    assert trail[2]["status"].startswith("refused: ")


def test_capped(prefix: str) -> None:
    with open_store(REDIS_URL, prefix, audit_cap=3) as small:
        small.run(small.store.record_audit([entry(n) for n in range(1, 6)]))
        assert [e["event_id"] for e in small.run(small.store.audit("supplier", "s-1"))] == ["as-5", "as-4", "as-3"]
    assert AUDIT_CAP == 200


def test_script_cache_flushed(store: Store) -> None:
    store.run(store.store.record_audit([entry(1)]))
    store.raw.script_flush()
    assert store.run(store.store.record_audit([entry(1), entry(2)])) == [False, True]


def test_layout_documents_the_audit_key() -> None:
    assert "`tp:audit:{entity_type}:{entity_id}` (list)" in key_layout("tp")
