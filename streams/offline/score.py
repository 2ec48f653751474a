"""Offline mode: a JSONL file of events through the same scorers the stream uses.

Events are taken in file order (unsorted input works: every event lands in
its own day); referral credits are applied right after the event that earned
them, as the stream applies them when they come back through their topic.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import orjson
from pydantic import ValidationError

from tierstream.schemas.errors import ForeignCredit, InputError
from tierstream.schemas.events import INBOUND_ADAPTER, AnyEvent, entity_of
from tierstream.schemas.outputs import AuditEntry, EntitySnapshot, ReferralCredit, SupplierCase, TierChange, TierNotice
from tierstream.schemas.rules import Rules
from tierstream.scorers.audit import audit_of
from tierstream.scorers.engine import Grader, Outcome, ts
from tierstream.scorers.layout import NEVER
from tierstream.scorers.state import EntityState
from tierstream.scorers.wording import reworded
from tierstream.streams.gc_tuning import fewer_collections
from tierstream.streams.offline.rejects import SHOWN, TIME_KINDS, Reject, input_error

__all__ = ["REJECT_KEY", "Key", "OfflineScorer", "Report", "read_lines", "run", "write_notices", "write_snapshots"]

Key = tuple[str, str]

#: The one key of a *reject line*: a line of a mapped file (``streams.offline.sources``)
#: standing for a message that did not map, read back here as that rejected line.
REJECT_KEY = "__reject__"
_REJECT_PREFIX = b'{"' + REJECT_KEY.encode() + b'":'


@dataclass
class Report:
    """The counts of one offline run, and the first few rejected lines.

    ``sink``, when set, is given every rejected line as it is found (``--rejects``).
    """

    lines: int = 0
    applied: int = 0
    history: int = 0  # before the window, kept for hysteresis history only
    duplicates: int = 0
    too_old: int = 0
    too_new: int = 0
    after_as_of: int = 0
    invalid: int = 0
    changes: int = 0
    alerts: int = 0
    notices: int = 0
    cases: int = 0
    rejected: list[Reject] = field(default_factory=list)  # the first few, for the terminal
    seconds: float = 0.0
    sink: Callable[[Reject], None] | None = field(default=None, repr=False, compare=False)

    def count(self, out: Outcome) -> None:
        if out.status == "applied":
            self.applied += 1
        elif out.status == "history":
            self.history += 1
        elif out.status == "duplicate":
            self.duplicates += 1
        elif out.status == "too_old":
            self.too_old += 1
        elif out.status == "too_new":
            self.too_new += 1

    def reject(self, r: Reject) -> None:
        """Note a rejected line; an invalid one is counted here (too old / too new by :meth:`count`)."""
        if r.kind not in TIME_KINDS:
            self.invalid += 1
        if len(self.rejected) < SHOWN:
            self.rejected.append(r)
        if self.sink is not None:
            self.sink(r)

    @property
    def rejects(self) -> int:
        """How many lines were rejected: invalid, too old or too new."""
        return self.invalid + self.too_old + self.too_new

    @property
    def errors(self) -> list[str]:
        """The first rejected lines, in words (``line 7: order.amount: ...``)."""
        return [str(r) for r in self.rejected]

    def summary(self) -> str:
        rate = self.lines / self.seconds if self.seconds else 0.0
        return (
            f"{self.lines:,} lines in {self.seconds:.2f}s ({rate:,.0f}/s): {self.applied:,} applied, "
            f"{self.history:,} history-only, {self.duplicates:,} duplicates, "
            f"{self.too_old:,} too old, {self.too_new:,} too new, "
            f"{self.after_as_of:,} after --as-of, {self.invalid:,} rejected; "
            f"{self.changes:,} tier changes, {self.alerts:,} supplier alerts, {self.notices:,} notices, "
            f"{self.cases:,} supplier case events"
        )


class OfflineScorer:
    """Holds every entity's state in memory and feeds events through a :class:`Grader`."""

    def __init__(self, rules: Rules, as_of: int | None = None, received_at: int | None = None,
                 language: str = "en") -> None:
        self.grader = Grader(rules)
        self.language = language  # of the snapshots' reasons and hints
        self.states: dict[Key, EntityState] = {}
        self.as_of = as_of
        self.received_at = int(time.time()) if received_at is None else received_at
        self.latest = NEVER  # the latest event time applied (events may be older than 1970)
        self.report = Report()
        #: the notices and case events raised since :meth:`take_notices` / :meth:`take_cases` last
        #: took them, in the order they happened (kept only with ``keep_notices``; counted in any case),
        #: and the audit records of the assessments graded (:meth:`take_audits`, with ``keep_notices``)
        self.notices: list[TierNotice] = []
        self.cases: list[SupplierCase] = []
        self.audits: list[AuditEntry] = []
        self.keep_notices = False
        #: set by a shard of a parallel run: which entities it holds (a referral credit for
        #: any other is a :class:`ForeignCredit`, see :mod:`streams.offline.parallel`)
        self.owns: Callable[[Key], bool] | None = None

    def feed_line(self, lineno: int, raw: bytes) -> list[TierChange]:
        """Decode and apply one line; raises :class:`InputError` for a bad line."""
        return self.feed(lineno, self.decode(lineno, raw))

    @staticmethod
    def decode(lineno: int, raw: bytes) -> AnyEvent:
        """Validate one line into an event; raises :class:`InputError` naming the line and field."""
        if raw.startswith(_REJECT_PREFIX):
            r = orjson.loads(raw)[REJECT_KEY]
            raise InputError(lineno, r["message"], field=r["field"], value=r["value"], kind=r["kind"])
        try:
            return INBOUND_ADAPTER.validate_json(raw)
        except ValidationError as exc:
            raise input_error(lineno, exc) from None

    def feed(self, lineno: int, event: AnyEvent) -> list[TierChange]:
        """Apply one validated event (and the reviews due before it, and its referral credits)."""
        t = ts(event.occurred_at)
        if self.as_of is not None and t > self.as_of:
            self.report.after_as_of += 1
            return []
        key = entity_of(event)
        prior = self.states.get(key)
        due: list[TierChange] = []
        if prior is not None and prior.next_review is not None and prior.next_review <= t:
            due = self._settle(self.grader.review_due(prior, t))  # as the stream's timer would
        state, out = self.grader.apply(prior, event, self.received_at, at=t)
        if self.keep_notices and (entry := audit_of(event, out)) is not None:
            self.audits.append(entry)  # refused ones too: the stream's audit topic has them all
        if prior is not None or out.status in ("applied", "history"):  # the stream writes its table by the same rule
            self.states[key] = state
        self.report.count(out)
        if out.status == "invalid":
            raise InputError(lineno, out.detail, field=out.invalid_field, value=out.invalid_value)
        if out.status in TIME_KINDS:
            when = event.occurred_at.isoformat()
            self.report.reject(Reject(lineno, out.status, "occurred_at", when,
                                      f"occurred_at {when} is {out.status.replace('_', ' ')}: {out.detail}"))
        if out.status in ("applied", "history"):
            self.latest = max(self.latest, t)
        return due + self._settle(out)

    def take_notices(self) -> list[TierNotice]:
        """The notices raised since the last call, in the order they happened (the stream's, per entity)."""
        notices, self.notices = self.notices, []
        return notices

    def take_audits(self) -> list[AuditEntry]:
        """The audit records of the assessments graded since the last call, in file order."""
        audits, self.audits = self.audits, []
        return audits

    def take_cases(self) -> list[SupplierCase]:
        """The supplier case events raised since the last call, in the order they happened."""
        cases, self.cases = self.cases, []
        return cases

    def _count(self, out: Outcome) -> None:
        """Count an outcome's alerts, notices and cases, and keep the last two when asked to."""
        self.report.alerts += len(out.alerts)
        self.report.notices += len(out.notices)
        self.report.cases += len(out.cases)
        if self.keep_notices:
            self.notices += out.notices
            self.cases += out.cases

    def _settle(self, out: Outcome) -> list[TierChange]:
        changes = list(out.changes)
        self._count(out)
        pending: list[ReferralCredit] = list(out.credits)
        while pending:
            credit = pending.pop(0)
            key = ("customer", credit.referrer_id)
            if self.owns is not None and not self.owns(key):
                raise ForeignCredit(key)
            state, more = self.grader.credit(self.states.get(key), credit)
            self.states[key] = state
            changes.extend(more.changes)
            self._count(more)
            pending.extend(more.credits)
        self.report.changes += len(changes)
        return changes

    def finish(self, as_of: int | None = None) -> tuple[int, list[TierChange]]:
        """Run every entity's reviews due up to ``as_of`` (default: ``--as-of``, else the latest event time).

        Each review at its own instant, as the stream's timer runs them: a change caused
        by time alone is dated when it happens, not ``as_of``, so any ``as_of`` gives the
        same dated changes up to it.
        """
        if as_of is None:
            as_of = self.as_of if self.as_of is not None else self.graded_until()
        changes: list[TierChange] = []
        for key in sorted(self.states):
            changes.extend(self._settle(self.grader.review_due(self.states[key], as_of)))
        return as_of, changes

    def graded_until(self) -> int:
        """The default as-of instant: the latest event time applied (0 when none was)."""
        return 0 if self.latest == NEVER else self.latest

    def snapshots(self, as_of: int) -> Iterator[EntitySnapshot]:
        """Every entity that has state, graded as of ``as_of``, by (entity type, entity id)."""
        for key in sorted(self.states):
            state = self.states[key]
            if not state.is_empty():
                yield reworded(self.grader.snapshot(state, as_of), self.language)


def read_lines(path: Path, on_progress: Callable[[int], None] | None = None) -> Iterator[tuple[int, bytes]]:
    """Yield ``(line number, stripped line)`` for each non-blank line of a JSONL file.

    ``on_progress`` is given the number of bytes read since its last call (every
    64 KiB or so, and at the end).
    """
    done = 0
    with path.open("rb") as fh:
        for lineno, line in enumerate(fh, 1):
            if on_progress is not None:
                done += len(line)
                if done >= 1 << 16:
                    on_progress(done)
                    done = 0
            line = line.strip()
            if line:
                yield lineno, line
    if on_progress is not None and done:
        on_progress(done)


@fewer_collections()
def run(
    scorer: OfflineScorer,
    lines: Iterable[tuple[int, bytes]],
    changes_out: IO[bytes] | None = None,
    strict: bool = False,
    on_line: Callable[[int], None] | None = None,
    finish_at: int | None = None,
    rejects_out: IO[bytes] | None = None,
    notices_out: IO[bytes] | None = None,
    cases_out: IO[bytes] | None = None,
    audit_out: IO[bytes] | None = None,
) -> int:
    """Feed lines; write tier changes (notices, case events, audit records, and rejected lines, to ``rejects_out``)
    as they happen; return the as-of instant (``finish_at`` if given, else ``--as-of``, else the latest event time)."""
    started = time.perf_counter()
    rep = scorer.report
    scorer.keep_notices = scorer.keep_notices or any(f is not None for f in (notices_out, cases_out, audit_out))
    if rejects_out is not None:
        def write_reject(r: Reject) -> None:
            rejects_out.write(r.to_json() + b"\n")

        rep.sink = write_reject
    for lineno, raw in lines:
        rep.lines += 1
        try:
            changes = scorer.feed_line(lineno, raw)
        except InputError as exc:
            rep.reject(Reject.of(exc))
            if strict:
                raise
            continue
        finally:
            if on_line is not None:
                on_line(1)
            write_notices(scorer, notices_out, cases_out, audit_out)  # a line refused may follow the reviews due
        if changes_out is not None:
            for c in changes:
                changes_out.write(c.model_dump_json().encode() + b"\n")
    as_of, final = scorer.finish(finish_at)
    if changes_out is not None:
        for c in final:
            changes_out.write(c.model_dump_json().encode() + b"\n")
    write_notices(scorer, notices_out, cases_out, audit_out)
    rep.seconds = time.perf_counter() - started
    return as_of


def write_notices(scorer: OfflineScorer, out: IO[bytes] | None, cases_out: IO[bytes] | None = None,
                  audit_out: IO[bytes] | None = None) -> None:
    """Write what the scorer made since the last call (audit records, notices, case events) as JSON lines."""
    for a in scorer.take_audits():
        if audit_out is not None:
            audit_out.write(a.model_dump_json().encode() + b"\n")
    for n in scorer.take_notices():
        if out is not None:
            out.write(n.model_dump_json().encode() + b"\n")
    for c in scorer.take_cases():
        if cases_out is not None:
            cases_out.write(c.model_dump_json().encode() + b"\n")


def write_snapshots(snaps: Iterable[EntitySnapshot], out: IO[bytes]) -> int:
    """Write one JSON line per snapshot (the format of ``tierstream score --out``); return how many."""
    n = 0
    for s in snaps:
        out.write(orjson.dumps(s.line()) + b"\n")
        n += 1
    return n
