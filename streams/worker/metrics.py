"""A tiny Prometheus registry (text exposition format 0.0.4), no dependency.

Hot paths only do a dict lookup and an addition. Keep a bound child for a fixed
label set when it is used per message::

    inc_orders = METRICS.events_in.labels(topic="tierstream.orders").inc
    inc_orders()

Rendering copies each series dict first (``list(d.items())`` runs under the GIL
without yielding), so a scrape served from Faust's web thread does not race the
agents' updates into a ``dictionary changed size`` error.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from typing import ClassVar, Final, TypeVar

__all__ = [
    "BATCH_SIZE_BUCKETS",
    "LATENCY_BUCKETS",
    "METRICS",
    "Counter",
    "Gauge",
    "Histogram",
    "Registry",
    "ServiceMetrics",
]

LabelKey = tuple[str, ...]
M = TypeVar("M", bound="_Metric")

LATENCY_BUCKETS: Final[tuple[float, ...]] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
)  # fmt: skip
BATCH_SIZE_BUCKETS: Final[tuple[float, ...]] = (
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000,
)  # fmt: skip


def format_value(value: float) -> str:
    """A sample value as Prometheus writes it (``+Inf``, ``-Inf``, ``NaN``, ``1.0``, ``0.25``)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def escape_label_value(value: str) -> str:
    r"""Escape ``\``, ``"`` and newlines, as the text format requires in label values."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_help(text: str) -> str:
    r"""HELP text escapes only ``\`` and newlines."""
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _label_str(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{n}="{escape_label_value(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


class _Metric:
    type_name: ClassVar[str] = "untyped"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        self.name = name
        self.help = help_text
        self.labelnames: LabelKey = tuple(labelnames)

    def _key(self, labels: dict[str, str | int]) -> LabelKey:
        if len(labels) != len(self.labelnames) or not all(n in labels for n in self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {tuple(labels)}")
        return tuple(str(labels[n]) for n in self.labelnames)

    def header(self) -> list[str]:
        return [
            f"# HELP {self.name} {escape_help(self.help)}",
            f"# TYPE {self.name} {self.type_name}",
        ]

    def samples(self) -> list[str]:
        raise NotImplementedError

    def render(self) -> str:
        return "\n".join([*self.header(), *self.samples()])


class _ValueMetric(_Metric):
    """Counter and gauge: one float per label set."""

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labelnames)
        self._values: dict[LabelKey, float] = {}
        if not self.labelnames:
            # An unlabelled series exists from the start, so it scrapes as 0.
            self._values[()] = 0.0

    def _add(self, key: LabelKey, amount: float) -> None:
        values = self._values
        values[key] = values.get(key, 0.0) + amount

    def get(self, **labels: str | int) -> float:
        """The current value (0 for a label set never touched); for tests and health."""
        return self._values.get(self._key(labels), 0.0)

    def samples(self) -> list[str]:
        return [
            f"{self.name}{_label_str(self.labelnames, key)} {format_value(value)}"
            for key, value in sorted(list(self._values.items()))
        ]

    def clear(self) -> None:
        """Drop every labelled series (e.g. lag of partitions no longer assigned)."""
        self._values.clear()
        if not self.labelnames:
            self._values[()] = 0.0


class Counter(_ValueMetric):
    """A monotonically increasing count."""

    type_name = "counter"

    def inc(self, amount: float = 1.0, **labels: str | int) -> None:
        if amount < 0:
            raise ValueError("a counter only goes up")
        self._add(self._key(labels), amount)

    def labels(self, **labels: str | int) -> BoundCounter:
        return BoundCounter(self, self._key(labels))


class BoundCounter:
    """A counter with its label values fixed: ``inc()`` is one dict update."""

    __slots__ = ("_key", "_metric")

    def __init__(self, metric: Counter, key: LabelKey) -> None:
        self._metric = metric
        self._key = key

    def inc(self, amount: float = 1.0) -> None:
        values = self._metric._values
        values[self._key] = values.get(self._key, 0.0) + amount


class Gauge(_ValueMetric):
    """A value that goes up and down."""

    type_name = "gauge"

    def set(self, value: float, **labels: str | int) -> None:
        self._values[self._key(labels)] = float(value)

    def inc(self, amount: float = 1.0, **labels: str | int) -> None:
        self._add(self._key(labels), amount)

    def dec(self, amount: float = 1.0, **labels: str | int) -> None:
        self._add(self._key(labels), -amount)

    def remove(self, **labels: str | int) -> None:
        self._values.pop(self._key(labels), None)


class _HistSeries:
    __slots__ = ("counts", "sum")

    def __init__(self, n_buckets: int) -> None:
        self.counts = [0] * (n_buckets + 1)  # last slot: above the highest bound (+Inf only)
        self.sum = 0.0


class Histogram(_Metric):
    """Observations counted into fixed buckets (``le`` upper bounds), plus sum and count."""

    type_name = "histogram"

    def __init__(
        self,
        name: str,
        help_text: str,
        labelnames: Sequence[str] = (),
        buckets: Iterable[float] = LATENCY_BUCKETS,
    ) -> None:
        super().__init__(name, help_text, labelnames)
        bounds = sorted(float(b) for b in buckets if not math.isinf(b))
        if not bounds or len(set(bounds)) != len(bounds):
            raise ValueError("histogram buckets must be distinct and non-empty")
        self.buckets: tuple[float, ...] = tuple(bounds)
        self._series: dict[LabelKey, _HistSeries] = {}
        if not self.labelnames:
            self._series[()] = _HistSeries(len(self.buckets))

    def observe(self, value: float, **labels: str | int) -> None:
        key = self._key(labels)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = _HistSeries(len(self.buckets))
        # bisect_left: the first bound >= value, i.e. the bucket with le >= value.
        series.counts[bisect_left(self.buckets, value)] += 1
        series.sum += value

    def count(self, **labels: str | int) -> int:
        series = self._series.get(self._key(labels))
        return sum(series.counts) if series else 0

    def samples(self) -> list[str]:
        lines: list[str] = []
        for key, series in sorted(list(self._series.items()), key=lambda kv: kv[0]):
            counts, total = list(series.counts), series.sum
            cumulative = 0
            for bound, n in zip((*self.buckets, math.inf), counts, strict=True):
                cumulative += n
                le = 'le="' + format_value(bound) + '"'
                lines.append(
                    f"{self.name}_bucket{_label_str(self.labelnames, key, le)} {cumulative}"
                )
            labels = _label_str(self.labelnames, key)
            lines.append(f"{self.name}_sum{labels} {format_value(total)}")
            lines.append(f"{self.name}_count{labels} {cumulative}")
        return lines


class Registry:
    """A named set of metrics rendered together."""

    def __init__(self) -> None:
        self._metrics: dict[str, _Metric] = {}

    def register(self, metric: M) -> M:
        if metric.name in self._metrics:
            raise ValueError(f"metric {metric.name} already registered")
        self._metrics[metric.name] = metric
        return metric

    def counter(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> Counter:
        return self.register(Counter(name, help_text, labelnames))

    def gauge(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> Gauge:
        return self.register(Gauge(name, help_text, labelnames))

    def histogram(
        self,
        name: str,
        help_text: str,
        labelnames: Sequence[str] = (),
        buckets: Iterable[float] = LATENCY_BUCKETS,
    ) -> Histogram:
        return self.register(Histogram(name, help_text, labelnames, buckets))

    def render(self) -> str:
        """Every metric in the text exposition format, ending with a newline."""
        return "\n".join(m.render() for m in list(self._metrics.values())) + "\n"


class ServiceMetrics(Registry):
    """The metrics tierstream exposes on ``/metrics``."""

    def __init__(self) -> None:
        super().__init__()
        self.events_in = self.counter(
            "tierstream_events_in_total", "Inbound messages received, by topic.", ["topic"]
        )
        self.events_invalid = self.counter(
            "tierstream_events_invalid_total",
            "Inbound messages dead-lettered as invalid, by reason.",
            ["reason"],
        )
        self.events_duplicate = self.counter(
            "tierstream_events_duplicate_total", "Events dropped as already processed."
        )
        self.events_too_old = self.counter(
            "tierstream_events_too_old_total", "Events dropped for being older than the window."
        )
        self.events_too_new = self.counter(
            "tierstream_events_too_new_total", "Events dropped for being too far in the future."
        )
        self.tier_changes = self.counter(
            "tierstream_tier_changes_total",
            "Tier changes emitted, by entity type and direction.",
            ["entity_type", "direction"],
        )
        self.supplier_alerts = self.counter(
            "tierstream_supplier_alerts_total",
            "Supplier alerts emitted, by severity.",
            ["severity"],
        )
        self.consumer_lag = self.gauge(
            "tierstream_consumer_lag",
            "Messages between the committed offset and the end of the partition.",
            ["topic", "partition"],
        )
        self.event_to_change = self.histogram(
            "tierstream_event_to_change_seconds",
            "Wall-clock time from an event's timestamp to the tier change it caused.",
            buckets=LATENCY_BUCKETS,
        )
        self.redis_pending = self.gauge(
            "tierstream_redis_pending_changes", "Tier changes waiting to be written to Redis."
        )
        self.redis_errors = self.counter(
            "tierstream_redis_errors_total", "Failed attempts to write tier changes to Redis."
        )
        self.batch_size = self.histogram(
            "tierstream_batch_size",
            "Messages per processed batch.",
            buckets=BATCH_SIZE_BUCKETS,
        )


METRICS: Final = ServiceMetrics()
