"""The dependency-free Prometheus registry: text exposition format 0.0.4."""

from __future__ import annotations

import math
import re

import pytest

from tierstream.streams.worker.metrics import (
    BATCH_SIZE_BUCKETS,
    METRICS,
    Counter,
    Registry,
    escape_label_value,
    format_value,
)


def test_counter_render_with_labels_and_escaping() -> None:
    reg = Registry()
    c = reg.counter("x_total", "Help with \\ and\nnewline.", ["topic"])
    c.inc(topic="plain")
    c.inc(2, topic="plain")
    c.inc(topic='q"uo\\te\nnl')
    assert reg.render() == (
        "# HELP x_total Help with \\\\ and\\nnewline.\n"
        "# TYPE x_total counter\n"
        'x_total{topic="plain"} 3.0\n'
        'x_total{topic="q\\"uo\\\\te\\nnl"} 1.0\n'
    )


def test_unlabelled_metrics_render_zero_before_use() -> None:
    reg = Registry()
    reg.counter("a_total", "A.")
    reg.gauge("b", "B.")
    reg.counter("c_total", "C.", ["k"])  # labelled: no series until used
    out = reg.render()
    assert "a_total 0.0\n" in out
    assert "b 0.0\n" in out
    assert not re.search(r"^c_total", out, re.M)
    assert "# TYPE c_total counter" in out


def test_counter_rejects_negative_and_wrong_labels() -> None:
    c = Counter("n_total", "N.", ["a"])
    with pytest.raises(ValueError):
        c.inc(-1, a="x")
    with pytest.raises(ValueError):
        c.inc(b="x")
    with pytest.raises(ValueError):
        c.inc()


def test_bound_counter_is_the_same_series() -> None:
    reg = Registry()
    c = reg.counter("e_total", "E.", ["topic", "partition"])
    bound = c.labels(topic="t", partition=3)
    bound.inc()
    bound.inc(4)
    c.inc(topic="t", partition="3")
    assert c.get(topic="t", partition=3) == 6
    assert 'e_total{topic="t",partition="3"} 6.0' in reg.render()


def test_gauge_set_inc_dec_remove() -> None:
    reg = Registry()
    g = reg.gauge("lag", "Lag.", ["topic", "partition"])
    g.set(10, topic="t", partition=0)
    g.inc(5, topic="t", partition=0)
    g.dec(3, topic="t", partition=0)
    g.set(-1.5, topic="t", partition=1)
    assert g.get(topic="t", partition=0) == 12
    out = reg.render()
    assert "# TYPE lag gauge" in out
    assert 'lag{topic="t",partition="0"} 12.0' in out
    assert 'lag{topic="t",partition="1"} -1.5' in out
    g.remove(topic="t", partition=1)
    assert 'partition="1"' not in reg.render()


def test_histogram_buckets_sum_count() -> None:
    reg = Registry()
    h = reg.histogram("lat_seconds", "Latency.", ["stage"], buckets=[0.1, 1, 0.5])
    for v in (0.05, 0.1, 0.3, 0.7, 2.0):  # 0.1 falls in le="0.1": bounds are inclusive
        h.observe(v, stage="s")
    lines = [ln for ln in reg.render().splitlines() if not ln.startswith("#")]
    assert lines == [
        'lat_seconds_bucket{stage="s",le="0.1"} 2',
        'lat_seconds_bucket{stage="s",le="0.5"} 3',
        'lat_seconds_bucket{stage="s",le="1.0"} 4',
        'lat_seconds_bucket{stage="s",le="+Inf"} 5',
        'lat_seconds_sum{stage="s"} 3.15',
        'lat_seconds_count{stage="s"} 5',
    ]
    assert h.count(stage="s") == 5
    assert "# TYPE lat_seconds histogram" in reg.render()


def test_histogram_unlabelled_renders_empty_buckets() -> None:
    reg = Registry()
    reg.histogram("b", "B.", buckets=[1, 10])
    body = [ln for ln in reg.render().splitlines() if not ln.startswith("#")]
    assert body == [
        'b_bucket{le="1.0"} 0',
        'b_bucket{le="10.0"} 0',
        'b_bucket{le="+Inf"} 0',
        "b_sum 0.0",
        "b_count 0",
    ]


def test_duplicate_registration_fails() -> None:
    reg = Registry()
    reg.counter("d_total", "D.")
    with pytest.raises(ValueError):
        reg.gauge("d_total", "D again.")


def test_format_value_and_escape() -> None:
    assert format_value(math.inf) == "+Inf"
    assert format_value(-math.inf) == "-Inf"
    assert format_value(math.nan) == "NaN"
    assert format_value(3) == "3.0"
    assert escape_label_value('a\\b"c\nd') == 'a\\\\b\\"c\\nd'


def test_service_metrics_are_all_declared() -> None:
    out = METRICS.render()
    expected = {
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
    for name, kind in expected.items():
        assert f"# TYPE {name} {kind}\n" in out
        assert f"# HELP {name} " in out
    assert METRICS.tier_changes.labelnames == ("entity_type", "direction")
    assert METRICS.consumer_lag.labelnames == ("topic", "partition")
    assert METRICS.batch_size.buckets[0] == 1 and METRICS.batch_size.buckets[-1] == 10000
    assert tuple(METRICS.batch_size.buckets) == tuple(float(b) for b in BATCH_SIZE_BUCKETS)
    assert out.endswith("\n")


def test_every_sample_line_is_well_formed() -> None:
    reg = Registry()
    reg.counter("w_total", "W.", ["a"]).inc(a='x"y')
    reg.histogram("h", "H.", ["a"], buckets=[1]).observe(0.5, a="z")
    sample = re.compile(
        r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*",?)*\})?'
        r" (-?[0-9.e+-]+|\+Inf|-Inf|NaN)$"
    )
    for line in reg.render().splitlines():
        if not line.startswith("#"):
            assert sample.match(line), line
