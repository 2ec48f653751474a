"""Round ids and the per-partition marker of acknowledged rounds (streams.worker.rounds)."""

from __future__ import annotations

import orjson

from tierstream.scorers.state import EntityState
from tierstream.streams.worker.rounds import EPOCHS_KEPT, AckedRounds, RoundIds, marker_key


def test_a_marker_covers_the_rounds_of_its_epochs_up_to_their_number_only() -> None:
    marker = AckedRounds().with_round(("a", 3)).with_round(("b", 1))
    assert [marker.covers(r) for r in (("a", 1), ("a", 3), ("a", 4), ("b", 1), ("b", 2), ("c", 1), None)] == [
        True, True, False, True, False, False, False]
    assert AckedRounds.from_bytes(marker.to_bytes()).upto == {"a": 3, "b": 1}
    assert AckedRounds.from_bytes(None).upto == {} and marker_key(7) == b"7"


def test_a_marker_never_goes_back_and_keeps_the_newest_epochs() -> None:
    marker = AckedRounds().with_round(("a", 5)).with_round(("a", 2))
    assert marker.upto == {"a": 5}
    for n in range(EPOCHS_KEPT + 2):
        marker = marker.with_round((f"e{n}", 1))
    assert len(marker.upto) == EPOCHS_KEPT and "a" not in marker.upto  # an old epoch's outboxes go again
    assert list(marker.upto)[-1] == f"e{EPOCHS_KEPT + 1}"
    assert list(marker.with_round(("e5", 2)).upto)[-1] == "e5"  # the epoch just used is the newest


def test_round_ids_count_within_an_epoch_and_start_another_on_a_new_generation_or_renew() -> None:
    ids = RoundIds()
    first = ids.next(1)
    assert ids.next(1) == (first[0], 2)
    moved = ids.next(2)
    assert moved[0] != first[0] and moved[1] == 1
    ids.renew()
    assert ids.next(2)[0] not in (first[0], moved[0])


def test_the_outbox_round_is_stored_with_a_non_empty_outbox_only() -> None:
    state = EntityState("customer", "c1", outbox=[("t", b"k", b"v")], outbox_round=("a", 2))
    assert EntityState.from_bytes(state.to_bytes()).outbox_round == ("a", 2)
    state.outbox = []
    assert EntityState.from_bytes(state.to_bytes()).outbox_round is None
    doc = orjson.loads(EntityState("customer", "c1", outbox=[("t", b"k", b"v")], outbox_round=("a", 2)).to_bytes())
    old = orjson.dumps(doc[:33])  # as written before the round was stored
    assert EntityState.from_bytes(old).outbox == [("t", b"k", b"v")]
    assert EntityState.from_bytes(old).outbox_round is None  # no marker covers it: sent again
