"""Round ids and the per-partition marker of acknowledged rounds: how an outbox is known to be sent.

A state's outbox is written with the id of the round that wrote it, ``(epoch,
number)`` (:attr:`EntityState.outbox_round`). Once the round's outputs are
acknowledged, the worker writes one marker per partition (:class:`AckedRounds`,
in the ``outbox-acks`` table) instead of rewriting every state with its outbox
emptied. Loading a state, an outbox of a round the marker covers is dropped;
any other outbox (its round failed, or the marker was not written before a
crash) is sent again with the same bytes and written with the new round's id.

Why epochs: a marker says "every round of epoch E up to number N of this
partition has its outputs on the broker". That holds only while the rounds of
E run one after the other, each completing before the next starts. So a
worker starts a new epoch (:class:`RoundIds`, a random token) whenever that
chain breaks: a round aborted after its states were written, or the consumer
generation moved (a rebalance; another worker may have owned the partition
meanwhile). A round of another worker, or an aborted round, is never covered.
The marker keeps the newest :data:`EPOCHS_KEPT` epochs; an outbox of an older
one is taken as unsent and sent again (a duplicate with the same bytes, never
a loss).
"""

from __future__ import annotations

import secrets

import orjson

__all__ = ["EPOCHS_KEPT", "AckedRounds", "RoundId", "RoundIds", "marker_key"]

#: ``(epoch, number)``: one round of one worker run
RoundId = tuple[str, int]
#: how many epochs a partition's marker remembers
EPOCHS_KEPT = 16


def marker_key(partition: int) -> bytes:
    """The key of ``partition``'s marker in the ``outbox-acks`` table."""
    return b"%d" % partition


class RoundIds:
    """The worker's round ids: numbered within an epoch, a new epoch when the chain of rounds breaks."""

    def __init__(self) -> None:
        self.epoch = ""
        self.number = 0
        self.generation: int | None = None

    def next(self, generation: int) -> RoundId:
        """The id of the round starting now under consumer ``generation``."""
        if generation != self.generation or not self.epoch:
            self.renew()
            self.generation = generation
        self.number += 1
        return self.epoch, self.number

    def renew(self) -> None:
        """Start a new epoch: a round failed after writing, so later rounds must not vouch for it."""
        self.epoch = secrets.token_hex(8)
        self.number = 0


class AckedRounds:
    """A partition's marker: per epoch, the number up to which the rounds' outputs are acknowledged."""

    def __init__(self, upto: dict[str, int] | None = None) -> None:
        #: epoch -> highest acknowledged round number, oldest epoch first
        self.upto: dict[str, int] = upto or {}

    @classmethod
    def from_bytes(cls, raw: bytes | None) -> AckedRounds:
        """The marker as stored (``None``: no marker yet, nothing covered)."""
        return cls({epoch: number for epoch, number in orjson.loads(raw)} if raw else None)

    def to_bytes(self) -> bytes:
        return orjson.dumps([[epoch, number] for epoch, number in self.upto.items()])

    def covers(self, round_id: RoundId | None) -> bool:
        """Whether the outputs of round ``round_id`` are known to be on the broker."""
        if round_id is None:
            return False
        upto = self.upto.get(round_id[0])
        return upto is not None and round_id[1] <= upto

    def with_round(self, round_id: RoundId) -> AckedRounds:
        """This marker, also covering ``round_id`` (and its epoch's rounds before it)."""
        epoch, number = round_id
        upto = {e: n for e, n in self.upto.items() if e != epoch}
        upto[epoch] = max(number, self.upto.get(epoch, 0))
        return AckedRounds(dict(list(upto.items())[-EPOCHS_KEPT:]))
