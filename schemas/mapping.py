"""Map a source's payload to a tierstream event: paths, constants, transforms, vocabularies, envelopes.

Pure: bytes in, the event's JSON bytes out (or ``None``: nothing to grade),
or a :class:`~schemas.errors.MappingError` naming the source and the event
field. The worker dead-letters a message whose mapping fails; ``tierstream
score --sources`` rejects the line. What the mapping gives is then validated
as any event is (:data:`schemas.events.INBOUND_ADAPTER`).

Debezium / Kafka Connect change events (``format: debezium``), with or without
the ``schema``/``payload`` wrapper: an insert (``c``) or a snapshot read
(``r``) is the row after; an update (``u``) is the row after, graded as the
source's ``updates`` says (by default only an order updated to ``cancelled``
or ``returned``, a retraction, and a service ticket's update, which brings
its response); a delete (``d``) of an order retracts it (the row before,
``status: cancelled`` unless it was returned); a tombstone (null value) and
any other delete or operation give nothing. Without a mapped ``occurred_at``
the change's ``source.ts_ms`` is the event time.

A mapped field whose name ends in ``_id`` (and ``author``) takes an integer as
its text: ERPs number their orders. Without ``event_id`` the id is derived,
deterministically, from the source's name and the values of
``event_id_from`` (default: every field read from the row, so a re-read
snapshot of the same row gives the same id), and an order's status always.
"""

from __future__ import annotations

import hashlib
import math
import zoneinfo
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from tierstream.schemas.errors import MappingError
from tierstream.schemas.events import EVENT_TYPES
from tierstream.schemas.sources import ENVELOPE_PREFIX, FieldSpec, Source, SourcesFile

__all__ = ["SourceMapper", "Sources", "read_path"]

_MISSING: Any = object()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RETRACTED = ("cancelled", "returned")


def read_path(doc: Any, path: str) -> Any:
    """The value at a dotted path (``customer.code``, ``lines.0.sku``), or the sentinel ``_MISSING``."""
    for part in path.split("."):
        if isinstance(doc, dict):
            if part not in doc:
                return _MISSING
            doc = doc[part]
        elif isinstance(doc, list) and part.isdigit() and int(part) < len(doc):
            doc = doc[int(part)]
        else:
            return _MISSING
    return doc


def _number(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("expected a number or a numeric string")
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                raise ValueError("expected a number or a numeric string") from None
    else:
        number = value
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError("expected a finite number")
    return number


def _instant(value: Any, unit: timedelta) -> str:
    try:
        return (_EPOCH + _number(value) * unit).isoformat()
    except OverflowError:
        raise ValueError("out of the representable range of instants") from None


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected text")
    return value


def _string(value: Any) -> str:
    if isinstance(value, bool):
        raise ValueError("expected a number or text")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return _text(value)


def _local_time(zone: zoneinfo.ZoneInfo) -> Callable[[Any], str]:
    def read(value: Any) -> str:
        try:
            when = datetime.fromisoformat(_text(value).strip())
        except ValueError:
            raise ValueError("expected a date or date-time such as 2024-03-01 10:30:00") from None
        return (when if when.tzinfo is not None else when.replace(tzinfo=zone)).isoformat()

    return read


def _transforms(zone: zoneinfo.ZoneInfo) -> dict[str, Callable[[Any], Any]]:
    return {
        "number": _number,
        "cents": lambda v: _number(v) / 100,
        "string": _string,
        "epoch_ms": lambda v: _instant(v, timedelta(milliseconds=1)),
        "epoch_s": lambda v: _instant(v, timedelta(seconds=1)),
        "local_time": _local_time(zone),
        "lower": lambda v: _text(v).lower(),
        "upper": lambda v: _text(v).upper(),
        "trim": lambda v: _text(v).strip(),
    }


def _key_text(value: Any) -> str:
    """A value as the text a vocabulary lists it by (``true``, ``3``, ``CANCELED``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class SourceMapper:
    """Map the payloads of one source to tierstream event JSON."""

    def __init__(self, name: str, source: Source, timezone: str = "UTC") -> None:
        self.name = name
        self.source = source
        self._transforms = _transforms(zoneinfo.ZoneInfo(source.timezone or timezone))

    def map(self, value: bytes | None) -> bytes | None:
        """The event's JSON for one message value; ``None`` when it gives nothing to grade."""
        if value is None or not value.strip() or value.strip() == b"null":
            return None  # a tombstone
        try:
            doc = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise MappingError(self.name, "", f"payload is not JSON: {exc}") from None
        event = self.map_doc(doc)
        return None if event is None else orjson.dumps(event)

    def map_doc(self, doc: Any) -> dict[str, Any] | None:
        """The event of one decoded payload (``None``: nothing to grade)."""
        if not isinstance(doc, dict):
            raise MappingError(self.name, "", f"payload is not a JSON object: {_show(doc)}")
        op: str | None = None
        envelope: dict[str, Any] = doc
        row: dict[str, Any] | None = doc
        if self.source.format == "debezium":
            op, envelope, row = self._unwrap(doc)
        if row is None:
            return None
        event, derived = self._fields(row, envelope)
        if self.source.format == "debezium" and "occurred_at" not in event:
            event["occurred_at"] = self._change_time(envelope)
            derived.discard("occurred_at")
        if op is not None and not self._graded(op, event, derived):
            return None
        for name, value in event.items():
            if (name.endswith("_id") or name == "author") and isinstance(value, int) and not isinstance(value, bool):
                event[name] = str(value)
        if "event_id" not in event:
            event["event_id"] = self._event_id(event, derived)
        return event

    # --- envelopes ---------------------------------------------------------------------

    def _unwrap(self, doc: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
        """(op, envelope, row) of a Debezium change event; row ``None``: an operation with nothing to grade."""
        inner = doc.get("payload")
        envelope = inner if isinstance(inner, dict) and "op" in inner else doc
        op = envelope.get("op")
        if op in ("t", "m"):  # a truncate, a logical message: no row
            return op, envelope, None
        if op not in ("c", "r", "u", "d"):
            raise MappingError(self.name, "", f"not a Debezium change event: op is {_show(op)} (c, r, u or d)")
        side = "before" if op == "d" else "after"
        row = envelope.get(side)
        if not isinstance(row, dict):
            hint = " (a delete needs the full row before: REPLICA IDENTITY FULL)" if op == "d" else ""
            raise MappingError(self.name, "", f"op {op!r} without a {side!r} row{hint}")
        return op, envelope, row

    def _change_time(self, envelope: dict[str, Any]) -> str:
        for path in ("source.ts_ms", "ts_ms"):
            ms = read_path(envelope, path)
            if ms is not _MISSING and ms is not None:
                try:
                    return _instant(ms, timedelta(milliseconds=1))
                except ValueError as exc:
                    raise MappingError(self.name, "occurred_at", f"{path}: {exc} (got {_show(ms)})") from None
        raise MappingError(self.name, "occurred_at", "not mapped, and the change event has no source.ts_ms")

    def _graded(self, op: str, event: dict[str, Any], derived: set[str]) -> bool:
        """Whether a change of kind ``op`` is an event to grade; a deleted order becomes its retraction.

        The retraction's status joins the fields of its derived id: the same row
        inserted and then deleted is two events.
        """
        kind = event.get("type")
        if op in ("c", "r"):
            return True
        if op == "d":
            if kind != "order":
                return False
            if event.get("status") not in _RETRACTED:
                event["status"] = "cancelled"
            derived.add("status")
            return True
        updates = self.source.updates or {"order": "retractions", "service": "all"}.get(str(kind), "none")
        if updates == "retractions":
            return kind == "order" and event.get("status") in _RETRACTED
        return updates == "all"

    # --- fields ------------------------------------------------------------------------

    def _fields(self, row: dict[str, Any], envelope: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
        """The mapped event, and the names of its fields that come from the row (the default id's input)."""
        specs = self.source.fields
        if specs is None:
            event = dict(row)
            if self.source.type is not None:
                event["type"] = self.source.type
            return event, set(event) - {"event_id"}
        event = {}
        kind = self.source.type
        if kind is None:
            kind = self._value("type", specs["type"], row, envelope, required=True)
            if kind not in EVENT_TYPES:
                raise MappingError(self.name, "type", f"unknown event type {_show(kind)} ({', '.join(EVENT_TYPES)})")
        event["type"] = kind
        model_fields = EVENT_TYPES[kind].model_fields
        from_row = set()
        for name, spec in specs.items():
            if name == "type":
                continue
            if name not in model_fields:
                raise MappingError(self.name, name, f"not a field of {kind} (fields: {', '.join(model_fields)})")
            required = model_fields[name].is_required() and name != "event_id"
            value = self._value(name, spec, row, envelope, required)
            if value is not _MISSING:
                event[name] = value
                if spec.path is not None and not spec.path.startswith(ENVELOPE_PREFIX):
                    from_row.add(name)
        return event, from_row

    def _value(self, name: str, spec: FieldSpec, row: dict[str, Any], envelope: dict[str, Any],
               required: bool) -> Any:
        if spec.path is None:
            value: Any = spec.const
        else:
            on_envelope = spec.path.startswith(ENVELOPE_PREFIX)
            value = read_path(envelope if on_envelope else row, spec.path.removeprefix(ENVELOPE_PREFIX))
            if value is _MISSING or value is None:
                if spec.default is not None:
                    value = spec.default
                elif required:
                    absent = "missing from" if value is _MISSING else "null in"
                    raise MappingError(self.name, name, f"path {spec.path!r} is {absent} the payload")
                else:
                    return _MISSING
        for transform in spec.transform:
            try:
                value = self._transforms[transform](value)
            except ValueError as exc:
                where = f"path {spec.path!r}" if spec.path is not None else "const"
                raise MappingError(self.name, name, f"{transform}: {exc} ({where}, got {_show(value)})") from None
        if spec.map is not None:
            key = _key_text(value)
            if key in spec.map:
                value = spec.map[key]
            elif spec.other is not None:
                value = spec.other
            else:
                known = ", ".join(sorted(spec.map))
                raise MappingError(self.name, name, f"value {_show(value)} is not in the map (known: {known})")
        return value

    def _event_id(self, event: dict[str, Any], derived: set[str]) -> str:
        names = self.source.event_id_from if self.source.event_id_from is not None else sorted(derived)
        values = {name: event.get(name) for name in names}
        if "status" in event:  # an order and its retraction are two events, whatever event_id_from says
            values["status"] = event["status"]
        digest = hashlib.sha256(orjson.dumps([self.name, values], option=orjson.OPT_SORT_KEYS)).hexdigest()
        return f"{self.name}:{digest[:32]}"


class Sources:
    """Every source of a sources file, by topic."""

    def __init__(self, file: SourcesFile, timezone: str = "UTC") -> None:
        self.file = file
        self.by_topic: dict[str, SourceMapper] = {}
        for name, source in file.sources.items():
            mapper = SourceMapper(name, source, timezone)
            for topic in source.topics:
                self.by_topic[topic] = mapper

    def for_topic(self, topic: str) -> SourceMapper | None:
        """The mapper of ``topic``, or ``None`` when no source reads it."""
        return self.by_topic.get(topic)

    @property
    def topics(self) -> list[str]:
        """Every source topic, in the file's order."""
        return list(self.by_topic)
