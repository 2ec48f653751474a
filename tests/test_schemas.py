"""Inbound event validation, rules validation and the exported JSON Schemas."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from click.testing import CliRunner
from pydantic import BaseModel, ValidationError

from tierstream.schemas.errors import RulesError, describe, error_kind
from tierstream.schemas.events import (
    EVENT_TYPES,
    INBOUND_ADAPTER,
    AssessmentEvent,
    DeliveryEvent,
    OrderEvent,
    PaymentEvent,
    ReferralEvent,
    ServiceEvent,
    entity_of,
)
from tierstream.schemas.outputs import EntitySnapshot, NextTier, ReferralCredit, SupplierAlert, TierChange, WindowInfo
from tierstream.schemas.rules import load_rules, parse_rules
from tierstream.streams.cli.main import main

try:
    import jsonschema
except ImportError:  # pragma: no cover - jsonschema is optional
    jsonschema = None

# --------------------------------------------------------------------------- helpers

AT = "2025-03-01T10:00:00Z"

VALID: dict[str, dict[str, Any]] = {
    "order": {
        "type": "order", "event_id": "e1", "occurred_at": AT, "order_id": "o1",
        "customer_id": "c1", "amount": 120.5, "cost": 80.0, "currency": "CNY",
        "customer_group": "wholesale",
    },
    "purchase": {
        "type": "order", "event_id": "e2", "occurred_at": "2025-03-01T18:00:00+08:00",
        "order_id": "p1", "supplier_id": "s1", "amount": 990.0, "market_amount": 1000.0,
    },
    "payment": {
        "type": "payment", "event_id": "e3", "occurred_at": AT, "customer_id": "c1",
        "invoice_id": "i1", "amount": 120.5, "due_at": "2025-03-15T00:00:00Z",
    },
    "delivery": {
        "type": "delivery", "event_id": "e4", "occurred_at": AT, "supplier_id": "s1",
        "order_id": "p1", "promised_at": "2025-03-02T00:00:00Z", "quantity_ordered": 100,
        "quantity_delivered": 98, "quantity_accepted": 97,
    },
    "referral": {
        "type": "referral", "event_id": "e5", "occurred_at": AT, "referrer_id": "c1",
        "referred_id": "c2",
    },
    "service": {
        "type": "service", "event_id": "e6", "occurred_at": AT, "supplier_id": "s1",
        "ticket_id": "t1", "first_response_at": "2025-03-01T14:30:00Z",
    },
    "assessment": {
        "type": "assessment", "event_id": "e7", "occurred_at": AT, "entity_type": "customer",
        "entity_id": "c9", "prospect_score": 62.5, "reason": "trade show lead",
        "expires_at": "2025-06-01T00:00:00Z", "author": "li.wei",
    },
    "override": {
        "type": "assessment", "event_id": "e8", "occurred_at": AT, "entity_type": "supplier",
        "entity_id": "s1", "tier_override": "unqualified", "reason": "quality incident",
        "expires_at": "2025-04-01T00:00:00Z", "author": "m.garcia",
    },
}

MODEL = {
    "order": OrderEvent, "purchase": OrderEvent, "payment": PaymentEvent,
    "delivery": DeliveryEvent, "referral": ReferralEvent, "service": ServiceEvent,
    "assessment": AssessmentEvent, "override": AssessmentEvent,
}

ENTITY = {
    "order": ("customer", "c1"), "purchase": ("supplier", "s1"), "payment": ("customer", "c1"),
    "delivery": ("supplier", "s1"), "referral": ("customer", "c2"), "service": ("supplier", "s1"),
    "assessment": ("customer", "c9"), "override": ("supplier", "s1"),
}


def ev(kind: str, **changes: Any) -> dict[str, Any]:
    """A valid event of ``kind`` with ``changes`` applied (a value of ``...`` drops the field)."""
    doc = copy.deepcopy(VALID[kind])
    for key, value in changes.items():
        if value is ...:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc


def error_of(raw: bytes | dict[str, Any]) -> str:
    data = raw if isinstance(raw, bytes) else orjson.dumps(raw)
    with pytest.raises(ValidationError) as info:
        INBOUND_ADAPTER.validate_json(data)
    return describe(info.value)


# --------------------------------------------------------------------------- valid events


@pytest.mark.parametrize("kind", sorted(VALID))
def test_each_event_type_validates(kind: str) -> None:
    event = INBOUND_ADAPTER.validate_json(orjson.dumps(VALID[kind]))
    assert type(event) is MODEL[kind]
    assert event.occurred_at.tzinfo is not None
    assert entity_of(event) == ENTITY[kind]
    # the wire format round-trips
    assert INBOUND_ADAPTER.validate_json(event.model_dump_json()) == event


def test_event_types_cover_the_discriminator() -> None:
    assert set(EVENT_TYPES) == {doc["type"] for doc in VALID.values()}


def test_offsets_are_kept_as_instants() -> None:
    event = INBOUND_ADAPTER.validate_json(orjson.dumps(VALID["purchase"]))
    assert event.occurred_at.isoformat() == "2025-03-01T18:00:00+08:00"
    assert int(event.occurred_at.timestamp()) == 1740823200  # 10:00 UTC


def test_events_are_frozen() -> None:
    event = INBOUND_ADAPTER.validate_json(orjson.dumps(VALID["order"]))
    with pytest.raises(ValidationError):
        event.amount = 1.0  # type: ignore[misc,union-attr]


# --------------------------------------------------------------------------- invalid events


def test_negative_amount_names_field_and_value() -> None:
    msg = error_of(ev("order", amount=-5))
    assert msg.startswith("order.amount:")
    assert "greater than or equal to 0" in msg
    assert "(got -5)" in msg


@pytest.mark.parametrize("value", ["NaN", "nan", "Infinity"])
def test_nan_string_is_refused(value: str) -> None:
    msg = error_of(ev("order", amount=value))
    assert msg.startswith("order.amount:")
    assert repr(value) in msg  # strict mode: no string -> number coercion


@pytest.mark.parametrize(("literal", "shown"), [(b"NaN", "nan"), (b"Infinity", "inf"), (b"-Infinity", "-inf")])
def test_nan_and_infinity_literals_are_refused(literal: bytes, shown: str) -> None:
    raw = orjson.dumps(ev("order", amount=123.25)).replace(b"123.25", literal)
    msg = error_of(raw)
    assert msg.startswith("order.amount:")
    assert f"(got {shown})" in msg


def test_overflowing_number_is_refused() -> None:
    raw = orjson.dumps(ev("order", amount=123.25)).replace(b"123.25", b"1e400")
    assert error_of(raw).startswith("order.amount:")


def test_number_as_string_is_refused() -> None:
    msg = error_of(ev("delivery", quantity_delivered="98"))
    assert msg.startswith("delivery.quantity_delivered:")
    assert "'98'" in msg


def test_naive_timestamp_is_refused() -> None:
    msg = error_of(ev("payment", occurred_at="2025-03-01T10:00:00"))
    assert msg.startswith("payment.occurred_at:")
    assert "timezone" in msg
    assert "'2025-03-01T10:00:00'" in msg


def test_naive_nested_timestamp_is_refused() -> None:
    msg = error_of(ev("payment", due_at="2025-03-15T00:00:00"))
    assert msg.startswith("payment.due_at:")
    assert "'2025-03-15T00:00:00'" in msg


@pytest.mark.parametrize("value", ["2026-02-30T10:00:00Z", "yesterday", "1970-01-01T00:00:00Z"])
def test_impossible_or_implausible_dates_are_refused(value: str) -> None:
    msg = error_of(ev("order", occurred_at=value))
    assert msg.startswith("order.occurred_at:")
    assert repr(value) in msg or "1970" in msg


@pytest.mark.parametrize(
    ("kind", "field"),
    [("order", "order_id"), ("order", "amount"), ("payment", "invoice_id"), ("delivery", "promised_at"),
     ("service", "ticket_id"), ("assessment", "author"), ("referral", "event_id")],
)
def test_missing_field_is_named(kind: str, field: str) -> None:
    msg = error_of(ev(kind, **{field: ...}))
    assert msg == f"{VALID[kind]['type']}.{field}: Field required"


def test_missing_field_kind() -> None:
    with pytest.raises(ValidationError) as info:
        INBOUND_ADAPTER.validate_json(orjson.dumps(ev("order", order_id=...)))
    assert error_kind(info.value) == "missing_field"


@pytest.mark.parametrize("value", ["refund", "Order", ""])
def test_unknown_type_is_named(value: str) -> None:
    with pytest.raises(ValidationError) as info:
        INBOUND_ADAPTER.validate_json(orjson.dumps(ev("order", type=value)))
    msg = describe(info.value)
    assert "type" in msg
    assert repr(value) in msg
    assert error_kind(info.value) == "unknown_type"


def test_missing_type_is_refused() -> None:
    msg = error_of(ev("order", type=...))
    assert "'type'" in msg


def test_extra_field_is_named() -> None:
    msg = error_of(ev("order", discount=5))
    assert msg.startswith("order.discount:")
    assert "Extra inputs are not permitted" in msg
    assert "(got 5)" in msg


def test_self_referral_names_the_id() -> None:
    msg = error_of(ev("referral", referred_id="c1"))
    assert msg.startswith("referral:")
    assert "self-referral" in msg
    assert "referrer_id" in msg and "referred_id" in msg
    assert "'c1'" in msg


def test_accepted_above_delivered_names_both_values() -> None:
    msg = error_of(ev("delivery", quantity_accepted=99))
    assert msg.startswith("delivery:")
    assert "quantity_accepted (99) exceeds quantity_delivered (98)" in msg


def test_both_counterparties_are_refused() -> None:
    msg = error_of(ev("order", supplier_id="s1"))
    assert msg.startswith("order:")
    assert "customer_id" in msg and "supplier_id" in msg
    assert "exactly one" in msg


def test_no_counterparty_is_refused() -> None:
    msg = error_of(ev("order", customer_id=...))
    assert "exactly one of customer_id" in msg


def test_cost_on_a_purchase_is_refused() -> None:
    assert "cost applies to sales" in error_of(ev("purchase", cost=5.0))


def test_first_response_before_opening_names_both_instants() -> None:
    msg = error_of(ev("service", first_response_at="2025-03-01T09:00:00Z"))
    assert msg.startswith("service:")
    assert "first_response_at 2025-03-01T09:00:00+00:00" in msg
    assert "occurred_at 2025-03-01T10:00:00+00:00" in msg


def test_assessment_without_reason() -> None:
    assert error_of(ev("assessment", reason=...)) == "assessment.reason: Field required"
    msg = error_of(ev("assessment", reason=""))
    assert msg.startswith("assessment.reason:")
    assert "(got '')" in msg


def test_assessment_with_both_judgements() -> None:
    msg = error_of(ev("assessment", tier_override="key"))
    assert msg.startswith("assessment:")
    assert "exactly one of prospect_score or tier_override" in msg


def test_assessment_with_neither_judgement() -> None:
    assert "exactly one of prospect_score or tier_override" in error_of(ev("assessment", prospect_score=...))


def test_assessment_prospect_for_a_supplier_is_refused() -> None:
    assert "customers only" in error_of(ev("assessment", entity_type="supplier"))


def test_assessment_expiring_before_it_starts_is_refused() -> None:
    assert "expires_at must be after occurred_at" in error_of(ev("override", expires_at=AT))


def test_prospect_score_out_of_range() -> None:
    msg = error_of(ev("assessment", prospect_score=101))
    assert msg.startswith("assessment.prospect_score:")
    assert "(got 101)" in msg


@pytest.mark.parametrize("value", ["", " ", " c1", "c1 ", "c1\n", "\x00c1", "c\n1"])
def test_blank_or_padded_identifiers_are_refused(value: str) -> None:
    msg = error_of(ev("payment", customer_id=value))
    assert msg.startswith("payment.customer_id:")


@pytest.mark.parametrize("value", ["c\x001", "c\x1b[31m1", "c\x7f1"])
def test_identifiers_with_embedded_control_characters_are_refused(value: str) -> None:
    error_of(ev("payment", customer_id=value))


def test_long_values_are_shortened_in_messages() -> None:
    msg = error_of(ev("order", customer_id="x" * 500))
    assert msg.startswith("order.customer_id:")
    assert "..." in msg
    assert len(msg) < 200


def test_several_errors_are_all_reported() -> None:
    msg = error_of(ev("order", amount=-1, currency="cny"))
    assert "order.amount:" in msg and "order.currency:" in msg
    assert "; " in msg


def test_not_json_is_invalid_json() -> None:
    with pytest.raises(ValidationError) as info:
        INBOUND_ADAPTER.validate_json(b'{"type": "order", "amount": ')
    assert error_kind(info.value) == "invalid_json"


# --------------------------------------------------------------------------- rules


def _default_doc() -> dict[str, Any]:
    text = resources.files("tierstream.schemas").joinpath("default_rules.yaml").read_text("utf-8")
    doc = yaml.safe_load(text)
    assert isinstance(doc, dict)
    return doc


def _refused(doc: dict[str, Any]) -> str:
    with pytest.raises(RulesError) as info:
        parse_rules(yaml.safe_dump(doc), "variant.yaml")
    msg = str(info.value)
    assert msg.startswith("variant.yaml: ")
    return msg


def test_default_rules_load() -> None:
    rules = load_rules()
    assert rules.version
    assert rules.customer.tier_names() == ["key", "general", "potential"]
    assert rules.supplier.tier_names() == ["excellent", "good", "qualified", "unqualified"]
    for er in (rules.customer, rules.supplier):
        assert abs(sum(d.weight for d in er.dimensions.values()) - 1) < 1e-9
        assert er.tiers[-1].min_score == 0
    assert rules.customer.tiers_for("wholesale")[0].min_score == 75
    assert rules.customer.tiers_for(None) == rules.customer.tiers
    # the default text re-parses to the same rules
    assert parse_rules(yaml.safe_dump(_default_doc())) == rules


def test_weights_not_summing_to_one() -> None:
    doc = _default_doc()
    doc["customer"]["dimensions"]["recency"]["weight"] = 0.3
    msg = _refused(doc)
    assert "customer: dimension weights must sum to 1, they sum to 1.1" in msg
    assert "recency=0.3" in msg


def test_unknown_metric() -> None:
    doc = _default_doc()
    doc["supplier"]["dimensions"]["quality"]["metric"] = "quality"
    msg = _refused(doc)
    assert "supplier.dimensions.quality: unknown metric 'quality'" in msg
    assert "quality_pass_rate" in msg  # the known ones are listed


def test_overlapping_tiers() -> None:
    doc = _default_doc()
    doc["customer"]["tiers"][1]["min_score"] = 70
    msg = _refused(doc)
    assert "customer.tiers: tiers overlap" in msg
    assert "[70.0, 70.0, 0.0]" in msg


def test_overlapping_group_tiers() -> None:
    doc = _default_doc()
    doc["customer"]["groups"]["wholesale"]["tiers"][0]["min_score"] = 45
    assert "customer.groups.wholesale.tiers: tiers overlap" in _refused(doc)


def test_lowest_tier_not_zero() -> None:
    doc = _default_doc()
    doc["supplier"]["tiers"][-1]["min_score"] = 10
    assert "supplier.tiers: the lowest tier must have min_score 0" in _refused(doc)


def test_tiers_out_of_order() -> None:
    doc = _default_doc()
    doc["customer"]["tiers"].reverse()
    assert "customer.tiers: list tiers from best to worst" in _refused(doc)


def test_duplicate_tier_names() -> None:
    doc = _default_doc()
    doc["customer"]["tiers"][1]["name"] = "key"
    assert "customer.tiers: tier names must be unique" in _refused(doc)


@pytest.mark.parametrize("scale", [[[0, 100], [30, 85], [30, 60]], [[0, 100], [30, 85], [20, 60]]])
def test_non_increasing_scale(scale: list[list[float]]) -> None:
    doc = _default_doc()
    doc["customer"]["dimensions"]["recency"]["scale"] = scale
    msg = _refused(doc)
    assert "customer.dimensions.recency" in msg
    assert "strictly increasing" in msg


def test_scale_score_out_of_range() -> None:
    doc = _default_doc()
    doc["supplier"]["dimensions"]["price"]["scale"] = [[0.85, 120], [1.25, 0]]
    msg = _refused(doc)
    assert "supplier.dimensions.price" in msg and "120" in msg


def test_unknown_rules_key() -> None:
    doc = _default_doc()
    doc["customer"]["windows_days"] = 30
    assert "customer.windows_days" in _refused(doc)


def test_rules_not_yaml_or_not_a_mapping() -> None:
    with pytest.raises(RulesError, match=r"^bad\.yaml: not valid YAML"):
        parse_rules("customer: [", "bad.yaml")
    with pytest.raises(RulesError, match=r"^bad\.yaml: expected a mapping at the top level, got list"):
        parse_rules("- 1\n", "bad.yaml")


def test_unreadable_rules_file(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="cannot read rules file"):
        load_rules(tmp_path / "missing.yaml")


# --------------------------------------------------------------------------- schema export


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("schemas")
    result = CliRunner().invoke(main, ["schema", "export", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _schema(directory: Path, name: str) -> dict[str, Any]:
    doc = json.loads((directory / f"{name}.schema.json").read_text("utf-8"))
    assert isinstance(doc, dict)
    return doc


def test_schema_export_writes_one_schema_per_message(exported: Path) -> None:
    names = {p.name.removesuffix(".schema.json") for p in exported.glob("*.schema.json")}
    expected = {"inbound_event"} | {f"{t}_event" for t in EVENT_TYPES} | {
        "tier_change", "supplier_alert", "entity_snapshot", "referral_credit", "dead_letter", "rules",
    }
    assert names == expected
    for name in names:
        doc = _schema(exported, name)
        assert doc.get("type") == "object" or "oneOf" in doc


def test_inbound_schema_discriminates_on_type(exported: Path) -> None:
    doc = _schema(exported, "inbound_event")
    assert doc["discriminator"]["propertyName"] == "type"
    mapping = doc["discriminator"]["mapping"]
    assert set(mapping) == set(EVENT_TYPES)
    defs = doc["$defs"]
    for tag, ref in mapping.items():
        model = defs[ref.rsplit("/", 1)[-1]]
        assert model["properties"]["type"]["const"] == tag
        assert model["additionalProperties"] is False
        assert {"event_id", "occurred_at"} <= set(model["required"])
    assert {"order_id", "amount"} <= set(defs["OrderEvent"]["required"])
    assert {"reason", "expires_at", "author"} <= set(defs["AssessmentEvent"]["required"])


@pytest.mark.skipif(jsonschema is None, reason="jsonschema is not installed")
@pytest.mark.parametrize("kind", sorted(VALID))
def test_inbound_schema_validates_sample_events(exported: Path, kind: str) -> None:
    validator = jsonschema.Draft202012Validator(_schema(exported, "inbound_event"))
    validator.validate(VALID[kind])
    per_type = jsonschema.Draft202012Validator(_schema(exported, f"{VALID[kind]['type']}_event"))
    per_type.validate(VALID[kind])


@pytest.mark.skipif(jsonschema is None, reason="jsonschema is not installed")
@pytest.mark.parametrize(
    "bad",
    [ev("order", amount=-5), ev("order", type="refund"), ev("order", discount=1),
     ev("payment", invoice_id=...), ev("assessment", reason="")],
    ids=["negative", "unknown-type", "extra-field", "missing-field", "empty-reason"],
)
def test_inbound_schema_refuses_field_level_errors(exported: Path, bad: dict[str, Any]) -> None:
    validator = jsonschema.Draft202012Validator(_schema(exported, "inbound_event"))
    assert not validator.is_valid(bad)


@pytest.mark.skipif(jsonschema is None, reason="jsonschema is not installed")
def test_inbound_schema_requires_type(exported: Path) -> None:
    no_type = ev("order", type=...)
    with pytest.raises(ValidationError):
        INBOUND_ADAPTER.validate_json(orjson.dumps(no_type))
    doc = _schema(exported, "inbound_event")
    assert "type" in doc["$defs"]["OrderEvent"]["required"]
    assert not jsonschema.Draft202012Validator(doc).is_valid(no_type)


@pytest.mark.skipif(jsonschema is None, reason="jsonschema is not installed")
def test_snapshot_schema_validates_a_snapshot(exported: Path) -> None:
    from tierstream.scorers.engine import Grader

    grader = Grader(load_rules())
    event = INBOUND_ADAPTER.validate_json(orjson.dumps(VALID["order"]))
    state, out = grader.apply(None, event)
    snap = grader.snapshot(state, state.clock).model_dump(mode="json")
    jsonschema.Draft202012Validator(_schema(exported, "entity_snapshot")).validate(snap)
    change = out.changes[0].model_dump(mode="json")
    jsonschema.Draft202012Validator(_schema(exported, "tier_change")).validate(change)


# --------------------------------------------------------------------------- output construction


def _output_samples() -> list[tuple[type[BaseModel], dict[str, Any]]]:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    nxt: dict[str, Any] = {"tier": "key", "score_gap": 3.5, "hints": ["2 more orders in the window"]}
    return [
        (NextTier, nxt),
        (TierChange, {
            "change_id": "tc:customer:c1:2", "entity_type": "customer", "entity_id": "c1", "previous_tier": "potential",
            "tier": "general", "direction": "upgrade", "score": 41.5, "previous_score": 30.0,
            "components": {"recency": 85.0}, "reasons": ["score 41.5 reached general (minimum 40)"],
            "rules_version": "v1", "occurred_at": when, "cause": "e1", "next_tier": NextTier.model_construct(**nxt)}),
        (SupplierAlert, {
            "alert_id": "sa:s1:3", "supplier_id": "s1", "previous_tier": "good", "tier": "qualified",
            "severity": "warning", "score": 60.0, "reasons": ["score 60.0 fell below what good requires"],
            "occurred_at": when, "change_id": "tc:supplier:s1:3"}),
        (WindowInfo, {"days": 365, "start": "2025-01-03", "end": "2026-01-02"}),
        (EntitySnapshot, {
            "entity_type": "supplier", "entity_id": "s1", "tier": "good", "score": 72.0, "segment": None,
            "group": None, "components": {"quality": 70.0}, "aggregates": {"deliveries": 4},
            "window": WindowInfo.model_construct(days=180, start="2025-07-06", end="2026-01-02"),
            "next_tier": None, "as_of": when, "rules_version": "v1"}),
        (ReferralCredit, {"type": "referral_credit", "credit_id": "rc:c1:c2:5", "revoke": False,
                          "referrer_id": "c1", "referred_id": "c2", "occurred_at": when}),
    ]


@pytest.mark.parametrize("model, values", _output_samples(), ids=lambda v: getattr(v, "__name__", ""))
def test_fast_construction_is_pydantics_model_construct(model: type[BaseModel], values: dict[str, Any]) -> None:
    """Every field given in any order: the same object as pydantic's own construct and as validation."""
    shuffled = dict(reversed(list(values.items())))
    fast = model.model_construct(**shuffled)
    slow = BaseModel.model_construct.__func__(model, **shuffled)  # type: ignore[attr-defined]
    assert fast == slow == model.model_validate(values)
    assert fast.model_dump_json() == slow.model_dump_json() == model.model_validate(values).model_dump_json()
    assert fast.model_fields_set == slow.model_fields_set
    assert list(fast.__dict__) == list(model.model_fields)  # definition order, as pydantic builds it
    partial = dict(list(values.items())[:-1])  # a field missing: pydantic's own path (defaults)
    assert model.model_construct(**partial).model_fields_set == set(partial)
