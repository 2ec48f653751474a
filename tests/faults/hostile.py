"""Hostile inputs: malformed, oversized and refused messages, each with what must become of it."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kafka import KafkaProducer
from pydantic import ValidationError

from tests.faults.inputs import AT, compact, delivery, order
from tierstream.schemas.events import INBOUND_ADAPTER, entity_of
from tierstream.schemas.outputs import DeadLetter
from tierstream.schemas.routing import raw_entity_key
from tierstream.schemas.settings import Settings
from tierstream.streams.kafka.config import kafka_python_config
from tierstream.streams.kafka.topics import TopicNames, entity_key

__all__ = ["CATEGORIES", "ODD", "Sent", "as_sent", "entity_of_raw", "hostile_units", "letter_bytes", "self_check",
           "send_raw"]


@dataclass
class Sent:
    """One raw message produced to an inbound topic, with where it landed and what should happen."""

    topic: str
    key: bytes | None
    value: bytes | None
    expect: str  # "valid", "too_new", "too_old", "dlq:<reason>" or "dlq:*" (any reason)
    kind: str = ""
    partition: int = -1
    offset: int = -1


def send_raw(settings: Settings, msgs: Sequence[Sent], timeout_s: float = 300) -> None:
    """Produce ``msgs`` in order, unchanged (junk included), and record partition and offset."""
    cfg: dict[str, Any] = dict(kafka_python_config(settings))
    producer = KafkaProducer(**cfg, acks="all", linger_ms=5, max_request_size=8 << 20,
                             enable_idempotence=False, max_in_flight_requests_per_connection=1)
    try:
        futures = [producer.send(m.topic, key=m.key, value=m.value) for m in msgs]
        producer.flush(timeout=timeout_s)
        for m, fut in zip(msgs, futures, strict=True):
            md = fut.get(timeout=timeout_s)
            m.partition, m.offset = md.partition, md.offset
    finally:
        producer.close(timeout=10)


ODD = ["\u200f", "\u202e", "\U0001f600", "\u200d", "e\u0301", "\u4e2d\u6587", "\u0627\u0644", "\ufeff", "\u2028"]


def hostile_units(n: int, rng: random.Random, names: TopicNames, anchors: Sequence[str]) -> list[list[Sent]]:
    """About ``n`` malformed messages (plus a few valid ones they need), in units kept in order.

    Every malformed message says what must become of it: ``dlq:<reason>``; valid-but-refused
    events say ``too_new`` / ``too_old``; valid events with odd unicode say ``valid``.
    """
    orders, pays, deliveries = names.inbound("order"), names.inbound("payment"), names.inbound("delivery")
    units: list[list[Sent]] = []
    big_budget = max(1, n // 2000)  # messages over 1 MiB: a few, they are expensive
    key_budget = max(1, n // 2000)  # keys of 20-400 KB
    count = 0
    i = 0

    def one(topic: str, key: bytes | None, value: bytes | None, expect: str, kind: str) -> None:
        units.append([Sent(topic, key, value, expect, kind)])

    while count < n:
        i += 1
        eid = f"hx-{i}"
        cid = rng.choice(anchors)
        ckey = entity_key("customer", cid).encode()
        good = compact(order(eid, cid))
        kind = rng.choice(CATEGORIES)
        count += 1
        if kind == "truncated":
            one(orders, ckey, good[: rng.randint(1, len(good) - 1)], "dlq:invalid_json", kind)
        elif kind == "binary":
            one(orders, ckey, b"\xff" + rng.randbytes(rng.randint(0, 200)), "dlq:invalid_json", kind)
        elif kind == "lone_surrogate":
            one(orders, ckey, good.replace(cid.encode(), cid.encode() + b"\\ud800", 1), "dlq:invalid_json", kind)
        elif kind == "invalid_utf8":
            one(orders, ckey, good.replace(b"o-hx", b"o-\xc3\x28hx", 1), "dlq:invalid_json", kind)
        elif kind == "raw_control_char":
            one(orders, ckey, good.replace(b"o-hx", b"o-\x01hx", 1), "dlq:invalid_json", kind)
        elif kind == "trailing_garbage":
            one(orders, ckey, good + b"}{", "dlq:invalid_json", kind)
        elif kind == "bom":
            one(orders, ckey, b"\xef\xbb\xbf" + good, "dlq:invalid_json", kind)
        elif kind == "deep_nesting":
            depth = rng.randint(300, 20_000)
            one(orders, ckey, b"[" * depth + b"]" * depth, "dlq:invalid_json", kind)
        elif kind == "empty_or_tombstone":
            one(orders, ckey, rng.choice([b"", None]), "dlq:invalid_json", kind)
        elif kind == "not_an_object":
            one(orders, ckey, rng.choice([b"[1,2]", b'"order"', b"42", b"null", b"true"]), "dlq:invalid_event", kind)
        elif kind == "wrong_type":
            field_, bad = rng.choice([("amount", "12.5"), ("event_id", 7), ("occurred_at", 1790000000),
                                      ("customer_id", {"id": cid}), ("cost", [1]), ("status", True)])
            one(orders, ckey, compact({**order(eid, cid), field_: bad}), "dlq:invalid_event", kind)
        elif kind == "missing_field":
            doc = order(eid, cid)
            del doc[rng.choice(["amount", "order_id", "event_id", "occurred_at"])]
            one(orders, ckey, compact(doc), "dlq:missing_field", kind)
        elif kind == "long_string":
            doc = order(eid, cid, order_id="o" * rng.randint(129, 20_000))
            one(orders, ckey, compact(doc), "dlq:invalid_event", kind)
        elif kind == "too_large":
            size = rng.randint(64 * 1024 + 1, 400 * 1024)
            value = rng.choice([
                compact(order(eid, cid, currency="CNY")) + b" " * size,  # valid JSON, padded: size alone refuses it
                compact({**order(eid, cid), "order_id": "x" * size}),
                b"\x00" * size,
                rng.randbytes(size),
            ])
            if big_budget > 0 and rng.random() < 0.05:
                big_budget -= 1
                value = b'"' * (1536 * 1024)  # 1.5 MiB of quotes (escaped: twice that in JSON)
            one(orders, ckey, value, "dlq:too_large", kind)
        elif kind == "nan_inf":
            lit = rng.choice([b"NaN", b"Infinity", b"-Infinity", b'"NaN"', b"1e400", b'"inf"'])
            one(orders, ckey, good.replace(b'"amount":120.5', b'"amount":' + lit), "dlq:invalid_event", kind)
        elif kind == "negative":
            sid = "s-" + cid
            if rng.random() < 0.5:
                doc = {**order(eid, cid), "amount": -rng.randint(1, 10**6)}
                one(orders, ckey, compact(doc), "dlq:invalid_event", kind)
            else:
                one(deliveries, entity_key("supplier", sid).encode(),
                    compact(delivery(eid, sid, quantity_delivered=-3)), "dlq:invalid_event", kind)
        elif kind == "bad_timestamp":
            at = rng.choice(["9950-01-01T00:00:00Z", "0050-01-01T00:00:00Z", "2026-10-01T10:00:00",
                             "2026-02-30T10:00:00Z", "yesterday", "2026-10-01T25:00:00Z"])
            one(orders, ckey, compact(order(eid, cid, at=at)), "dlq:invalid_event", kind)
        elif kind == "too_new":
            one(orders, ckey, compact(order(eid, cid, at=f"2099-0{rng.randint(1, 9)}-01T00:00:00Z")), "too_new", kind)
        elif kind == "too_old":
            owner = f"hx-old-{i}"
            okey = entity_key("customer", owner).encode()
            units.append([Sent(orders, okey, compact(order(eid + "-now", owner)), "valid", "too_old_anchor"),
                          Sent(orders, okey, compact(order(eid, owner, at=f"20{rng.randint(10, 23)}-03-01T00:00:00Z")),
                               "too_old", kind)])
        elif kind == "unknown_type":
            t = rng.choice(["refund", "ORDER", "", "order ", 7, None])
            doc = {**order(eid, cid), "type": t}
            if t is None:
                del doc["type"]
            one(orders, ckey, compact(doc), "dlq:unknown_type", kind)
        elif kind == "odd_unicode_valid":
            odd = rng.choice(ODD)
            owner = f"hx-u{i}-{odd}x"  # odd character inside the id: allowed (printable, not at an end)
            one(orders, entity_key("customer", owner).encode(), compact(order(eid + odd + "e", owner)), "valid", kind)
        elif kind == "odd_unicode_invalid":
            bad_id = rng.choice([cid + "\x00", "\x00", " " + cid, cid + "\n", "\u2028" + cid, cid + "\x7f"])
            one(orders, ckey, compact(order(eid, cid) | {"order_id": bad_id}), "dlq:invalid_event", kind)
        elif kind == "key_mismatch":  # the internal repartition topic keeps the key check
            key = rng.choice([None, b"", entity_key("customer", cid + "-other").encode(),
                              entity_key("supplier", cid).encode(), cid.encode(), ckey.upper()])
            one(names.repartition, key, good, "dlq:key_mismatch", kind)
        elif kind == "foreign_key":  # an inbound topic takes any key: re-keyed to its entity, graded
            key = rng.choice([None, b"", f"o-{eid}".encode(), entity_key("supplier", cid).encode(), ckey.upper()])
            one(orders, key, good, "valid", kind)
        elif kind == "wrong_topic":
            pay = {"type": "payment", "event_id": eid, "occurred_at": AT, "customer_id": cid, "invoice_id": "i" + eid,
                   "amount": 10.0, "due_at": AT}
            one(orders, ckey, compact(pay), "dlq:wrong_topic", kind)
        elif kind == "rule_violation":
            doc = rng.choice([
                {"type": "referral", "event_id": eid, "occurred_at": AT, "referrer_id": cid, "referred_id": cid},
                delivery(eid, "s-" + cid, quantity_accepted=11),
                {**order(eid, cid), "supplier_id": "s1"},
                {"type": "assessment", "event_id": eid, "occurred_at": AT, "entity_type": "customer",
                 "entity_id": cid, "tier_override": "platinum", "reason": "x", "expires_at": "2027-01-01T00:00:00Z",
                 "author": "mallory"},
            ])
            topic = names.inbound(doc["type"])
            one(topic, entity_key(*entity_of_raw(doc)).encode(), compact(doc), "dlq:invalid_event", kind)
        elif kind == "huge_key":
            if key_budget > 0:
                key_budget -= 1
                key = rng.choice([b"\x00", b"k", "\U0001f600".encode()]) * rng.randint(20_000, 100_000)
            else:
                key = b"customer:" + b"x" * rng.randint(200, 5_000)
            one(names.repartition, key, good, "dlq:key_mismatch", kind)
        elif kind == "many_errors":
            extra = {f"x{k}": k for k in range(rng.randint(100, 5_000))}
            one(orders, ckey, compact({**order(eid, cid), **extra}), "dlq:invalid_event", kind)
        elif kind == "extra_field":
            one(orders, ckey, compact({**order(eid, cid), "admin": True}), "dlq:invalid_event", kind)
        elif kind == "duplicate_json_keys":
            one(orders, ckey, good[:-1] + b',"amount":-1}', "dlq:invalid_event", kind)
        elif kind == "payment_amount_string":
            pay = {"type": "payment", "event_id": eid, "occurred_at": AT, "customer_id": cid, "invoice_id": "i" + eid,
                   "amount": "10", "due_at": AT}
            one(pays, ckey, compact(pay), "dlq:invalid_event", kind)
    return units



def entity_of_raw(doc: dict[str, Any]) -> tuple[str, str]:
    """Return (entity type, entity id) of an event document that need not validate."""
    key = raw_entity_key(str(doc["type"]), doc)
    kind, _, eid = key.partition(":")
    return kind, eid


CATEGORIES = [
    "truncated", "binary", "lone_surrogate", "invalid_utf8", "raw_control_char", "trailing_garbage", "bom",
    "deep_nesting", "empty_or_tombstone", "not_an_object", "wrong_type", "missing_field", "long_string",
    "too_large", "nan_inf", "negative", "bad_timestamp", "too_new", "too_old", "unknown_type",
    "odd_unicode_valid", "odd_unicode_invalid", "key_mismatch", "wrong_topic", "rule_violation", "extra_field",
    "duplicate_json_keys", "payment_amount_string", "huge_key", "many_errors", "foreign_key",
]


def self_check(units: Sequence[Sequence[Sent]]) -> None:
    """The generator's promises hold offline: valid ones validate, schema-invalid ones do not."""
    for unit in units:
        for m in unit:
            try:
                INBOUND_ADAPTER.validate_json(m.value or b"")
                valid = True
            except ValidationError:
                valid = False
            schema_dlq = m.expect.startswith("dlq:") and m.expect not in (
                "dlq:key_mismatch", "dlq:wrong_topic", "dlq:too_large") and m.kind != "rule_violation"
            if m.expect in ("valid", "too_new", "too_old") and not valid:
                raise AssertionError(f"generator bug: {m.kind} should validate: {m.value!r:.200}")
            if schema_dlq and valid:
                raise AssertionError(f"generator bug: {m.kind} should not validate: {m.value!r:.200}")


def as_sent(raw: bytes, names: TopicNames) -> Sent:
    """A sample line as a raw message: topic and key as ``publish`` would choose them."""
    try:
        ev = INBOUND_ADAPTER.validate_json(raw)
        return Sent(names.inbound(ev.type), entity_key(*entity_of(ev)).encode(), raw, "valid", "sample")
    except ValidationError:
        pass
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and doc.get("type") in ("order", "payment", "delivery", "referral", "service",
                                                     "assessment"):
        return Sent(names.inbound(doc["type"]), raw_entity_key(doc["type"], doc).encode(), raw, "dlq:*", "sample")
    return Sent(names.inbound("order"), b"unknown", raw, "dlq:*", "sample")


def letter_bytes(d: DeadLetter) -> bytes:
    """Return the original message bytes a dead letter carries."""
    return base64.b64decode(d.value_b64) if d.value_b64 is not None else d.value.encode("utf-8")
