"""``tierstream bench``: every figure in one run on the embedded broker.

Order (each streaming phase on a fresh deployment, see :mod:`tierstream.streams.dev.harness`):

1. sample file, then the offline scorer on it (no broker running yet);
2. the broker; the sample published to deployment A; raw consume baseline;
   one worker over it (pipeline events/s, start-to-ready, RSS growth), then
   Quix Streams running the same ``Processor`` over the same topics
   (:mod:`.quix`, if the ``bench`` extra is installed), then the changelog
   bytes per entity; with ``--rekeyed``, one worker over the same
   sample published keyed by order id or unkeyed, off each entity's partition,
   so every event takes the repartition hop (deployment A');
3. latency at a fixed input rate (deployment B);
4. recovery over a pre-filled changelog (deployment C);
5. two workers sharing the partitions (deployment D);
6. further ``--modes`` (e.g. ``per-event``), if the time budget still allows.

A phase that fails is reported with its error and the run goes on. Phases take
their deadlines from one time budget (``--budget-s``): one that runs out is
reported as partial (``complete: false``) and later ones may be skipped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import orjson

from tierstream.streams.bench import latency as latency_mod
from tierstream.streams.bench import quix as quix_mod
from tierstream.streams.bench import recovery as recovery_mod
from tierstream.streams.bench import throughput as tp
from tierstream.streams.bench.common import Budget, say
from tierstream.streams.bench.machine import machine, versions
from tierstream.streams.dev.broker import EmbeddedBroker
from tierstream.streams.dev.harness import Deployment, fresh_name
from tierstream.streams.dev.sample import write_sample
from tierstream.streams.dev.valkey import EmbeddedRedis

__all__ = ["PHASES", "BenchConfig", "Phases", "figures", "render", "run_bench", "write_json"]

#: skipping ``pipeline`` (the main one-worker run) skips raw and quix, which run on its deployment
PHASES = ("offline", "pipeline", "raw", "quix", "latency", "recovery", "two-workers")


@dataclass
class BenchConfig:
    """The options of ``tierstream bench``."""

    customers: int = 230_000
    suppliers: int = 1_500
    days: int = 30
    seed: int = 7
    sample: Path | None = None  # use this JSONL file instead of generating one
    partitions: int = 4
    modes: tuple[str, ...] = ("batch", "per-event")
    latency_rate: float = 2000.0
    latency_seconds: float = 10.0
    recovery_entities: int = 1_000_000
    recovery_timeout_s: float = 300.0
    two_workers_max_s: float = 60.0
    rekeyed: bool = False  # also measure the pipeline with every event re-keyed (the repartition hop)
    budget_s: float = 540.0
    redis_url: str | None = None  # None: an embedded Valkey, started and stopped here
    workdir: Path | None = None  # logs and the sample; by default a temporary directory, removed on success
    skip: frozenset[str] = field(default_factory=frozenset)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so every process started here is stopped."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class Phases:
    """Runs phases: records each result, or its error, or why it was skipped."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.results: dict[str, dict[str, Any]] = {}

    def run(self, name: str, fn: Callable[[], dict[str, Any]], needs_s: float = 0.0) -> dict[str, Any]:
        if self.budget.left() < needs_s:
            res: dict[str, Any] = {"skipped": f"needs ~{needs_s:.0f}s, {self.budget.left():.0f}s of budget left"}
            say(f"{name}: skipped ({res['skipped']})")
        else:
            say(f"{name}: start")
            started = time.monotonic()
            try:
                res = fn()
            except Exception as exc:
                res = {"error": f"{type(exc).__name__}: {exc}"}
                say(f"{name}: FAILED {res['error']}")
            res["phase_s"] = round(time.monotonic() - started, 2)
            say(f"{name}: done in {res['phase_s']:.1f}s")
        self.results[name] = res
        return res


def _sample(cfg: BenchConfig, workdir: Path) -> tuple[Path, dict[str, Any]]:
    if cfg.sample is not None:
        with cfg.sample.open("rb") as fh:
            return cfg.sample, {"path": str(cfg.sample), "lines": sum(1 for _ in fh)}
    path = workdir / "sample.jsonl"
    say(f"sample: {cfg.customers:,} customers, {cfg.suppliers:,} suppliers, {cfg.days} days")
    started = time.monotonic()
    stats = write_sample(path, customers=cfg.customers, suppliers=cfg.suppliers, days=cfg.days, seed=cfg.seed)
    say(f"sample: {stats} in {time.monotonic() - started:.1f}s")
    return path, {"path": str(path), **stats.as_dict()}


def run_bench(cfg: BenchConfig) -> dict[str, Any]:
    """Run every phase; return the results document (see :func:`figures` for the headline keys)."""
    wall = time.monotonic()
    budget = Budget(cfg.budget_s)
    workdir = cfg.workdir or Path(tempfile.mkdtemp(prefix="tierstream-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    doc: dict[str, Any] = {"config": {**asdict(cfg), "skip": sorted(cfg.skip)},
                           "machine": machine(), "versions": versions()}
    phases = Phases(budget)
    doc["phases"] = phases.results
    ok = False
    with _sigterm_as_interrupt(), contextlib.ExitStack() as stack:
        sample, doc["sample"] = _sample(cfg, workdir)
        if "offline" not in cfg.skip:
            phases.run("offline", lambda: tp.offline(sample))
        broker = stack.enter_context(EmbeddedBroker(log_path=workdir / "tansu.log"))
        say(f"broker {broker.bootstrap} (Tansu, memory storage); logs in {workdir}")
        redis_url = cfg.redis_url or stack.enter_context(EmbeddedRedis(log_path=workdir / "valkey.log")).url

        def fresh(fn: Callable[[Deployment], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
            """``fn`` on a new deployment, torn down (workers, topics, Redis keys) right after."""

            def go() -> dict[str, Any]:
                dep = Deployment(broker.bootstrap, workdir, cfg.partitions, redis_url,
                                 review_interval_s=None, name=fresh_name("bench"))
                stack.callback(dep.close, purge=True)  # also on Ctrl-C
                try:
                    return fn(dep)
                finally:
                    dep.close(purge=True)

            return go

        main_mode, *more_modes = cfg.modes
        templates: list[bytes] = []

        def main_pipeline(dep: Deployment) -> dict[str, Any]:
            nonlocal templates
            loaded = tp.preload(dep, sample)
            say(f"pipeline: {loaded.total:,} events published in {loaded.publish_s:.1f}s "
                f"({loaded.publish_eps:,.0f}/s)")
            if "raw" not in cfg.skip:
                phases.run("raw", lambda: tp.raw_baseline(loaded))
            res: dict[str, Any] = {"published": loaded.total, "published_per_topic": loaded.published,
                                   "publish_s": loaded.publish_s}
            res.update(tp.pipeline(loaded, main_mode == "batch", budget))
            started = time.monotonic()
            dep.stop_workers()  # the changelog is complete once the worker has stopped
            res["stop_s"] = time.monotonic() - started
            say(f"pipeline: worker stopped in {res['stop_s']:.1f}s")
            if "quix" not in cfg.skip:  # the same topics, a consumer group of its own
                quix(loaded)
            try:
                res["state"], templates = tp.state_size(dep)
            except TimeoutError as exc:  # the figures above stand; the recovery phase then has no templates
                res["state"] = {"error": f"{type(exc).__name__}: {exc}"}
                say(f"pipeline: changelog not read: {exc}")
            else:
                say(f"pipeline: changelog read in {res['state']['read_s']:.1f}s")
            return res

        def quix(loaded: tp.Loaded) -> None:
            why = quix_mod.missing()
            if why is None:
                phases.run("quix", lambda: quix_mod.quix_phase(loaded, budget))
            else:
                say(f"quix: skipped: {why}")
                phases.results["quix"] = {"skipped": why}

        if "pipeline" not in cfg.skip:
            phases.run(f"pipeline-{main_mode}", fresh(main_pipeline))
        if cfg.rekeyed:  # right after the pipeline it is compared with, on the same sample
            phases.run("rekeyed", fresh(lambda dep: tp.rekeyed(dep, sample, main_mode == "batch", budget)),
                       needs_s=_estimate_pipeline_s(phases.results.get(f"pipeline-{main_mode}", {})))
        if "latency" not in cfg.skip:
            phases.run("latency", fresh(lambda dep: latency_mod.latency(
                dep, sample, cfg.latency_rate, cfg.latency_seconds, budget)),
                needs_s=cfg.latency_seconds + 20)
        if "recovery" not in cfg.skip:
            phases.run("recovery", fresh(lambda dep: recovery_mod.recovery(
                dep, cfg.recovery_entities, templates, budget, cfg.recovery_timeout_s)),
                needs_s=30 + cfg.recovery_entities / 100_000)
        if "two-workers" not in cfg.skip:
            phases.run("two-workers", fresh(lambda dep: tp.two_workers(
                tp.preload(dep, sample), budget, cfg.two_workers_max_s)), needs_s=45)

        def other_mode(batch: bool) -> Callable[[Deployment], dict[str, Any]]:
            return lambda dep: tp.pipeline(tp.preload(dep, sample), batch, budget)

        for mode in more_modes:
            needs = _estimate_pipeline_s(phases.results.get(f"pipeline-{main_mode}", {}))
            phases.run(f"pipeline-{mode}", fresh(other_mode(mode == "batch")), needs_s=needs)
        ok = True
    doc["machine"]["loadavg_end"] = list(os.getloadavg())
    doc["wall_s"] = round(time.monotonic() - wall, 1)
    doc.update(figures(doc, main_mode))
    if ok and cfg.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return doc


def _estimate_pipeline_s(main: dict[str, Any]) -> float:
    """Time another full pipeline run needs, guessed from the main one (x1.2)."""
    parts = ("publish_s", "ready_s", "seconds")
    if not all(isinstance(main.get(p), float) for p in parts) or not main.get("complete"):
        return float("inf")
    return 1.2 * sum(float(main[p]) for p in parts)


def figures(doc: dict[str, Any], main_mode: str) -> dict[str, Any]:
    """The headline keys, taken from the phase results (``None`` where a phase did not run)."""
    ph = doc["phases"]
    pipe = ph.get(f"pipeline-{main_mode}", {})
    raw = ph.get("raw", {})
    lat = ph.get("latency", {})
    state = pipe.get("state", {})
    raw_eps, pipe_eps = raw.get("eps"), pipe.get("eps")
    quix_eps = ph.get("quix", {}).get("eps")
    rekeyed_eps = ph.get("rekeyed", {}).get("eps")
    out: dict[str, Any] = {
        "raw_eps": raw_eps,
        "pipeline_eps": pipe_eps,
        "ratio": pipe_eps / raw_eps if raw_eps and pipe_eps else None,
        "quix_eps": quix_eps,
        "vs_quix": pipe_eps / quix_eps if quix_eps and pipe_eps else None,
        "offline_eps": ph.get("offline", {}).get("eps"),
        "p50_ms": lat.get("p50_ms"),
        "p99_ms": lat.get("p99_ms"),
        "bytes_per_entity": state.get("bytes_per_entity"),
        "rss_bytes_per_entity": pipe.get("rss_bytes_per_entity"),
        "ready_s": pipe.get("ready_s"),
        "recovery_s": ph.get("recovery", {}).get("recovery_s"),
        "rss_bytes_per_entity_recovered": _recovered_rss(pipe, ph.get("recovery", {})),
        "two_workers_eps": ph.get("two-workers", {}).get("eps"),
        "rekeyed_eps": rekeyed_eps,
        "rekeyed_ratio": rekeyed_eps / pipe_eps if rekeyed_eps and pipe_eps else None,
    }
    for name, res in ph.items():
        if name.startswith("pipeline-") and name != f"pipeline-{main_mode}":
            out[name.removeprefix("pipeline-").replace("-", "_") + "_eps"] = res.get("eps")
    return out


def _recovered_rss(pipe: dict[str, Any], rec: dict[str, Any]) -> float | None:
    """(RSS of the recovered worker - RSS of a ready worker with an empty table) / entities."""
    after, empty, n = rec.get("rss_after_ready"), pipe.get("rss_start"), rec.get("entities")
    if not (after and empty and n and rec.get("table_matches")):
        return None
    return (float(after) - float(empty)) / float(n)


# --------------------------------------------------------------------------- output


def _num(value: Any, unit: str = "", digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}{unit}"


def _note(res: dict[str, Any], partial: str = "partial: the time budget ran out") -> str:
    if "skipped" in res:
        return f"skipped: {res['skipped']}"
    if "error" in res:
        return f"FAILED: {str(res['error'])[:160]}"
    if res.get("complete") is False:
        return partial
    return ""


def render(doc: dict[str, Any]) -> str:
    """The final table (stdout)."""
    ph, main_mode = doc["phases"], doc["config"]["modes"][0]
    pipe = ph.get(f"pipeline-{main_mode}", {})
    raw, off, lat = ph.get("raw", {}), ph.get("offline", {}), ph.get("latency", {})
    rec, two, quix = ph.get("recovery", {}), ph.get("two-workers", {}), ph.get("quix", {})
    state = pipe.get("state", {})
    rows: list[tuple[str, str, str]] = [
        ("raw consume + decode", _num(doc["raw_eps"], " ev/s"), f"{raw.get('events', 0):,} events " + _note(raw)),
        (f"pipeline ({main_mode}, 1 worker)", _num(doc["pipeline_eps"], " ev/s"),
         f"{pipe.get('events', 0):,} events in {_num(pipe.get('seconds'), 's', 1)} " + _note(pipe)),
        ("ratio pipeline / raw", _num(doc["ratio"], "", 3), ""),
        ("Quix Streams, same Processor", _num(doc["quix_eps"], " ev/s"),
         f"{quix.get('events', 0):,} events in {_num(quix.get('seconds'), 's', 1)} " + _note(quix)),
        ("ratio pipeline / Quix", _num(doc["vs_quix"], "", 3), ""),
        ("offline scorer", _num(doc["offline_eps"], " ev/s"), f"{off.get('entities', 0):,} entities " + _note(off)),
        (f"latency p50 @ {_num(lat.get('rate_target'))}/s", _num(doc["p50_ms"], " ms"),
         f"{lat.get('changes', 0):,} tier changes "
         + ("(latency grows: the worker falls behind the input) " if lat.get("overloaded") else "") + _note(lat)),
        ("latency p99", _num(doc["p99_ms"], " ms"), f"max {_num(lat.get('max_ms'), ' ms')}"),
        ("changelog bytes / entity", _num(doc["bytes_per_entity"], " B"),
         f"{state.get('entities', 0):,} entities " + _note(state)),
        ("worker RSS growth / entity", _num(doc["rss_bytes_per_entity"], " B"),
         f"{pipe.get('entities_in_table', 0):,} in table"),
        ("worker RSS / recovered entity", _num(doc["rss_bytes_per_entity_recovered"], " B"),
         "after recovery, over an empty worker"),
        ("worker start -> ready", _num(doc["ready_s"], " s", 2), "empty changelog"),
        (f"recovery of {rec.get('entities', 0):,} entities", _num(doc["recovery_s"], " s", 1),
         (f"{rec.get('entities_in_table', 0):,} in table; prefill {_num(rec.get('prefill_s'), 's', 1)} "
          + _note(rec)).strip()),
        ("two workers", _num(doc["two_workers_eps"], " ev/s"),
         f"{two.get('events', 0):,} events in {_num(two.get('seconds'), 's', 1)} "
         + _note(two, "(the measuring window, or the budget, ended first)")),
    ]
    if "rekeyed" in ph:
        rek = ph["rekeyed"]
        rows.append((f"re-keyed ({main_mode}, 1 worker)", _num(doc["rekeyed_eps"], " ev/s"),
                     f"{rek.get('events', 0):,} events, {rek.get('hops', 0):,} off their entity's partition "
                     + _note(rek)))
        rows.append(("ratio re-keyed / pipeline", _num(doc["rekeyed_ratio"], "", 3), "the repartition hop's cost"))
    for name, res in ph.items():
        if name.startswith("pipeline-") and name != f"pipeline-{main_mode}":
            rows.append((f"pipeline ({name.removeprefix('pipeline-')}, 1 worker)", _num(res.get("eps"), " ev/s"),
                         (f"{res.get('events', 0):,} events " + _note(res)).strip()))
    m = doc["machine"]
    width = max(len(r[0]) for r in rows)
    lines = [f"tierstream bench: {m['cpu_count']} x {m['cpu_model']}, Python {m['python']}, "
             f"Tansu {doc['versions']['tansu']}, {doc['versions']['engine']} engine, wall {doc['wall_s']:.0f}s, "
             f"load avg {m['loadavg_start'][0]:.1f} -> {m['loadavg_end'][0]:.1f}"]
    lines += [f"  {label:<{width}}  {value:>14}  {note.strip()}" for label, value, note in rows]
    return "\n".join(lines)


def write_json(doc: dict[str, Any], path: Path) -> None:
    """Write the results document to ``path``."""
    path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str))
