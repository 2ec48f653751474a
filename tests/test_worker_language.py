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


def test_the_published_notice_is_in_the_worker_s_language() -> None:
    # An override of c2 to general until 2026-06-03, made on 2026-05-30: within the 14 days of the default
    # rules, announced at once. c2 has no order: without it ungraded (no order yet). general is labelled
    # 一般客户 in Chinese.
    override = json.dumps({"type": "assessment", "event_id": "a1", "occurred_at": "2026-05-30T10:00:00Z",
                           "entity_type": "customer", "entity_id": "c2", "tier_override": "general", "author": "ana",
                           "reason": "visit", "expires_at": "2026-06-03T00:00:00Z"}).encode()
    notices = {}
    for language in ("en", "zh"):
        proc = Processor(Settings(topic_prefix="lang.", app_id="lang", partitions=1, language=language),
                         load_rules(), wall_clock=lambda: NOW)
        store = BatchStore({})
        proc.process(store, proc.names.inbound("assessment"), 0, 0, b"customer:c2", override)
        store.flush()
        (notices[language],) = [json.loads(m.value) for m in store.take_outbox()
                                if m.topic == proc.names.tier_notices]
    assert notices["en"]["message"] == ("manual override to general by ana expires on 2026-06-03; "
                                        "without it the entity is ungraded: no order yet")
    assert notices["zh"]["message"] == "ana 将等级人工调整为一般客户，将于 2026-06-03 到期；到期后将未分级：尚无订单"
    assert notices["zh"]["notice_id"] == notices["en"]["notice_id"] == "tn:customer:c2:assessment_expiring:1"
