"""The worker words the changes it publishes in ``TIERSTREAM_LANGUAGE``, with the same messages as in English."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from tierstream.schemas.rules import load_rules
from tierstream.schemas.settings import Settings
from tierstream.scorers.messages import render_all
from tierstream.streams.worker.processor import BatchStore, Processor

NOW = datetime(2026, 6, 1, tzinfo=UTC).timestamp()
KEY = b"customer:c1"
ORDER = json.dumps({"type": "order", "event_id": "e1", "occurred_at": "2026-05-30T10:00:00Z",
                    "order_id": "o1", "customer_id": "c1", "amount": 900.0}).encode()


def published(language: str) -> dict[str, object]:
    """The tier change one order publishes, on a worker set to ``language``."""
    proc = Processor(Settings(topic_prefix="lang.", app_id="lang", partitions=1, language=language), load_rules(),
                     wall_clock=lambda: NOW)
    store = BatchStore({})
    assert proc.process(store, proc.names.inbound("order"), 0, 0, KEY, ORDER) == []
    store.flush()
    (change,) = [json.loads(m.value) for m in store.take_outbox() if m.topic == proc.names.tier_changes]
    return change  # type: ignore[no-any-return]


def test_the_published_change_is_in_the_worker_s_language() -> None:
    en, zh = published("en"), published("zh")
    assert en["reasons"][0].startswith("first grading: score ")  # type: ignore[index]
    assert zh["reasons"][0].startswith("首次分级：评分 ")  # type: ignore[index]
    assert zh["reasons"] == render_all(en["reason_codes"], "zh")  # type: ignore[arg-type]
    assert {k: v for k, v in zh.items() if k not in ("reasons", "next_tier")} == \
           {k: v for k, v in en.items() if k not in ("reasons", "next_tier")}
