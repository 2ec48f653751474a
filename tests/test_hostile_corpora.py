"""The standard hostile corpora through ingestion, in process (issue 15, scenario 6).

Every JSONTestSuite parsing case as a whole message, and every string of the Big List of
Naughty Strings (plus ids picked to collide) as an entity id, a field value, a message key
and a whole message (``tests/faults/corpora.py``), through :meth:`Processor.process` over a
dict table, re-keyed messages fed back as the worker does. Then the tier changes and audit
records they produced go to the session's real Redis (Valkey) through the store's scripts.

Proved: nothing raises; an invalid message is exactly one dead letter with its expected
reason and original bytes, and touches no state; a valid event is graded (its id is in its
entity's state); entity ids that differ never share a table key or a Redis key, and each
Redis key holds its own entity's changes only. The same corpora through a real worker:
``tests/test_faults.py::test_standard_corpora_through_a_worker``.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections import Counter
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from tests.faults.corpora import (
    COLLIDERS,
    corpus_messages,
    identifier_ok,
    json_test_suite,
    naughty_strings,
    reason_ok,
)
from tests.faults.hostile import Sent
from tierstream.schemas.events import INBOUND_ADAPTER, entity_of
from tierstream.schemas.outputs import AuditEntry, DeadLetter, TierChange
from tierstream.schemas.rules import load_rules
from tierstream.schemas.settings import Settings
from tierstream.scorers.state import EntityState, event_hash
from tierstream.streams.kafka.topics import entity_key
from tierstream.streams.store.keys import AUDIT_CAP, audit_key, history_key, tier_key
from tierstream.streams.store.redis import AsyncTierStore
from tierstream.streams.worker.processor import DLQ_MAX_BYTES, BatchStore, Outgoing, Processor

NOW = datetime(2026, 11, 25, tzinfo=UTC)
ANCHOR = "c-corpora"
CASES = json_test_suite()
STRINGS = naughty_strings()


def processor() -> Processor:
    return Processor(Settings(topic_prefix="hc.", app_id="hc"), load_rules(), wall_clock=NOW.timestamp)


class Run:
    """Every corpus message through one processor and one dict table, with what came out of each."""

    def __init__(self, strings: list[str]) -> None:
        self.proc = processor()
        self.table: dict[bytes, bytes] = {}
        self.msgs = corpus_messages(self.proc.names, CASES, strings, ANCHOR, self.proc.rules.customer.groups)
        self.out: list[list[Outgoing]] = []
        self.changes: list[TierChange] = []
        self.audit: list[AuditEntry] = []
        names = self.proc.names
        store = BatchStore(self.table)  # one round: each entity decoded once, written at the end
        for offset, m in enumerate(self.msgs):
            sent = self.proc.process(store, m.topic, 0, offset, m.key, m.value, NOW.timestamp())
            got = [o for o in sent if o.topic != names.repartition]
            for hop in (o for o in sent if o.topic == names.repartition):  # the worker's second pass
                got += self.proc.process(store, names.repartition, 0, offset, hop.key, hop.value, NOW.timestamp())
            for o in [*got, *store.take_outbox()]:
                if o.topic == names.tier_changes:
                    self.changes.append(TierChange.model_validate_json(o.value))
                elif o.topic == names.audit:
                    self.audit.append(AuditEntry.model_validate_json(o.value))
            self.out.append([o for o in got if o.topic == names.dead_letters])
        store.flush()
        self.seen = {k: set(EntityState.from_bytes(v).seen) for k, v in self.table.items()}

    def state_seen(self, key: bytes) -> set[int]:
        return self.seen.get(key, set())


@pytest.fixture(scope="module")
def run() -> Run:
    return Run([*STRINGS, *COLLIDERS])


def letter_bytes(letter: DeadLetter) -> bytes:
    return base64.b64decode(letter.value_b64) if letter.value_b64 is not None else letter.value.encode("utf-8")


def test_the_corpora_are_whole() -> None:
    """The vendored files are the full upstream sets (318 parsing cases; 515 strings)."""
    assert Counter(name[0] for name, _ in CASES) == {"y": 95, "n": 188, "i": 35}
    assert len(STRINGS) == 515
    assert sum(1 for _, raw in CASES if not _utf8(raw)) == 25  # the byte-level cases a text copy would lose


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def test_the_hand_rules_agree_with_the_schema() -> None:
    """The identifier and reason rules restated by hand give the schema's verdict on every string."""
    for s in [*STRINGS, *COLLIDERS]:
        doc = {"type": "assessment", "event_id": "e", "occurred_at": "2026-10-01T11:00:00Z",
               "entity_type": "customer", "entity_id": s, "prospect_score": 50.0, "reason": "r",
               "expires_at": "2027-06-01T00:00:00Z", "author": "a"}
        assert _valid(doc) == identifier_ok(s), repr(s)
        assert _valid(doc | {"entity_id": "c", "reason": s}) == reason_ok(s), repr(s)


def _valid(doc: dict[str, object]) -> bool:
    try:
        INBOUND_ADAPTER.validate_python(doc, strict=False)
    except ValidationError:
        return False
    return True


def test_each_invalid_message_is_one_dead_letter_with_its_reason_and_bytes(run: Run) -> None:
    names = run.proc.names
    by_reason: Counter[str] = Counter()
    for offset, (m, letters) in enumerate(zip(run.msgs, run.out, strict=True)):
        if not m.expect.startswith("dlq:"):
            assert letters == [], (m.kind, m.value, [DeadLetter.model_validate_json(o.value).error for o in letters])
            continue
        assert len(letters) == 1, (m.kind, m.value)
        assert len(letters[0].value) <= DLQ_MAX_BYTES
        letter = DeadLetter.model_validate_json(letters[0].value)
        assert letter.offset == offset and letter.source_topic in (m.topic, names.repartition)  # after the hop
        assert letter.reason == m.expect[4:] or m.expect == "dlq:*", (m.kind, letter.reason, letter.error)
        kept = letter_bytes(letter)
        assert kept == m.value or (letter.reason == "too_large" and kept and (m.value or b"").startswith(kept))
        by_reason[letter.reason] += 1
    assert by_reason["invalid_json"] >= 184 + 25  # n_ cases (but 3, and 1 too large) and i_ cases refused
    assert by_reason["key_mismatch"] == len(STRINGS) + len(COLLIDERS)  # every key on the repartition topic


def test_each_valid_event_is_graded(run: Run) -> None:
    """Its event id is in its entity's state; the entity is the naughty id itself, verbatim."""
    graded = 0
    for m in run.msgs:
        if m.expect != "valid":
            continue
        event = INBOUND_ADAPTER.validate_json(m.value or b"")
        key = entity_key(*entity_of(event)).encode()
        assert event_hash(event.event_id) in run.state_seen(key), (m.kind, m.value)
        graded += 1
    assert graded >= 4 * len(STRINGS)  # key, key-as-id twice (most strings), the order id, the group...


def test_distinct_entity_ids_never_share_a_key(run: Run) -> None:
    """Table keys and Redis key names are one-to-one with (entity type, entity id)."""
    ids = {(kind, s) for s in [*STRINGS, *COLLIDERS] if identifier_ok(s) for kind in ("customer", "supplier")}
    ids.add(("customer", ANCHOR))
    assert set(run.table) == {entity_key(k, s).encode() for k, s in ids}
    for layout in (tier_key, history_key, audit_key):
        names = {layout("tierstream", k, s) for k, s in ids}
        assert len(names) == len(ids)
    by_id = {c.change_id: c for c in run.changes}
    assert len({(c.entity_type, c.entity_id) for c in run.changes}) == len(ids)  # every entity got a change
    assert len(by_id) == len({(c.entity_type, c.entity_id, c.change_id.rsplit(":", 1)[1]) for c in run.changes})


def test_the_corpora_in_redis_keep_every_entity_apart(run: Run) -> None:
    """Through the store's scripts on a real Redis: one tier hash per entity, its own history, the audit kept."""
    prefix = f"hc-{uuid.uuid4().hex[:8]}"
    latest: dict[tuple[str, str], TierChange] = {}
    for c in run.changes:
        latest[(c.entity_type, c.entity_id)] = c

    async def go() -> None:
        store = AsyncTierStore.from_url(Settings().redis_url.get_secret_value(), prefix=prefix)
        try:
            await store.apply_many(run.changes)
            await store.record_audit(run.audit)
            client = store.client
            keys = {k async for k in client.scan_iter(match=f"{prefix}:tier:*", count=1000)}
            assert keys == {tier_key(prefix, t, i) for t, i in latest}
            for (t, i), c in latest.items():
                got = await store.get(t, i)
                assert got is not None and got["change_id"] == c.change_id, (t, i)
                history = await store.history(t, i, limit=1000)
                assert history and all((h["entity_type"], h["entity_id"]) == (t, i) for h in history)
            trail = await store.audit("customer", ANCHOR)
            want = [e for e in run.audit if e.entity_id == ANCHOR]
            assert len(trail) == min(len(want), AUDIT_CAP)
            assert [(e["event_id"], e["reason"], e["author"]) for e in trail] == [
                (e.event_id, e.reason, e.author) for e in reversed(want)][:AUDIT_CAP]
            async for k in client.scan_iter(match=f"{prefix}:*", count=1000):
                await client.delete(k)
        finally:
            await store.close()

    asyncio.run(go())


def test_messages_built_for_each_use(run: Run) -> None:
    """Each naughty string is used as an id (twice), a field value (three), a key (twice) and a value."""
    kinds = Counter(m.kind for m in run.msgs if not m.kind.startswith("jsts:"))
    n = len(STRINGS) + len(COLLIDERS)
    assert kinds == {k: n for k in ("blns-id-customer", "blns-id-supplier", "blns-order-id", "blns-group",
                                    "blns-reason-author", "blns-key", "blns-key-repartition", "blns-value")}
    assert isinstance(run.msgs[0], Sent)
