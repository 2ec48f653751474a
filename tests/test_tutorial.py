"""The README's first-hour tutorial, run line by line as a newcomer would (scripts/tutorial.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.tutorial import run_tutorial, tutorial_steps

pytestmark = pytest.mark.integration


def test_the_readme_tutorial_runs_as_written(tmp_path: Path) -> None:
    steps = tutorial_steps()
    assert [s.kind for s in steps] == ["run", "run", "serve", "follow", "open"], steps
    results = run_tutorial(tmp_path, steps)
    for r in results:
        print(f"{r.seconds:6.1f} s  {r.step.text}: {r.detail[:120]}")
    sample, score, dev, watch, dashboard = results
    assert sample.detail.startswith("events.jsonl: ")
    assert (tmp_path / "events.jsonl").stat().st_size > 0
    assert "report.html" in score.detail
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Tier distribution" in page and "Transition matrix" in page
    assert dev.detail.startswith("broker ") and "worker ready" in dev.detail
    assert " -> " in watch.detail  # a tier change, found with no address given
    assert ": 200, " in dashboard.detail
