"""An entity's profile: what it is (ownership, business nature, location, need type, group, free attributes).

Descriptive, not scored (DOMAIN.md, "Customer nature"): the profile picks a
customer's group when the rules say so (``customer.group_from``), gives the
loyalty classification a customer's share of wallet, and breaks tier
distributions down. The latest profile wins, by ``(occurred_at, event_id)``,
so the profile kept does not depend on arrival order; it is a lasting fact,
kept however old it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tierstream.schemas.events import PROFILE_FIELDS, ProfileEvent

__all__ = ["ATTRIBUTE_PREFIX", "Profile", "profile_of", "profile_value"]

#: ``group_from`` and ``--by`` name a free attribute as ``attributes.<name>`` (or just ``<name>``)
ATTRIBUTE_PREFIX = "attributes."


@dataclass(slots=True)
class Profile:
    """The profile an entity has: the latest profile event's fields."""

    at: int  #: occurred_at of the profile event (epoch s)
    event_id: str
    ownership: str | None = None
    business_nature: str | None = None
    location_type: str | None = None
    need_type: str | None = None
    group: str | None = None
    share_of_wallet: float | None = None
    attributes: dict[str, str] = field(default_factory=dict)

    def newer_than(self, other: Profile | None) -> bool:
        """Tell whether this profile replaces ``other`` (later, or as late with a greater event id)."""
        return other is None or (self.at, self.event_id) > (other.at, other.event_id)

    def fields(self) -> dict[str, Any]:
        """The profile as published on snapshots: the fields it states, then its attributes."""
        doc: dict[str, Any] = {name: getattr(self, name) for name in PROFILE_FIELDS if getattr(self, name) is not None}
        if self.share_of_wallet is not None:
            doc["share_of_wallet"] = self.share_of_wallet
        if self.attributes:
            doc["attributes"] = dict(sorted(self.attributes.items()))
        return doc

    def to_doc(self) -> list[Any]:
        """The profile in a saved state (``scorers/codec.py``)."""
        return [self.at, self.event_id, self.ownership, self.business_nature, self.location_type, self.need_type,
                self.group, self.share_of_wallet, dict(sorted(self.attributes.items()))]

    @classmethod
    def from_doc(cls, doc: list[Any] | None) -> Profile | None:
        """Read a profile saved by :meth:`to_doc` (``None``: no profile)."""
        if doc is None:
            return None
        at, event_id, ownership, nature, location, need, group, share, attributes = doc
        return cls(at, event_id, ownership, nature, location, need, group, share, dict(attributes))


def profile_of(ev: ProfileEvent, at: int) -> Profile:
    """The profile a profile event states (``at``: its occurred_at, epoch s)."""
    return Profile(at, ev.event_id, ev.ownership, ev.business_nature, ev.location_type, ev.need_type,
                   ev.group, ev.share_of_wallet, dict(ev.attributes))


def profile_value(profile: Profile | None, name: str) -> str | None:
    """The value of a profile field or free attribute (``attributes.region`` or ``region``); ``None``: unknown."""
    if profile is None:
        return None
    if name in PROFILE_FIELDS:
        value: str | None = getattr(profile, name)
        return value
    return profile.attributes.get(name.removeprefix(ATTRIBUTE_PREFIX))
