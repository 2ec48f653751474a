"""The worker's Prometheus metrics (``prometheus_client``), on one registry per app.

Each :class:`ServiceMetrics` has a registry of its own (not ``prometheus_client``'s
global default), so two apps in one process (tests, benchmarks) keep apart.
:func:`install_faust_sensor` puts Faust's own sensors (messages, sends, commits,
rebalances, table operations, web requests: ``faust.sensors.prometheus``) on the
same registry, under the ``faust_`` prefix, so ``/metrics`` serves both.

Hot paths keep a bound child for a fixed label set::

    inc_orders = metrics.events_in.labels(topic="tierstream.orders").inc
    inc_orders()

The ``*_created`` series are switched off: they are not used, and the exposition
stays what it was before ``prometheus_client`` (one series per counter label set).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Protocol

import faust
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

__all__ = [
    "BATCH_SIZE_BUCKETS",
    "FAUST_PREFIX",
    "LATENCY_BUCKETS",
    "METRICS_CONTENT_TYPE",
    "ServiceMetrics",
    "install_faust_sensor",
]

disable_created_metrics()  # type: ignore[no-untyped-call]

LATENCY_BUCKETS: Final[tuple[float, ...]] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
)  # fmt: skip
BATCH_SIZE_BUCKETS: Final[tuple[float, ...]] = (
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000,
)  # fmt: skip
#: the text exposition format ``generate_latest`` writes for these (legacy-valid) names
METRICS_CONTENT_TYPE: Final = CONTENT_TYPE_PLAIN_0_0_4
#: the name prefix of Faust's own sensors
FAUST_PREFIX: Final = "faust"


class TopicPartition(Protocol):
    """A ``faust.types.TP`` or anything with its two fields."""

    @property
    def topic(self) -> str: ...

    @property
    def partition(self) -> int: ...


class ServiceMetrics:
    """The metrics tierstream exposes on ``/metrics``, on their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        reg = self.registry
        self.events_in = Counter(
            "tierstream_events_in_total", "Inbound messages received, by topic.", ["topic"], registry=reg
        )
        self.events_invalid = Counter(
            "tierstream_events_invalid_total",
            "Inbound messages dead-lettered as invalid, by reason.",
            ["reason"],
            registry=reg,
        )
        self.events_duplicate = Counter(
            "tierstream_events_duplicate_total", "Events dropped as already processed.", registry=reg
        )
        self.events_rekeyed = Counter(
            "tierstream_events_rekeyed_total",
            "Events that arrived on another partition than their entity's and took the repartition hop.",
            registry=reg,
        )
        self.events_ignored = Counter(
            "tierstream_events_ignored_total",
            "Source messages that grade nothing (tombstones, change events that are not a retraction).",
            registry=reg,
        )
        self.events_too_old = Counter(
            "tierstream_events_too_old_total", "Events dropped for being older than the window.", registry=reg
        )
        self.events_too_new = Counter(
            "tierstream_events_too_new_total", "Events dropped for being too far in the future.", registry=reg
        )
        self.tier_changes = Counter(
            "tierstream_tier_changes_total",
            "Tier changes emitted, by entity type and direction.",
            ["entity_type", "direction"],
            registry=reg,
        )
        self.supplier_alerts = Counter(
            "tierstream_supplier_alerts_total", "Supplier alerts emitted, by severity.", ["severity"], registry=reg
        )
        self.tier_notices = Counter(
            "tierstream_tier_notices_total", "Early warnings emitted (tier-notices), by kind.", ["kind"], registry=reg
        )
        self.supplier_cases = Counter(
            "tierstream_supplier_cases_total", "Supplier rectification case events, by status.", ["status"],
            registry=reg,
        )
        self.consumer_lag = Gauge(
            "tierstream_consumer_lag",
            "Messages between the committed offset and the end of the partition.",
            ["topic", "partition"],
            registry=reg,
        )
        self.event_to_change = Histogram(
            "tierstream_event_to_change_seconds",
            "Wall-clock time from an event's timestamp to the tier change it caused.",
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.redis_pending = Gauge(
            "tierstream_redis_pending_changes", "Tier changes waiting to be written to Redis.", registry=reg
        )
        self.redis_errors = Counter(
            "tierstream_redis_errors_total", "Failed attempts to write tier changes to Redis.", registry=reg
        )
        self.batch_size = Histogram(
            "tierstream_batch_size", "Messages per processed batch.", buckets=BATCH_SIZE_BUCKETS, registry=reg
        )
        #: (topic, partition) label values of the lag series set so far
        self._lag_series: set[tuple[str, str]] = set()

    def set_lag(self, topic: str, partition: int, lag: float) -> None:
        """Set one partition's consumer lag."""
        labels = (topic, str(partition))
        self.consumer_lag.labels(*labels).set(lag)
        self._lag_series.add(labels)

    def forget_partitions(self, tps: Iterable[TopicPartition]) -> None:
        """Drop the lag series of partitions this worker no longer owns (revoked)."""
        for tp in tps:
            labels = (tp.topic, str(tp.partition))
            if labels in self._lag_series:
                self._lag_series.discard(labels)
                self.consumer_lag.remove(*labels)

    def render(self) -> bytes:
        """Every metric of the registry in the text exposition format."""
        return generate_latest(self.registry)


def install_faust_sensor(app: faust.App, metrics: ServiceMetrics) -> PrometheusMonitor:
    """Make ``app``'s monitor Faust's Prometheus sensor, feeding ``metrics``' registry.

    What ``faust.sensors.prometheus.setup_prometheus_sensors`` does, without its own
    ``/metrics`` page (``streams.worker.web`` serves the registry) and with a fixed
    name prefix rather than the app id (which differs per deployment).
    """
    monitor = PrometheusMonitor(metrics=FaustMetrics.create(metrics.registry, FAUST_PREFIX))
    app.monitor = monitor
    return monitor
