"""Decoded entity states in front of the ``entities`` table, for one round of messages."""

from __future__ import annotations

from typing import Protocol

from tierstream.scorers.state import EntityState
from tierstream.streams.worker.letters import Outgoing

__all__ = ["BatchStore", "StateCache", "Table"]


class StateCache(Protocol):
    """Where the processor reads and writes entity states (decoded)."""

    def load(self, key: bytes) -> EntityState | None: ...

    def save(self, key: bytes, state: EntityState) -> None: ...

    def reviewed(self, key: bytes) -> None: ...


class Table(Protocol):
    """A ``bytes -> EntityState.to_bytes()`` mapping: the Faust table, or a dict."""

    def get(self, key: bytes) -> bytes | None: ...

    def __setitem__(self, key: bytes, value: bytes) -> None: ...


class BatchStore:
    """Decoded states in front of a table, for one batch of messages.

    Each entity is decoded once per batch and written (one changelog record)
    once per :meth:`flush`, however many of its messages the batch holds.

    It also tracks the entities whose state holds an *outbox*: the messages a
    state change produced (tier changes, alerts, referral credits). The worker
    sends them only once the state that holds them is on the broker, then
    clears them (:meth:`take_outbox`) -- so after a crash a message is either
    already sent or still in the recovered state, and is sent (again, with the
    same bytes) when the redelivered event reaches the entity.
    """

    def __init__(self, table: Table) -> None:
        self.table = table
        self.states: dict[bytes, EntityState | None] = {}
        self.dirty: set[bytes] = set()
        self.unsent: set[bytes] = set()
        self.review_at_load: dict[bytes, int | None] = {}
        #: (next_review, key) of written states whose next review moved: for the timer's index
        self.reviews: list[tuple[int, bytes]] = []

    def load(self, key: bytes) -> EntityState | None:
        if key in self.states:
            return self.states[key]
        raw = self.table.get(key)
        state = self.states[key] = EntityState.from_bytes(raw) if raw is not None else None
        self.review_at_load[key] = state.next_review if state is not None else None
        if state is not None and state.outbox:  # left by a worker that stopped before sending it
            self.unsent.add(key)
        return state

    def save(self, key: bytes, state: EntityState) -> None:
        self.states[key] = state
        self.dirty.add(key)
        if state.outbox:
            self.unsent.add(key)

    def reviewed(self, key: bytes) -> None:
        """The timer popped ``key``'s index entry (a review tick): index it again at the next flush."""
        self.review_at_load[key] = None

    def flush(self) -> None:
        """Write every state changed since the last flush (and note the next reviews that moved)."""
        for key in self.dirty:
            state = self.states[key]
            if state is not None:
                self.table[key] = state.to_bytes()
                nr = state.next_review
                if nr is not None and nr != self.review_at_load.get(key):
                    self.reviews.append((nr, key))
                self.review_at_load[key] = nr
        self.dirty.clear()

    def take_outbox(self) -> list[Outgoing]:
        """Every outbox's messages, in order; the outboxes are emptied (written at the next flush)."""
        msgs: list[Outgoing] = []
        for key in sorted(self.unsent):
            state = self.states[key]
            if state is not None and state.outbox:
                msgs.extend(Outgoing(t, k, v) for t, k, v in state.outbox)
                state.outbox = []
                self.dirty.add(key)
        self.unsent.clear()
        return msgs
