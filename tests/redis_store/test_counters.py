"""The tier counters kept by the apply script: each stored entity counted once, in its latest change's cell."""

from __future__ import annotations

from tests.redis_store.helpers import Store, change
from tierstream.schemas.outputs import TierChange
from tierstream.streams.store.counters import Cell, count_uncounted, summarize
from tierstream.streams.store.keys import recounted_key
from tierstream.streams.store.lua import count_cell
from tierstream.streams.store.redis import dist_key, tier_key


def counts(store: Store, entity_type: str = "customer") -> dict[tuple[str, str, str], int]:
    return {(c.tier, c.segment, c.group): c.count for c in store.run(store.store.distribution(entity_type))}


def carrying(c: TierChange, segment: str | None, group: str | None) -> TierChange:
    """Return ``c`` with a segment and a group, as a TierChange that carries them."""
    return c.model_copy(update={"segment": segment, "group": group})


def apply_with(store: Store, c: TierChange, segment: str | None, group: str | None) -> int:
    return int(store.apply(carrying(c, segment, group)))


def test_the_cell_of_a_change() -> None:
    assert count_cell(change(1, tier="key")) == '["key","",""]'  # a change without segment and group
    assert count_cell(carrying(change(1, tier="key"), "general_value", None)) == '["key","general_value",""]'
    assert count_cell(carrying(change(1, tier="key"), None, 'chain "Nord"/Süd')) == \
        '["key","","chain \\"Nord\\"/Süd"]'


def test_each_entity_is_counted_once_in_its_latest_tier(store: Store) -> None:
    # c-1: bronze then silver; c-2: bronze; c-3: bronze, silver, gold in one batch
    assert store.apply(change(1, "c-1"))
    assert store.apply(change(1, "c-2"))
    assert store.apply(change(2, "c-1"))
    assert store.run(store.store.apply_many([change(1, "c-3"), change(2, "c-3"), change(3, "c-3")])) == [True] * 3
    assert counts(store) == {("bronze", "", ""): 1, ("silver", "", ""): 1, ("gold", "", ""): 1}
    assert counts(store, "supplier") == {}


def test_a_redelivered_or_older_change_counts_nothing(store: Store, prefix: str) -> None:
    assert store.apply(change(1, "c-1"))
    assert store.apply(change(2, "c-1"))
    before = store.raw.hgetall(dist_key(prefix, "customer"))
    assert store.apply(change(2, "c-1")) is False  # redelivered
    assert store.apply(change(1, "c-1")) is False  # older, arriving late
    assert store.run(store.store.apply_many([change(2, "c-1"), change(1, "c-1")])) == [False, False]
    assert store.raw.hgetall(dist_key(prefix, "customer")) == before
    assert counts(store) == {("silver", "", ""): 1}


def test_segment_and_group_move_with_the_entity_and_emptied_cells_go(store: Store, prefix: str) -> None:
    assert apply_with(store, change(1, "c-1", tier="key"), "important_value", "retail") == 1
    assert apply_with(store, change(1, "c-2", tier="key"), "important_value", "retail") == 1
    assert counts(store) == {("key", "important_value", "retail"): 2}
    # c-1 leaves for general with no group (null in the JSON); its old cell keeps c-2 only
    assert apply_with(store, change(2, "c-1", tier="general"), "general_value", None) == 1
    assert counts(store) == {("key", "important_value", "retail"): 1, ("general", "general_value", ""): 1}
    # the same tier but another segment moves it too; a redelivery of that does not
    assert apply_with(store, change(3, "c-1", tier="general"), "general_retention", None) == 1
    assert apply_with(store, change(3, "c-1", tier="general"), "general_retention", None) == 0
    assert counts(store) == {("key", "important_value", "retail"): 1, ("general", "general_retention", ""): 1}
    assert set(store.raw.hkeys(dist_key(prefix, "customer"))) == {
        '["key","important_value","retail"]', '["general","general_retention",""]'}
    # a group with quotes and non-ASCII letters reads back as it was
    assert apply_with(store, change(1, "c-9", tier="key"), None, 'chain "Nord"/Süd') == 1
    assert counts(store)[("key", "", 'chain "Nord"/Süd')] == 1


def test_entities_stored_before_the_counters_are_counted_once(store: Store, prefix: str) -> None:
    assert store.apply(change(1, "c-1"))
    assert store.apply(change(1, "c-2"))
    # as a store written by an earlier version left them: no counters, no counted_in; c-1's hash
    # has a segment and a group, as the hashes of changes that carry them do
    store.raw.delete(dist_key(prefix, "customer"))
    for eid in ("c-1", "c-2"):
        store.raw.hdel(tier_key(prefix, "customer", eid), "counted_in")
    store.raw.hset(tier_key(prefix, "customer", "c-1"), mapping={"segment": "important_value", "group": "retail"})
    # then the new version applies a change of c-2 (counted without a cell to leave) and a new c-3
    assert store.apply(change(2, "c-2"))
    assert store.apply(change(1, "c-3"))
    assert counts(store) == {("silver", "", ""): 1, ("bronze", "", ""): 1}

    assert store.run(count_uncounted(store.store.client, prefix)) == 1  # c-1 only
    assert counts(store) == {("silver", "", ""): 1, ("bronze", "", ""): 1, ("bronze", "important_value", "retail"): 1}
    assert store.raw.exists(recounted_key(prefix))
    assert store.run(count_uncounted(store.store.client, prefix)) == 0  # done once per store
    store.raw.delete(recounted_key(prefix))
    assert store.run(count_uncounted(store.store.client, prefix, batch=1)) == 0  # each entity once at most
    assert sum(counts(store).values()) == 3
    # c-1's next change moves it out of the cell the pass put it in
    assert store.apply(change(2, "c-1"))
    assert counts(store) == {("silver", "", ""): 2, ("bronze", "", ""): 1}


def test_summarize_filters_and_orders_the_tiers() -> None:
    cells = [
        Cell("key", "important_value", "retail", 3),
        Cell("key", "important_value", "wholesale", 2),
        Cell("general", "general_value", "retail", 5),
        Cell("ungraded", "", "", 4),
        Cell("legacy", "", "retail", 1),
    ]
    order = ["key", "general", "potential"]
    everything = summarize(cells, order)
    assert everything["total"] == 15
    assert everything["tiers"] == [{"tier": "key", "count": 5}, {"tier": "general", "count": 5},
                                   {"tier": "potential", "count": 0}, {"tier": "legacy", "count": 1},
                                   {"tier": "ungraded", "count": 4}]
    assert everything["segments"] == {"": 5, "general_value": 5, "important_value": 5}
    assert everything["groups"] == {"": 4, "retail": 9, "wholesale": 2}
    retail = summarize(cells, order, group="retail")
    assert retail["total"] == 9
    assert [t["count"] for t in retail["tiers"]] == [3, 5, 0, 1, 0]
    both = summarize(cells, order, segment="important_value", group="wholesale")
    assert both["total"] == 2 and both["tiers"][0] == {"tier": "key", "count": 2}
    assert both["groups"] == everything["groups"]  # the choices do not shrink with the filters
    none = summarize(cells, order, segment="")
    assert none["total"] == 5 and none["tiers"][-1] == {"tier": "ungraded", "count": 4}
