"""Export the JSON Schema of every message: generated from the models, never hand-written."""

from __future__ import annotations

from pathlib import Path

import orjson
from pydantic import BaseModel

from tierstream.schemas.events import EVENT_TYPES, INBOUND_ADAPTER
from tierstream.schemas.outputs import (
    AuditEntry,
    DeadLetter,
    EntitySnapshot,
    ReferralCredit,
    SupplierAlert,
    SupplierCase,
    TierChange,
    TierNotice,
)
from tierstream.schemas.rules import Rules

OUTPUTS: dict[str, type[BaseModel]] = {
    "tier_change": TierChange,
    "supplier_alert": SupplierAlert,
    "tier_notice": TierNotice,
    "supplier_case": SupplierCase,
    "entity_snapshot": EntitySnapshot,
    "referral_credit": ReferralCredit,
    "dead_letter": DeadLetter,
    "audit_entry": AuditEntry,
    "rules": Rules,
}


def all_schemas() -> dict[str, dict[str, object]]:
    schemas: dict[str, dict[str, object]] = {"inbound_event": INBOUND_ADAPTER.json_schema()}
    for name, event_model in EVENT_TYPES.items():
        schemas[f"{name}_event"] = event_model.model_json_schema()
    for name, model in OUTPUTS.items():
        schemas[name] = model.model_json_schema()
    return schemas


def export_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in all_schemas().items():
        path = directory / f"{name}.schema.json"
        path.write_bytes(orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
        written.append(path)
    return written
