"""What a fault scenario measured, and the table of figures ``scripts/faults.py`` prints."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Figures", "render_table"]


@dataclass
class Figures:
    """What one scenario measured; ``failures`` empty means every check held."""

    scenario: str
    events_in: int = 0
    valid: int = 0  # distinct valid event ids published
    expected_in_state: int = 0
    in_state: int = 0
    lost_events: int = 0
    extra_events: int = 0
    entities: int = 0
    parity: bool = False
    input_duplicates: int = 0
    reprocessed: int = 0  # inbound messages processed more than once (at least; scraped before each kill)
    changes: int = 0  # distinct tier changes on the topic
    redelivered_changes: int = 0
    conflicting_changes: int = 0  # one change_id, two contents
    lost_changes: int = 0
    redis_behind: int = 0
    redis_history_dups: int = 0
    dead_letters: int = 0
    seconds: float = 0.0
    facts: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return self.lost_events + self.lost_changes

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def result(self) -> str:
        return "FAILED" if self.failures else "ok"

    def check(self, condition: bool, message: str) -> None:
        if not condition:
            self.failures.append(message)


def render_table(rows: Sequence[Figures]) -> str:
    """Return the table of figures of ``rows``, then each row's facts and failures."""
    head = ["scenario", "events in", "valid", "in state", "expected", "lost", "dup in/reproc/redeliv/redis",
            "entities", "parity", "dead letters", "s", "result"]
    body = [[
        f.scenario, f"{f.events_in:,}", f"{f.valid:,}", f"{f.in_state:,}", f"{f.expected_in_state:,}",
        str(f.lost), f"{f.input_duplicates}/{f.reprocessed}/{f.redelivered_changes}/{f.redis_history_dups}",
        f"{f.entities:,}", "equal" if f.parity else "-", f"{f.dead_letters:,}", f"{f.seconds:.0f}",
        f.result,
    ] for f in rows]
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [line.format(*head), line.format(*("-" * w for w in widths))]
    out += [line.format(*r) for r in body]
    for f in rows:
        for k, v in f.facts.items():
            out.append(f"  {f.scenario}: {k}: {v}")
        for msg in f.failures:
            out.append(f"  {f.scenario}: FAILED: {msg}")
    return "\n".join(out)
