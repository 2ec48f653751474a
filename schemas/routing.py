"""Which topic an event goes to and which entity it belongs to: the one routing table.

Every reader of "whose event is this" uses :data:`ROUTES`: the models
(:func:`schemas.events.entity_of`), the client keying raw JSON
(:func:`raw_entity_key`) and the offline shard split (:func:`doc_entity`).

An event belongs to the first entity of its route whose id field is set: an
order to its customer (a sale) or else its supplier (a purchase). A referral
goes to the *referred* customer first: only that customer's state knows when
it places its first order, which is what qualifies the referral; the credit
then travels to the referrer (:data:`CREDIT_ROUTE`). An assessment and a
profile name their entity type in a field of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, cast

__all__ = [
    "CREDIT_ROUTE",
    "ENTITY_TYPES",
    "ROUTES",
    "UNKNOWN_KEY",
    "EntityKey",
    "EntityType",
    "Route",
    "doc_entity",
    "entity_key",
    "guess_entity",
    "raw_entity_key",
    "route_entity",
    "split_key",
]

EntityType = Literal["customer", "supplier"]
ENTITY_TYPES: frozenset[str] = frozenset({"customer", "supplier"})

#: (entity type, entity id)
EntityKey = tuple[EntityType, str]

#: The message key of a body that names no entity at all.
UNKNOWN_KEY = "unknown"

#: Longest id a raw body may name as a message key (valid ids are far shorter).
_MAX_RAW_ID = 1024


@dataclass(frozen=True, slots=True)
class Route:
    """Where one event type goes: its topic (after the prefix) and the fields naming its entity.

    ``ids`` are (entity type, id field) pairs, the first one set wins;
    ``typed_by`` is (entity-type field, id field) for an event that says which
    kind of entity it is about.
    """

    topic: str
    ids: tuple[tuple[EntityType, str], ...] = ()
    typed_by: tuple[str, str] | None = None


#: event type -> route
ROUTES: dict[str, Route] = {
    "order": Route("orders", (("customer", "customer_id"), ("supplier", "supplier_id"))),
    "invoice": Route("invoices", (("customer", "customer_id"),)),
    "payment": Route("payments", (("customer", "customer_id"),)),
    "delivery": Route("deliveries", (("supplier", "supplier_id"),)),
    "referral": Route("referrals", (("customer", "referred_id"),)),
    "service": Route("service", (("supplier", "supplier_id"),)),
    "assessment": Route("assessments", typed_by=("entity_type", "entity_id")),
    "profile": Route("profiles", typed_by=("entity_type", "entity_id")),
}

#: A referral credit (``schemas.outputs.ReferralCredit``) is the referrer's.
CREDIT_ROUTE = Route("referral-credits", (("customer", "referrer_id"),))

#: Every fixed id field of every route, in table order: the guesses for a body of unknown shape.
_ANY_IDS: tuple[tuple[EntityType, str], ...] = tuple(
    dict.fromkeys(pair for route in ROUTES.values() for pair in route.ids)
)


def entity_key(entity_type: str, entity_id: str) -> str:
    """Return the message key of an entity: ``"<entity_type>:<entity_id>"``."""
    return f"{entity_type}:{entity_id}"


def split_key(key: str) -> tuple[str, str]:
    """Return (entity type, entity id) of a message key."""
    kind, _, eid = key.partition(":")
    return kind, eid


def _ident(doc: dict[str, Any], name: str) -> str | None:
    value = doc.get(name)
    if isinstance(value, str) and 0 < len(value) <= _MAX_RAW_ID:
        return value
    return None


def route_entity(route: Route, doc: dict[str, Any]) -> EntityKey | None:
    """Return the entity that ``route`` reads in a decoded body: its first id field set, or ``None``."""
    if route.typed_by is not None:
        kind, eid = doc.get(route.typed_by[0]), _ident(doc, route.typed_by[1])
        if eid is not None and isinstance(kind, str) and kind in ENTITY_TYPES:
            return cast(EntityType, kind), eid
        return None
    for kind, name in route.ids:
        eid = _ident(doc, name)
        if eid is not None:
            return kind, eid
    return None


#: event type -> (entity type, id field) pairs, for the routes with fixed entity types
_IDS = {event_type: route.ids for event_type, route in ROUTES.items() if route.typed_by is None}
_TYPED_BY = frozenset(event_type for event_type, route in ROUTES.items() if route.typed_by is not None)


def doc_entity(doc: Any) -> EntityKey | None:
    """Return the entity of a decoded JSON event, read by its ``type`` as the models read it.

    For a valid event this is :func:`schemas.events.entity_of` of its model;
    ``None`` when the body cannot be a valid event of a known type. The same
    reading as :func:`route_entity`, inlined: the offline split calls it for
    every line in every shard.
    """
    if not isinstance(doc, dict):
        return None
    event_type = doc.get("type")
    if not isinstance(event_type, str):
        return None
    ids = _IDS.get(event_type)
    if ids is not None:
        for kind, name in ids:
            eid = doc.get(name)
            if isinstance(eid, str) and 0 < len(eid) <= _MAX_RAW_ID:
                return kind, eid
        return None
    return route_entity(ROUTES[event_type], doc) if event_type in _TYPED_BY else None


def guess_entity(event_type: str, doc: dict[str, Any]) -> EntityKey | None:
    """Return the entity of an ``event_type`` body that may not validate, as well as its fields allow.

    The route's own fields first (so a valid body gets :func:`doc_entity`'s
    answer), then any id field of any route; ``None`` if no field names one.
    """
    route = ROUTES.get(event_type)
    found = None if route is None else route_entity(route, doc)
    if found is not None:
        return found
    for kind, name in _ANY_IDS:
        eid = _ident(doc, name)
        if eid is not None:
            return kind, eid
    return None


def raw_entity_key(event_type: str, doc: dict[str, Any]) -> str:
    """Return the message key of a body that did not validate (:data:`UNKNOWN_KEY` if it names no entity).

    Same partition as the entity's valid events, so the dead letter lands where
    the entity's other events are; for a valid body this equals the key of
    :func:`schemas.events.entity_of`.
    """
    found = guess_entity(event_type, doc)
    return UNKNOWN_KEY if found is None else entity_key(*found)
