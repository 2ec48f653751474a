"""Applying a change and reading the tier back; idempotent and monotonic in the change's sequence."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.redis_store.helpers import Store, change
from tierstream.streams.store.redis import changes_stream_key, history_key, tier_key


def test_apply_then_get_decodes_everything(store: Store, prefix: str) -> None:
    c = change(2, entity_id="acme:eu/1")  # ':' and '/' in ids are fine
    assert store.apply(c) is True

    got = store.get("customer", "acme:eu/1")
    assert got is not None
    assert got["entity_type"] == "customer"
    assert got["entity_id"] == "acme:eu/1"
    assert got["tier"] == "silver"
    assert got["previous_tier"] == "bronze"
    assert got["direction"] == "upgrade"
    assert got["score"] == c.score
    assert got["components"] == {"value": 80.0, "frequency": 55.5}
    assert got["reasons"] == ["reason 2", "naïve “quotes”"]
    assert got["next_tier"] == {"tier": "diamond", "score_gap": 4.5, "hints": ["3 more orders"],
                                "keep_gap": None, "keep_hints": []}
    assert got["rules_version"] == "2024-03"
    assert got["actions"] == [{"name": "discount", "value": 0.05, "label": "5% off"},
                              {"name": "priority_service", "value": None, "label": None}]
    assert got["change_id"] == "tc:customer:acme:eu/1:2"
    assert got["seq"] == 2
    assert datetime.fromisoformat(got["occurred_at"]) == c.occurred_at
    updated = datetime.fromisoformat(got["updated_at"])
    assert abs(updated - datetime.now(UTC)) < timedelta(minutes=1)

    # the raw hash is what the key layout documents
    raw = store.raw.hgetall(tier_key(prefix, "customer", "acme:eu/1"))
    assert set(raw) == {
        "tier", "score", "previous_tier", "direction", "components", "reasons", "next_tier",
        "rules_version", "change_id", "seq", "occurred_at", "ungraded_reason", "actions", "updated_at",
        "segment", "loyalty", "group", "profile", "counted_in",
    }  # fmt: skip
    assert "counted_in" not in got  # bookkeeping of the tier counters, not the entity's
    assert raw["ungraded_reason"] == "" and got["ungraded_reason"] is None  # graded
    # none of segment, loyalty, group, profile: empty strings and null in the hash, None read back
    assert (raw["segment"], raw["loyalty"], raw["group"], raw["profile"]) == ("", "", "", "null")
    assert (got["segment"], got["loyalty"], got["group"], got["profile"]) == (None, None, None, None)
    assert raw["seq"] == "2"


def test_initial_change_has_no_previous_tier(store: Store) -> None:
    assert store.apply(change(1)) is True
    got = store.get("customer", "c-1")
    assert got is not None
    assert got["previous_tier"] is None
    assert got["direction"] == "initial"


def test_get_unknown_returns_none(store: Store) -> None:
    assert store.get("supplier", "nobody") is None
    assert store.history("supplier", "nobody", 10) == []


def test_get_rejects_unknown_entity_type(store: Store) -> None:
    with pytest.raises(ValueError, match="entity_type"):
        store.get("partner", "x")


# --- idempotency and monotonicity ---------------------------------------------


def test_reapplying_the_same_change_changes_nothing(store: Store, prefix: str) -> None:
    c = change(1)
    assert store.apply(c) is True
    before = store.raw.hgetall(tier_key(prefix, "customer", "c-1"))
    assert store.apply(c) is False
    assert store.apply(c) is False
    # not even updated_at moves
    assert store.raw.hgetall(tier_key(prefix, "customer", "c-1")) == before
    assert store.raw.llen(history_key(prefix, "customer", "c-1")) == 1
    assert store.raw.xlen(changes_stream_key(prefix)) == 1


def test_older_change_after_newer_is_ignored(store: Store, prefix: str) -> None:
    assert store.apply(change(3)) is True
    assert store.apply(change(2)) is False
    assert store.apply(change(1)) is False
    got = store.get("customer", "c-1")
    assert got is not None
    assert got["seq"] == 3
    assert got["tier"] == "gold"
    assert [h["change_id"] for h in store.history("customer", "c-1", 10)] == ["tc:customer:c-1:3"]
    assert store.raw.xlen(changes_stream_key(prefix)) == 1


def test_seq_compares_numerically_not_as_text(store: Store) -> None:
    assert store.apply(change(9)) is True
    assert store.apply(change(10)) is True  # "10" < "9" as text
    assert store.apply(change(9)) is False
    got = store.get("customer", "c-1")
    assert got is not None
    assert got["seq"] == 10


def test_entities_are_independent(store: Store) -> None:
    assert store.apply(change(5, entity_id="a")) is True
    assert store.apply(change(1, entity_id="b")) is True
    assert store.apply(change(1, entity_id="a", entity_type="supplier")) is True
    a, b = store.get("customer", "a"), store.get("customer", "b")
    s = store.get("supplier", "a")
    assert a is not None and b is not None and s is not None
    assert (a["seq"], b["seq"], s["seq"]) == (5, 1, 1)


def test_segment_loyalty_group_and_profile_are_stored_with_the_tier(store: Store, prefix: str) -> None:
    profile = {"business_nature": "wholesale", "group": "wholesale", "attributes": {"region": "north"}}
    c = change(1, entity_id="c-9").model_copy(update={
        "segment": "important_value", "loyalty": "potentially_loyal", "group": "wholesale", "profile": profile})
    assert store.apply(c) is True
    raw = store.raw.hgetall(tier_key(prefix, "customer", "c-9"))
    assert (raw["segment"], raw["loyalty"], raw["group"]) == ("important_value", "potentially_loyal", "wholesale")
    assert json.loads(raw["profile"]) == profile
    got = store.get("customer", "c-9")
    assert got is not None
    assert (got["segment"], got["loyalty"], got["group"], got["profile"]) == (
        "important_value", "potentially_loyal", "wholesale", profile)


def test_a_hash_written_before_these_fields_reads_them_as_none(store: Store, prefix: str) -> None:
    assert store.apply(change(1, entity_id="c-old")) is True
    store.raw.hdel(tier_key(prefix, "customer", "c-old"), "segment", "loyalty", "group", "profile")
    got = store.get("customer", "c-old")
    assert got is not None and got["tier"] == "bronze"
    assert (got["segment"], got["loyalty"], got["group"], got["profile"]) == (None, None, None, None)
