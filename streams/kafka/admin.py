"""Create the topics tierstream needs (kafka-python admin), idempotently.

The worker would let Faust declare them, but creating them up front gives
every topic the same partition count (co-partitioning is what keeps an
entity's events and its table row together) and the right cleanup policy.
"""

from __future__ import annotations

from typing import Any

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from tierstream.schemas.settings import Settings
from tierstream.schemas.sources import load_sources
from tierstream.streams.kafka.config import kafka_python_config
from tierstream.streams.kafka.topics import topic_names

COMPACT = {"cleanup.policy": "compact"}


def topic_specs(settings: Settings) -> dict[str, dict[str, str]]:
    """Every topic name with its configs; all share ``settings.partitions``.

    The sources' topics are listed too (``TIERSTREAM_SOURCES``): they belong to the
    systems upstream, so one is created only when it does not exist yet (a new
    deployment, a test); an existing one keeps its partitions, and its events
    reach their entities through ``repartition`` when those differ.
    """
    n = topic_names(settings)
    specs: dict[str, dict[str, str]] = {t: {} for t in n.all_inbound}
    if settings.sources is not None:
        specs.update({t: {} for t in load_sources(settings.sources).topics()})
    for t in (n.repartition, n.referral_credits, n.reviews, n.tier_changes, n.supplier_alerts, n.tier_notices,
              n.supplier_cases, n.dead_letters, n.audit):
        specs[t] = {}
    specs[n.tiers] = dict(COMPACT)
    specs[n.entities_changelog] = dict(COMPACT)
    specs[n.outbox_acks_changelog] = dict(COMPACT)
    return specs


def ensure_topics(settings: Settings, timeout_s: float = 30.0) -> list[str]:
    """Create missing topics; returns the names created."""
    cfg: dict[str, Any] = kafka_python_config(settings)
    cfg.pop("value_serializer", None)
    admin = KafkaAdminClient(**{k: v for k, v in cfg.items() if k in _ADMIN_KEYS},
                             request_timeout_ms=int(timeout_s * 1000))
    try:
        existing = set(admin.list_topics())
        wanted = topic_specs(settings)
        new = [
            NewTopic(name, settings.partitions, settings.replication_factor, topic_configs=conf)
            for name, conf in wanted.items() if name not in existing
        ]
        created = []
        for topic in new:  # one by one: a broker refusing one config must not block the rest
            try:
                admin.create_topics([topic], timeout_ms=int(timeout_s * 1000))
                created.append(topic.name)
            except TopicAlreadyExistsError:
                pass
        return created
    finally:
        admin.close()


_ADMIN_KEYS = {
    "bootstrap_servers", "client_id", "security_protocol", "sasl_mechanism", "sasl_plain_username",
    "sasl_plain_password", "ssl_cafile", "ssl_certfile", "ssl_keyfile", "ssl_check_hostname",
}
