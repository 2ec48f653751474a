"""Offline input through a sources file: captured messages, mapped as the worker maps them.

With ``--sources``, each line of the input is one captured message,
``{"topic": ..., "key": ..., "value": ...}``: ``value`` the payload as JSON (an
object, or a string holding the payload's text; ``null`` for a tombstone),
``key`` optional and unused (the stream routes by the event, whatever the
key). A topic that a source reads is mapped by that source; any other topic
carries tierstream events as they are (its own inbound topics).

The mapped file keeps every line number: a message that grades nothing is a
blank line, and one that does not map is a *reject line* that the scorer turns
back into the rejected line with its field and message.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from tierstream.schemas.errors import InputError, MappingError
from tierstream.schemas.mapping import Sources
from tierstream.streams.offline.score import REJECT_KEY, read_lines

__all__ = ["capture_message", "map_line", "mapped_file", "reject_line"]


def capture_message(lineno: int, raw: bytes) -> tuple[str, bytes | None]:
    """(topic, value bytes) of one captured message; ``None``: a tombstone."""
    try:
        doc: Any = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InputError(lineno, f"not JSON: {exc}", value=raw, kind="invalid_json") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("topic"), str):
        raise InputError(lineno, 'a captured message is {"topic": ..., "value": ...}: no topic',
                         field="topic", value=raw, kind="missing_field")
    value = doc.get("value")
    if value is None:
        return doc["topic"], None
    return doc["topic"], value.encode() if isinstance(value, str) else orjson.dumps(value)


def map_line(sources: Sources, lineno: int, raw: bytes) -> bytes | None:
    """The event JSON of one captured message (``None``: it grades nothing); raises :class:`InputError`."""
    topic, value = capture_message(lineno, raw)
    mapper = sources.for_topic(topic)
    if mapper is None:
        return value
    try:
        return mapper.map(value)
    except MappingError as exc:
        raise InputError(lineno, str(exc), field=exc.field or "value", value=value,
                         kind="mapping_error") from None


def reject_line(exc: InputError) -> bytes:
    """The line standing for a rejected message in a mapped file (read back by the scorer)."""
    value = exc.value.decode("utf-8", "replace") if isinstance(exc.value, bytes) else exc.value
    return orjson.dumps({REJECT_KEY: {"message": exc.message, "field": exc.field, "value": value,
                                      "kind": exc.kind}}, default=str)


@contextmanager
def mapped_file(path: Path, sources: Sources,
                on_progress: Callable[[int], None] | None = None) -> Iterator[Path]:
    """A temporary events file: line N is what captured line N of ``path`` maps to (removed on exit)."""
    fd, name = tempfile.mkstemp(prefix="tierstream-mapped-", suffix=".jsonl")
    try:
        with os.fdopen(fd, "wb") as out:
            written = 0
            for lineno, raw in read_lines(path, on_progress):
                out.write(b"\n" * (lineno - 1 - written))
                try:
                    mapped = map_line(sources, lineno, raw)
                except InputError as exc:
                    mapped = reject_line(exc)
                # a payload's text may hold raw line breaks; between JSON tokens they are blanks
                out.write((mapped or b"").replace(b"\n", b" ").replace(b"\r", b" ") + b"\n")
                written = lineno
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)
