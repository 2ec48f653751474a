"""Valid inbound events: each type validates, keeps its offsets as instants, and is frozen."""

from __future__ import annotations

import orjson
import pytest
from pydantic import ValidationError

from tests.schemas.helpers import ENTITY, MODEL, VALID, ev
from tierstream.schemas.events import EVENT_TYPES, INBOUND_ADAPTER, AssessmentEvent, entity_of


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


def test_assessment_prospect_for_a_supplier_is_accepted() -> None:
    event = INBOUND_ADAPTER.validate_json(orjson.dumps(ev("assessment", entity_type="supplier")))
    assert isinstance(event, AssessmentEvent) and event.entity_type == "supplier" and event.prospect_score == 62.5


def test_dimension_assessment_of_a_supplier_is_accepted() -> None:
    raw = ev("assessment", entity_type="supplier", prospect_score=..., dimension="market_reputation", score=80)
    event = INBOUND_ADAPTER.validate_json(orjson.dumps(raw))
    assert isinstance(event, AssessmentEvent)
    assert (event.dimension, event.score, event.prospect_score) == ("market_reputation", 80.0, None)
