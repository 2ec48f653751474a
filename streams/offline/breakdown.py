"""Tier distributions broken down by an attribute of the graded entities.

The attribute is read from an entity's snapshot (a line of ``tierstream score
--out``): ``group`` (the customer group it is graded in), ``segment`` (RFM),
``loyalty``, a profile field (``ownership``, ``business_nature``,
``location_type``, ``need_type``, ``share_of_wallet``; ``profile.group`` for the
profile's own group) or a free profile attribute (``attributes.region`` or
just ``region``). An entity without a value counts under :data:`NO_VALUE`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import orjson

__all__ = ["NO_VALUE", "SNAPSHOT_ATTRIBUTES", "attribute_of", "breakdown", "loyalty_counts"]

#: what an entity without a value for the attribute counts under
NO_VALUE = "-"
#: attributes read from the snapshot itself, not its profile
SNAPSHOT_ATTRIBUTES = ("group", "segment", "loyalty", "tier")


def attribute_of(snapshot: dict[str, Any], by: str) -> str:
    """The value of attribute ``by`` of a snapshot (a decoded line), in words; :data:`NO_VALUE` when none."""
    if by in SNAPSHOT_ATTRIBUTES:
        value = snapshot.get(by)
    else:
        profile = snapshot.get("profile") or {}
        name = by.removeprefix("profile.")
        if name in profile and name != "attributes":
            value = profile[name]
        else:
            value = (profile.get("attributes") or {}).get(name.removeprefix("attributes."))
    return NO_VALUE if value is None else str(value)


def breakdown(rows: Iterable[tuple[tuple[str, str], str, bytes]], by: str) -> Counter[tuple[str, str, str]]:
    """How many entities hold each ``(entity type, value of by, tier)``; ``rows``: (key, tier, snapshot JSON)."""
    return Counter((key[0], attribute_of(orjson.loads(line), by), tier) for key, tier, line in rows)


def loyalty_counts(rows: Iterable[tuple[tuple[str, str], str, bytes]]) -> Counter[str]:
    """How many customers are in each loyalty class (customers without one are not counted)."""
    found: Counter[str] = Counter()
    for key, _, line in rows:
        if key[0] == "customer":
            loyalty = orjson.loads(line).get("loyalty")
            if loyalty is not None:
                found[loyalty] += 1
    return found
