"""Sources files and the mapping of upstream payloads (issue 11, points 2-4).

Every expected value is worked out by hand in the comments from the mapping's
published rules (schemas/sources.py, schemas/mapping.py).
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from tierstream.schemas.errors import MappingError, SourcesError
from tierstream.schemas.events import INBOUND_ADAPTER
from tierstream.schemas.mapping import SourceMapper, Sources
from tierstream.schemas.sources import parse_sources

ERP = """
sources:
  erp_orders:
    topics: [erp.orders.v1, erp.orders.v2]
    type: order
    fields:
      order_id: {path: id, transform: string}
      customer_id: customer.code
      amount: {path: total_cents, transform: cents}
      cost: {path: cost_cents, transform: cents}
      occurred_at: {path: created_ms, transform: epoch_ms}
      status: {path: state, map: {NEW: placed, CANCELED: cancelled, RETURNED: returned}}
      currency: {const: EUR}
    event_id_from: [order_id, status]
  shop_db:
    topics: [shop.public.orders]
    format: debezium
    type: order
    timezone: Europe/Madrid
    fields:
      order_id: id
      customer_id: customer_id
      amount: {path: amount, transform: number}
      occurred_at: {path: created_at, transform: local_time}
      status: {path: status, transform: [trim, lower], map: {new: placed, canceled: cancelled}, other: placed}
  pos_payments:
    topics: [pos.payments]
    type: payment
    fields:
      customer_id: {path: client, transform: string}
      invoice_id: ref
      amount: {path: paid, transform: number}
      occurred_at: {path: paid_at, transform: local_time}
      due_at: {path: due, transform: epoch_s}
      delay_reason: {path: note, default: unknown}
"""
SOURCES = Sources(parse_sources(ERP), "Asia/Shanghai")


def mapper(topic: str) -> SourceMapper:
    found = SOURCES.for_topic(topic)
    assert found is not None
    return found


def mapped(topic: str, value: Any) -> dict[str, Any] | None:
    out = mapper(topic).map(None if value is None else json.dumps(value).encode())
    if out is None:
        return None
    INBOUND_ADAPTER.validate_json(out)  # what the mapping gives is a valid event
    doc: dict[str, Any] = orjson.loads(out)
    return doc


ERP_ORDER = {"id": 10234, "customer": {"code": "acme"}, "total_cents": 123456, "cost_cents": 100000,
             "created_ms": 1_700_000_000_000, "state": "NEW", "ignored": [1, 2]}


def test_an_erp_order_in_cents_and_epoch_milliseconds() -> None:
    doc = mapped("erp.orders.v2", ERP_ORDER)
    assert doc is not None
    event_id = doc.pop("event_id")
    # 123456 cents = 1234.56; 100000 cents = 1000.00; 1,700,000,000,000 ms = 1,700,000,000 s after
    # 1970-01-01 = 19,675 days (1,699,920,000 s, 2023-11-14) + 80,000 s (22:13:20); NEW -> placed;
    # the id 10234 is text; the currency is the constant; unmapped fields are left out.
    assert doc == {"type": "order", "order_id": "10234", "customer_id": "acme", "amount": 1234.56,
                   "cost": 1000.0, "occurred_at": "2023-11-14T22:13:20+00:00", "status": "placed",
                   "currency": "EUR"}
    # derived from (order_id, status) only: the same order placed again has the same id,
    # its cancellation another
    assert event_id.startswith("erp_orders:")
    assert mapped("erp.orders.v1", {**ERP_ORDER, "created_ms": 1})["event_id"] == event_id  # type: ignore[index]
    cancelled = mapped("erp.orders.v1", {**ERP_ORDER, "state": "CANCELED"})
    assert cancelled is not None and cancelled["status"] == "cancelled" and cancelled["event_id"] != event_id


def test_local_times_are_read_in_the_source_zone_else_the_rules_zone() -> None:
    pay = {"client": 77, "ref": "inv-1", "paid": "99.90", "paid_at": "2024-03-01 10:00:00", "due": -86400}
    doc = mapped("pos.payments", pay)
    # no zone of its own: the rules' Asia/Shanghai, +08:00; due -86,400 s = the day before 1970-01-01;
    # "99.90" read as 99.9; the client number 77 as text; no note: the default
    assert doc is not None
    assert doc["occurred_at"] == "2024-03-01T10:00:00+08:00"
    assert doc["due_at"] == "1969-12-31T00:00:00+00:00"
    assert (doc["amount"], doc["customer_id"], doc["delay_reason"]) == (99.9, "77", "unknown")
    # a time with its own offset keeps it
    assert mapped("pos.payments", {**pay, "paid_at": "2024-03-01T10:00:00Z"})["occurred_at"] == (  # type: ignore[index]
        "2024-03-01T10:00:00+00:00")


def envelope(op: str, before: dict[str, Any] | None, after: dict[str, Any] | None, wrapped: bool = True,
             ts_ms: int = 1_709_287_200_000) -> dict[str, Any]:
    payload = {"op": op, "before": before, "after": after, "source": {"ts_ms": ts_ms, "table": "orders"}}
    return {"schema": {"type": "struct"}, "payload": payload} if wrapped else payload


ROW = {"id": "o-7", "customer_id": "c9", "amount": "12.50", "created_at": "2024-03-01 10:00:00", "status": "NEW "}


def test_debezium_insert_places_and_update_to_cancelled_retracts() -> None:
    placed = mapped("shop.public.orders", envelope("c", None, ROW))
    # Europe/Madrid in March (before the last Sunday) is +01:00; "NEW " trimmed, lowered -> placed
    assert placed is not None
    assert (placed["occurred_at"], placed["status"], placed["amount"]) == ("2024-03-01T10:00:00+01:00", "placed", 12.5)
    # a snapshot read of the same row (op r, another ts_ms, no wrapper): the same event, the same id
    again = mapped("shop.public.orders", envelope("r", None, ROW, wrapped=False, ts_ms=1))
    assert again == placed
    cancelled = mapped("shop.public.orders", envelope("u", ROW, {**ROW, "status": "Canceled"}))
    assert cancelled is not None and cancelled["status"] == "cancelled"
    # an update that is no retraction (shipped -> other -> placed) grades nothing
    assert mapped("shop.public.orders", envelope("u", ROW, {**ROW, "status": "SHIPPED"})) is None


def test_debezium_delete_retracts_an_order_and_tombstones_give_nothing() -> None:
    deleted = mapped("shop.public.orders", envelope("d", ROW, None))
    assert deleted is not None and deleted["status"] == "cancelled" and deleted["order_id"] == "o-7"
    assert mapped("shop.public.orders", None) is None  # the tombstone after a delete
    assert mapped("shop.public.orders", envelope("t", None, None)) is None  # a truncate: no row
    with pytest.raises(MappingError, match="REPLICA IDENTITY FULL"):
        mapped("shop.public.orders", envelope("d", None, None))
    with pytest.raises(MappingError, match="not a Debezium change event"):
        mapped("shop.public.orders", {"id": 1})


def test_debezium_event_time_defaults_to_the_change_time() -> None:
    src = parse_sources("""
sources:
  tickets:
    topics: [db.tickets]
    format: debezium
    type: service
    fields: {supplier_id: vendor, ticket_id: {path: id, transform: string},
             first_response_at: {path: answered_ms, transform: epoch_ms}}
""")
    tickets = SourceMapper("tickets", src.sources["tickets"])
    opened = {"vendor": "s1", "id": 5, "answered_ms": None}
    # 1,709,287,200,000 ms = 19,783 days (1,709,251,200 s: 2024-03-01) + 36,000 s = 10:00 UTC
    doc = orjson.loads(tickets.map(json.dumps(envelope("c", None, opened)).encode()) or b"null")
    assert doc["occurred_at"] == "2024-03-01T10:00:00+00:00" and "first_response_at" not in doc
    # a service ticket's update is graded (it brings the response), by default
    answered = {**opened, "answered_ms": 1_709_290_800_000}  # one hour later
    upd = orjson.loads(tickets.map(json.dumps(envelope("u", opened, answered)).encode()) or b"null")
    assert upd["first_response_at"] == "2024-03-01T11:00:00+00:00"


@pytest.mark.parametrize(("payload", "field", "words"), [
    ({**ERP_ORDER, "total_cents": "12x"}, "amount", "cents: expected a number or a numeric string"),
    ({k: v for k, v in ERP_ORDER.items() if k != "customer"}, "customer_id", ""),
    ({k: v for k, v in ERP_ORDER.items() if k != "created_ms"}, "occurred_at", "path 'created_ms' is missing"),
    ({**ERP_ORDER, "state": "LOST"}, "status", "value 'LOST' is not in the map (known: CANCELED, NEW, RETURNED)"),
    ({**ERP_ORDER, "total_cents": True}, "amount", "expected a number"),
])
def test_a_payload_that_does_not_map_names_the_source_and_the_field(payload: dict[str, Any], field: str,
                                                                     words: str) -> None:
    if field == "customer_id":  # optional on an order (a purchase names a supplier): the event says what is missing
        out = mapper("erp.orders.v1").map(json.dumps(payload).encode())
        assert out is not None and "customer_id" not in orjson.loads(out)
        return
    with pytest.raises(MappingError) as info:
        mapper("erp.orders.v1").map(json.dumps(payload).encode())
    assert info.value.source == "erp_orders" and info.value.field == field
    assert str(info.value).startswith(f"source 'erp_orders': {field}: ") and words in str(info.value)


def test_a_payload_that_is_not_a_json_object_is_a_mapping_error() -> None:
    for raw in (b"{oops", b"[1, 2]"):
        with pytest.raises(MappingError, match="source 'erp_orders': payload is not"):
            mapper("erp.orders.v1").map(raw)


@pytest.mark.parametrize(("text", "words"), [
    ("sources:\n  a: {topics: [t], type: order, fields: {amout: x}}", "fields.amout: not a field of order"),
    ("sources:\n  a: {topics: [t], type: order}\n  b: {topics: [t], type: payment}", "topic 't' is read by two"),
    ("sources:\n  a: {topics: [t], fields: {order_id: x}}", "say which event type"),
    ("sources:\n  a: {topics: [t], type: order, fields: {amount: {path: a, const: 1}}}", "exactly one of path"),
    ("sources:\n  a: {topics: [t], type: order, fields: {amount: a}, event_id_from: [cost]}", "'cost' is not one"),
    ("sources:\n  a: {topics: [t], type: order, timezone: Mars/Olympus}", "unknown IANA time zone"),
    ("sources:\n  a: {topics: [t], type: order, fields: {amount: {path: a, transform: dollars}}}", "transform"),
    ("sources:\n  a: {topics: [t], type: parcel}", "sources.a.type"),
    ("sources: {}", "sources"),
    ("- just a list", "expected a mapping"),
])
def test_a_bad_sources_file_is_refused_naming_the_place(text: str, words: str) -> None:
    with pytest.raises(SourcesError) as info:
        parse_sources(text, "my_sources.yaml")
    assert str(info.value).startswith("my_sources.yaml: ") and words in str(info.value)


def test_a_payload_taken_as_it_is_keeps_its_own_fields() -> None:
    src = parse_sources("sources:\n  legacy: {topics: [old.orders]}")
    legacy = SourceMapper("legacy", src.sources["legacy"])
    event = {"type": "order", "event_id": "e1", "occurred_at": "2024-01-01T00:00:00Z", "order_id": "o1",
             "customer_id": "c1", "amount": 5}
    assert orjson.loads(legacy.map(json.dumps(event).encode()) or b"null") == event
