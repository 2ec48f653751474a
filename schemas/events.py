"""Inbound events: the one definition of what tierstream accepts.

Every event carries an ``event_id`` (deduplication key) and a timezone-aware
``occurred_at`` (event time). A mixed stream or file is discriminated on
``type``. Models are strict (no silent coercion, unknown fields refused,
NaN/inf refused) and bounded (string and number limits protect memory), so
the error pydantic raises names the field and the offending value.

Decode with :data:`INBOUND_ADAPTER` (``validate_json``): pydantic's strict
JSON mode parses RFC 3339 strings into datetimes while refusing numbers in
strings, which is what a wire format wants.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    field_validator,
    model_validator,
)

from tierstream.schemas.routing import ROUTES
from tierstream.schemas.routing import EntityType as EntityType  # the models' entity type, re-exported

__all__ = [
    "BUSINESS_NATURES",
    "EARLIEST",
    "EVENT_TYPES",
    "INBOUND_ADAPTER",
    "LATEST",
    "LOCATION_TYPES",
    "NEED_TYPES",
    "OWNERSHIPS",
    "PROFILE_FIELDS",
    "AnyEvent",
    "AssessmentEvent",
    "Currency",
    "DeliveryEvent",
    "EntityType",
    "Identifier",
    "InboundEvent",
    "Instant",
    "Money",
    "OrderEvent",
    "PaymentEvent",
    "ProfileEvent",
    "Quantity",
    "ReferralEvent",
    "Score100",
    "ServiceEvent",
    "ShortText",
    "entity_of",
]

#: Identifiers: non-empty, bounded, printable, no surrounding whitespace.
Identifier = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=128, pattern=r"^[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f])?$"
    ),
]
ShortText = Annotated[str, StringConstraints(max_length=1000)]
Money = Annotated[float, Field(ge=0, le=1e12, allow_inf_nan=False)]
#: an ISO 4217 code; amounts in another currency than the rules' are converted at the rules' rate
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Quantity = Annotated[int, Field(ge=0, le=10**12)]
Score100 = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]

#: Times are RFC 3339 with an offset, of any age: what is too old or too new is decided by
#: the entity's clock and the rules (window, lookback, ``max_future_skew_hours``), not here.
#: These bounds are only what the scorers can represent: every instant, day and window
#: derived from an event (a window and a lookback of up to ten years each, the reviews
#: after it) must stay inside Python's calendar (years 1 to 9999). Times before 1970 are
#: negative epoch seconds and work like any other. Checked by pydantic-core itself, off
#: the Python hot path.
EARLIEST = datetime(100, 1, 1, tzinfo=UTC)
LATEST = datetime(9900, 1, 1, tzinfo=UTC)
Instant = Annotated[
    AwareDatetime,
    Field(ge=EARLIEST, lt=LATEST, description="RFC 3339 with an offset; years 0100 to 9899 (representable range)"),
]


def _type_required(schema: dict[str, Any]) -> None:
    """``type`` has a default in the models (handy in code) but is required on the wire."""
    required = schema.setdefault("required", [])
    if "type" not in required:
        required.insert(0, "type")


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, json_schema_extra=_type_required)

    event_id: Identifier
    occurred_at: Instant


class OrderEvent(_Event):
    """A sale to a customer (``customer_id``) or a purchase from a supplier (``supplier_id``).

    ``status`` cancelled or returned reverses everything the order with the
    same ``order_id`` gave, once, whenever it arrives (scorers/ledger.py). A
    sale's return may name what was returned (``returned_amount``, and its
    ``returned_cost``): only that share is reversed.
    """

    type: Literal["order"] = "order"
    order_id: Identifier
    customer_id: Identifier | None = None
    supplier_id: Identifier | None = None
    amount: Money
    cost: Money | None = None
    market_amount: Money | None = None
    currency: Currency | None = None
    status: Literal["placed", "cancelled", "returned"] = "placed"
    customer_group: Identifier | None = None
    returned_amount: Annotated[float, Field(gt=0, le=1e12, allow_inf_nan=False)] | None = None
    returned_cost: Money | None = None

    @model_validator(mode="after")
    def _one_counterparty(self) -> OrderEvent:
        if (self.customer_id is None) == (self.supplier_id is None):
            raise ValueError("exactly one of customer_id (a sale) or supplier_id (a purchase) is required")
        if self.supplier_id is not None and self.cost is not None:
            raise ValueError("cost applies to sales (customer_id), not purchases")
        if self.customer_id is not None and self.market_amount is not None:
            raise ValueError("market_amount applies to purchases (supplier_id), not sales")
        if self.returned_amount is not None or self.returned_cost is not None:
            if self.status != "returned":
                raise ValueError(f"returned_amount and returned_cost apply to status returned, not {self.status}")
            if self.supplier_id is not None:
                raise ValueError("returned_amount applies to sales (customer_id): a purchase return reverses it whole")
            if self.returned_amount is None:
                raise ValueError("returned_cost needs the returned_amount it is the cost of")
        return self


class InvoiceEvent(_Event):
    """An invoice issued to a customer: ``amount`` owed by ``due_at``, settled by payments naming ``invoice_id``.

    Until it is paid in full, an invoice past its due day is overdue and late by
    the days elapsed, which counts against the customer's credit as time goes by.
    """

    type: Literal["invoice"] = "invoice"
    invoice_id: Identifier
    customer_id: Identifier
    amount: Money
    currency: Currency | None = None
    issued_at: Instant
    due_at: Instant

    @model_validator(mode="after")
    def _due_after_issue(self) -> InvoiceEvent:
        if self.due_at < self.issued_at:
            raise ValueError(
                f"due_at {self.due_at.isoformat()} is before issued_at {self.issued_at.isoformat()}"
            )
        return self


class PaymentEvent(_Event):
    """A payment by a customer against an invoice, in full or in part; ``occurred_at`` is when it was paid.

    Lateness is counted against the due date of the ``invoice`` event with the
    same ``invoice_id`` when there is one, else against the payment's own
    ``due_at`` (a feed without invoice events: the payment defines its invoice,
    paid in full). ``delay_reason`` says why a late payment was late; it is
    quoted in explanations.
    """

    type: Literal["payment"] = "payment"
    customer_id: Identifier
    invoice_id: Identifier
    amount: Money
    currency: Currency | None = None
    due_at: Instant
    delay_reason: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None


class DeliveryEvent(_Event):
    """Goods delivered by a supplier against a purchase order."""

    type: Literal["delivery"] = "delivery"
    supplier_id: Identifier
    order_id: Identifier
    promised_at: Instant
    quantity_ordered: Annotated[int, Field(ge=1, le=10**12)]
    quantity_delivered: Quantity
    quantity_accepted: Quantity

    @model_validator(mode="after")
    def _accepted_le_delivered(self) -> DeliveryEvent:
        if self.quantity_accepted > self.quantity_delivered:
            raise ValueError(
                f"quantity_accepted ({self.quantity_accepted}) exceeds "
                f"quantity_delivered ({self.quantity_delivered})"
            )
        return self


class ReferralEvent(_Event):
    """``referrer_id`` brought in ``referred_id``; credited once the referred customer buys."""

    type: Literal["referral"] = "referral"
    referrer_id: Identifier
    referred_id: Identifier

    @model_validator(mode="after")
    def _not_self(self) -> ReferralEvent:
        if self.referrer_id == self.referred_id:
            raise ValueError(f"self-referral: referrer_id equals referred_id ({self.referrer_id!r})")
        return self


class ServiceEvent(_Event):
    """An after-sales ticket opened with a supplier (``occurred_at``) and its first response.

    Without ``first_response_at`` the ticket is open, unanswered so far: it counts
    against service by its age, growing with time, until an event for the same
    ``ticket_id`` brings the response.
    """

    type: Literal["service"] = "service"
    supplier_id: Identifier
    ticket_id: Identifier
    first_response_at: Instant | None = None

    @model_validator(mode="after")
    def _response_after_open(self) -> ServiceEvent:
        if self.first_response_at is not None and self.first_response_at < self.occurred_at:
            raise ValueError(
                f"first_response_at {self.first_response_at.isoformat()} is before "
                f"the ticket was opened (occurred_at {self.occurred_at.isoformat()})"
            )
        return self


class AssessmentEvent(_Event):
    """A manual judgement: a prospect score for a newcomer, a tier override, or a dimension's score.

    A dimension assessment names a qualitative dimension of the rules
    (``dimension``, one whose metric is ``assessed``: market reputation, peer
    evaluation...) and its ``score`` 0..100; the dimension is the mean of its
    authors' active assessments. Always carries a reason, an author and an
    expiry: manual decisions are audited and never permanent.
    """

    type: Literal["assessment"] = "assessment"
    entity_type: EntityType
    entity_id: Identifier
    prospect_score: Score100 | None = None
    tier_override: Identifier | None = None
    dimension: Identifier | None = None
    score: Score100 | None = None
    reason: Annotated[str, StringConstraints(min_length=1, max_length=1000)]
    expires_at: Instant
    author: Identifier

    @field_validator("reason")
    @classmethod
    def _reason_visible(cls, reason: str) -> str:
        """A reason is read by people: blank, invisible or control characters alone say nothing."""
        if not any(ch.isprintable() and not ch.isspace() for ch in reason):
            raise ValueError("reason must contain visible characters")
        return reason

    @model_validator(mode="after")
    def _one_judgement(self) -> AssessmentEvent:
        kinds = (self.prospect_score is not None) + (self.tier_override is not None) + (self.dimension is not None)
        if kinds != 1:
            raise ValueError("exactly one of prospect_score, tier_override or dimension (with its score) is required")
        if (self.dimension is None) != (self.score is None):
            raise ValueError("score goes with dimension: a dimension assessment needs both, other assessments neither")
        if self.expires_at <= self.occurred_at:
            raise ValueError("expires_at must be after occurred_at")
        return self


#: The descriptive vocabularies of the source articles (DOMAIN.md, "Customer nature", "Need type").
Ownership = Literal["state", "collective", "private", "joint_stock", "joint_venture", "foreign"]
BusinessNature = Literal["wholesale", "retail", "agent", "franchise", "chain", "specialty_store", "manufacturer"]
LocationType = Literal["business_centre", "transport_hub", "residential_area", "industrial_area", "online"]
NeedType = Literal["quality", "price", "service"]
OWNERSHIPS: tuple[str, ...] = get_args(Ownership)
BUSINESS_NATURES: tuple[str, ...] = get_args(BusinessNature)
LOCATION_TYPES: tuple[str, ...] = get_args(LocationType)
NEED_TYPES: tuple[str, ...] = get_args(NeedType)
#: the profile's named fields a rule or a breakdown may read, with their vocabularies (``None``: free text)
PROFILE_FIELDS: dict[str, tuple[str, ...] | None] = {
    "ownership": OWNERSHIPS,
    "business_nature": BUSINESS_NATURES,
    "location_type": LOCATION_TYPES,
    "need_type": NEED_TYPES,
    "group": None,
}
AttributeName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
AttributeValue = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class ProfileEvent(_Event):
    """What a customer or supplier is, not what it did: descriptive, not scored; the latest profile wins.

    A profile states the whole profile (a field it leaves out is unknown), and the
    one with the latest ``occurred_at`` (ties: the greater ``event_id``) is the
    entity's, whatever the arrival order. It is a lasting fact: never too old.
    ``group`` is the customer group (``customer.groups``) it belongs to, when the
    rules take groups from profiles (``customer.group_from``); ``share_of_wallet``
    the share of the customer's purchases in this category that it makes with us
    (0..1), read by the loyalty classification. ``attributes``: any other
    descriptive values (``region``, ``channel``...), at most 32.
    """

    type: Literal["profile"] = "profile"
    entity_type: EntityType
    entity_id: Identifier
    ownership: Ownership | None = None
    business_nature: BusinessNature | None = None
    location_type: LocationType | None = None
    need_type: NeedType | None = None
    group: Identifier | None = None
    share_of_wallet: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] | None = None
    attributes: Annotated[dict[AttributeName, AttributeValue], Field(max_length=32)] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _customer_facts(self) -> ProfileEvent:
        if self.entity_type != "customer":
            if self.group is not None:
                raise ValueError("group applies to customers (customer.groups), not suppliers")
            if self.share_of_wallet is not None:
                raise ValueError("share_of_wallet applies to customers, not suppliers")
        clash = sorted(set(self.attributes) & {*PROFILE_FIELDS, "share_of_wallet"})
        if clash:
            raise ValueError(f"attributes.{clash[0]}: a profile field of its own, not a free attribute")
        return self


InboundEvent = Annotated[
    OrderEvent | InvoiceEvent | PaymentEvent | DeliveryEvent | ReferralEvent | ServiceEvent | AssessmentEvent
    | ProfileEvent,
    Field(discriminator="type"),
]

#: Decodes any inbound event from JSON bytes (``INBOUND_ADAPTER.validate_json``).
INBOUND_ADAPTER: TypeAdapter[InboundEvent] = TypeAdapter(InboundEvent)

EVENT_TYPES: dict[str, type[_Event]] = {
    "order": OrderEvent,
    "invoice": InvoiceEvent,
    "payment": PaymentEvent,
    "delivery": DeliveryEvent,
    "referral": ReferralEvent,
    "service": ServiceEvent,
    "assessment": AssessmentEvent,
    "profile": ProfileEvent,
}

AnyEvent = (OrderEvent | InvoiceEvent | PaymentEvent | DeliveryEvent | ReferralEvent | ServiceEvent | AssessmentEvent
            | ProfileEvent)


#: event class -> (entity type, id attribute) pairs, the first set one wins (schemas.routing.ROUTES)
_ENTITY_IDS: dict[type[_Event], tuple[tuple[EntityType, str], ...]] = {
    EVENT_TYPES[event_type]: route.ids for event_type, route in ROUTES.items() if route.typed_by is None
}
#: event class -> (entity-type attribute, id attribute), for events that name their entity's type
_TYPED_BY: dict[type[_Event], tuple[str, str]] = {
    EVENT_TYPES[event_type]: route.typed_by for event_type, route in ROUTES.items() if route.typed_by is not None
}


def entity_of(event: AnyEvent) -> tuple[EntityType, str]:
    """Return the entity whose state an event updates (and so its Kafka key): see :data:`schemas.routing.ROUTES`.

    One lookup by class, not a chain of class patterns: this runs for every event.
    """
    kind = type(event)
    ids = _ENTITY_IDS.get(kind)
    if ids is not None:
        for entity_type, name in ids:
            eid = getattr(event, name)
            if eid is not None:
                return entity_type, eid
    typed = _TYPED_BY.get(kind)
    if typed is not None:
        return getattr(event, typed[0]), getattr(event, typed[1])
    raise TypeError(f"not an inbound event: {type(event).__name__}")
