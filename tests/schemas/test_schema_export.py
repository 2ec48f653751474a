"""The exported JSON Schemas: one per message, and they agree with the models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from tests.schemas.helpers import VALID, ev
from tierstream.schemas.events import EVENT_TYPES, INBOUND_ADAPTER
from tierstream.schemas.rules import load_rules
from tierstream.streams.cli.main import main

try:
    import jsonschema
except ImportError:  # pragma: no cover - jsonschema is optional
    jsonschema = None


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
        "tier_change", "supplier_alert", "tier_notice", "supplier_case", "entity_snapshot", "referral_credit",
        "dead_letter", "audit_entry", "rules",
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
