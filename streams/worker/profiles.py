"""Faust settings per broker profile: the embedded Tansu broker's workarounds, or Faust's defaults.

``TIERSTREAM_BROKER_PROFILE`` (``Settings.broker_profile``) picks the profile:
``embedded`` (Tansu, started by ``tierstream dev``, the tests, the benchmarks and
the fault scripts, which all say so in the worker's environment), ``kafka`` (a real
cluster: standbys, normal batching, normal session timeout), or ``auto`` (the
default): ``embedded`` when every bootstrap host is a loopback address, else
``kafka``. A production cluster is never on loopback; a Kafka on one's own machine
that ``auto`` takes for the embedded broker only gets the slower, still correct
workarounds.

Why the embedded profile: Tansu answers every JoinGroup only after
``session_timeout_ms / 2`` has elapsed, whatever the group state, so Faust's 60 s
default holds each join for 30 s; a 4 s session timeout gives a 2 s join. The other
values work around Tansu's ListOffsets answer and a standby-recovery crash under
back-to-back rebalances (see :func:`fast_join_settings`). The measurements behind
each value are in benchmarks/README.md.
"""

from __future__ import annotations

import enum
import ipaddress
from typing import Any

from tierstream.schemas.settings import Settings

__all__ = ["BrokerProfile", "broker_profile", "fast_join_settings", "faust_settings", "fetch_max_wait_ms"]


class BrokerProfile(enum.StrEnum):
    """Which broker the worker runs against, for the Faust settings it needs."""

    EMBEDDED = "embedded"
    KAFKA = "kafka"


def _is_loopback(host: str) -> bool:
    host = host.strip().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def broker_profile(settings: Settings) -> BrokerProfile:
    """The profile ``settings`` name; ``auto``: embedded when every bootstrap host is loopback."""
    if settings.broker_profile != "auto":
        return BrokerProfile(settings.broker_profile)
    hosts = [entry.strip().rpartition(":")[0] or entry.strip() for entry in settings.kafka_bootstrap.split(",")]
    if hosts and all(_is_loopback(h) for h in hosts if h):
        return BrokerProfile.EMBEDDED
    return BrokerProfile.KAFKA


def faust_settings(profile: BrokerProfile) -> dict[str, Any]:
    """Keyword arguments for ``faust.App(...)`` on ``profile``: the workarounds, or none (Faust's defaults)."""
    return fast_join_settings() if profile is BrokerProfile.EMBEDDED else {}


def fetch_max_wait_ms(profile: BrokerProfile) -> int:
    """How long the batch consumer's fetch may wait at the broker for data on ``profile``.

    Kafka answers a fetch as soon as ``fetch_min_bytes`` (1) has arrived, so the wait
    only bounds idle fetches: aiokafka's default. Tansu holds every fetch for the whole
    wait, data or not, so on the embedded broker the wait is a floor under every
    event-to-tier-change latency (half of it on average); 10 ms measured no lower
    latency and a quarter less throughput than 20 ms (benchmarks/README.md).
    """
    return FETCH_MAX_WAIT_MS_EMBEDDED if profile is BrokerProfile.EMBEDDED else 500


#: the embedded broker's fetch wait (benchmarks/README.md, "Why the settings are what they are")
FETCH_MAX_WAIT_MS_EMBEDDED = 20


def fast_join_settings() -> dict[str, Any]:
    """Keyword arguments for ``faust.App(...)`` when running against the embedded broker.

    Use as ``faust.App("id", broker=f"kafka://{broker.bootstrap}", **fast_join_settings())``.
    Tuned for dev and tests on one machine; ``producer_max_batch_size`` and
    ``table_standby_replicas`` are Tansu workarounds that cost throughput and failover
    time on a real Kafka cluster.

    Measured with two workers on a 4-partition topic plus a table (12 runs of: start one,
    start a second, restart the first): every run split the partitions 2/2 with no crash,
    loss, duplicate or wrong table count; the split took ~4.5 s after the second worker was
    spawned and ~3.5-4.5 s after a restart; a SIGKILLed worker's partitions moved after
    6.9 s (Faust defaults: 33 s, and 90 s after a SIGKILL).
    """
    return {
        # Tansu holds each JoinGroup for session_timeout / 2 (rounded up to whole seconds),
        # so 4 s gives a 2 s join.  It is also how long a SIGKILLed worker keeps its
        # partitions.  We do not go down to 2 s (1 s join): heartbeats come from aiokafka's
        # thread, but on a busy CI machine a member that misses heartbeats for 2 s is
        # expelled and triggers yet another rebalance.
        "broker_session_timeout": 4.0,
        # Must be well under the session timeout (Kafka's rule of thumb: <= 1/3).  It is also
        # how quickly an existing member notices a rebalance started by a newcomer (its
        # heartbeat returns REBALANCE_IN_PROGRESS), so it bounds the second-worker join time.
        "broker_heartbeat_interval": 1.0,
        # Works around a Tansu bug: ListOffsets(LATEST) returns "base offset of the newest
        # record batch + 1", not "last offset + 1" (batches [0..4],[5],[6..9] report 7, not
        # 10).  Faust takes that as the changelog highwater when it recovers a table.  With
        # multi-record batches, 5 of 12 restart runs recovered tables that were missing the
        # last updates (count 1 where 2 was written), and 4 crashed with ConsistencyError
        # ("persisted offset ... is higher than the last offset").  aiokafka always puts the
        # first record in a batch, even one larger than max_batch_size, so 1 byte means one
        # record per batch and LATEST is right (0 of 12 runs went wrong).  Cost: one aiokafka
        # producer on loopback does ~2,800 msg/s instead of ~70,000.
        "producer_max_batch_size": 1,
        # Standby replicas only speed up failover.  With back-to-back rebalances (a worker
        # leaves and a new one joins a second or two later), Faust 0.15.3 seeked a standby
        # changelog partition to None during recovery and crashed the worker (aiokafka:
        # "Offset must be a positive integer") in 5 of 18 restart runs.  With no standbys
        # that code does not run (0 of 12).  Dev and test tables are small, and with the
        # memory store a new owner replays the changelog anyway.
        "table_standby_replicas": 0,
        # Faust commits consumed offsets on a timer only (not when partitions are revoked),
        # so a rebalance redelivers everything processed since the last commit.  With the
        # 2.8 s default, the message processed just before a second worker joined was
        # processed twice in most runs.  1 s narrows that window; delivery is still
        # at-least-once.
        "broker_commit_interval": 1.0,
    }
