"""``tierstream score --language``: the same grades, reasons and hints in Chinese or Spanish; English unchanged."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.offline_cli.helpers import Scored, score
from tierstream.scorers.messages import render_all


def _lines(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_english_is_the_default_byte_for_byte(sample: Path, workdir: Path, scored: Scored) -> None:
    en = score(sample, workdir / "lang-en", "--language", "en")
    assert en.result.exit_code == 0, en.result.output
    assert en.changes.read_bytes() == scored.changes.read_bytes()
    assert en.state.read_bytes() == scored.state.read_bytes()


@pytest.mark.parametrize(("language", "first_grading"), [("zh", "首次分级：评分 "), ("es", "primera clasificación: ")])
def test_the_reasons_and_hints_in_another_language(sample: Path, workdir: Path, scored: Scored, language: str,
                                                   first_grading: str) -> None:
    other = score(sample, workdir / f"lang-{language}", "--language", language, "--workers", "2")
    assert other.result.exit_code == 0, other.result.output
    en_changes, changes = _lines(scored.changes), _lines(other.changes)
    assert len(changes) == len(en_changes) > 0
    for e, c in zip(en_changes, changes, strict=True):
        # the same change, worded from its messages in the language
        assert {k: v for k, v in c.items() if k not in ("reasons", "next_tier", "ungraded_reason")} == \
               {k: v for k, v in e.items() if k not in ("reasons", "next_tier", "ungraded_reason")}
        assert c["reasons"] == render_all(e["reason_codes"], language)  # type: ignore[arg-type]
        if e["next_tier"]:
            assert c["next_tier"]["hints"] == render_all(e["next_tier_codes"]["hints"], language)  # type: ignore[index]
    assert any(str(c["reasons"][0]).startswith(first_grading) for c in changes)  # type: ignore[index]
    en_state, state = _lines(scored.state), _lines(other.state)
    assert [(s["entity_id"], s["tier"], s["score"]) for s in state] == \
           [(s["entity_id"], s["tier"], s["score"]) for s in en_state]
    hinted = [(e, s) for e, s in zip(en_state, state, strict=True) if e["next_tier"] and e["next_tier"]["hints"]]  # type: ignore[index]
    assert hinted and all(e["next_tier"]["hints"] != s["next_tier"]["hints"] for e, s in hinted)  # type: ignore[index]


def test_the_language_setting_is_the_default(sample: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERSTREAM_LANGUAGE", "zh")
    zh = score(sample, workdir / "lang-setting", "--workers", "1")
    assert zh.result.exit_code == 0, zh.result.output
    assert any(str(c["reasons"][0]).startswith("首次分级") for c in _lines(zh.changes))  # type: ignore[index]
