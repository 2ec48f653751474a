"""Tier-change records as the watch and the subscriber read them: decoded, filtered."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from tierstream.schemas.outputs import TierChange
from tierstream.schemas.routing import EntityType

__all__ = ["EntityTypeFilter", "decode_change", "wanted"]

log = logging.getLogger(__name__)

#: the values of the ``entity_type`` filter of :func:`watch` and :class:`TierChangeSubscriber`
EntityTypeFilter = EntityType


def decode_change(record: Any) -> TierChange | None:
    """Decode a tier-changes record; log and return ``None`` when it is not a TierChange."""
    try:
        return TierChange.model_validate_json(record.value)
    except (ValidationError, TypeError, ValueError) as exc:
        log.warning(
            "skipping a message that is not a TierChange at %s[%d]@%d: %s",
            record.topic, record.partition, record.offset, type(exc).__name__,
        )
        return None


def wanted(change: TierChange, entity_type: str | None, direction: str | None) -> bool:
    """Whether ``change`` passes the entity-type and direction filters (``None``: any)."""
    return (entity_type is None or change.entity_type == entity_type) and (
        direction is None or change.direction == direction
    )
