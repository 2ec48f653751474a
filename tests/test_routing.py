"""The routing table (schemas.routing): every event type routes, and the raw and model readings agree."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tierstream.schemas.events import EVENT_TYPES, INBOUND_ADAPTER, InboundEvent, entity_of
from tierstream.schemas.outputs import ReferralCredit
from tierstream.schemas.routing import (
    CREDIT_ROUTE,
    ROUTES,
    UNKNOWN_KEY,
    doc_entity,
    entity_key,
    guess_entity,
    raw_entity_key,
    route_entity,
    split_key,
)
from tierstream.streams.dev.sample import write_sample
from tierstream.streams.kafka.topics import INBOUND_KINDS, TopicNames
from tierstream.streams.offline.parallel import line_entity

T0 = "2026-10-01T10:00:00Z"
T1 = "2026-10-01T12:00:00Z"
LATER = "2027-01-01T00:00:00Z"

ids = st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Cs", "Zs", "Zl", "Zp"]),
              min_size=1, max_size=20)


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event of any type, with drawn ids (both kinds of order and of assessment)."""
    base: dict[str, Any] = {"event_id": draw(ids), "occurred_at": T0}
    kind = draw(st.sampled_from(sorted(EVENT_TYPES)))
    if kind == "order":
        party = draw(st.sampled_from(["customer_id", "supplier_id"]))
        return {**base, "type": "order", "order_id": draw(ids), party: draw(ids), "amount": 10.0}
    if kind == "invoice":
        return {**base, "type": "invoice", "customer_id": draw(ids), "invoice_id": draw(ids), "amount": 5.0,
                "issued_at": T0, "due_at": T1}
    if kind == "payment":
        return {**base, "type": "payment", "customer_id": draw(ids), "invoice_id": draw(ids), "amount": 5.0,
                "due_at": T1}
    if kind == "delivery":
        return {**base, "type": "delivery", "supplier_id": draw(ids), "order_id": draw(ids), "promised_at": T1,
                "quantity_ordered": 3, "quantity_delivered": 3, "quantity_accepted": 2}
    if kind == "referral":
        referrer, referred = draw(st.lists(ids, min_size=2, max_size=2, unique=True))
        return {**base, "type": "referral", "referrer_id": referrer, "referred_id": referred}
    if kind == "service":
        return {**base, "type": "service", "supplier_id": draw(ids), "ticket_id": draw(ids),
                "first_response_at": T1}
    entity_type = draw(st.sampled_from(["customer", "supplier"]))
    if kind == "profile":
        return {**base, "type": "profile", "entity_type": entity_type, "entity_id": draw(ids),
                "need_type": "price", "attributes": {"region": "east"}}
    assert kind == "assessment"
    judgement = {"prospect_score": 50.0} if entity_type == "customer" and draw(st.booleans()) else {
        "tier_override": "strategic"}
    return {**base, "type": "assessment", "entity_type": entity_type, "entity_id": draw(ids), **judgement,
            "reason": "audit", "expires_at": LATER, "author": "ops"}


def assert_agree(doc: dict[str, Any]) -> None:
    """The model path and both raw paths name the same entity, and the same message key."""
    event = INBOUND_ADAPTER.validate_json(orjson.dumps(doc))
    expected = entity_of(event)
    assert doc_entity(doc) == expected
    assert line_entity(doc) == expected
    assert guess_entity(doc["type"], doc) == expected
    assert raw_entity_key(doc["type"], doc) == entity_key(*expected)
    assert split_key(entity_key(*expected)) == expected


def test_every_event_type_routes_to_its_own_topic() -> None:
    union = {typing.get_args(m.model_fields["type"].annotation)[0]
             for m in typing.get_args(typing.get_args(InboundEvent)[0])}
    assert set(ROUTES) == set(EVENT_TYPES) == union
    topics = [route.topic for route in ROUTES.values()]
    assert len(set(topics)) == len(topics) and CREDIT_ROUTE.topic not in topics
    assert INBOUND_KINDS == {"order": "orders", "invoice": "invoices", "payment": "payments",  # the wire names
                             "delivery": "deliveries",
                             "referral": "referrals", "service": "service", "assessment": "assessments",
                             "profile": "profiles"}
    names = TopicNames("p.", "app")
    assert names.inbound("order") == "p.orders" and names.referral_credits == "p.referral-credits"
    for event_type, route in ROUTES.items():
        fields = EVENT_TYPES[event_type].model_fields
        named = [name for _, name in route.ids] + list(route.typed_by or ())
        assert named and all(name in fields for name in named), event_type


@settings(max_examples=300, deadline=None)
@given(events())
def test_raw_and_model_paths_agree(doc: dict[str, Any]) -> None:
    assert_agree(doc)


def test_raw_and_model_paths_agree_on_the_sample(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    write_sample(path, customers=40, suppliers=6, days=60, seed=5, invalid_ratio=0.0)
    seen: set[str] = set()
    for line in path.read_bytes().splitlines():
        doc = orjson.loads(line)
        assert_agree(doc)
        seen.add(doc["type"])
    assert seen >= {"order", "invoice", "payment", "delivery", "referral", "service"}


def test_a_referral_credit_routes_to_the_referrer() -> None:
    credit = ReferralCredit(credit_id="rc:c1:c2", referrer_id="c1", referred_id="c2", occurred_at=T0)
    assert route_entity(CREDIT_ROUTE, credit.model_dump(mode="json")) == ("customer", "c1")


@pytest.mark.parametrize(("event_type", "doc", "key", "exact"), [
    ("order", {"customer_id": "", "supplier_id": "s1"}, "supplier:s1", ("supplier", "s1")),  # empty: the next
    ("payment", {"supplier_id": "s2"}, "supplier:s2", None),  # not its route's field: any route's id field
    ("assessment", {"entity_type": "partner", "entity_id": "x", "referred_id": "c3"}, "customer:c3", None),
    ("refund", {"customer_id": "c4"}, "customer:c4", None),  # unknown type: any id field
    ("order", {"customer_id": 7, "supplier_id": "x" * 2000}, UNKNOWN_KEY, None),  # neither usable as a key
])
def test_guesses_for_invalid_bodies(event_type: str, doc: dict[str, Any], key: str,
                                    exact: tuple[str, str] | None) -> None:
    assert raw_entity_key(event_type, doc) == key
    assert doc_entity({**doc, "type": event_type}) == exact  # the exact reading guesses nothing


@pytest.mark.parametrize("doc", [None, [1], "order", {"type": ["order"]}, {"type": "refund", "customer_id": "c"},
                                 {"type": "assessment", "entity_type": "partner", "entity_id": "x"}])
def test_doc_entity_of_what_cannot_be_an_event(doc: Any) -> None:
    assert doc_entity(doc) is None
