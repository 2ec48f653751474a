"""What the worker sends at once: a message to a topic, and the dead letter of a message it cannot use.

A dead letter carries the original bytes, the error and the source topic,
partition and offset; nothing is dropped silently.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

from tierstream.schemas.outputs import DeadLetter

__all__ = ["DLQ_MAX_BYTES", "DLQ_MAX_ERROR", "DLQ_MAX_KEY", "Outgoing", "dead_letter"]

#: A dead letter must stay well under the producer's request limit (Faust's default:
#: 1,000,000 bytes): sending a larger one crashes the worker, and the redelivered message
#: then crashes the next one. So its JSON, everything included, is kept under this; with the
#: default TIERSTREAM_MAX_EVENT_BYTES a message within the limit is always kept whole (its
#: worst escaping, NUL -> \u0000, is 6x), only oversized ones are cut to a prefix.
DLQ_MAX_BYTES = 512 * 1024
DLQ_MAX_KEY = 1024  # bytes of the message key kept (the dead letter's record key and ``key``)
DLQ_MAX_ERROR = 4096  # characters of the error text kept (many errors on one message)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to send: topic, key and value bytes (and a partition, else the key's)."""

    topic: str
    key: bytes
    value: bytes
    partition: int | None = None


def dead_letter(dead_letters_topic: str, topic: str, partition: int, offset: int, key: bytes | None,
                raw: bytes, reason: str, error: str, received: datetime) -> Outgoing:
    """The dead letter of one message, kept under :data:`DLQ_MAX_BYTES` (its value cut to a prefix if need be)."""
    if len(error) > DLQ_MAX_ERROR:
        error = f"{error[:DLQ_MAX_ERROR]}... ({len(error):,} characters in all)"
    if key is not None and len(key) > DLQ_MAX_KEY:
        error += f" (key of {len(key):,} bytes cut to its first {DLQ_MAX_KEY:,})"
        key = key[:DLQ_MAX_KEY]
    kept = raw[:DLQ_MAX_BYTES]
    while True:
        try:
            text, b64 = kept.decode("utf-8"), None
        except UnicodeDecodeError:
            text, b64 = kept.decode("utf-8", "replace"), base64.b64encode(kept).decode()
        note = f" (dead letter keeps the first {len(kept):,} of {len(raw):,} bytes)" if len(kept) < len(raw) else ""
        letter = DeadLetter(
            source_topic=topic, partition=partition, offset=offset,
            key=key.decode("utf-8", "replace") if key is not None else None,
            value=text, value_b64=b64, error=error + note, reason=reason, received_at=received,
        )
        data = letter.model_dump_json().encode()
        if len(data) <= DLQ_MAX_BYTES or not kept:
            return Outgoing(dead_letters_topic, key or b"", data)
        kept = kept[: len(kept) // 2]  # escaping made it too big: keep a shorter prefix
