"""Fuzzing the schema layer and the message handler (hypothesis).

Whatever arrives on a topic, the worker must neither raise nor lose it:

* ``INBOUND_ADAPTER.validate_json`` raises nothing but ``ValidationError`` for any bytes,
  and the error always turns into a one-line description and a known reason;
* ``Processor.process`` (over a dict as its table) never raises, and
  answers an invalid message with exactly one dead letter that carries the original bytes,
  the reason and where the message came from;
* valid events with extreme values, in any order, with review ticks, never raise either.

Inputs: arbitrary bytes, arbitrary JSON documents (NaN and Infinity literals, huge
integers, lone surrogates, control characters, deep nesting), valid events with fields
replaced, dropped or added, and valid events with a few bytes flipped.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tierstream.schemas.errors import describe, error_kind
from tierstream.schemas.events import EVENT_TYPES, INBOUND_ADAPTER, entity_of
from tierstream.schemas.outputs import AuditEntry, DeadLetter, ReferralCredit
from tierstream.schemas.rules import load_rules
from tierstream.schemas.settings import Settings
from tierstream.scorers.engine import Grader
from tierstream.scorers.state import EntityState
from tierstream.streams.kafka.topics import entity_key, partition_of
from tierstream.streams.worker.processor import DLQ_MAX_BYTES, BatchStore, Outgoing, Processor

RULES = load_rules()
NOW = datetime(2026, 11, 25, tzinfo=UTC)
REASONS = {"invalid_json", "invalid_event", "missing_field", "unknown_type", "too_large", "key_mismatch",
           "wrong_topic", "mapping_error"}
FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def processor(**overrides: Any) -> Processor:
    s = Settings(topic_prefix="fz.", app_id="fz", **overrides)
    return Processor(s, RULES, wall_clock=NOW.timestamp)


PROC = processor()
NAMES = PROC.names
INBOUND = NAMES.all_inbound

# --------------------------------------------------------------------------- strategies

VALID: dict[str, dict[str, Any]] = {
    "order": {"type": "order", "event_id": "e1", "occurred_at": "2026-10-01T10:00:00Z", "order_id": "o1",
              "customer_id": "c1", "amount": 120.5, "cost": 80.0, "currency": "CNY", "customer_group": "wholesale"},
    "purchase": {"type": "order", "event_id": "e2", "occurred_at": "2026-10-01T18:00:00+08:00", "order_id": "p1",
                 "supplier_id": "s1", "amount": 990.0, "market_amount": 1000.0, "status": "placed"},
    "payment": {"type": "payment", "event_id": "e3", "occurred_at": "2026-10-01T10:00:00Z", "customer_id": "c1",
                "invoice_id": "i1", "amount": 120.5, "due_at": "2026-10-15T00:00:00Z"},
    "delivery": {"type": "delivery", "event_id": "e4", "occurred_at": "2026-10-01T10:00:00Z", "supplier_id": "s1",
                 "order_id": "p1", "promised_at": "2026-10-02T00:00:00Z", "quantity_ordered": 100,
                 "quantity_delivered": 98, "quantity_accepted": 97},
    "referral": {"type": "referral", "event_id": "e5", "occurred_at": "2026-10-01T10:00:00Z", "referrer_id": "c1",
                 "referred_id": "c2"},
    "service": {"type": "service", "event_id": "e6", "occurred_at": "2026-10-01T10:00:00Z", "supplier_id": "s1",
                "ticket_id": "t1", "first_response_at": "2026-10-01T14:30:00Z"},
    "prospect": {"type": "assessment", "event_id": "e7", "occurred_at": "2026-10-01T10:00:00Z",
                 "entity_type": "customer", "entity_id": "c9", "prospect_score": 62.5, "reason": "trade show lead",
                 "expires_at": "2027-01-01T00:00:00Z", "author": "li.wei"},
    "override": {"type": "assessment", "event_id": "e8", "occurred_at": "2026-10-01T10:00:00Z",
                 "entity_type": "supplier", "entity_id": "s1", "tier_override": "unqualified",
                 "reason": "quality incident", "expires_at": "2027-01-01T00:00:00Z", "author": "m.garcia"},
}
FIELDS = sorted({k for doc in VALID.values() for k in doc} | {"admin", "", "Type", "amount "})

# Characters worth trying: surrogates (escaped in JSON, or raw as invalid UTF-8 bytes), NUL and
# other controls, bidi overrides and marks, zero-width and BOM, line separators, emoji, CJK.
odd_chars = st.one_of(
    st.characters(),
    st.characters(categories=["Cs"]),
    st.sampled_from(["\x00", "\x01", "\x1f", "\x7f", "\u200f", "\u202e", "\u2066", "\u200d", "\ufeff", "\u2028",
                     "\ufffd", "\U0001f600", "\u4e2d", "\n", "\t", " ", '"', "\\"]),
)
odd_text = st.text(odd_chars, max_size=40)
json_scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    odd_text,
    st.sampled_from(["2026-10-01T10:00:00Z", "2026-10-01T10:00:00", "2099-12-31T23:59:59+14:00",
                     "1999-01-01T00:00:00Z", "2026-02-30T00:00:00Z", "NaN", "Infinity", "1e400", "-0"]),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(FIELDS) | odd_text,
                                                                        inner, max_size=4)),
    max_leaves=12,
)


def encode(doc: Any, ascii_only: bool) -> bytes:
    """JSON with NaN/Infinity literals allowed; non-ASCII raw (lone surrogates as invalid UTF-8)."""
    text = json.dumps(doc, allow_nan=True, ensure_ascii=ascii_only)
    return text.encode("utf-8", "surrogatepass")


@st.composite
def mutated_events(draw: st.DrawFn) -> bytes:
    """A valid event with some fields replaced by anything, dropped, or added."""
    doc = dict(VALID[draw(st.sampled_from(sorted(VALID)))])
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["replace", "drop", "add"]))
        name = draw(st.sampled_from(sorted(doc))) if action != "add" else draw(st.sampled_from(FIELDS))
        if action == "drop":
            doc.pop(name, None)
        else:
            doc[name] = draw(json_values)
    return encode(doc, draw(st.booleans()))


@st.composite
def flipped_bytes(draw: st.DrawFn) -> bytes:
    """A valid event's JSON with a few bytes inserted, deleted or replaced."""
    raw = bytearray(encode(VALID[draw(st.sampled_from(sorted(VALID)))], True))
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(raw) - 1))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        b = draw(st.integers(0, 255))
        if op == "insert":
            raw.insert(i, b)
        elif op == "delete" and len(raw) > 1:
            del raw[i]
        else:
            raw[i] = b
    return bytes(raw)


@st.composite
def nested(draw: st.DrawFn) -> bytes:
    depth = draw(st.integers(1, 3000))
    opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")]))
    return opener * depth + b"1" + closer * depth


any_input = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda d: encode(d, True)),
    json_values.map(lambda d: encode(d, False)),
    mutated_events(),
    flipped_bytes(),
    nested(),
)

# --------------------------------------------------------------------------- the schema layer


@FUZZ
@given(any_input)
def test_validate_json_raises_only_validation_error(raw: bytes) -> None:
    try:
        event = INBOUND_ADAPTER.validate_json(raw)
    except ValidationError as exc:
        text = describe(exc)
        assert isinstance(text, str) and text
        assert error_kind(exc) in REASONS
        return
    # Valid: it has an entity, and what it serializes to is accepted back as the same event.
    kind, eid = entity_of(event)
    assert kind in ("customer", "supplier") and eid
    assert INBOUND_ADAPTER.validate_json(event.model_dump_json()) == event
    assert type(event) is EVENT_TYPES[event.type]


# --------------------------------------------------------------------------- the message handler


def original_bytes(letter: DeadLetter) -> bytes:
    return base64.b64decode(letter.value_b64) if letter.value_b64 is not None else letter.value.encode("utf-8")


def assert_one_dead_letter(out: list[Outgoing], topic: str, offset: int, raw: bytes) -> DeadLetter:
    assert len(out) == 1, out
    assert out[0].topic == NAMES.dead_letters
    assert len(out[0].value) <= DLQ_MAX_BYTES
    letter = DeadLetter.model_validate_json(out[0].value)
    assert (letter.source_topic, letter.partition, letter.offset) == (topic, 3, offset)
    assert letter.reason in REASONS and letter.error
    kept = original_bytes(letter)
    assert kept == raw or (letter.reason == "too_large" and raw.startswith(kept))
    return letter


keys = st.one_of(st.none(), st.binary(max_size=40), st.sampled_from([b"customer:c1", b"supplier:s1", b"customer:c9"]))


@FUZZ
@given(topic=st.sampled_from([*INBOUND, NAMES.referral_credits]), key=keys, raw=any_input,
       offset=st.integers(0, 2**62))
def test_process_never_raises_and_dead_letters_invalid_input(topic: str, key: bytes | None, raw: bytes,
                                                             offset: int) -> None:
    store = BatchStore({})
    out = PROC.process(store, topic, 3, offset, key, raw, timestamp=NOW.timestamp())
    model = ReferralCredit.model_validate_json if topic == NAMES.referral_credits else INBOUND_ADAPTER.validate_json
    try:
        model(raw)
    except ValidationError as exc:
        letter = assert_one_dead_letter(out, topic, offset, raw)
        assert letter.reason == error_kind(exc)
        store.flush()
        assert not store.states and not store.table  # nothing read or written for a message that did not validate
        return
    for msg in out:  # valid: re-keyed to its entity's partition, or dead letters for routing or rules problems
        if msg.topic == NAMES.repartition:
            assert topic != NAMES.referral_credits and msg.value == raw
            assert msg.key == entity_key(*entity_of(INBOUND_ADAPTER.validate_json(raw))).encode()
            continue
        if msg.topic == NAMES.audit:  # a refused assessment's audit record: at once, naming the entity
            assert AuditEntry.model_validate_json(msg.value).status.startswith("refused: ")
            assert msg.key == entity_key(*entity_of(INBOUND_ADAPTER.validate_json(raw))).encode()
            continue
        assert msg.topic == NAMES.dead_letters
        assert DeadLetter.model_validate_json(msg.value).reason in {"wrong_topic", "key_mismatch", "invalid_event"}
    for msg in store.take_outbox():  # and the state's outputs wait in its outbox
        assert msg.topic in {NAMES.tier_changes, NAMES.tiers, NAMES.supplier_alerts, NAMES.referral_credits,
                             NAMES.audit}


@FUZZ
@given(key=keys, raw=st.binary(min_size=257, max_size=5000) | odd_text.map(lambda t: t.encode("utf-8", "surrogatepass")
                                                                            * 300))
def test_oversized_messages_are_one_too_large_dead_letter(key: bytes | None, raw: bytes) -> None:
    small = processor(max_event_bytes=256)
    out = small.process(BatchStore({}), small.names.inbound("order"), 3, 7, key, raw)
    if len(raw) > 256:
        letter = assert_one_dead_letter(out, small.names.inbound("order"), 7, raw)
        assert letter.reason == "too_large"


@settings(FUZZ, max_examples=30)
@given(st.binary(min_size=1, max_size=64).map(lambda b: b * (1 + (1 << 21) // len(b))), keys)
def test_dead_letters_stay_under_the_producer_limit(raw: bytes, key: bytes | None) -> None:
    """A 2 MiB message (any bytes, so any escaping) still makes one bounded dead letter."""
    out = PROC.process(BatchStore({}), NAMES.inbound("order"), 3, 1, key, raw)
    assert_one_dead_letter(out, NAMES.inbound("order"), 1, raw)


def test_huge_key_is_cut_in_the_dead_letter() -> None:
    """On the internal repartition topic (the one inbound topic whose key is checked)."""
    raw = encode(VALID["order"], True)
    out = PROC.process(BatchStore({}), NAMES.repartition, 3, 1, b"\x00" * 300_000, raw)
    letter = assert_one_dead_letter(out, NAMES.repartition, 1, raw)
    assert letter.reason == "key_mismatch" and "300,000 bytes" in letter.error
    assert len(out[0].key) == 1024


# --------------------------------------------------------------------------- valid events, extreme values

ids = st.sampled_from(["c1", "c2", "c3", "s1", "s2"])
instants = st.one_of(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)),
    st.integers(0, 800 * 86_400).map(lambda s: NOW - timedelta(seconds=s)),
)
money = st.one_of(st.just(0.0), st.floats(0, 1e12, allow_nan=False, allow_infinity=False))
quantity = st.integers(0, 10**12)
LAST = datetime(2099, 12, 31, 23, 59, 59, tzinfo=UTC)


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


@st.composite
def valid_events(draw: st.DrawFn, n: int) -> bytes:
    t = draw(instants)
    later = min(t + timedelta(seconds=draw(st.integers(1, 10**9))), LAST)  # the schema refuses 2100 on
    eid = f"v{n}-{draw(st.integers(0, 5))}"  # repeats: duplicates
    cid, sid = draw(ids), draw(ids)
    kind = draw(st.sampled_from(["sale", "purchase", "reverse", "payment", "delivery", "referral", "service",
                                 "prospect", "override"]))
    base = {"event_id": eid, "occurred_at": iso(t)}
    doc: dict[str, Any]
    if kind in ("sale", "reverse"):
        doc = {"type": "order", "order_id": f"o{draw(st.integers(0, 3))}", "customer_id": cid, "amount": draw(money),
               "cost": draw(st.none() | money), "customer_group": draw(st.none() | st.sampled_from(["wholesale"])),
               "status": "placed" if kind == "sale" else draw(st.sampled_from(["cancelled", "returned"]))}
    elif kind == "purchase":
        doc = {"type": "order", "order_id": f"p{draw(st.integers(0, 3))}", "supplier_id": sid, "amount": draw(money),
               "market_amount": draw(st.none() | money)}
    elif kind == "payment":
        doc = {"type": "payment", "customer_id": cid, "invoice_id": "i", "amount": draw(money),
               "due_at": iso(draw(instants))}
    elif kind == "delivery":
        q = draw(quantity)
        acc = draw(st.integers(0, q))
        doc = {"type": "delivery", "supplier_id": sid, "order_id": "p1", "promised_at": iso(draw(instants)),
               "quantity_ordered": draw(st.integers(1, 10**12)), "quantity_delivered": q, "quantity_accepted": acc}
    elif kind == "referral":
        other = draw(ids.filter(lambda x: x != cid))
        doc = {"type": "referral", "referrer_id": other, "referred_id": cid}
    elif kind == "service":
        doc = {"type": "service", "supplier_id": sid, "ticket_id": "t", "first_response_at": iso(later)}
    else:
        doc = {"type": "assessment", "entity_type": draw(st.sampled_from(["customer", "supplier"])),
               "entity_id": draw(ids), "reason": "r", "expires_at": iso(later), "author": "a"}
        if kind == "prospect":
            doc["prospect_score"] = draw(st.floats(0, 100))
        else:
            doc["tier_override"] = draw(st.sampled_from(["key", "general", "potential", "excellent", "good",
                                                          "qualified", "unqualified", "platinum"]))
    return json.dumps({**doc, **base}).encode()


@settings(FUZZ, max_examples=120)
@given(st.data())
def test_streams_of_valid_extreme_events_never_raise(data: st.DataObject) -> None:
    """Valid events at the edges (amounts to 1e12, times 2000-2099, responses years later,
    duplicates, reversals before orders, overrides naming other kinds' tiers), in any order,
    with review ticks at any instant: the handler never raises and snapshots always work."""
    table: dict[bytes, bytes] = {}
    for n in range(data.draw(st.integers(1, 25))):
        raw = data.draw(valid_events(n))
        event = INBOUND_ADAPTER.validate_json(raw)
        key = entity_key(*entity_of(event)).encode()
        store = BatchStore(table)
        home = partition_of(key, PROC.settings.partitions)
        now = PROC.process(store, NAMES.inbound(event.type), home, n, key, raw, timestamp=NOW.timestamp())
        # on its entity's partition: no hop; a refused assessment's audit record goes at once
        assert all(m.topic in (NAMES.dead_letters, NAMES.audit) for m in now)
        for msg in store.take_outbox():
            if msg.topic == NAMES.referral_credits:  # the credit comes back through its topic
                PROC.process(store, msg.topic, 0, n, msg.key, msg.value)
        if data.draw(st.booleans()):
            until = data.draw(st.integers(0, 4_200_000_000))
            PROC.process(store, NAMES.reviews, 0, n, data.draw(st.sampled_from(sorted(table) or [b"x"])),
                         str(until).encode())
        store.flush()
    grader = Grader(RULES)
    for value in table.values():
        state = EntityState.from_bytes(value)
        if not state.is_empty():
            grader.snapshot(state, max(state.clock, int(NOW.timestamp())))
