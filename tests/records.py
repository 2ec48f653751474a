"""Stand-ins for aiokafka's ``ConsumerRecord`` in tests that drive the batch consumer in process."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Rec"]


class Rec(NamedTuple):
    """The fields of an aiokafka ``ConsumerRecord`` that Faust's ``_to_message`` reads."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    timestamp_type: int
    headers: list[tuple[str, bytes]]
    key: bytes
    value: bytes | None
    checksum: None
    serialized_key_size: int
    serialized_value_size: int
