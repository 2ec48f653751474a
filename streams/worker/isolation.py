"""Grading that raises: the round is graded again one message at a time, and the raising one is dead-lettered.

Why: a message whose grading raises must never be acknowledged silently (Faust's
own agents ack an event whose agent raised), nor crash the worker into a loop on
its redelivery. The fast path keeps no copy of a state before each message, so a
raise can leave half an event in the round's decoded states. Nothing of the round
is written yet: it is dropped, and its messages are graded again, each on a
:class:`Savepoint` (copies of the states it touches, kept only if it returns). The
message that raises leaves one dead letter with reason ``processing_error`` and the
states as they were; the others are graded as before. Dead letters and re-keyed
events that the first pass already sent are not sent again.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from tierstream.scorers.state import EntityState
from tierstream.streams.worker.letters import Outgoing
from tierstream.streams.worker.states import StateCache

__all__ = ["Inbound", "RoundGrader", "RoundLike", "Savepoint", "describe_error"]

log = logging.getLogger("tierstream.isolation")


class Inbound(Protocol):
    """What is read of an inbound message (a Faust ``Message`` has these)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def timestamp(self) -> float: ...


class RoundLike(Protocol):
    """The part of an outbox round this needs (:class:`streams.worker.outbox.OutboxRound`)."""

    def store(self, partition: int, anchor: Any) -> StateCache: ...

    def send_now(self, msgs: Sequence[Outgoing]) -> None: ...

    def abort(self) -> None: ...

    def finish(self) -> Awaitable[object]: ...


class Processing(Protocol):
    """The processor's two entry points used here (:class:`streams.worker.processor.Processor`)."""

    def process(self, store: StateCache, topic: str, partition: int, offset: int, key: bytes | None,
                value: bytes | None, timestamp: float | None = None) -> list[Outgoing]: ...

    def processing_error(self, topic: str, partition: int, offset: int, key: bytes | None, raw: bytes,
                         error: str) -> Outgoing: ...


class Savepoint:
    """Copies of the states one message touches, handed to the store only by :meth:`commit`."""

    def __init__(self, store: StateCache) -> None:
        self.store = store
        self._states: dict[bytes, EntityState | None] = {}
        self._saved: list[bytes] = []
        self._reviewed: list[bytes] = []

    def load(self, key: bytes) -> EntityState | None:
        if key not in self._states:
            state = self.store.load(key)
            self._states[key] = None if state is None else EntityState.from_bytes(state.to_bytes())
        return self._states[key]

    def save(self, key: bytes, state: EntityState) -> None:
        self._states[key] = state
        self._saved.append(key)

    def reviewed(self, key: bytes) -> None:
        self._reviewed.append(key)

    def commit(self) -> None:
        """Hand the saved states (and the review ticks taken) to the store."""
        for key in dict.fromkeys(self._saved):
            state = self._states[key]
            if state is not None:
                self.store.save(key, state)
        for key in self._reviewed:
            self.store.reviewed(key)


def describe_error(exc: BaseException) -> str:
    """Name an error and where the grading raised it (its innermost frame)."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


@dataclass
class RoundGrader:
    """Grade a round's chunks into it; after a raise, grade the round again one message at a time.

    One per round: it remembers the round's chunks (to grade them again) and how
    many messages had their dead letters and re-keyed events sent.
    """

    processor: Processing
    new_round: Callable[[], RoundLike]
    round: RoundLike
    chunks: list[tuple[int, Sequence[Inbound]]] = field(default_factory=list)
    sent: int = 0  #: messages whose immediate sends went out (in the first pass)
    isolating: bool = False
    errors: int = 0  #: messages dead-lettered as processing_error

    def grade(self, partition: int, messages: Sequence[Inbound]) -> None:
        """Grade one partition's chunk (in offset order) into the round."""
        self.chunks.append((partition, messages))
        if self.isolating:
            self._isolated(partition, messages)
            return
        store, proc = self.round.store(partition, messages[-1]), self.processor
        try:
            for m in messages:
                self.round.send_now(proc.process(store, m.topic, m.partition, m.offset, m.key, m.value, m.timestamp))
                self.sent += 1
        except Exception as exc:
            log.warning("grading raised on %s[%d]@%d: %s; grading this round again one message at a time",
                        messages[0].topic, partition, self.sent, describe_error(exc))
            self.round.abort()
            self.round, self.isolating = self.new_round(), True
            done, self.chunks = self.chunks, []
            skip, self.sent = self.sent, 0
            for p, chunk in done:
                self.chunks.append((p, chunk))
                self._isolated(p, chunk, skip)

    def _isolated(self, partition: int, messages: Sequence[Inbound], skip: int = 0) -> None:
        store, proc = self.round.store(partition, messages[-1]), self.processor
        for m in messages:
            savepoint = Savepoint(store)
            try:
                out = proc.process(savepoint, m.topic, m.partition, m.offset, m.key, m.value, m.timestamp)
            except Exception as exc:
                self.errors += 1
                error = describe_error(exc)
                log.error("grading raised on %s[%d]@%d: dead-lettered as processing_error: %s",
                          m.topic, m.partition, m.offset, error)
                out = [proc.processing_error(m.topic, m.partition, m.offset, m.key, m.value or b"", error)]
            else:
                savepoint.commit()
            if self.sent >= skip:  # the first pass sent these already (the same messages, the same states)
                self.round.send_now(out)
            self.sent += 1
