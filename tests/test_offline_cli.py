"""Golden tests of the offline commands on a small generated sample.

The sample is ``tierstream sample --customers 300 --suppliers 40 --days 120 --seed 3``
(about 1,400 lines, with late, duplicated and invalid lines); every command runs
through click's CliRunner on ``streams.cli.main.main``, as a user would run it.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import click
import orjson
import pytest
import yaml
from click.testing import CliRunner, Result
from pydantic import ValidationError

from tierstream.schemas.events import INBOUND_ADAPTER
from tierstream.schemas.outputs import EntitySnapshot, TierChange
from tierstream.streams.cli.main import LazyGroup, main

SAMPLE_ARGS = ["--customers", "300", "--suppliers", "40", "--days", "120", "--seed", "3"]

# Golden summary of ``tierstream score`` on the seed-3 sample with the default rules.
# To regenerate (after a deliberate change to the sample generator, the rules or the
# scorers), run
#     tierstream sample --customers 300 --suppliers 40 --days 120 --seed 3 --out /tmp/s3.jsonl
#     tierstream score /tmp/s3.jsonl
# and copy the entity count and the tier distribution it prints on stderr (the last lines).
GOLDEN_ENTITIES = 236
GOLDEN_TIERS = {
    ("customer", "general"): 100,
    ("customer", "key"): 6,
    ("customer", "potential"): 90,
    ("supplier", "excellent"): 10,
    ("supplier", "good"): 12,
    ("supplier", "qualified"): 9,
    ("supplier", "unqualified"): 9,
}
GOLDEN_AS_OF = "2026-10-31T22:22:01Z"  # the latest valid event in the sample
GOLDEN_REJECTED = 1  # invalid lines the generator wrote (invalid_ratio 0.2%)

CUSTOMER_AGGREGATES = {
    "order_count", "revenue", "gross_profit", "first_order_at", "last_order_at", "late_payments",
    "avg_days_late", "qualified_referrals",
}
SUPPLIER_AGGREGATES = {
    "deliveries", "on_time_rate", "fill_rate", "quality_pass_rate", "price_index", "avg_first_response_hours",
}
SNAPSHOT_KEYS = {
    "entity_type", "entity_id", "tier", "score", "segment", "group", "components", "aggregates", "window",
    "next_tier", "as_of", "rules_version",
}
REJECTED = re.compile(r"^rejected (?P<file>.+):line (?P<line>\d+): (?P<what>[a-z_]+(\.[a-z_]+)?): ")


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@dataclass
class Scored:
    result: Result
    state: Path
    changes: Path

    def snapshots(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self.state.read_bytes().splitlines()]


def score(events: Path, out_dir: Path, *extra: str | Path) -> Scored:
    out_dir.mkdir(parents=True, exist_ok=True)
    state, changes = out_dir / "STATE.jsonl", out_dir / "CHANGES.jsonl"
    result = invoke("score", events, "--out", state, "--changes", changes, *extra)
    return Scored(result, state, changes)


def distribution(snaps: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    return dict(Counter((s["entity_type"], s["tier"]) for s in snaps))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("offline")


@pytest.fixture(scope="module")
def sample(workdir: Path) -> Path:
    path = workdir / "events.jsonl"
    result = invoke("sample", *SAMPLE_ARGS, "--out", path)
    assert result.exit_code == 0, result.output
    assert path.stat().st_size > 0
    return path


@pytest.fixture(scope="module")
def scored(sample: Path, workdir: Path) -> Scored:
    return score(sample, workdir / "default")


@pytest.fixture(scope="module")
def default_rules_path() -> Path:
    return Path(str(resources.files("tierstream.schemas").joinpath("default_rules.yaml")))


# --------------------------------------------------------------------------- score


def test_score_exits_zero_and_summarises(scored: Scored) -> None:
    res = scored.result
    assert res.exit_code == 0, res.stderr
    assert res.stdout == ""  # everything human goes to stderr
    assert re.search(r"[\d,]+ lines in [\d.]+s", res.stderr)
    assert f"{GOLDEN_REJECTED} rejected" in res.stderr
    assert f"{GOLDEN_ENTITIES:,} entities" in res.stderr


def test_state_has_one_line_per_entity_with_required_keys(scored: Scored) -> None:
    snaps = scored.snapshots()
    keys = [(s["entity_type"], s["entity_id"]) for s in snaps]
    assert len(keys) == len(set(keys)) == GOLDEN_ENTITIES
    assert keys == sorted(keys)  # deterministic file order
    for s in snaps:
        assert set(s) == SNAPSHOT_KEYS
        EntitySnapshot.model_validate(s)
        assert set(s["window"]) == {"days", "start", "end"}
        assert s["as_of"] == GOLDEN_AS_OF
        assert s["window"]["end"] == GOLDEN_AS_OF[:10]
        assert 0 <= s["score"] <= 100
        if s["entity_type"] == "customer":
            assert set(s["aggregates"]) >= CUSTOMER_AGGREGATES
            assert s["window"]["days"] == 365
        else:
            assert set(s["aggregates"]) >= SUPPLIER_AGGREGATES
            assert s["window"]["days"] == 180
            assert s["segment"] is None
        top = "key" if s["entity_type"] == "customer" else "excellent"
        if s["tier"] == top:
            assert s["next_tier"] is None
        else:
            assert s["next_tier"] is not None
            assert {"tier", "score_gap", "hints"} <= set(s["next_tier"])


def test_customer_aggregates_are_consistent(scored: Scored) -> None:
    for s in scored.snapshots():
        if s["entity_type"] != "customer":
            continue
        a = s["aggregates"]
        assert a["order_count"] >= 0 and a["late_payments"] >= 0 and a["qualified_referrals"] >= 0
        assert a["late_payments"] <= a["payments"]
        if a["late_payments"] == 0:
            assert a["avg_days_late"] == 0.0
        else:
            assert a["avg_days_late"] >= 1
        if a["first_order_at"] is not None:
            assert a["first_order_at"] <= a["last_order_at"] <= GOLDEN_AS_OF


def test_golden_tier_distribution(scored: Scored) -> None:
    assert distribution(scored.snapshots()) == GOLDEN_TIERS
    for (kind, tier), n in GOLDEN_TIERS.items():
        assert re.search(rf"^\s+{kind}\s+{tier}\s+{n:,}$", scored.result.stderr, re.M), (kind, tier)


def test_changes_parse_as_tier_changes(scored: Scored) -> None:
    lines = scored.changes.read_bytes().splitlines()
    assert lines
    changes = [TierChange.model_validate_json(line) for line in lines]
    ids = [c.change_id for c in changes]
    assert len(ids) == len(set(ids))
    seq: dict[tuple[str, str], int] = {}
    for c in changes:
        key = (c.entity_type, c.entity_id)
        seq[key] = seq.get(key, 0) + 1
        assert c.change_id == f"tc:{c.entity_type}:{c.entity_id}:{seq[key]}"  # per-entity sequence in file order
        assert c.reasons
        assert c.occurred_at <= datetime.fromisoformat(GOLDEN_AS_OF)
        assert (c.direction == "initial") == (seq[key] == 1)
    # the last change of each entity is the tier in STATE
    last = {(c.entity_type, c.entity_id): c.tier for c in changes}
    for s in scored.snapshots():
        assert last[(s["entity_type"], s["entity_id"])] == s["tier"]
    assert f"{len(changes):,} tier changes" in scored.result.stderr


def test_rejected_lines_are_reported_with_line_and_field(scored: Scored, sample: Path) -> None:
    rejected = [line for line in scored.result.stderr.splitlines() if line.startswith("rejected ")]
    assert len(rejected) == GOLDEN_REJECTED
    raw = sample.read_bytes().splitlines()
    for line in rejected:
        m = REJECTED.match(line)
        assert m, line
        assert m["file"] == str(sample)
        bad = raw[int(m["line"]) - 1]
        with pytest.raises(ValidationError):
            INBOUND_ADAPTER.validate_json(bad)
        field = m["what"].split(".")[-1]
        # the field named is the culprit (or absent, or the line is no object at all)
        assert field.encode() in bad or "required" in line or "should be an object" in line


def _shuffled(sample: Path, dest: Path, seed: int | None) -> Path:
    lines = sample.read_bytes().splitlines()
    if seed is None:
        lines.reverse()
    else:
        random.Random(seed).shuffle(lines)
    dest.write_bytes(b"\n".join(lines) + b"\n")
    return dest


@pytest.mark.parametrize("seed", [0, 1, None], ids=["shuffle-0", "shuffle-1", "reversed"])
def test_shuffled_file_gives_identical_state(scored: Scored, sample: Path, workdir: Path, seed: int | None) -> None:
    name = f"arranged-{seed}"
    events = _shuffled(sample, workdir / f"{name}.jsonl", seed)
    again = score(events, workdir / name)
    assert again.result.exit_code == 0, again.result.stderr
    assert again.state.read_bytes() == scored.state.read_bytes()
    # the final tier of every entity agrees with its last change in this arrival order too
    last = {(c["entity_type"], c["entity_id"]): c["tier"]
            for c in map(orjson.loads, again.changes.read_bytes().splitlines())}
    assert all(last[(s["entity_type"], s["entity_id"])] == s["tier"] for s in again.snapshots())


@pytest.mark.parametrize("workers", [1, 3])
def test_any_number_of_processes_writes_the_same_files(scored: Scored, sample: Path, workdir: Path,
                                                        workers: int) -> None:
    again = score(sample, workdir / f"workers-{workers}", "--workers", str(workers))
    assert again.result.exit_code == 0, again.result.stderr
    assert again.state.read_bytes() == scored.state.read_bytes()
    assert again.changes.read_bytes() == scored.changes.read_bytes()  # same changes, same order
    rejected = [line for line in again.result.stderr.splitlines() if line.startswith("rejected ")]
    assert rejected == [line for line in scored.result.stderr.splitlines() if line.startswith("rejected ")]
    assert ("[3 processes]" in again.result.stderr) == (workers == 3)


def test_a_split_that_separates_referral_partners_falls_back_to_one_process(
    scored: Scored, sample: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shards check the split; a wrong one is caught and the run redone, never answered."""
    import tierstream.streams.offline.parallel as par
    from tierstream.schemas.rules import load_rules

    monkeypatch.setattr(par, "referral_components", lambda lines: {})  # partners split by hash
    with (workdir / "fallback-changes.jsonl").open("wb") as fh:
        res = par.score_parallel(sample, load_rules(), 3, changes_out=fh)
    assert res.fell_back is not None and "ForeignCredit" in res.fell_back
    assert res.shards == 1
    assert (workdir / "fallback-changes.jsonl").read_bytes() == scored.changes.read_bytes()
    assert b"".join(line + b"\n" for _, _, line in res.snapshots) == scored.state.read_bytes()


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


# --------------------------------------------------------------------------- rules


@pytest.fixture(scope="module")
def key80(workdir: Path, default_rules_path: Path) -> Path:
    doc = yaml.safe_load(default_rules_path.read_text("utf-8"))
    doc["version"] = "key-80"
    doc["customer"]["tiers"][0]["min_score"] = 80
    doc["customer"]["groups"]["wholesale"]["tiers"][0]["min_score"] = 80
    path = workdir / "key80.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    return path


def test_rules_diff_reports_fewer_key_customers(sample: Path, default_rules_path: Path, key80: Path,
                                                 scored: Scored) -> None:
    res = invoke("rules", "diff", default_rules_path, key80, sample, "--json")
    assert res.exit_code == 0, res.stderr
    doc = orjson.loads(res.stdout)
    assert doc["old_version"] == "2026.11-default" and doc["new_version"] == "key-80"
    assert doc["entities"] == GOLDEN_ENTITIES
    before, after = doc["before"], doc["after"]
    assert before == {f"{k}/{t}": n for (k, t), n in sorted(GOLDEN_TIERS.items())}
    assert after["customer/key"] < before["customer/key"]
    assert after["customer/general"] - before["customer/general"] == before["customer/key"] - after["customer/key"]
    assert {k: v for k, v in after.items() if k.startswith("supplier/")} == {
        k: v for k, v in before.items() if k.startswith("supplier/")}
    movers = doc["movers"]
    assert len(movers) == before["customer/key"] - after["customer/key"]
    key_now = {s["entity_id"] for s in scored.snapshots() if s["tier"] == "key"}
    for m in movers:
        assert (m["entity_type"], m["from"], m["to"]) == ("customer", "key", "general")
        assert m["entity_id"] in key_now
        assert m["score_before"] < 80

    text = invoke("rules", "diff", default_rules_path, key80, sample)
    assert text.exit_code == 0
    assert f"rules 2026.11-default -> key-80: {GOLDEN_ENTITIES:,} entities, {len(movers)} would move" in text.stdout
    assert re.search(rf"^\s+customer\s+key\s+{before['customer/key']}\s+{after['customer/key']}\s+-\d+$",
                     text.stdout, re.M)
    assert "movers (largest score change first):" in text.stdout
    for m in movers:
        assert f"customer {m['entity_id']}: key -> general" in text.stdout


def test_rules_diff_is_the_same_on_any_number_of_processes(sample: Path, default_rules_path: Path,
                                                           key80: Path) -> None:
    one = invoke("rules", "diff", default_rules_path, key80, sample, "--json", "--workers", "1")
    three = invoke("rules", "diff", default_rules_path, key80, sample, "--json", "--workers", "3")
    assert one.exit_code == three.exit_code == 0, one.stderr + three.stderr
    assert orjson.loads(one.stdout)["movers"]  # something moves, and identically
    assert one.stdout == three.stdout


def test_rules_diff_of_identical_rules_moves_nobody(sample: Path, default_rules_path: Path) -> None:
    res = invoke("rules", "diff", default_rules_path, default_rules_path, sample, "--json")
    doc = orjson.loads(res.stdout)
    assert doc["movers"] == [] and doc["before"] == doc["after"]


def test_rules_check_accepts_the_default(default_rules_path: Path) -> None:
    res = invoke("rules", "check", default_rules_path)
    assert res.exit_code == 0
    assert "OK (version 2026.11-default)" in res.stdout
    assert "tiers key 70 > general 40 > potential 0" in res.stdout


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["customer"]["dimensions"]["recency"].update(weight=0.3),
         "customer: dimension weights must sum to 1"),
        (lambda d: d["supplier"]["dimensions"]["quality"].update(metric="defects"),
         "supplier.dimensions.quality: unknown metric 'defects'"),
        (lambda d: d["customer"]["tiers"][1].update(min_score=70), "customer.tiers: tiers overlap"),
    ],
    ids=["weights", "metric", "overlap"],
)
def test_rules_check_refuses_a_bad_file(tmp_path: Path, default_rules_path: Path, edit: Any, message: str) -> None:
    doc = yaml.safe_load(default_rules_path.read_text("utf-8"))
    edit(doc)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    res = invoke("rules", "check", bad)
    assert res.exit_code != 0
    assert f"{bad}: invalid rules" in res.stderr
    assert message in res.stderr


def test_rules_check_refuses_broken_yaml(tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text("customer: [\n", "utf-8")
    res = invoke("rules", "check", bad)
    assert res.exit_code != 0
    assert f"{bad}: not valid YAML" in res.stderr


def test_score_with_bad_rules_fails_before_reading(sample: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: x\n", "utf-8")
    res = invoke("score", sample, "--rules", bad, "--out", tmp_path / "s.jsonl")
    assert res.exit_code != 0
    assert "invalid rules" in res.stderr
    assert not (tmp_path / "s.jsonl").exists()


def test_referral_partners_share_a_shard_even_when_json_escapes_spell_referral(tmp_path: Path) -> None:
    import tierstream.streams.offline.parallel as par
    from tierstream.schemas.rules import load_rules

    # two customers the hash alone would put in different shards
    ids = [f"c{i}" for i in range(50)]
    plain = par.Split(2, {})
    a = ids[0]
    b = next(x for x in ids if plain.of(("customer", x)) != plain.of(("customer", a)))
    lines = [
        {"event_id": "e1", "occurred_at": "2026-01-01T10:00:00Z", "type": "order", "order_id": "o1",
         "customer_id": a, "amount": 100.0},
        {"event_id": "e2", "occurred_at": "2026-01-02T10:00:00Z", "type": "REFERRAL", "referrer_id": a,
         "referred_id": b},
        {"event_id": "e3", "occurred_at": "2026-01-03T10:00:00Z", "type": "order", "order_id": "o2",
         "customer_id": b, "amount": 80.0},
    ]
    text = b"\n".join(orjson.dumps(x) for x in lines).replace(b'"REFERRAL"', b'"r\\u0065ferral"') + b"\n"
    events = tmp_path / "escaped.jsonl"
    events.write_bytes(text)
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    with one.open("wb") as fh:
        par._one_process(events, load_rules(), None, fh, False, 0.0, "reference")
    with two.open("wb") as fh:
        res = par.score_parallel(events, load_rules(), 2, changes_out=fh)
    assert res.fell_back is None and res.shards == 2
    assert two.read_bytes() == one.read_bytes()
    referrer = next(orjson.loads(line) for key, _, line in res.snapshots if key == ("customer", a))
    assert referrer["aggregates"]["qualified_referrals"] == 1  # credited, inside its own shard


# --------------------------------------------------------------------------- the command group


def test_help_lists_every_command_without_importing_faust() -> None:
    probe = (
        "import sys\n"
        "from tierstream.streams.cli.main import main\n"
        "main(['--help'], prog_name='tierstream', standalone_mode=False)\n"
        "print('loaded:', sorted({m.split('.')[0] for m in sys.modules} & {'faust', 'kafka', 'aiokafka', 'mode'}))\n"
    )
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
           "COLUMNS": "100"}
    out = subprocess.run([sys.executable, "-c", probe], env=env, cwd=root, capture_output=True, text=True,
                         check=True).stdout
    assert out.splitlines()[-1] == "loaded: []"
    listed = dict(re.findall(r"^  (\w+) +(\S.*)$", out.split("\nCommands:\n")[1], re.M))
    assert sorted(listed) == ["bench", "dev", "publish", "rules", "sample", "schema", "score", "snapshot",
                              "watch", "worker"]
    ctx = click.Context(main)
    for name, line in listed.items():
        command = main.get_command(ctx, name)
        assert command is not None and command.help is not None
        assert command.help.startswith(line.removesuffix("...")), name  # its one-line help


def test_every_lazy_command_loads_under_its_own_name() -> None:
    assert isinstance(main, LazyGroup)
    ctx = click.Context(main)
    for name, path in main.lazy_subcommands.items():
        command = main.get_command(ctx, name)
        assert isinstance(command, click.Command) and command.name == name, path
    assert main.get_command(ctx, "no-such-command") is None
