"""Everything tierstream emits: tier changes, supplier alerts, snapshots, dead letters.

Every emitted message has a deterministic id derived from the entity and a
per-entity sequence number, so a redelivered input that is re-processed after
a crash produces the same id and consumers can drop the duplicate.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from tierstream.schemas.events import EntityType
from tierstream.schemas.notices import NoticeKind

__all__ = [
    "UNGRADED",
    "ActionName",
    "AssessmentKind",
    "AuditEntry",
    "DeadLetter",
    "Direction",
    "EntitySnapshot",
    "Language",
    "MessageCode",
    "NextTier",
    "NextTierCodes",
    "NoticeInForce",
    "OpenCase",
    "ReferralCredit",
    "SupplierAlert",
    "SupplierCase",
    "TierAction",
    "TierChange",
    "TierNotice",
    "WindowInfo",
]

_setattr = object.__setattr__

#: The tier published for an entity below its rules' ``min_evidence``: not a tier of the
#: rules (they may not use the name), never the lowest tier; ``ungraded_reason`` says why.
UNGRADED = "ungraded"

#: ``initial``: a first tier (from none, or from ``ungraded`` once the evidence suffices);
#: ``ungraded``: into ``ungraded`` (from none or from a tier), neither an upgrade nor a downgrade.
Direction = Literal["upgrade", "downgrade", "initial", "ungraded"]


#: The languages reasons and hints are worded in (those of the source articles).
Language = Literal["en", "zh", "es"]

#: A reason or hint as a message of the catalog (``scorers/messages``): ``{"id": ..., "params": {...}}``,
#: kept beside its words so that a reader renders it again in another language.
MessageCode = dict[str, Any]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def model_construct(cls, _fields_set: set[str] | None = None, **values: Any) -> Self:  # type: ignore[override]
        """pydantic's ``model_construct`` without its per-field loop, when every field is given.

        The engine builds every tier change, alert and snapshot this way (from its own
        typed values: validation is for input); pydantic's version, which also looks up
        aliases and defaults field by field, was a tenth of an offline run. The result is
        the same object (``tests/schemas/test_outputs.py`` compares the two for every model).
        The pydantic mypy plugin still checks every call's field names and types (it
        gives each model its own signature: hence the ``override`` ignore here).
        """
        fields = cls.__pydantic_fields__
        if _fields_set is not None or len(values) != len(fields):
            return super().model_construct(_fields_set, **values)
        try:
            ordered = {name: values[name] for name in fields}  # definition order, as pydantic's
        except KeyError:
            return super().model_construct(_fields_set, **values)
        m = cls.__new__(cls)
        _setattr(m, "__dict__", ordered)
        _setattr(m, "__pydantic_fields_set__", set(ordered))
        _setattr(m, "__pydantic_extra__", None)
        _setattr(m, "__pydantic_private__", None)
        return m


#: A name of an action: what a tier entitles or triggers (``discount``, ``block_new_purchase_orders``).
ActionName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class TierAction(_Out):
    """What a tier entitles or triggers, as the rules publish it, for downstream systems to act on.

    ``name`` is what a system matches on; ``value`` its parameter (a discount's
    rate, an order share); ``label`` the plain words. Well-known names:
    customers ``discount``, ``priority_service``, ``account_manager``,
    ``credit_terms_days``; suppliers ``order_share``, ``priority_orders``,
    ``warn_new_purchase_orders``, ``block_new_purchase_orders``. Any other name
    the rules give is carried as it is.
    """

    name: ActionName
    value: float | str | None = None
    label: str | None = Field(None, max_length=200)


class NextTier(_Out):
    """What it would take to reach the next tier up (published rules, plain words).

    When the current tier is kept only by hysteresis (the score is under its
    minimum), ``keep_gap`` and ``keep_hints`` say what gets the score back above
    that minimum; at the best tier, which has no tier up, ``tier`` is then the
    current one and ``score_gap``/``hints`` repeat them.
    """

    tier: str
    score_gap: float = Field(description="score points missing to the next tier's minimum")
    hints: list[str] = Field(
        default_factory=list,
        description='e.g. "3 more orders or 1,200 more revenue in the window"',
    )
    keep_gap: float | None = Field(
        None, description="score points missing to the current tier's own minimum, when only hysteresis holds it"
    )
    keep_hints: list[str] = Field(
        default_factory=list, description="what gets the score back above the current tier's minimum"
    )


class NextTierCodes(_Out):
    """A :class:`NextTier`'s hints as messages, to word them in another language."""

    hints: list[MessageCode] = Field(default_factory=list)
    keep_hints: list[MessageCode] = Field(default_factory=list)


class TierChange(_Out):
    """An entity moved tier (or got its first one, or became ``ungraded``)."""

    change_id: str = Field(description="deterministic: tc:<entity_type>:<entity_id>:<sequence>")
    entity_type: EntityType
    entity_id: str
    previous_tier: str | None
    tier: str
    direction: Direction
    score: float
    previous_score: float | None
    components: dict[str, float] = Field(description="dimension -> 0..100 score")
    reasons: list[str]
    rules_version: str
    occurred_at: AwareDatetime = Field(description="event time of the evaluation that moved the tier")
    cause: str = Field(description="event_id that triggered it, or 're-review'")
    next_tier: NextTier | None = None
    ungraded_reason: str | None = Field(
        None, description="why the tier is 'ungraded' (below the rules' min_evidence), e.g. 'no delivery "
        "in the 180-day window'; None when graded",
    )
    actions: list[TierAction] = Field(
        default_factory=list, description="what the new tier entitles or triggers (the rules' tier actions)"
    )
    reason_codes: list[MessageCode] = Field(
        default_factory=list, description="the reasons as messages, to word them in another language"
    )
    ungraded_reason_code: MessageCode | None = Field(None, description="the ungraded reason as a message")
    next_tier_codes: NextTierCodes | None = Field(None, description="the next tier's hints as messages")
    segment: str | None = Field(None, description="customers: the RFM segment at the change, as on the snapshot; "
                                "None: a supplier, or no order yet")
    loyalty: str | None = Field(None, description="customers: loyal, potentially_loyal or disloyal at the change, as "
                                "on the snapshot; None: a supplier, no order yet, or no loyalty rules")
    group: str | None = Field(None, description="the customer group it is graded in, as on the snapshot")
    profile: dict[str, Any] | None = Field(None, description="the latest profile at the change, as on the snapshot "
                                           "(the fields it states); None: no profile")


class SupplierAlert(_Out):
    """Procurement must hear at once when a supplier is downgraded."""

    alert_id: str
    supplier_id: str
    previous_tier: str | None
    tier: str
    severity: Literal["warning", "critical"]
    score: float
    reasons: list[str]
    occurred_at: AwareDatetime
    change_id: str
    reason_codes: list[MessageCode] = Field(default_factory=list, description="the reasons as messages")


class TierNotice(_Out):
    """An early warning: a tier at risk, a supplier on watch, a customer approaching a tier, an assessment expiring.

    Sent once when its condition starts (``approaching`` at most once per
    cool-down), never repeated while it holds; ``refers_to`` is the date it is
    about and ``hints`` what it would take.
    """

    notice_id: str = Field(description="deterministic: tn:<entity_type>:<entity_id>:<kind>:<n>, n-th of its kind")
    kind: NoticeKind
    entity_type: EntityType
    entity_id: str
    tier: str = Field(description="the tier the entity holds now")
    score: float
    target_tier: str | None = Field(
        None, description="at_risk, supplier_watch: the tier the score alone gives (where it lapses to); "
        "approaching: the tier within reach; assessment_expiring: the tier the score gives without it",
    )
    refers_to: str = Field(
        description="YYYY-MM-DD: at_risk and supplier_watch, the day the tier lapses if the score stays "
        "where it is; approaching, the day of the notice; assessment_expiring, the day it expires",
    )
    gap: float | None = Field(None, description="score points to the held tier's minimum, or to the next tier's")
    hints: list[str] = Field(default_factory=list, description="what keeps the tier, or reaches the next one")
    message: str
    rules_version: str
    occurred_at: AwareDatetime = Field(description="event time of the evaluation that raised it")
    cause: str = Field(description="event_id that triggered it, or 're-review'")
    message_code: MessageCode | None = Field(None, description="the message as a message, to word it in another "
                                             "language")
    hint_codes: list[MessageCode] = Field(default_factory=list, description="the hints as messages")


class SupplierCase(_Out):
    """A rectification case of a supplier fallen to the lowest tier: opened, then closed or escalated at its deadline.

    ``status`` ``opened`` asks the supplier to rectify by ``deadline``; at the
    deadline it is re-assessed: back above the lowest tier ``closed``, else
    ``escalated`` with a phase-out recommendation. ``components`` is the
    supplier's scorecard at that moment.
    """

    event_id: str = Field(description="deterministic: sc:<supplier_id>:<n>:<status>")
    case_id: str = Field(description="sc:<supplier_id>:<n>, the supplier's n-th case")
    status: Literal["opened", "closed", "escalated"]
    recommendation: Literal["rectify", "phase_out", "none"]
    supplier_id: str
    tier: str
    score: float
    components: dict[str, float] = Field(description="the scorecard: dimension -> 0..100")
    reasons: list[str]
    opened_at: AwareDatetime
    deadline: AwareDatetime
    rules_version: str
    occurred_at: AwareDatetime = Field(description="event time: the downgrade, or the deadline")
    cause: str = Field(description="event_id that triggered it, or 're-review'")


class NoticeInForce(_Out):
    """An early warning sent and still in force: its condition held when the entity was last graded.

    A notice is sent once while its condition holds; the state remembers which
    hold, so a snapshot shows what was announced and is not over yet.
    """

    kind: NoticeKind
    tier: str | None = Field(None, description="at_risk, supplier_watch: the tier hysteresis keeps")
    target_tier: str | None = Field(
        None, description="supplier_watch: the tier the score alone gives; approaching: the tier within reach"
    )
    assessment_id: str | None = Field(None, description="assessment_expiring: the event id of the assessment")
    expires_at: AwareDatetime | None = Field(None, description="assessment_expiring: when the assessment expires")


class OpenCase(_Out):
    """A supplier's rectification case still open: re-assessed at its deadline (see :class:`SupplierCase`)."""

    case_id: str = Field(description="sc:<supplier_id>:<n>, the supplier's n-th case")
    opened_at: AwareDatetime
    deadline: AwareDatetime


class WindowInfo(_Out):
    days: int
    start: str = Field(description="first day in the window (YYYY-MM-DD)")
    end: str = Field(description="as-of day (YYYY-MM-DD)")


class EntitySnapshot(_Out):
    """One entity's graded state as of an instant: a line of STATE.jsonl."""

    entity_type: EntityType
    entity_id: str
    tier: str
    score: float
    segment: str | None = None
    loyalty: str | None = Field(
        None, description="customers: loyal, potentially_loyal or disloyal (customer.loyalty); None: no order "
        "yet, or no loyalty rules",
    )
    group: str | None = None
    profile: dict[str, Any] | None = Field(
        None, description="the latest profile: ownership, business_nature, location_type, need_type, group, "
        "share_of_wallet, attributes (the fields it states); None: no profile",
    )
    components: dict[str, float]
    aggregates: dict[str, Any]
    window: WindowInfo
    next_tier: NextTier | None
    as_of: AwareDatetime
    rules_version: str
    ungraded_reason: str | None = Field(
        None, description="why the tier is 'ungraded' (below the rules' min_evidence); None when graded"
    )
    actions: list[TierAction] = Field(
        default_factory=list, description="what the tier entitles or triggers (the rules' tier actions)"
    )
    # History, kept apart from the dump: ``model_dump()`` of a snapshot is a function of the set
    # of events (any arrival order gives the same, tested); what was announced or opened depends
    # on the order the entity's events were graded in, as its tier changes do. A snapshot line
    # (:meth:`line`) has both.
    notices: list[NoticeInForce] = Field(
        default_factory=list, exclude=True, description="history: the early warnings sent and still in force "
        "when the entity was last graded (at its latest event or review)",
    )
    open_case: OpenCase | None = Field(
        None, exclude=True, description="history, suppliers: the rectification case open when last graded"
    )
    # Kept on the object to word it again (``scorers.wording.reworded``), not in its JSON: a
    # snapshot line keeps its documented keys.
    ungraded_reason_code: MessageCode | None = Field(None, exclude=True)
    next_tier_codes: NextTierCodes | None = Field(None, exclude=True)

    def line(self) -> dict[str, Any]:
        """Return the snapshot as a line of STATE.jsonl: its dump, then its history (``notices``, ``open_case``)."""
        doc = self.model_dump(mode="json")
        doc["notices"] = [n.model_dump(mode="json") for n in self.notices]
        doc["open_case"] = None if self.open_case is None else self.open_case.model_dump(mode="json")
        return doc


class ReferralCredit(_Out):
    """Internal: the referred customer bought, so the referrer earns a qualified referral.

    Re-keyed by ``referrer_id`` through its own topic; ``credit_id`` is
    deterministic so the referrer counts it once however often it arrives.
    ``revoke`` takes back an earlier credit: when an earlier referral or an
    earlier first order arrives late, the credit moves to the right referrer and
    day, so who is credited does not depend on arrival order.
    """

    type: Literal["referral_credit"] = "referral_credit"
    credit_id: str
    revoke: bool = False
    referrer_id: str
    referred_id: str
    occurred_at: AwareDatetime


class DeadLetter(_Out):
    """An input that could not be processed, with everything needed to replay it."""

    source_topic: str
    partition: int
    offset: int
    key: str | None
    value: str = Field(description="original bytes, decoded as UTF-8 with replacement if invalid")
    value_b64: str | None = Field(None, description="original bytes base64, when not valid UTF-8")
    error: str
    reason: str = Field(description="short machine-readable class: invalid_json, invalid_event, ...")
    received_at: datetime


#: What a manual assessment judges: a newcomer's prospect score or a tier override.
AssessmentKind = Literal["prospect_score", "tier_override", "dimension"]


class AuditEntry(_Out):
    """One manual assessment as the audit trail keeps it: who, why, when, until when, and whether it applied.

    ``status`` is ``accepted`` when the grader took it into the entity's state, else
    ``refused: <why>`` (a tier the entity's rules do not have, a time too far ahead).
    Deterministic (no wall clock): a record sent again is the same bytes.
    """

    type: Literal["audit"] = "audit"
    event_id: str
    entity_type: EntityType
    entity_id: str
    kind: AssessmentKind
    value: float | str = Field(description="the prospect score, the tier an override names, or a dimension's score")
    dimension: str | None = Field(None, description="the qualitative dimension a dimension assessment scores")
    author: str
    reason: str
    occurred_at: AwareDatetime
    expires_at: AwareDatetime
    status: str = Field(description="'accepted', or 'refused: <why>'")
