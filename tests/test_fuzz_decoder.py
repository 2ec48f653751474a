"""A short coverage-guided fuzz of the event decoder and the message handler (atheris; issue 15, scenario 6).

The full run is ten minutes: ``python scripts/faults.py --scenario fuzz`` (or ``python -m
tests.faults.fuzz_decoder --seconds 600``); what counts as a crash: ``tests/faults/fuzz_decoder.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.fuzz_decoder import fuzz, seeds

pytest.importorskip("atheris")  # in the dev extra where a wheel exists (Linux x86_64)


def test_twenty_seconds_of_fuzzing_find_no_crash(tmp_path: Path) -> None:
    res = fuzz(20, tmp_path)
    assert res.exit_code == 0 and not res.crashes, res.tail
    assert res.executions > len(seeds()) and res.coverage > 0, res.tail  # it ran past the seeds, instrumented
