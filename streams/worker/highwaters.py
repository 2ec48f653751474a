"""True high watermarks, read from a fetch response: Tansu 0.6's ListOffsets LATEST falls short.

Tansu answers ListOffsets LATEST with "base offset of the newest record batch + 1"
(batches [0..4] [5] [6..9] give 7, not 10); a fetch response carries the true high
watermark. :meth:`streams.worker.recovery.RecoveringConsumer.highwaters` builds the group-less
client consumer (a private Faust hook) and hands it here; this uses aiokafka's public API only.
"""

from __future__ import annotations

from collections.abc import Mapping
from time import monotonic
from typing import Any

from faust.types import TP

__all__ = ["fetched_highwaters"]


async def fetched_highwaters(consumer: Any, ends: Mapping[TP, int], timeout: float) -> dict[TP, int | None]:
    """Fetch each partition once from ``end - 1`` (its newest batch) and return its high watermark.

    ``consumer``: a never started, group-less ``AIOKafkaConsumer``; started and stopped here.
    ``None`` for a partition whose fetch did not answer within ``timeout`` seconds.
    """
    from aiokafka import TopicPartition

    await consumer.start()
    try:
        tps = {tp: TopicPartition(tp.topic, tp.partition) for tp in ends}
        consumer.assign(list(tps.values()))
        for tp, end in ends.items():
            consumer.seek(tps[tp], end - 1)
        found: dict[TP, int | None] = dict.fromkeys(ends)
        deadline = monotonic() + timeout
        while any(v is None for v in found.values()) and monotonic() < deadline:
            waiting = [tps[tp] for tp, v in found.items() if v is None]
            await consumer.getmany(*waiting, timeout_ms=500)
            for tp in ends:
                if found[tp] is None:
                    found[tp] = consumer.highwater(tps[tp])
        return found
    finally:
        await consumer.stop()
