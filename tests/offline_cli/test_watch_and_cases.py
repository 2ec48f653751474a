"""Suppliers on watch and open rectification cases, in ``score --out`` and ``review``: derived by hand below.

The default rules with the supplier section replaced: graded on the on-time rate alone (0..1 -> 0..100),
tiers good 70, qualified 40, unqualified 0; hysteresis: margin 5 (hold lines good 65, qualified 35),
no minimum days, no grace, held at most 30 days; a rectification case has 10 days. Time zone UTC.
The tiers are labelled in Chinese (良好供应商, 合格供应商, 不合格供应商) and Spanish (bueno, calificado,
no calificado); in English they show their names.
Each delivery is of 10, all accepted; "late" is delivered a day after its promise.

* s1: 2025-01-01 two on time (1.0, score 100): good. 2025-01-11 12:00 one late: 2/3 = 66.67, under
  good's 70 but on its hold line 65: held in good, the score alone gives qualified: at_risk (good) and
  supplier_watch (good -> qualified) are in force. q, the last day whose end-of-day score reached 70,
  is 2025-01-10; on the hold line the hold lasts 30 days from q: it lapses on 2025-02-09.
* s2: 2025-01-01 two on time: good. 2025-01-06 12:00 four late, one by one: 2/3 = 66.67 (held in good,
  its watch starts), 2/4 = 50 under the hold line 65: qualified (the watch ends), 2/5 = 40: qualified,
  2/6 = 33.33 under qualified's hold line 35: unqualified, the lowest tier: case sc:s2:1 opens at
  2025-01-06T12:00Z, deadline 00:00 ten days after the opening day: 2025-01-16T00:00Z.

As of 2025-01-12T00:00Z (A): s1 held in good (a held_by_hysteresis row and a supplier_watch row, both
due A), s2's case open (a rectification_open row due at its deadline, in 4.0 days).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from tests.offline_cli.helpers import invoke
from tierstream.schemas.rules import load_rules
from tierstream.streams.cli.main import main

AS_OF = "2025-01-12T00:00:00Z"


def _delivery(eid: str, sid: str, at: str, promised: str) -> dict[str, Any]:
    return {"type": "delivery", "event_id": eid, "occurred_at": at, "supplier_id": sid, "order_id": eid,
            "promised_at": promised, "quantity_ordered": 10, "quantity_delivered": 10, "quantity_accepted": 10}


def _on_time(eid: str, sid: str) -> dict[str, Any]:
    return _delivery(eid, sid, "2025-01-01T12:00:00Z", "2025-01-02T00:00:00Z")


EVENTS = [
    _on_time("s1-a", "s1"), _on_time("s1-b", "s1"), _on_time("s2-a", "s2"), _on_time("s2-b", "s2"),
    *(_delivery(f"s2-l{i}", "s2", "2025-01-06T12:00:00Z", "2025-01-05T12:00:00Z") for i in range(4)),
    _delivery("s1-l", "s1", "2025-01-11T12:00:00Z", "2025-01-10T12:00:00Z"),
]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("watch")
    rules = yaml.safe_load(load_rules().model_dump_json())
    rules["version"] = "watch-test"
    rules["supplier"] = {
        "window_days": 180,
        "dimensions": {"on_time": {"metric": "on_time_rate", "weight": 1, "scale": [[0, 0], [1, 100]]}},
        "tiers": [{"name": "good", "min_score": 70, "label": {"zh": "良好供应商", "es": "bueno"}},
                  {"name": "qualified", "min_score": 40, "label": {"zh": "合格供应商", "es": "calificado"}},
                  {"name": "unqualified", "min_score": 0, "label": {"zh": "不合格供应商", "es": "no calificado"}}],
        "hysteresis": {"downgrade_margin": 5, "min_days_in_tier": 0, "grace_days": 0, "hold_days": 30},
        "rectification": {"deadline_days": 10},
    }
    (root / "rules.yaml").write_text(yaml.safe_dump(rules))
    (root / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in EVENTS))
    return root / "events.jsonl", root / "rules.yaml"


def test_state_lines_show_the_notices_in_force_and_the_open_case(files: tuple[Path, Path], tmp_path: Path) -> None:
    events, rules = files
    out = tmp_path / "state.jsonl"
    result = invoke("score", events, "--rules", rules, "--as-of", AS_OF, "--out", out)
    assert result.exit_code == 0, result.output
    lines = {d["entity_id"]: d for d in map(json.loads, out.read_text().splitlines())}
    s1, s2 = lines["s1"], lines["s2"]
    assert (s1["tier"], s1["score"], s1["open_case"]) == ("good", 66.67, None)
    assert s1["notices"] == [
        {"kind": "at_risk", "tier": "good", "target_tier": None, "assessment_id": None, "expires_at": None},
        {"kind": "supplier_watch", "tier": "good", "target_tier": "qualified", "assessment_id": None,
         "expires_at": None},
    ]
    assert (s2["tier"], s2["score"], s2["notices"]) == ("unqualified", 33.33, [])
    assert s2["open_case"] == {"case_id": "sc:s2:1", "opened_at": "2025-01-06T12:00:00Z",
                               "deadline": "2025-01-16T00:00:00Z"}


def test_review_lists_the_open_case_and_the_supplier_on_watch(files: tuple[Path, Path]) -> None:
    events, rules = files
    result = invoke("review", events, "--rules", rules, "--as-of", AS_OF, "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]
    assert [(r["due_date"], r["entity_id"], r["kind"], r["tier"]) for r in rows] == [
        ("2025-01-12", "s1", "held_by_hysteresis", "good"),
        ("2025-01-12", "s1", "supplier_watch", "good"),
        ("2025-01-16", "s2", "rectification_open", "unqualified"),
    ]
    _, watch, case = rows
    assert watch["due_at"] == AS_OF
    assert watch["detail"] == ("on watch: its score left good for qualified; score 66.67 under good's minimum 70; "
                               "the downgrade takes effect on 2025-02-09 if nothing changes")
    assert case["due_at"] == "2025-01-16T00:00:00Z"
    assert case["detail"] == ("rectification case sc:s2:1 opened 2025-01-06: re-assessed at its deadline 2025-01-16 "
                              "(in 4.0 days); score 33.33 in unqualified")


def test_after_the_deadline_and_the_lapse_nothing_is_due(files: tuple[Path, Path]) -> None:
    # As of 2025-03-01: s2's case was re-assessed on 2025-01-16 (still unqualified: escalated, closed);
    # s1's hold lapsed on 2025-02-09 (qualified, no longer on watch).
    events, rules = files
    result = invoke("review", events, "--rules", rules, "--as-of", "2025-03-01T00:00:00Z", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["due_date,entity_type,entity_id,kind,tier,detail"]


def test_review_details_in_chinese_and_spanish(files: tuple[Path, Path]) -> None:
    # The rows of test_review_lists_the_open_case_and_the_supplier_on_watch, worded by the zh and es templates
    # (scorers/messages): the tiers by their labels, Spanish numbers with a decimal comma. Chinese by
    # --language, Spanish by the setting TIERSTREAM_LANGUAGE.
    events, rules = files
    args = ["review", str(events), "--rules", str(rules), "--as-of", AS_OF, "--format", "json"]
    zh = CliRunner().invoke(main, [*args, "--language", "zh"], catch_exceptions=False)
    es = CliRunner().invoke(main, args, env={"TIERSTREAM_LANGUAGE": "es"}, catch_exceptions=False)
    assert zh.exit_code == es.exit_code == 0, zh.output + es.output
    assert [r["detail"] for r in json.loads(zh.stdout)["rows"]] == [
        "依靠滞后规则保持良好供应商：评分 66.67 低于其最低分 70 共 3.33 分；保持办法：准时交货率达到 70.0%",
        "观察中：评分已离开良好供应商，落入合格供应商；评分 66.67 低于良好供应商的最低分 70；"
        "如无变化，降级将于 2025-02-09 生效",
        "整改案例 sc:s2:1 于 2025-01-06 开启：将于截止日 2025-01-16 复评（还有 4.0 天）；评分 33.33，不合格供应商",
    ]
    assert [r["detail"] for r in json.loads(es.stdout)["rows"]] == [
        "se mantiene en bueno por histéresis: la puntuación 66,67 está 3,33 puntos por debajo de su mínimo 70; "
        "para mantenerlo: una tasa de entregas puntuales de 70,0%",
        "en observación: su puntuación salió de bueno hacia calificado; puntuación 66,67 por debajo del mínimo 70 "
        "de bueno; la bajada se aplica el 2025-02-09 si nada cambia",
        "caso de rectificación sc:s2:1 abierto el 2025-01-06: se reevalúa en su plazo 2025-01-16 (en 4,0 días); "
        "puntuación 33,33 en no calificado",
    ]


def test_notices_in_spanish_and_chinese(files: tuple[Path, Path], tmp_path: Path) -> None:
    # s1's notices of 2025-01-11 (held in good at 66.67, lapsing on 2025-02-09), worded by the templates;
    # the ids and the dates are those of the English file.
    events, rules = files
    worded: dict[str, dict[str, dict[str, Any]]] = {}
    for language in ("en", "es", "zh"):
        out = tmp_path / f"notices-{language}.jsonl"
        result = invoke("score", events, "--rules", rules, "--as-of", AS_OF, "--notices", out, "--language", language)
        assert result.exit_code == 0, result.output
        worded[language] = {n["notice_id"]: n for n in map(json.loads, out.read_text().splitlines())}
    assert worded["en"].keys() == worded["es"].keys() == worded["zh"].keys()
    risk, watch = "tn:supplier:s1:at_risk:1", "tn:supplier:s1:supplier_watch:1"
    assert worded["en"][risk]["message"] == ("good is held by hysteresis: score 66.67 is under its minimum 70; "
                                             "it lapses to qualified on 2025-02-09 unless the score reaches 70")
    assert worded["es"][risk]["message"] == (
        "bueno se mantiene por histéresis: la puntuación 66,67 está por debajo de su mínimo 70; pasa a calificado "
        "el 2025-02-09 salvo que la puntuación alcance 70")
    assert worded["es"][risk]["hints"] == ["una tasa de entregas puntuales de 70,0%"]
    assert worded["zh"][watch]["message"] == (
        "供应商 s1：评分 66.67 已离开良好供应商（最低 70），落入合格供应商；如无变化，降级将于 2025-02-09 生效")
    assert worded["zh"][watch]["hints"] == ["准时交货率达到 70.0%"]
    assert worded["zh"][watch]["refers_to"] == worded["en"][watch]["refers_to"] == "2025-02-09"
