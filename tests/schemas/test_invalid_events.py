"""Invalid inbound events: each is refused with a message naming the field and the value."""

from __future__ import annotations

import orjson
import pytest
from pydantic import ValidationError

from tests.schemas.helpers import AT, VALID, error_of, ev
from tierstream.schemas.errors import describe, error_kind
from tierstream.schemas.events import INBOUND_ADAPTER


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


@pytest.mark.parametrize("value", ["2026-02-30T10:00:00Z", "yesterday", "0050-01-01T00:00:00Z"])
def test_impossible_or_unrepresentable_dates_are_refused(value: str) -> None:
    msg = error_of(ev("order", occurred_at=value))
    assert msg.startswith("order.occurred_at:")
    assert repr(value) in msg or "0050" in msg


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
    assert "exactly one of prospect_score, tier_override or dimension" in msg


def test_assessment_with_neither_judgement() -> None:
    assert "exactly one of prospect_score, tier_override or dimension" in error_of(ev("assessment", prospect_score=...))


def test_dimension_assessment_with_a_prospect_score_too() -> None:
    msg = error_of(ev("assessment", dimension="market_reputation", score=80))
    assert "exactly one of prospect_score, tier_override or dimension" in msg


@pytest.mark.parametrize("changes", [{"dimension": "market_reputation"}, {"score": 80}])
def test_dimension_and_score_go_together(changes: dict[str, object]) -> None:
    msg = error_of(ev("assessment", prospect_score=..., **changes))
    assert "score goes with dimension" in msg or "exactly one of" in msg
    if "dimension" in changes:
        assert "score goes with dimension" in msg


def test_dimension_score_out_of_range() -> None:
    msg = error_of(ev("assessment", prospect_score=..., dimension="market_reputation", score=101))
    assert msg.startswith("assessment.score:")


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
