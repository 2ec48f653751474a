"""The worker's metrics: prometheus_client on a registry per app, names and labels as scraped."""

from __future__ import annotations

import asyncio
import re

from faust.types import TP

from tierstream.schemas.settings import Settings
from tierstream.streams.worker.app import Pipeline
from tierstream.streams.worker.metrics import BATCH_SIZE_BUCKETS, ServiceMetrics

EXPECTED = {
    "tierstream_events_in_total": "counter",
    "tierstream_events_invalid_total": "counter",
    "tierstream_events_duplicate_total": "counter",
    "tierstream_events_too_old_total": "counter",
    "tierstream_events_too_new_total": "counter",
    "tierstream_tier_changes_total": "counter",
    "tierstream_supplier_alerts_total": "counter",
    "tierstream_consumer_lag": "gauge",
    "tierstream_event_to_change_seconds": "histogram",
    "tierstream_redis_pending_changes": "gauge",
    "tierstream_redis_errors_total": "counter",
    "tierstream_batch_size": "histogram",
}


def text(metrics: ServiceMetrics) -> str:
    return metrics.render().decode()


def test_service_metrics_are_all_declared_with_help_and_type() -> None:
    out = text(ServiceMetrics())
    for name, kind in EXPECTED.items():
        assert f"# TYPE {name} {kind}\n" in out
        assert f"# HELP {name} " in out
    assert "tierstream_events_duplicate_total 0.0\n" in out  # unlabelled: scraped as 0 from the start
    assert not re.search(r"^tierstream_events_in_total\{", out, re.M)  # labelled: no series until used
    assert "_created" not in out


def test_names_and_labels_scrape_as_before() -> None:
    m = ServiceMetrics()
    m.events_in.labels(topic="x.orders").inc()
    m.events_in.labels(topic="x.orders").inc(1)
    m.tier_changes.labels(entity_type="customer", direction="up").inc()
    m.events_invalid.labels(reason="invalid_json").inc()
    m.supplier_alerts.labels(severity="high").inc()
    m.batch_size.observe(3)
    m.event_to_change.observe(0.02)
    out = text(m)
    assert 'tierstream_events_in_total{topic="x.orders"} 2.0\n' in out
    # prometheus_client writes labels sorted by name (their order means nothing to Prometheus)
    assert 'tierstream_tier_changes_total{direction="up",entity_type="customer"} 1.0\n' in out
    assert 'tierstream_events_invalid_total{reason="invalid_json"} 1.0\n' in out
    assert 'tierstream_supplier_alerts_total{severity="high"} 1.0\n' in out
    bounds = re.findall(r'^tierstream_batch_size_bucket\{le="([^"]+)"\} (\S+)$', out, re.M)
    assert [b for b, _ in bounds] == [repr(float(b)) for b in BATCH_SIZE_BUCKETS] + ["+Inf"]
    assert dict(bounds)["2.0"] == "0.0" and dict(bounds)["5.0"] == "1.0"
    assert "tierstream_batch_size_count 1.0\n" in out
    assert 'tierstream_event_to_change_seconds_bucket{le="0.025"} 1.0\n' in out


def test_lag_of_forgotten_partitions_is_removed() -> None:
    m = ServiceMetrics()
    m.set_lag("x.orders", 0, 5)
    m.set_lag("x.orders", 1, 7)
    assert 'tierstream_consumer_lag{partition="1",topic="x.orders"} 7.0\n' in text(m)
    m.forget_partitions([TP("x.orders", 1), TP("x.orders", 9)])  # 9 never had a series
    out = text(m)
    assert re.search(r'^tierstream_consumer_lag\{.*partition="0".*\} 5\.0$', out, re.M)
    assert 'partition="1"' not in out


def pipeline(name: str) -> Pipeline:
    return Pipeline(Settings(kafka_bootstrap="127.0.0.1:1", app_id=name, topic_prefix=name + "."))


def test_two_apps_in_one_process_have_their_own_registries_with_faust_sensors() -> None:
    a, b = pipeline("ma"), pipeline("mb")  # a shared registry would refuse the second app's metrics
    a.metrics.redis_errors.inc()
    assert "tierstream_redis_errors_total 1.0\n" in text(a.metrics)
    assert "tierstream_redis_errors_total 0.0\n" in text(b.metrics)
    for p in (a, b):
        out = text(p.metrics)
        assert "# TYPE faust_messages_received_total counter\n" in out  # Faust's own sensor, same registry
        assert "# TYPE faust_topic_partition_end_offset gauge\n" in out
        p.app.monitor.track_tp_end_offset(TP("t", 0), 42)
        assert re.search(r'^faust_topic_partition_end_offset\{.*\} 42\.0$', text(p.metrics), re.M)


def test_revoked_partitions_lose_their_lag_series() -> None:
    p = pipeline("mr")
    orders = p.names.inbound("order")
    for partition in range(3):
        p.metrics.set_lag(orders, partition, 10 + partition)
    asyncio.run(p.app.on_partitions_revoked.send({TP(orders, 0), TP(orders, 2)}))
    out = text(p.metrics)
    assert [int(n) for n in re.findall(r'^tierstream_consumer_lag\{.*partition="(\d)".*\}', out, re.M)] == [1]
