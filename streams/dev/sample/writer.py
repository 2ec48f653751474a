"""The public entry points: :func:`generate` (the lines) and :func:`write_sample` (a JSONL file)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from tierstream.streams.dev.sample.stats import DEFAULT_END, SampleStats
from tierstream.streams.dev.sample.stream import Simulation

__all__ = ["generate", "write_sample"]


def _generate(
    customers: int,
    suppliers: int,
    days: int,
    seed: int,
    end: datetime,
    invalid_ratio: float,
    late_ratio: float,
    duplicate_ratio: float,
    stats: SampleStats,
) -> Iterator[bytes]:
    sim = Simulation(
        customers, suppliers, days, seed, end, invalid_ratio, late_ratio, duplicate_ratio, stats
    )
    return sim.run()


def generate(
    customers: int,
    suppliers: int,
    days: int,
    seed: int,
    end: datetime = DEFAULT_END,
    invalid_ratio: float = 0.002,
    late_ratio: float = 0.01,
    duplicate_ratio: float = 0.005,
) -> Iterator[bytes]:
    """Yield the sample's lines (JSON, bytes, no trailing newline) in file order.

    Same arguments, same bytes. Parameters are checked when this is called.
    """
    return _generate(
        customers,
        suppliers,
        days,
        seed,
        end,
        invalid_ratio,
        late_ratio,
        duplicate_ratio,
        SampleStats(),
    )


def write_sample(
    path: str | os.PathLike[str],
    customers: int,
    suppliers: int,
    days: int,
    seed: int,
    end: datetime = DEFAULT_END,
    invalid_ratio: float = 0.002,
    late_ratio: float = 0.01,
    duplicate_ratio: float = 0.005,
    on_progress: Callable[[int], None] | None = None,
) -> SampleStats:
    """Write the sample as JSONL (one event per line, ``\\n`` after each) and describe it.

    The file is written next to ``path`` and renamed into place when complete.
    ``on_progress`` is told how many lines were written, a batch at a time (the CLI
    draws its bar with it; :func:`estimate_lines` gives about how many to expect).
    """
    stats = SampleStats()
    lines = _generate(
        customers,
        suppliers,
        days,
        seed,
        end,
        invalid_ratio,
        late_ratio,
        duplicate_ratio,
        stats,
    )
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    batch: list[bytes] = []
    try:
        with open(tmp, "wb", buffering=1 << 20) as out:
            for line in lines:
                batch.append(line)
                if len(batch) == 8192:
                    batch.append(b"")
                    out.write(b"\n".join(batch))
                    if on_progress is not None:
                        on_progress(len(batch) - 1)
                    batch.clear()
            if batch:
                batch.append(b"")
                out.write(b"\n".join(batch))
                if on_progress is not None:
                    on_progress(len(batch) - 1)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return stats
