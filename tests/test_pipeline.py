"""End to end on the real embedded broker and the real Redis: publish -> workers -> snapshot.

The reference is always the offline scorer on the same file: the stream must
agree with it entity by entity.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from tests.pacing import Pacer, paced
from tests.sample_parity import (
    cases_per_supplier,
    features,
    notices_per_entity,
    offline_cases,
    offline_changes,
    offline_notices,
    per_entity,
)
from tests.streaming import Stream, offline_snapshot, poll
from tierstream.schemas.outputs import DeadLetter, SupplierAlert, SupplierCase, TierChange, TierNotice
from tierstream.schemas.rules import load_rules
from tierstream.scorers.engine import Grader
from tierstream.scorers.state import EntityState
from tierstream.streams.client import publish
from tierstream.streams.dev.sample import write_sample
from tierstream.streams.kafka.read import read_states
from tierstream.streams.offline.score import OfflineScorer, read_lines, run
from tierstream.streams.store.redis import AsyncTierStore

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sample") / "events.jsonl"
    write_sample(path, customers=400, suppliers=40, days=150, seed=5)
    return path


@pytest.fixture(scope="module")
def every_point(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One sample holding every point of issue 10, a 1998 history, in time order (no late lines).

    ``tierstream sample --customers 200 --suppliers 50 --days 150 --seed 7 --end 1998-11-01T00:00:00Z``
    but without late lines, as its features were counted on (the answers to tickets, dated when
    they opened, are late lines: the pacing brings them forward where the worker's timer could
    otherwise review their entity first; tests/test_pacing.py checks a sample with late lines too).
    """
    path = tmp_path_factory.mktemp("every_point") / "events.jsonl"
    write_sample(path, customers=200, suppliers=50, days=150, seed=7, end=datetime(1998, 11, 1, tzinfo=UTC),
                 late_ratio=0.0)
    return path



class NoticeListener:
    """Collects the notices Redis publishes on ``<prefix>:notices:*``, from before the worker starts."""

    def __init__(self, url: str, prefix: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url)
        self.pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        self.pubsub.psubscribe(f"{prefix}:notices:*")
        self.heard: set[str] = set()

    def ids(self) -> set[str]:
        """The ids heard so far (reads what has arrived, without waiting)."""
        while (msg := self.pubsub.get_message(timeout=0)) is not None:
            self.heard.add(json.loads(msg["data"])["notice_id"])
        return self.heard

    def close(self) -> None:
        self.pubsub.close()
        self.client.close()


def _read_topic(stream: Stream, topic: str) -> list[tuple[bytes | None, bytes]]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(topic, bootstrap_servers=stream.bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=3000, group_id=None)
    try:
        return [(r.key, r.value) for r in consumer]
    finally:
        consumer.close()


def test_parity_with_offline_scorer(stream: Stream, sample: Path) -> None:
    expected = offline_snapshot(sample)
    stream.start_worker()
    report = publish(stream.settings, read_lines(sample))
    assert report.failed == 0
    stream.wait_for_snapshot(expected, 120, "stream snapshot == offline")


def test_parity_on_a_history_from_before_1970(stream: Stream, tmp_path: Path) -> None:
    """Issue 10, point 1: a history of 1969 (negative epoch seconds), with the sample's USD
    amounts converted and its declared groups: the stream grades it as the offline scorer does,
    and its review timer runs on such event times (every current tier in Redis is the offline one)."""
    path = tmp_path / "old.jsonl"
    write_sample(path, customers=200, suppliers=20, days=300, seed=9, end=datetime(1969, 12, 1, tzinfo=UTC))
    expected = offline_snapshot(path)
    assert expected and all(s["as_of"].startswith("1969-") for s in expected.values())
    stream.start_worker()
    report = publish(stream.settings, read_lines(path))
    assert report.failed == 0
    stream.wait_for_snapshot(expected, 120, "stream snapshot == offline, 1969 history")
    tiers = {k: s["tier"] for k, s in expected.items()}

    def published() -> dict[tuple[str, str], str]:
        last: dict[tuple[str, str], str] = {}
        for _, v in _read_topic(stream, stream.settings.topic("tier-changes")):
            c = TierChange.model_validate_json(v)
            last[(c.entity_type, c.entity_id)] = c.tier
        return {k: t for k, t in last.items() if k in tiers}

    # the timer's reviews (as of the latest event time, in 1969) publish the offline tiers
    poll(lambda: published() == tiers, 60, "the last published tier of every entity == offline")


def test_parity_in_a_time_zone_with_daylight_saving(stream: Stream, sample: Path, tmp_path: Path) -> None:
    """Issue 10, point 8 (e): rules in Europe/Madrid (the sample spans the October change):
    the stream's day buckets, windows and recency follow the zone as the offline scorer's do."""
    text = Path(str(resources.files("tierstream.schemas").joinpath("default_rules.yaml"))).read_text()
    rules_path = tmp_path / "madrid.yaml"
    rules_path.write_text(text.replace("\ntimezone: UTC\n", "\ntimezone: Europe/Madrid\n"))
    zoned = load_rules(rules_path)
    assert zoned.timezone == "Europe/Madrid"
    scorer = OfflineScorer(zoned)
    as_of = run(scorer, read_lines(sample))
    expected = {(x.entity_type, x.entity_id): x.model_dump(mode="json") for x in scorer.snapshots(as_of)}
    assert expected != offline_snapshot(sample)  # the zone moves some day boundaries
    stream.start_worker(extra_env={"TIERSTREAM_RULES": str(rules_path)})
    assert publish(stream.settings, read_lines(sample)).failed == 0
    grader = Grader(zoned)

    def snapshot() -> dict[tuple[str, str], Any]:
        states = [EntityState.from_bytes(v) for v in read_states(stream.settings, 60).values()]
        at = max((st.clock for st in states), default=0)
        return {(st.kind, st.entity_id): grader.snapshot(st, at).model_dump(mode="json")
                for st in states if not st.is_empty()}

    poll(lambda: snapshot() == expected, 120, "stream snapshot == offline, Europe/Madrid days")


def test_two_workers_share_partitions_with_same_result(stream: Stream, sample: Path) -> None:
    expected = offline_snapshot(sample)
    port_a = stream.start_worker().port
    port_b = stream.start_worker().port

    def split() -> bool:
        parts = []
        for port in (port_a, port_b):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                parts.append(json.loads(r.read())["assigned_partitions"])
        return bool(all(parts) and sorted(parts[0] + parts[1]) == list(range(stream.partitions)))

    poll(split, 60, "both workers to own partitions")
    publish(stream.settings, read_lines(sample))
    stream.wait_for_snapshot(expected, 120, "two-worker snapshot == offline")


def test_invalid_events_dead_lettered_with_reason_and_offset(stream: Stream, tmp_path: Path) -> None:
    lines = [
        b'{"type":"order","event_id":"ok1","occurred_at":"2026-10-01T10:00:00Z","order_id":"o1",'
        b'"customer_id":"c1","amount":120.5,"cost":80}',
        b'{"type":"order","event_id":"bad1","occurred_at":"2026-10-01T10:00:00Z","order_id":"o2",'
        b'"customer_id":"c1","amount":-5}',
        b'{"type":"payment","event_id":"bad2","occurred_at":"2026-10-01T10:00:00Z","customer_id":"c1"}',
        b'{"type":"order","event_id":"ok2","occurred_at":"2026-10-02T10:00:00Z","order_id":"o3",'
        b'"customer_id":"c1","amount":99}',
    ]
    stream.start_worker()
    publish(stream.settings, enumerate(lines, 1))
    names = stream.settings
    letters = poll(lambda: [DeadLetter.model_validate_json(v) for _, v in
                            _read_topic(stream, names.topic("dead-letters"))], 60, "dead letters")
    assert {d.reason for d in letters} == {"invalid_event", "missing_field"}
    by_value = {d.value: d for d in letters}
    neg = by_value[lines[1].decode()]
    assert neg.source_topic == names.topic("orders") and neg.offset >= 0
    assert "amount" in neg.error and "-5" in neg.error
    assert "due_at" in by_value[lines[2].decode()].error
    snap = poll(lambda: stream.snapshot().get(("customer", "c1")), 60, "c1 graded")
    assert snap["aggregates"]["order_count"] == 2  # the valid events around the bad ones count


def test_tier_changes_reach_topics_and_redis(stream: Stream, every_point: Path) -> None:
    """Issue 10, point 9: on one sample holding every point, the stream publishes the offline scorer's
    changes, entity by entity in ``seq`` order: tier, previous tier, cause and date, time-driven ones
    (``re-review``) included; then Redis holds each entity's latest change and procurement an alert
    per supplier downgrade.

    The sample is published in its order for each entity (``tests/pacing.py``): the change
    sequence depends on the order an entity's events are graded in, and the stream has no order
    between its topics; a late line (a ticket's answer, dated when it opened) is published before
    the worker's clock passes a review of its entity that the file runs after it. So the
    comparisons are exact, whenever the worker's timer fires.

    Issue 12, point 3: the ``tier-notices`` topic holds the notices ``score --notices`` writes,
    entity by entity in the order they were raised, and Redis publishes each on its channel.

    Issue 12, point 2: the ``supplier-cases`` topic holds the case events ``score --cases``
    writes (opened, closed and escalated, time-driven at the deadline), and Redis each supplier's
    latest one."""
    offline, want = offline_changes(every_point)
    want_notices = notices_per_entity(offline_notices(every_point))
    want_cases = cases_per_supplier(offline_cases(every_point))
    statuses = {e[0].rsplit(":", 1)[1] for es in want_cases.values() for e in es}
    assert statuses == {"opened", "closed", "escalated"}, statuses
    kinds = {n[0].split(":")[3] for ns in want_notices.values() for n in ns}
    assert kinds == {"at_risk", "supplier_watch", "approaching", "assessment_expiring"}, kinds
    heard = NoticeListener(stream.settings.redis_url.get_secret_value(), stream.settings.redis_key_prefix)
    have = features(every_point, offline)
    assert have["history 1998-1998"] == 1  # a history of any age (issue 10, point 1)
    for feature in (
        "customer order cancelled", "customer order returned", "partial return (returned_amount)",
        "referred customer who placed and cancelled", "customer order without cost",
        "invoice event", "invoice paid in parts", "invoice never paid", "payment with delay_reason",
        "supplier without a delivery", "ungraded supplier: no delivery in the 180-day window",
        "prospect assessment of a supplier", "prospect assessment of a customer",
        "delivery of nothing", "over-delivery", "service ticket recorded open",
        "currency CNY", "currency USD", "declared group retail", "declared group wholesale",
        # issue 12, point 6: profiles, some naming the customer group
        "customer profile", "supplier profile", "profile naming a group",
        # quiet periods: changes by time alone, each dated when it happens
        "time-driven change (re-review)", "re-review: recency ageing", "re-review: a hold lapsed",
        "re-review: assessment expired", "re-review: prospect assessment outgrown", "re-review: invoice overdue",
    ):
        assert have[feature] > 0, f"the sample has no {feature!r}: {dict(have)}"
    worker = stream.start_worker()
    pacer = Pacer(stream, worker)
    try:
        assert publish(stream.settings, paced(pacer, read_lines(every_point))).failed == 0
    finally:
        pacer.close()
    stream.wait_for_snapshot(offline_snapshot(every_point), 120, "stream snapshot == offline")

    def topic() -> list[TierChange]:
        topic = stream.settings.topic("tier-changes")
        return [TierChange.model_validate_json(v) for _, v in _read_topic(stream, topic)]

    changes: list[TierChange] = []

    def same() -> bool:
        nonlocal changes
        changes = topic()
        return per_entity(changes) == want

    try:
        poll(same, 60, "the stream's tier changes == offline, entity by entity")
    except AssertionError as e:
        got = per_entity(changes)
        bad = sorted(k for k in want.keys() | got.keys() if want.get(k) != got.get(k))
        raise AssertionError(f"{e}: {len(bad)} of {len(want)} entities differ ({pacer.barriers} waits)\n" + "\n".join(
            f"{k}:\n  offline {want.get(k)}\n  stream  {got.get(k)}" for k in bad[:4])) from None
    assert any(c.cause == "re-review" and c.reasons[0].startswith("re-review") for c in changes)
    unique = sorted({c.change_id: c for c in changes}.values(), key=lambda c: int(c.change_id.rsplit(":", 1)[1]))
    last = {(c.entity_type, c.entity_id): c for c in unique}  # each entity's highest seq

    async def in_redis() -> dict[tuple[str, str], str | None]:
        store = AsyncTierStore.from_settings(stream.settings)
        try:
            return {k: cur["change_id"] if (cur := await store.get(*k)) else None for k in last}
        finally:
            await store.close()

    latest = {k: c.change_id for k, c in last.items()}
    poll(lambda: asyncio.run(in_redis()) == latest, 60, "Redis to hold the latest change of every entity")
    downgrades = {c.change_id for c in unique if c.entity_type == "supplier" and c.direction == "downgrade"}

    def alerted() -> set[str]:
        return {SupplierAlert.model_validate_json(v).change_id
                for _, v in _read_topic(stream, stream.settings.topic("supplier-alerts"))}

    poll(lambda: alerted() == downgrades, 60, "one supplier alert per supplier downgrade")

    notices: dict[tuple[str, str], list[Any]] = {}

    def same_notices() -> bool:
        nonlocal notices
        topic = stream.settings.topic("tier-notices")
        notices = notices_per_entity(TierNotice.model_validate_json(v) for _, v in _read_topic(stream, topic))
        return notices == want_notices

    try:
        poll(same_notices, 60, "the stream's notices == offline, entity by entity")
    except AssertionError as e:
        bad = sorted(k for k in want_notices.keys() | notices.keys() if want_notices.get(k) != notices.get(k))
        raise AssertionError(f"{e}: {len(bad)} entities differ\n" + "\n".join(
            f"{k}:\n  offline {want_notices.get(k)}\n  stream  {notices.get(k)}" for k in bad[:4])) from None
    cases: dict[tuple[str, str], list[Any]] = {}

    def same_cases() -> bool:
        nonlocal cases
        topic = stream.settings.topic("supplier-cases")
        cases = cases_per_supplier(SupplierCase.model_validate_json(v) for _, v in _read_topic(stream, topic))
        return cases == want_cases

    poll(same_cases, 60, f"the stream's supplier cases == offline: {want_cases}")

    async def cases_in_redis() -> dict[tuple[str, str], str | None]:
        store = AsyncTierStore.from_settings(stream.settings)
        try:
            return {k: c["event_id"] if (c := await store.get_case(k[1])) else None for k in want_cases}
        finally:
            await store.close()

    latest_cases = {k: es[-1][0] for k, es in want_cases.items()}
    poll(lambda: asyncio.run(cases_in_redis()) == latest_cases, 60, "Redis to hold each supplier's latest case")
    sent = {n[0] for ns in want_notices.values() for n in ns}
    try:
        poll(lambda: heard.ids() >= sent, 30, "Redis to publish every notice on its channel")
    finally:
        heard.close()
