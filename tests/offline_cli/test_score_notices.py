"""``tierstream score --notices``: every early warning, in event time, the same on any number of processes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson

from tests.offline_cli.helpers import invoke
from tierstream.schemas.outputs import TierNotice


def _notices(sample: Path, out: Path, workers: int) -> bytes:
    result = invoke("score", sample, "--notices", out, "--workers", str(workers))
    assert result.exit_code == 0, result.stderr
    assert " notices" in result.stderr
    return out.read_bytes()


def test_notices_are_written_in_event_time_the_same_on_any_number_of_processes(sample: Path, workdir: Path) -> None:
    one = _notices(sample, workdir / "notices-1.jsonl", 1)
    three = _notices(sample, workdir / "notices-3.jsonl", 3)
    assert one == three
    notices = [TierNotice.model_validate_json(line) for line in one.splitlines()]
    kinds = Counter(n.kind for n in notices)
    assert set(kinds) == {"at_risk", "supplier_watch", "approaching", "assessment_expiring"}, kinds
    ids = [n.notice_id for n in notices]
    assert len(set(ids)) == len(ids)  # one id, one notice
    # each entity's notices of a kind are numbered 1, 2, ... in the order they happened
    numbers: dict[tuple[str, str, str], list[int]] = {}
    for n in notices:
        numbers.setdefault((n.entity_type, n.entity_id, n.kind), []).append(int(n.notice_id.rsplit(":", 1)[1]))
        assert n.notice_id.startswith(f"tn:{n.entity_type}:{n.entity_id}:{n.kind}:")
    assert all(v == list(range(1, len(v) + 1)) for v in numbers.values())
    # an entity's notices come in event time
    last: dict[tuple[str, str], str] = {}
    for doc in map(orjson.loads, one.splitlines()):
        key = (doc["entity_type"], doc["entity_id"])
        assert doc["occurred_at"] >= last.get(key, ""), doc
        last[key] = doc["occurred_at"]
