"""What the engine returns (an event's outcome, a grade at one instant) and the event-time conversions.

Event time is whole seconds since the epoch (``ts``, negative before 1970); a
day is a day number of the rules' time zone (``scorers.calendar``: ``t // DAY``
in UTC); ``iso_day`` and ``utc`` turn them back for outputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal, NamedTuple

from tierstream.schemas.outputs import ReferralCredit, SupplierAlert, SupplierCase, TierChange, TierNotice
from tierstream.scorers.grading import Composite
from tierstream.scorers.messages import Code, render, render_all
from tierstream.scorers.metrics import Metrics

__all__ = ["REREVIEW", "RULES_CAUSE", "Grade", "Outcome", "Status", "iso_day", "rules_cause", "ts", "utc"]

Status = Literal["applied", "history", "duplicate", "too_old", "too_new", "invalid"]
REREVIEW = "re-review"
#: the cause of a change that new rules made (``rules <version>``), when they re-grade every entity
RULES_CAUSE = "rules "


def rules_cause(version: str) -> str:
    """The cause of a change made by re-grading under rules ``version``."""
    return f"{RULES_CAUSE}{version}"


@dataclass(slots=True)
class Outcome:
    """Record what one event, credit or review did: its status and the outputs it emits."""

    status: Status = "applied"
    detail: str = ""
    invalid_field: str = ""  #: an invalid event: the field the rules refuse (``detail`` says why)
    invalid_value: Any = None  #: ... and its value
    changes: list[TierChange] = field(default_factory=list)
    alerts: list[SupplierAlert] = field(default_factory=list)
    credits: list[ReferralCredit] = field(default_factory=list)
    notices: list[TierNotice] = field(default_factory=list)
    cases: list[SupplierCase] = field(default_factory=list)

    def extend(self, more: Outcome) -> None:
        """Add the tier changes, alerts, notices and cases of ``more`` (a review after this one)."""
        self.changes += more.changes
        self.alerts += more.alerts
        self.notices += more.notices
        self.cases += more.cases


class Grade(NamedTuple):
    """An evaluation at one instant: everything a change, a snapshot or the timer needs.

    A tuple: one is built for every event and every review.
    """

    tier: str
    tier_idx: int
    comp: Composite
    metrics: Metrics
    next_review: int | None
    note_codes: list[Code] = []  # noqa: RUF012  # the notes as messages (a NamedTuple's default is shared: never mutated)
    ungraded_code: Code | None = None  # why the tier is UNGRADED (tier_idx is then -1), as a message

    @property
    def notes(self) -> list[str]:
        """The notes in words (worded on demand: most grades publish nothing)."""
        return render_all(self.note_codes)

    @property
    def ungraded(self) -> str | None:
        """Why the tier is UNGRADED, in words (``None``: graded)."""
        return None if self.ungraded_code is None else render(self.ungraded_code)


def ts(dt: datetime) -> int:
    """Return ``dt`` as event time: whole seconds since the epoch, rounded down.

    Down, not toward zero: 1969-12-31T23:59:59.5Z is second -1, as 00:00:00.5Z is second 0,
    so a history before 1970 keeps its seconds as one after it does.
    """
    return int(dt.timestamp() // 1)


def iso_day(day: int) -> str:
    """Return a day number as an ISO date (the local date it numbers)."""
    return date.fromordinal(day + 719_163).isoformat()  # 719_163 = date(1970, 1, 1).toordinal()


def utc(t: int) -> datetime:
    """Return event time ``t`` as an aware UTC datetime."""
    return datetime.fromtimestamp(t, UTC)
