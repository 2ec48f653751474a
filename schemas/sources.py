"""Sources: the upstream topics tierstream reads, and how their payloads read as its events.

A company's order, payment and delivery topics belong to its ERP, its shop
and its change-data pipeline: they are keyed and named as those systems
chose, in their own field layout. A *sources file* (YAML, validated at load)
says per source which topics it reads, the payload's ``format`` (``plain``
JSON, or a ``debezium`` change-data envelope) and how each field of the
tierstream event is found in it: a path, a constant, transforms, a
vocabulary. The mapping itself is :mod:`schemas.mapping`; both the worker and
``tierstream score --sources`` use it, so the offline run sees what the stream
sees.

```yaml
sources:
  erp_orders:
    topics: [erp.orders.v1]
    type: order
    fields:
      order_id: {path: id, transform: string}
      customer_id: customer.code
      amount: {path: total_cents, transform: cents}
      occurred_at: {path: created_ms, transform: epoch_ms}
      status: {path: state, map: {NEW: placed, CANCELED: cancelled, RETURNED: returned}}
    event_id_from: [order_id, status]
```
"""

from __future__ import annotations

import zoneinfo
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from tierstream.schemas.errors import SourcesError
from tierstream.schemas.events import EVENT_TYPES
from tierstream.schemas.yamlfile import parse_yaml_model

__all__ = [
    "ENVELOPE_PREFIX",
    "TRANSFORMS",
    "FieldSpec",
    "Source",
    "SourcesFile",
    "Transform",
    "load_sources",
    "parse_sources",
]

#: What a transform does to a value, in the order listed (``schemas.mapping`` applies them).
TRANSFORMS: dict[str, str] = {
    "number": "a number, or a numeric string such as '12.50', read as a number",
    "cents": "an amount in hundredths (a number or numeric string) divided by 100",
    "string": "a number written as text (ids that the source keeps as integers)",
    "epoch_ms": "milliseconds since 1970-01-01 UTC, as an instant",
    "epoch_s": "seconds since 1970-01-01 UTC, as an instant",
    "local_time": "a date or date-time without an offset, read in the source's time zone",
    "lower": "text in lower case",
    "upper": "text in upper case",
    "trim": "text without surrounding blanks",
}
Transform = Literal["number", "cents", "string", "epoch_ms", "epoch_s", "local_time", "lower", "upper", "trim"]

#: A path starting with this reads the change-data envelope (``@op``, ``@source.ts_ms``), not the row.
ENVELOPE_PREFIX = "@"

_PATH = r"^@?[^.\s]+(\.[^.\s]+)*$"
Scalar = str | int | float | bool
SourceName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
TopicName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,249}$")]
EventTypeName = Literal["order", "invoice", "payment", "delivery", "referral", "service", "assessment", "profile"]


class FieldSpec(BaseModel):
    """How one event field is found: a ``path`` into the payload, or a ``const``; then transforms, then ``map``.

    A plain string in the YAML is a path. ``default`` stands in when the path
    is absent (or null); ``map`` is a vocabulary from the source's values (as
    text) to tierstream's, ``other`` the value of anything it does not list.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Annotated[str, StringConstraints(pattern=_PATH)] | None = None
    const: Scalar | None = None
    transform: list[Transform] = Field(default_factory=list)
    map: dict[str, Scalar] | None = None
    other: Scalar | None = None
    default: Scalar | None = None

    @field_validator("transform", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _path_or_const(self) -> Self:
        if (self.path is None) == (self.const is None):
            raise ValueError("give exactly one of path (where the value is) or const (the value itself)")
        if self.other is not None and self.map is None:
            raise ValueError("other is the value of what map does not list: it needs a map")
        return self


class Source(BaseModel):
    """One upstream feed: its topics, its payload format and its field mapping."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    topics: list[TopicName] = Field(min_length=1)
    format: Literal["plain", "debezium"] = "plain"
    #: the event type of every message (else ``fields.type`` maps it, else the payload carries it)
    type: EventTypeName | None = None
    #: event field -> where it comes from; unset: the payload (or row) is a tierstream event as it is
    fields: dict[str, FieldSpec] | None = None
    #: the event fields whose values make a derived ``event_id`` (default: every mapped field read from the row)
    event_id_from: list[str] | None = None
    #: the zone of ``local_time`` values (default: the rules' ``timezone``)
    timezone: str | None = None
    #: Debezium updates: ``retractions`` (an order updated to cancelled or returned), ``all`` or ``none``;
    #: default: retractions for orders, all for service tickets (the response arrives as an update), else none
    updates: Literal["retractions", "all", "none"] | None = None

    @field_validator("fields", mode="before")
    @classmethod
    def _path_shorthand(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: {"path": v} if isinstance(v, str) else v for k, v in value.items()}
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str | None) -> str | None:
        if name is not None:
            try:
                zoneinfo.ZoneInfo(name)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown IANA time zone {name!r} (e.g. UTC, Europe/Madrid)") from None
        return name

    @model_validator(mode="after")
    def _fields_exist(self) -> Self:
        fields = self.fields
        if fields is None:
            if self.event_id_from is not None:
                raise ValueError("event_id_from needs fields: a payload taken as it is carries its own event_id")
            return self
        if self.type is not None and "type" in fields:
            raise ValueError("type is given twice: as the source's type and in fields")
        known = _known_fields(self.type)
        for name, spec in fields.items():
            if name not in known:
                kind = self.type or "any event"
                raise ValueError(f"fields.{name}: not a field of {kind} (fields: {', '.join(sorted(known))})")
            if name == "type" and spec.const is not None and spec.const not in EVENT_TYPES:
                raise ValueError(f"fields.type: unknown event type {spec.const!r} ({', '.join(EVENT_TYPES)})")
        if self.type is None and "type" not in fields:
            raise ValueError("say which event type the messages are: type (one for all) or fields.type (mapped)")
        for name in self.event_id_from or ():
            if name not in fields:
                raise ValueError(f"event_id_from: {name!r} is not one of the mapped fields ({', '.join(fields)})")
        if "event_id" in fields and self.event_id_from is not None:
            raise ValueError("event_id is mapped and derived (event_id_from): give one")
        return self


def _known_fields(event_type: str | None) -> set[str]:
    """The fields an event of ``event_type`` has (any type's when it is mapped per message)."""
    types = [EVENT_TYPES[event_type]] if event_type is not None else list(EVENT_TYPES.values())
    return {name for model in types for name in model.model_fields}


class SourcesFile(BaseModel):
    """Every source by name; a topic belongs to one source."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sources: dict[SourceName, Source] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_source_per_topic(self) -> Self:
        owner: dict[str, str] = {}
        for name, source in self.sources.items():
            for topic in source.topics:
                if topic in owner:
                    raise ValueError(f"topic {topic!r} is read by two sources: {owner[topic]!r} and {name!r}")
                owner[topic] = name
        return self

    def topics(self) -> dict[str, str]:
        """Topic -> the name of the source that reads it."""
        return {topic: name for name, source in self.sources.items() for topic in source.topics}


def parse_sources(text: str, where: str = "<sources>") -> SourcesFile:
    """Validate a sources file's text; a :class:`SourcesError` names ``where`` and every wrong place."""
    return parse_yaml_model(text, where, SourcesFile, SourcesError, "sources", "a mapping with a 'sources' key")


def load_sources(path: str | Path) -> SourcesFile:
    """Load and validate a sources file."""
    p = Path(path)
    try:
        text = p.read_text("utf-8")
    except OSError as exc:
        raise SourcesError(f"{p}: cannot read sources file: {exc.strerror}") from exc
    return parse_sources(text, str(p))
