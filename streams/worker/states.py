"""Decoded entity states in front of the ``entities`` table, for one round of messages."""

from __future__ import annotations

from typing import Protocol

from tierstream.scorers.state import EntityState
from tierstream.streams.worker.letters import Outgoing
from tierstream.streams.worker.rounds import AckedRounds, RoundId

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
    """Decoded states in front of a table, for one round of messages.

    Each entity is decoded once per round and written (one changelog record)
    once per :meth:`flush`, however many of its messages the round holds.

    It also tracks the entities whose state holds an *outbox*: the messages a
    state change produced (tier changes, alerts, referral credits). The worker
    sends them only once the state that holds them is on the broker; the
    state keeps them, stamped with the round that wrote them (:attr:`round_id`),
    and the partition's marker (``acked``, :mod:`streams.worker.rounds`) says
    which rounds' outputs are on the broker. A state loaded with an outbox of
    such a round drops it (it leaves with the entity's next write); any other
    outbox is sent again with the same bytes, and written with this round.
    """

    def __init__(self, table: Table, acked: AckedRounds | None = None) -> None:
        self.table = table
        self.acked = acked if acked is not None else AckedRounds()
        #: the round these states are written in (stamped on their outboxes)
        self.round_id: RoundId | None = None
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
        if state is not None and state.outbox:
            if self.acked.covers(state.outbox_round):  # sent: dropped, left out of the next write
                state.outbox, state.outbox_round = [], None
            else:  # left by a round that did not complete: sent (again) with this one
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
        """Write every state changed or with an unsent outbox since the last flush (stamped with :attr:`round_id`).

        Also notes the next reviews that moved, for the timer's index.
        """
        for key in self.dirty | self.unsent:
            state = self.states[key]
            if state is not None:
                state.outbox_round = self.round_id if state.outbox else None
                self.table[key] = state.to_bytes()
                nr = state.next_review
                if nr is not None and nr != self.review_at_load.get(key):
                    self.reviews.append((nr, key))
                self.review_at_load[key] = nr
        self.dirty.clear()

    def take_outbox(self) -> list[Outgoing]:
        """Every unsent outbox's messages, in key order, taken from the decoded states.

        The written states keep them (nothing is written again): the partition's marker,
        once they are acknowledged, makes the next load drop them.
        """
        msgs: list[Outgoing] = []
        for key in sorted(self.unsent):
            state = self.states[key]
            if state is not None:
                msgs.extend(Outgoing(t, k, v) for t, k, v in state.outbox)
                state.outbox, state.outbox_round = [], None
        self.unsent.clear()
        return msgs
