"""The collector tuning that offline runs and workers use: raised for the work, restored after."""

from __future__ import annotations

import gc

import pytest

from tierstream.streams.gc_tuning import fewer_collections


def test_the_young_threshold_is_raised_inside_and_restored_after() -> None:
    before = gc.get_threshold()
    with fewer_collections(12_345):
        assert gc.get_threshold() == (12_345, *before[1:])
    assert gc.get_threshold() == before


def test_restored_when_the_work_fails() -> None:
    before = gc.get_threshold()

    @fewer_collections(54_321)
    def work() -> None:
        assert gc.get_threshold()[0] == 54_321
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        work()
    assert gc.get_threshold() == before
