"""Topic names and message keys: one place, derived from the settings.

Every internal re-keying topic (``repartition``, ``referral-credits``,
``reviews``) is keyed by the entity key ``"<entity_type>:<entity_id>"`` and
has the same number of partitions as the table, so an entity's events, its
table row and its review ticks share one partition (Faust writes a table's
changelog to the partition of the event being processed). Inbound and source
topics take any key: an event on another partition than its entity's goes
through ``repartition`` first.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from tierstream.schemas.routing import CREDIT_ROUTE, ROUTES, entity_key, split_key
from tierstream.schemas.settings import Settings

__all__ = ["INBOUND_KINDS", "TopicNames", "entity_key", "key_hash", "partition_of", "split_key", "topic_names"]

#: event type -> inbound topic name after the prefix (from :data:`schemas.routing.ROUTES`)
INBOUND_KINDS = {event_type: route.topic for event_type, route in ROUTES.items()}


@dataclass(frozen=True)
class TopicNames:
    prefix: str
    app_id: str

    def inbound(self, event_type: str) -> str:
        return self.prefix + INBOUND_KINDS[event_type]

    @property
    def all_inbound(self) -> list[str]:
        return [self.prefix + name for name in INBOUND_KINDS.values()]

    @property
    def referral_credits(self) -> str:
        return self.prefix + CREDIT_ROUTE.topic

    @property
    def repartition(self) -> str:
        """Internal: events from any key or topic, re-keyed to their entity (one hop)."""
        return self.prefix + "repartition"

    @property
    def reviews(self) -> str:
        return self.prefix + "reviews"

    @property
    def tier_changes(self) -> str:
        return self.prefix + "tier-changes"

    @property
    def tiers(self) -> str:
        """Compacted: the current tier of every entity (key = entity key)."""
        return self.prefix + "tiers"

    @property
    def supplier_alerts(self) -> str:
        return self.prefix + "supplier-alerts"

    @property
    def audit(self) -> str:
        """Internal: every manual assessment received, with its status (the Redis audit trail's feed)."""
        return self.prefix + "audit"

    @property
    def supplier_cases(self) -> str:
        """Rectification cases of suppliers in the lowest tier: opened, closed, escalated."""
        return self.prefix + "supplier-cases"

    @property
    def tier_notices(self) -> str:
        """Early warnings: tiers at risk, suppliers on watch, customers approaching a tier, assessments expiring."""
        return self.prefix + "tier-notices"

    @property
    def dead_letters(self) -> str:
        return self.prefix + "dead-letters"

    @property
    def entities_changelog(self) -> str:
        """Faust's changelog of the ``entities`` table: the full state, compacted."""
        return f"{self.app_id}-entities-changelog"

    @property
    def outbox_acks_changelog(self) -> str:
        """Faust's changelog of the ``outbox-acks`` table: per partition, the rounds whose outputs are sent."""
        return f"{self.app_id}-outbox-acks-changelog"


def partition_of(key: bytes, partitions: int) -> int:
    """The partition a Kafka client's default partitioner gives ``key`` (murmur2), as Faust's table does."""
    return key_hash(key) % partitions


@functools.lru_cache(maxsize=1 << 14)
def key_hash(key: bytes) -> int:
    """``key``'s murmur2 hash as the default partitioner uses it (remembered: 14 us each in pure Python).

    A round asks for the same keys several times (the event's check, the state's
    changelog record, the outputs), at most a few thousand different ones.
    """
    from kafka.partitioner.default import murmur2

    return int(murmur2(key) & 0x7FFFFFFF)


def topic_names(settings: Settings) -> TopicNames:
    return TopicNames(settings.topic_prefix, settings.app_id)
