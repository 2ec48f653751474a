"""The tier change subscriber: deduplicates and commits only the changes it handled."""

from __future__ import annotations

from typing import Any

import pytest

from tests.client.helpers import DEADLINE_S, change, change_msg, make_settings, produce
from tierstream.schemas.outputs import TierChange
from tierstream.streams.client import TierChangeSubscriber
from tierstream.streams.dev.broker import EmbeddedBroker
from tierstream.streams.kafka.topics import topic_names


@pytest.mark.integration
def test_subscriber_dedups_and_commits_only_handled_changes(broker: EmbeddedBroker) -> None:
    s = make_settings(broker)
    topic = topic_names(s).tier_changes
    broker.create_topics({topic: (1, False)})
    a, b, c, d = (change(i, "supplier", "downgrade", entity_id=f"s{i}") for i in range(4))
    produce(broker, topic, [change_msg(x) for x in (a, b, a, c)])  # a delivered twice
    opts: dict[str, Any] = {"group_id": "crm", "entity_type": "supplier",
                            "idle_timeout_s": DEADLINE_S, "session_timeout_ms": 6000}

    got: list[TierChange] = []
    with TierChangeSubscriber(s, **opts) as sub:
        it = iter(sub)
        for ch in it:
            got.append(ch)
            if ch == c:
                break  # left while "handling" c: c must come again
        it.close()  # type: ignore[attr-defined]
        assert sub.duplicates == 1
    assert got == [a, b, c]

    with TierChangeSubscriber(s, **opts) as sub:
        it = iter(sub)
        assert next(it) == c  # redelivered: it was never handled
        produce(broker, topic, [change_msg(d), change_msg(change(9, "customer", "upgrade"))])
        assert next(it) == d  # the customer change is filtered out
        it.close()  # type: ignore[attr-defined]
