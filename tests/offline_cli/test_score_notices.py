"""``tierstream score --notices`` and ``--cases``: in event time, the same on any number of processes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson

from tests.offline_cli.helpers import invoke
from tierstream.schemas.outputs import SupplierCase, TierNotice


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


def test_supplier_cases_are_written_in_event_time_the_same_on_any_number_of_processes(
        sample: Path, workdir: Path) -> None:
    files = []
    for workers in (1, 3):
        out = workdir / f"cases-{workers}.jsonl"
        result = invoke("score", sample, "--cases", out, "--workers", str(workers))
        assert result.exit_code == 0, result.stderr
        files.append(out.read_bytes())
    assert files[0] == files[1]
    cases = [SupplierCase.model_validate_json(line) for line in files[0].splitlines()]
    assert {c.status for c in cases} == {"opened", "closed", "escalated"}
    # every case opens first, then ends once at its deadline, closed or escalated
    by_case: dict[str, list[SupplierCase]] = {}
    for c in cases:
        by_case.setdefault(c.case_id, []).append(c)
        assert c.event_id == f"{c.case_id}:{c.status}"
    for events in by_case.values():
        assert events[0].status == "opened" and events[0].occurred_at == events[0].opened_at
        assert len(events) <= 2
        if len(events) == 2:
            assert events[1].occurred_at == events[1].deadline and events[1].cause == "re-review"
