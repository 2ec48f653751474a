"""The ``entities`` table: a Faust table whose changelog writes can be awaited.

Faust's ``Producer.flush()`` is not a barrier: its buffer gives up waiting after
0.1 s without a record handed to aiokafka (``ProducerBuffer.flush_atmost``), and a
record taken from the buffer but not yet accepted by aiokafka is in neither place.
Under backpressure it can return with writes still queued. The outbox needs a real
barrier (outputs leave only once the state holding them is on the broker), so the
table keeps the ``FutureMessage`` of every changelog write, and the worker awaits
exactly those (:meth:`EntityTable.written`).

Its changelog may be restored in bulk (``restore_in_bulk``, read by
:mod:`streams.worker.recovery`): it has no per-record ``on_changelog_event``
callback, which the bulk restore does not call.
"""

from __future__ import annotations

from typing import Any, ClassVar

import faust
from faust.types import FutureMessage

from tierstream.streams.worker.outbox import delivered

__all__ = ["EntityTable"]


class EntityTable(faust.Table[bytes, bytes]):
    """``faust.Table`` that remembers its changelog writes until :meth:`written` awaits them."""

    #: recovery may apply a fetch of its changelog at once (streams.worker.recovery)
    restore_in_bulk: ClassVar[bool] = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unacked: list[FutureMessage] = []

    def send_changelog(self, *args: Any, **kwargs: Any) -> FutureMessage:
        fut: FutureMessage = super().send_changelog(*args, **kwargs)
        self.unacked.append(fut)
        return fut

    async def written(self) -> None:
        """Wait until every changelog write made so far is acknowledged."""
        pending, self.unacked = self.unacked, []
        await delivered(pending)
