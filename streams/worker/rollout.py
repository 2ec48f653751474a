"""Rules rollout: new rules take effect at their instant and, when they say so, re-grade every entity.

A rules file names its ``effective_from`` (event time) and its ``regrade``
policy. The worker takes new rules at once when that instant has passed (or
there is none), else at the first event at or after it. With ``regrade: now``
it then sends one *marker* per partition it owns through the ``reviews``
topic: the partition's round re-grades every entity there (the reviews due
under the old rules up to the instant, then a grade under the new ones, a
change caused by ``rules <version>``), inside the same outbox round as any
event, so a re-grade is written, sent and committed like one. A marker that
arrives again finds every entity graded under the new rules already and
changes nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from tierstream.schemas.rules import Rules
from tierstream.scorers.engine import ts, utc
from tierstream.streams.worker.letters import Outgoing

__all__ = ["MARKER_KEY", "RulesVersion", "effective", "marker", "read_marker"]

#: the key prefix of a re-grade marker on the reviews topic (entity keys name a type first)
MARKER_KEY = b"rules:"


@dataclass(frozen=True, slots=True)
class RulesVersion:
    """One rules version a worker took: which, from when, and its file's sha256."""

    version: str
    sha256: str
    effective_from: str | None
    regrade: str
    taken_at: str  #: wall clock
    as_of: str | None  #: the event time it graded from (``None``: the rules the worker started with)

    @classmethod
    def of(cls, rules: Rules, at: int | None, wall: float) -> RulesVersion:
        start = rules.effective_from.isoformat() if rules.effective_from is not None else None
        return cls(rules.version, rules.sha256, start, rules.regrade,
                   datetime.fromtimestamp(wall, UTC).isoformat(timespec="seconds"),
                   None if at is None else utc(at).isoformat())

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def effective(rules: Rules) -> int | None:
    """The event time the rules take effect at (``None``: at once)."""
    return None if rules.effective_from is None else ts(rules.effective_from)


def marker(reviews_topic: str, partition: int, rules: Rules, at: int) -> Outgoing:
    """The re-grade marker of one partition: re-grade its entities under ``rules`` as of ``at``."""
    return Outgoing(reviews_topic, MARKER_KEY + str(partition).encode(), f"{rules.sha256}:{at}".encode(), partition)


def read_marker(raw: bytes) -> tuple[str, int] | None:
    """(rules sha256, instant) of a marker's value, or ``None`` when it is not one."""
    sha, _, at = raw.decode("ascii", "replace").partition(":")
    try:
        return sha, int(at)
    except ValueError:
        return None
