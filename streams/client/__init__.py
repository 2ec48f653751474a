"""The synchronous client side of tierstream (kafka-python): publish, watch, subscribe, snapshot.

* :func:`publish` sends JSONL events to the inbound topics, keyed by entity.
* :func:`watch` follows the tier-changes topic without a consumer group (a tail).
* :class:`TierChangeSubscriber` is the API for downstream systems: a consumer
  group that commits only what the caller has handled and drops redelivered
  duplicates.
* :func:`read_states` / :func:`snapshot` read the worker's ``entities`` table
  from its compacted changelog and grade every entity as of one instant.

Connection settings come from :class:`~schemas.settings.Settings` through
:func:`streams.kafka.config.kafka_python_config`. Error messages name topics,
bootstrap servers and env vars, never credentials.
"""

from tierstream.schemas.errors import ClientError
from tierstream.streams.client.changes import EntityTypeFilter
from tierstream.streams.client.publish import PublishReport, publish
from tierstream.streams.client.snapshot import entity_states, snapshot
from tierstream.streams.client.subscribe import TierChangeSubscriber
from tierstream.streams.client.watch import TierChangeWatch, watch
from tierstream.streams.kafka.read import read_states

__all__ = [
    "ClientError",
    "EntityTypeFilter",
    "PublishReport",
    "TierChangeSubscriber",
    "TierChangeWatch",
    "entity_states",
    "publish",
    "read_states",
    "snapshot",
    "watch",
]
