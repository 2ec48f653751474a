"""The outbox (streams.worker.processor.BatchStore): a state's outputs are stored with it and sent after it.

These tests play a worker's crash points on a dict standing for the changelog-backed
table: whatever point the worker stops at, every output is either already sent or
still in the stored state, and the redelivered event sends it again with the same bytes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from tierstream.schemas.rules import load_rules
from tierstream.schemas.settings import Settings
from tierstream.scorers.state import EntityState
from tierstream.streams.worker.processor import BatchStore, Outgoing, Processor
from tierstream.streams.worker.rounds import AckedRounds

NOW = datetime(2026, 6, 1, tzinfo=UTC).timestamp()
#: one partition: every entity lives on partition 0, where these messages arrive
PROC = Processor(Settings(topic_prefix="ob.", app_id="ob", partitions=1), load_rules(), wall_clock=lambda: NOW)
NAMES = PROC.names
KEY = b"customer:c1"


def order(n: int) -> bytes:
    return json.dumps({"type": "order", "event_id": f"e{n}", "occurred_at": "2026-05-30T10:00:00Z",
                       "order_id": f"o{n}", "customer_id": "c1", "amount": 900.0}).encode()


def deliver(table: dict[bytes, bytes], raw: bytes, offset: int = 0) -> BatchStore:
    """One message through the processor, its states written (as the worker's first flush)."""
    store = BatchStore(table)
    assert PROC.process(store, NAMES.inbound("order"), 0, offset, KEY, raw) == []
    store.flush()
    return store


def stored(table: dict[bytes, bytes]) -> EntityState:
    return EntityState.from_bytes(table[KEY])


def test_outputs_wait_in_the_stored_state_until_a_marker_covers_their_round() -> None:
    table: dict[bytes, bytes] = {}
    store = BatchStore(table)
    store.round_id = ("e1", 4)
    assert PROC.process(store, NAMES.inbound("order"), 0, 0, KEY, order(1)) == []
    store.flush()
    pending = stored(table).outbox
    assert [t for t, _, _ in pending] == [NAMES.tier_changes, NAMES.tiers]  # the initial tier
    assert stored(table).outbox_round == ("e1", 4)
    assert store.take_outbox() == [Outgoing(*m) for m in pending] and store.take_outbox() == []
    assert stored(table).outbox == pending  # written once: the state keeps them
    for marker in (AckedRounds(), AckedRounds({"e1": 3}), AckedRounds({"e0": 9})):  # not this round
        again = BatchStore(table, marker)
        assert again.load(KEY) is not None and again.take_outbox() == [Outgoing(*m) for m in pending]
    sent = BatchStore(table, AckedRounds({"e0": 9, "e1": 4}))
    state = sent.load(KEY)
    assert state is not None and state.outbox == [] and sent.take_outbox() == []  # dropped at load ...
    sent.save(KEY, state)
    sent.flush()
    assert stored(table).outbox == [] and stored(table).outbox_round is None  # ... and gone with the next write


def test_crash_after_the_state_write_resends_the_same_bytes_on_redelivery() -> None:
    table: dict[bytes, bytes] = {}
    first = deliver(table, order(1))
    lost = [Outgoing(*m) for m in stored(table).outbox]  # the worker dies before sending these
    del first
    again = deliver(table, order(1))  # redelivered: a duplicate for the state ...
    assert again.take_outbox() == lost  # ... yet its outputs go out, byte for byte
    assert stored(table).seq == 1  # and nothing was applied twice


def test_crash_before_the_state_write_reprocesses_from_scratch() -> None:
    table: dict[bytes, bytes] = {}
    store = BatchStore(table)
    PROC.process(store, NAMES.inbound("order"), 0, 0, KEY, order(1))  # never flushed: lost with the worker
    assert table == {}
    redo = deliver(table, order(1))
    assert [m.topic for m in redo.take_outbox()] == [NAMES.tier_changes, NAMES.tiers]


def test_an_outbox_left_behind_is_sent_with_the_next_messages_outputs() -> None:
    table: dict[bytes, bytes] = {}
    deliver(table, order(1))  # the worker stopped before sending this outbox
    left = stored(table).outbox  # the next message for the entity sends it first
    store = deliver(table, order(2), offset=1)
    out = store.take_outbox()
    assert out[: len(left)] == [Outgoing(*m) for m in left]
    assert [Outgoing(*m) for m in stored(table).outbox] == out  # written once, with all it sends


def test_dead_letters_are_returned_not_stored() -> None:
    table: dict[bytes, bytes] = {}
    store = BatchStore(table)
    out = PROC.process(store, NAMES.inbound("order"), 0, 5, KEY, b"{not json")
    assert [m.topic for m in out] == [NAMES.dead_letters]
    store.flush()
    assert table == {} and store.take_outbox() == []


def test_states_written_before_the_outbox_existed_still_load() -> None:
    state = EntityState("customer", "c1", clock=7)
    doc = json.loads(state.to_bytes())
    assert doc[0] == 3 and doc[23] is None  # an empty outbox costs four bytes
    old = json.dumps([2, *doc[1:23]]).encode()  # format 2 ended before the outbox (and what follows it)
    assert EntityState.from_bytes(old).clock == 7


def test_the_timer_index_gets_one_entry_per_entity_per_flush_and_only_when_it_moved() -> None:
    table: dict[bytes, bytes] = {}
    store = BatchStore(table)
    for n in range(3):
        PROC.process(store, NAMES.inbound("order"), 0, n, KEY, order(n))
    store.flush()
    due = stored(table).next_review
    assert due is not None and store.reviews == [(due, KEY)]  # three messages, one entry
    store.reviews.clear()
    again = BatchStore(table)
    PROC.process(again, NAMES.inbound("order"), 0, 1, KEY, order(1))  # a duplicate: nothing moves
    again.flush()
    assert again.reviews == []


def test_a_review_tick_always_reindexes_the_entity_it_touched() -> None:
    """The tick's heap entry is gone: even if a later message of the same round puts the
    next review back where it was at load, the flush indexes it again."""
    table: dict[bytes, bytes] = {}
    deliver(table, order(1))
    due = stored(table).next_review
    assert due is not None
    store = BatchStore(table)
    PROC.process(store, NAMES.reviews, 0, 9, KEY, str(due).encode())  # the timer's tick
    state = store.load(KEY)
    assert state is not None and state.next_review != due
    state.next_review = due  # as a late event can do
    store.save(KEY, state)
    store.flush()
    assert store.reviews == [(due, KEY)]


def test_a_notice_waits_in_the_outbox_and_goes_to_tier_notices_keyed_by_entity() -> None:
    # An override expiring within the default 14 days: its assessment_expiring notice is raised
    # with the event, stored with the state like the tier change, and sent to tier-notices.
    table: dict[bytes, bytes] = {}
    store = BatchStore(table)
    raw = json.dumps({"type": "assessment", "event_id": "a1", "occurred_at": "2026-05-30T10:00:00Z",
                      "entity_type": "customer", "entity_id": "c1", "tier_override": "key", "reason": "visit",
                      "author": "li.wei", "expires_at": "2026-06-05T00:00:00Z"}).encode()
    assert PROC.process(store, NAMES.inbound("assessment"), 0, 0, KEY, raw) == []
    store.flush()
    pending = stored(table).outbox
    assert [t for t, _, _ in pending] == [NAMES.audit, NAMES.tier_changes, NAMES.tiers, NAMES.tier_notices]
    _, key, value = pending[-1]
    notice = json.loads(value)
    assert key == KEY and notice["notice_id"] == "tn:customer:c1:assessment_expiring:1"
    assert notice["refers_to"] == "2026-06-05" and notice["cause"] == "a1"
    assert store.take_outbox() == [Outgoing(*m) for m in pending]


def test_a_supplier_case_waits_in_the_outbox_and_goes_to_supplier_cases() -> None:
    # A supplier whose first grading is the lowest tier opens no case (it did not fall); one
    # downgraded into it does: two perfect deliveries, then late, short, rejected ones.
    table: dict[bytes, bytes] = {}
    key = b"supplier:s1"

    def delivery(n: int, day: int, late: bool, accepted: int) -> bytes:
        return json.dumps({"type": "delivery", "event_id": f"d{n}", "occurred_at": f"2026-05-{day:02d}T10:00:00Z",
                           "supplier_id": "s1", "order_id": f"p{n}",
                           "promised_at": f"2026-05-{day - 1 if late else day:02d}T00:00:00Z",
                           "quantity_ordered": 10, "quantity_delivered": 10 if accepted else 5,
                           "quantity_accepted": accepted}).encode()

    raws = [delivery(1, 2, False, 10), delivery(2, 2, False, 10)] + [delivery(3 + i, 20, True, 0) for i in range(8)]
    for offset, raw in enumerate(raws):
        store = BatchStore(table)
        assert PROC.process(store, NAMES.inbound("delivery"), 0, offset, key, raw) == []
        store.flush()
    # hysteresis holds qualified (minimum time in tier); a review tick a month on lets it lapse
    store = BatchStore(table)
    until = int(datetime(2026, 6, 30, tzinfo=UTC).timestamp())
    assert PROC.process(store, NAMES.reviews, 0, 0, key, str(until).encode()) == []
    store.flush()
    sent = [(t, json.loads(v)) for t, _, v in EntityState.from_bytes(table[key]).outbox]
    cases = [doc for t, doc in sent if t == NAMES.supplier_cases]
    assert [(c["event_id"], c["status"], c["tier"]) for c in cases] == [("sc:s1:1:opened", "opened", "unqualified")]


def test_a_review_before_an_invalid_event_keeps_what_its_notices_noted() -> None:
    # A notice's condition can end at a review with nothing to send (here: the override slot of an
    # entity with no override): the state is stored all the same, or the stream would remember a
    # condition the offline scorer forgot, and stay silent when it starts again.
    table: dict[bytes, bytes] = {}
    deliver(table, order(1))
    state = stored(table)
    state.announced["override"] = "a0"
    state.next_review = state.clock + 60
    state.outbox = []
    table[KEY] = state.to_bytes()
    bad = json.dumps({"type": "order", "event_id": "e9", "occurred_at": "2026-05-30T11:00:00Z", "order_id": "o9",
                      "customer_id": "c1", "amount": 900.0, "currency": "XXX"}).encode()
    store = BatchStore(table)
    (letter,) = PROC.process(store, NAMES.inbound("order"), 0, 9, KEY, bad)
    assert letter.topic == NAMES.dead_letters
    store.flush()
    assert stored(table).announced == {}
