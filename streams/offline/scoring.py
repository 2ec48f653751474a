"""Offline scoring of one events file, as a library call: :func:`score_file`.

``tierstream score`` is this function plus its output: one process
(:func:`streams.offline.score.run`) when asked for one or ``strict``, else the
entities split between processes (:func:`streams.offline.parallel.score_parallel`),
which gives the same result byte for byte.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, overload

import orjson

from tierstream.schemas.mapping import Sources
from tierstream.schemas.outputs import EntitySnapshot
from tierstream.schemas.rules import Rules, load_rules
from tierstream.schemas.sources import SourcesFile
from tierstream.scorers.outcome import ts
from tierstream.streams.offline.breakdown import breakdown, loyalty_counts
from tierstream.streams.offline.parallel import default_workers, score_parallel
from tierstream.streams.offline.score import Key, OfflineScorer, Report, read_lines, run
from tierstream.streams.offline.sources import mapped_file

__all__ = ["ScoreResult", "score_file"]


@dataclass(frozen=True)
class ScoreResult:
    """What :func:`score_file` found: the instant it graded at, the counts, and every entity."""

    as_of: int  #: epoch seconds: the ``as_of`` given, else the latest event time
    report: Report
    #: ``(key, tier, snapshot JSON)`` per entity, by key: the lines of ``tierstream score --out``
    rows: Sequence[tuple[Key, str, bytes]]
    processes: int
    fell_back: str | None = None  #: why a run on several processes was redone in one

    def snapshots(self) -> Iterator[EntitySnapshot]:
        """Every entity's :class:`EntitySnapshot`, by (entity type, entity id)."""
        for _, _, line in self.rows:
            yield EntitySnapshot.model_validate_json(line)

    @overload
    def tiers(self, by: None = None) -> Counter[tuple[str, str]]: ...
    @overload
    def tiers(self, by: str) -> Counter[tuple[str, str, str]]: ...

    def tiers(self, by: str | None = None) -> Counter[tuple[str, str]] | Counter[tuple[str, str, str]]:
        """How many entities hold each ``(entity type, tier)``; with ``by``, each ``(entity type, value, tier)``.

        ``by`` names an attribute of the entities (``streams.offline.breakdown``): a profile
        field or free attribute (``business_nature``, ``region``), ``group``, ``segment`` or
        ``loyalty``; entities without a value count under ``"-"``.
        """
        if by is not None:
            return breakdown(self.rows, by)
        return Counter((kind, tier) for (kind, _), tier, _ in self.rows)

    def loyalty(self) -> Counter[str]:
        """How many customers are in each loyalty class (``loyal``, ``potentially_loyal``, ``disloyal``)."""
        return loyalty_counts(self.rows)

    def write_state(self, out: IO[bytes]) -> None:
        """Write one JSON line per entity, as ``tierstream score --out`` does."""
        for _, _, line in self.rows:
            out.write(line + b"\n")


def _epoch(as_of: datetime | int | None) -> int | None:
    if not isinstance(as_of, datetime):
        return as_of
    if as_of.tzinfo is None:
        raise ValueError(f"as_of {as_of.isoformat()} has no timezone")
    return ts(as_of)


def score_file(
    path: str | os.PathLike[str],
    rules: Rules | None = None,
    *,
    as_of: datetime | int | None = None,
    workers: int | None = None,
    strict: bool = False,
    changes_out: IO[bytes] | None = None,
    on_progress: Callable[[int], None] | None = None,
    rejects_out: IO[bytes] | None = None,
    sources: SourcesFile | None = None,
    language: str = "en",
    notices_out: IO[bytes] | None = None,
    cases_out: IO[bytes] | None = None,
    audit_out: IO[bytes] | None = None,
) -> ScoreResult:
    """Grade a JSONL events file with the scorers the stream uses; return every entity's tier.

    Events are taken in file order; events after ``as_of`` (an aware datetime or
    epoch seconds) are skipped, and everything is graded as of that instant
    (default: the latest event time). ``rules`` defaults to the packaged rules.
    Invalid lines are counted in ``report`` and skipped, unless ``strict``: then
    the first one raises :class:`~schemas.errors.InputError`. Every rejected line
    (invalid, too old, too new) is written to ``rejects_out`` as a JSON line
    (line, field, value, message, kind), in line order. Every
    :class:`TierChange` is written to ``changes_out`` (JSON lines) in the order
    it happened, every :class:`TierNotice` to ``notices_out`` and :class:`SupplierCase`
    to ``cases_out`` likewise, and the :class:`AuditEntry` of every manual assessment
    graded to ``audit_out`` (accepted or refused, as the stream's ``audit`` topic has them). ``workers``
    processes share the entities (default: one per core, at most 8; ``strict`` uses
    one); the result is the same for any number.
    ``on_progress`` is given the number of bytes read since its last call.
    With ``sources`` (:func:`~schemas.sources.load_sources`), each line is a captured
    message (``{"topic", "key", "value"}``) mapped as the worker maps it
    (:mod:`streams.offline.sources`); a message that does not map is a rejected line.
    ``language``: of the snapshots' reasons and hints (the changes: see ``scorers.wording.RewordedLines``).
    """
    rules = load_rules() if rules is None else rules
    if sources is not None:
        with mapped_file(Path(path), Sources(sources, rules.timezone)) as mapped:
            return score_file(mapped, rules, as_of=as_of, workers=workers, strict=strict, changes_out=changes_out,
                              on_progress=on_progress, rejects_out=rejects_out, language=language,
                              notices_out=notices_out, cases_out=cases_out, audit_out=audit_out)
    started = time.perf_counter()
    events = Path(path)
    instant = _epoch(as_of)
    processes = 1 if strict else (workers or default_workers())
    if processes > 1:
        res = score_parallel(events, rules, processes, instant, changes_out, on_progress=on_progress,
                             rejects_out=rejects_out, language=language, notices_out=notices_out,
                             cases_out=cases_out, audit_out=audit_out)
        return ScoreResult(res.as_of, res.report, res.snapshots, res.shards, res.fell_back)
    scorer = OfflineScorer(rules, as_of=instant, language=language)
    graded_at = run(scorer, read_lines(events, on_progress), changes_out, strict=strict, rejects_out=rejects_out,
                    notices_out=notices_out, cases_out=cases_out, audit_out=audit_out)
    rows = [((s.entity_type, s.entity_id), s.tier, orjson.dumps(s.line()))
            for s in scorer.snapshots(graded_at)]
    scorer.report.seconds = time.perf_counter() - started  # as the parallel run counts it
    return ScoreResult(graded_at, scorer.report, rows, 1)
