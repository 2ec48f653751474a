"""``score`` options: rejected line numbers, ``--strict``, ``--as-of``."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import orjson
from pydantic import ValidationError

from tests.offline_cli.helpers import GOLDEN_TIERS, REJECTED, Scored, distribution, score
from tierstream.schemas.events import INBOUND_ADAPTER
from tierstream.schemas.outputs import TierChange


def test_rejected_line_numbers_in_a_small_file(tmp_path: Path) -> None:
    good = {"type": "order", "event_id": "e1", "occurred_at": "2025-03-01T10:00:00Z", "order_id": "o1",
            "customer_id": "c1", "amount": 10.0}
    lines = [
        orjson.dumps(good),
        orjson.dumps({**good, "event_id": "e2", "amount": -3}),
        b"",  # blank lines are skipped but still counted
        orjson.dumps({**good, "event_id": "e3", "type": "refund"}),
        b'{"type": "order", ',
        orjson.dumps({**good, "event_id": "e4", "occurred_at": "2025-03-02T10:00:00"}),
        orjson.dumps({**good, "event_id": "e5", "order_id": "o5"}),
    ]
    path = tmp_path / "small.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    res = score(path, tmp_path / "out")
    assert res.result.exit_code == 0
    err = res.result.stderr
    assert f"rejected {path}:line 2: order.amount: Input should be greater than or equal to 0 (got -3)" in err
    assert re.search(rf"rejected {re.escape(str(path))}:line 4: .*'refund'", err)
    assert f"rejected {path}:line 5: " in err
    assert f"rejected {path}:line 6: order.occurred_at: " in err
    assert "4 rejected" in err
    (snap,) = res.snapshots()
    assert snap["aggregates"]["order_count"] == 2


def test_strict_stops_at_the_first_invalid_line(sample: Path, workdir: Path, scored: Scored) -> None:
    first = int(REJECTED.match(next(
        line for line in scored.result.stderr.splitlines() if line.startswith("rejected ")))["line"])  # type: ignore[index]
    out = workdir / "strict"
    res = score(sample, out, "--strict")
    assert res.result.exit_code == 2
    err = res.result.stderr
    assert f"error: {sample}:line {first}: " in err
    assert "rejected" not in err
    assert not res.state.exists()  # nothing is written after a strict failure


def test_strict_passes_a_clean_file(sample: Path, workdir: Path) -> None:
    clean = workdir / "clean.jsonl"
    kept = []
    for line in sample.read_bytes().splitlines():
        try:
            INBOUND_ADAPTER.validate_json(line)
        except ValidationError:
            continue
        kept.append(line)
    clean.write_bytes(b"\n".join(kept) + b"\n")
    res = score(clean, workdir / "clean", "--strict")
    assert res.result.exit_code == 0, res.result.stderr
    assert distribution(res.snapshots()) == GOLDEN_TIERS


def test_as_of_skips_later_events(sample: Path, workdir: Path, scored: Scored) -> None:
    as_of = "2026-09-01T00:00:00Z"
    cut = datetime(2026, 9, 1, tzinfo=UTC)
    early = score(sample, workdir / "as-of", "--as-of", as_of)
    assert early.result.exit_code == 0, early.result.stderr
    later = 0
    for line in sample.read_bytes().splitlines():
        try:
            if INBOUND_ADAPTER.validate_json(line).occurred_at > cut:
                later += 1
        except ValidationError:
            pass
    assert later > 0
    assert f"{later:,} after --as-of" in early.result.stderr
    snaps = early.snapshots()
    assert snaps
    assert len(snaps) < len(scored.snapshots())
    for s in snaps:
        assert s["as_of"] == as_of
        assert s["window"]["end"] == "2026-09-01"
        last = s["aggregates"].get("last_order_at")
        assert last is None or last <= as_of
    for c in map(TierChange.model_validate_json, early.changes.read_bytes().splitlines()):
        assert c.occurred_at <= cut

    # the same as grading a file that never had the later events
    trimmed = workdir / "trimmed.jsonl"
    kept = []
    for line in sample.read_bytes().splitlines():
        try:
            if INBOUND_ADAPTER.validate_json(line).occurred_at > cut:
                continue
        except ValidationError:
            pass
        kept.append(line)
    trimmed.write_bytes(b"\n".join(kept) + b"\n")
    same = score(trimmed, workdir / "trimmed", "--as-of", as_of)
    assert same.state.read_bytes() == early.state.read_bytes()


def test_as_of_needs_a_timezone(sample: Path, workdir: Path) -> None:
    res = score(sample, workdir / "naive", "--as-of", "2026-09-01T00:00:00")
    assert res.result.exit_code == 2
    assert "no timezone offset" in res.result.stderr
