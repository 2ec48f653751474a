"""Watching tier changes: filters, following from the end, a missing topic, the idle timeout."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tests.client.helpers import DEADLINE_S, change, change_msg, make_settings, produce
from tierstream.schemas.outputs import TierChange
from tierstream.streams.client import watch
from tierstream.streams.dev.broker import EmbeddedBroker
from tierstream.streams.kafka.topics import topic_names


@pytest.mark.integration
def test_watch_filters_and_follows_from_the_end(broker: EmbeddedBroker) -> None:
    s = make_settings(broker)
    topic = topic_names(s).tier_changes
    broker.create_topics({topic: (1, False)})  # one partition: a deterministic order
    old = [change(1, "customer", "upgrade"), change(2, "supplier", "downgrade"),
           change(3, "supplier", "upgrade"), change(4, "customer", "downgrade"),
           change(5, "supplier", "initial")]
    items: list[tuple[bytes | None, bytes | None]] = [change_msg(c) for c in old]
    items.insert(2, (b"customer:x", b"{not a tier change"))  # logged and skipped
    produce(broker, topic, items)  # one batch: Tansu's end offset would fall inside it

    def first(n: int, **filters: Any) -> list[TierChange]:
        with watch(s, from_beginning=True, timeout_s=DEADLINE_S, **filters) as w:
            return list(itertools.islice(w, n))

    assert first(5) == old
    assert first(3, entity_type="supplier") == [old[1], old[2], old[4]]
    assert first(2, direction="downgrade") == [old[1], old[3]]
    assert first(1, entity_type="customer", direction="upgrade") == [old[0]]

    # from the end: only what is produced after watch() returned
    with watch(s, entity_type="supplier", timeout_s=DEADLINE_S) as w:
        new = [change(6, "customer", "upgrade"), change(7, "supplier", "upgrade"),
               change(8, "supplier", "downgrade")]
        produce(broker, topic, [change_msg(c) for c in new])
        assert list(itertools.islice(w, 2)) == new[1:]


@pytest.mark.integration
def test_watch_missing_topic_and_idle_timeout(broker: EmbeddedBroker) -> None:
    s = make_settings(broker)
    broker.create_topics({topic_names(s).tier_changes: (2, False)})
    with watch(s, from_beginning=True, timeout_s=0.5) as w:
        assert list(w) == []  # nothing there: ends after the idle timeout
