"""The paced publish of the stream = offline parity on tier *changes* (tests/test_pipeline.py).

A snapshot is a function of the set of events; the sequence of an entity's tier
changes is a function of the order in which its events (and referral credits) are
graded and of the instants its reviews run at. The offline scorer takes a file in
its order and runs an entity's due reviews before its next event; the stream
receives each event type on its own topic (no fixed interleaving between them), a
referral credit through a topic of its own, and reviews an entity up to the
latest event time the worker has seen. So, to compare the change sequences, the
file is published in its order *for each entity* (:func:`paced`): an event waits
until the worker has graded everything published before it when

* its entity still has an event in flight on another topic, or a referral credit
  in flight (earned by the referred customer's order); or
* its time passes the next review instant of an entity with something in flight
  (the worker's timer could review that entity before its event arrives, with a
  history the file never had);

and a late line (older than a line before it, e.g. a ticket's answer dated when the
ticket opened) is brought forward, with its entity's lines before it, to just before
the first line that would move the worker's clock past a review of its entity due
after its time: the file runs that review after the late line, while the worker's
timer, which cannot know the line is coming, would run it first. Only the order
between entities changes (a referral credit keeps its place among its referrer's
lines, or the pacing fails), so each entity's changes are still the file's.

Progress is polled (``tierstream_events_in_total``, the group's committed offset on
``referral-credits``), never slept on.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Iterable, Iterator
from typing import NamedTuple

import orjson
from kafka import KafkaAdminClient
from pydantic import ValidationError

from tierstream.schemas.errors import InputError
from tierstream.schemas.events import INBOUND_ADAPTER, AnyEvent, entity_of
from tierstream.schemas.outputs import ReferralCredit, TierChange
from tierstream.schemas.rules import Rules, load_rules
from tierstream.scorers.engine import Outcome, ts
from tierstream.scorers.state import EntityState
from tierstream.streams.dev.harness import Deployment, Worker, poll
from tierstream.streams.kafka.topics import INBOUND_KINDS
from tierstream.streams.offline.score import OfflineScorer

__all__ = ["Flight", "Pacer", "paced"]

Key = tuple[str, str]


class _Lockstep(OfflineScorer):
    """An offline scorer that notes who earns each referral credit (to know one is in flight)."""

    def __init__(self, rules: Rules | None = None) -> None:
        super().__init__(rules or load_rules())
        self.credited: list[ReferralCredit] = []

    def _settle(self, out: Outcome) -> list[TierChange]:
        self.credited.extend(out.credits)
        return super()._settle(out)


def _sent(raw: bytes) -> bool:
    """Whether ``publish`` sends the line (a JSON object of a known type, valid or not)."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    return isinstance(doc, dict) and str(doc.get("type")) in INBOUND_KINDS


class Flight:
    """What is in flight to a worker; :meth:`barrier` marks where the publish waits until it has graded it."""

    def __init__(self) -> None:
        self.sent = 0  # inbound messages handed to the publisher
        self.credits = 0  # referral credits the worker will receive
        self.inflight: dict[Key, tuple[str, int | None]] = {}  # entity -> (topic, next review)
        self.barriers = 0

    def barrier(self) -> None:
        """Count a wait; everything published so far is graded after it."""
        self.barriers += 1
        self.inflight.clear()

    def blocked(self, key: Key, topic: str, t: int) -> bool:
        """Whether a line of ``key`` on ``topic`` at ``t`` must wait until what is in flight is graded."""
        mine = self.inflight.get(key)
        if mine is not None and mine[0] != topic:
            return True
        return any(nr is not None and nr <= t for _, nr in self.inflight.values())

    def note(self, key: Key, topic: str, nr: int | None) -> None:
        """Note ``key`` in flight on ``topic``, with the earliest review it may then be due."""
        old = self.inflight.get(key)
        if old is not None and old[1] is not None and (nr is None or old[1] < nr):
            nr = old[1]
        self.inflight[key] = (topic, nr)


class Pacer(Flight):
    """What is in flight to one worker, and the waits until it has graded it."""

    def __init__(self, stream: Deployment, worker: Worker) -> None:
        super().__init__()
        self.stream, self.worker = stream, worker
        self.credits_seen = 0  # of the credits, graded by the worker at the last look
        self._admin: KafkaAdminClient | None = None

    def _credits_graded(self) -> int:
        if self._admin is None:
            self._admin = self.stream.admin()
        topic = self.stream.names.referral_credits
        offsets = self._admin.list_group_offsets(self.stream.name).get(self.stream.name, {})
        return sum(int(m.offset) for tp, m in offsets.items() if tp.topic == topic and m.offset > 0)

    def barrier(self) -> None:
        """Wait until the worker has graded every message published so far, credits included.

        A credit counts once the group has committed past it (the worker commits every second
        or so): only when one was earned since the last wait."""
        poll(lambda: self.worker.metric("tierstream_events_in_total") >= self.sent, 60,
             f"the worker to grade {self.sent} messages", interval=0.01)
        if self.credits > self.credits_seen:
            def graded() -> bool:
                self.credits_seen = self._credits_graded()
                return self.credits_seen >= self.credits

            poll(graded, 60, f"the worker to grade {self.credits} referral credits", interval=0.05)
        super().barrier()

    def close(self) -> None:
        if self._admin is not None:
            self._admin.close()


def paced(pacer: Flight, lines: Iterable[tuple[int, bytes]], rules: Rules | None = None
          ) -> Iterator[tuple[int, bytes]]:
    """The lines for ``publish``: each entity's in file order, held back (``pacer.barrier``) or
    brought forward as the module says (``rules``: the worker's)."""
    return _Pacing(pacer, lines, rules).lines()


class _Line(NamedTuple):
    lineno: int
    raw: bytes
    event: AnyEvent | None  # None: not an event (sent or not, the worker grades nothing of it)
    key: Key
    t: int


class _Pacing:
    """One paced publish: the file's lines, who is still to publish what, and a shadow of the worker."""

    def __init__(self, pacer: Flight, lines: Iterable[tuple[int, bytes]], rules: Rules | None) -> None:
        self.pacer, self.shadow = pacer, _Lockstep(rules)
        self.items: list[_Line] = []
        self.upcoming: dict[Key, deque[int]] = {}  # entity -> its lines still to publish, in file order
        for lineno, raw in lines:
            try:
                event: AnyEvent | None = INBOUND_ADAPTER.validate_json(raw)
            except ValidationError:
                event = None
            key, t = (entity_of(event), ts(event.occurred_at)) if event is not None else (("", ""), 0)
            if event is not None:
                self.upcoming.setdefault(key, deque()).append(len(self.items))
            self.items.append(_Line(lineno, raw, event, key, t))
        self.published: set[int] = set()
        self.last: dict[Key, int] = {}  # entity -> its latest line published

    def lines(self) -> Iterator[tuple[int, bytes]]:
        """Yield every line once, in file order but for what is brought forward."""
        for i in range(len(self.items)):
            if i not in self.published:
                yield from self._publish(i)

    def _publish(self, i: int) -> Iterator[tuple[int, bytes]]:
        """Yield line ``i``: first the late lines it must not pass, then a wait if it must, then the line."""
        line, pacer, shadow = self.items[i], self.pacer, self.shadow
        assert i not in self.published, f"line {line.lineno} brought forward twice"
        self.published.add(i)
        if line.event is None:
            if _sent(line.raw):
                pacer.sent += 1
            yield line.lineno, line.raw
            return
        key, t = line.key, line.t
        if shadow.latest < t <= shadow.received_at + shadow.grader.max_skew:  # it moves the worker's clock to t
            while (j := self._late_before(t)) is not None:
                yield from self._publish(j)
        if pacer.blocked(key, line.event.type, t):
            pacer.barrier()
        prior = shadow.states.get(key)
        if prior is not None:  # the reviews due up to the event run before it, in both
            shadow.grader.review_due(prior, t)
        before = prior.next_review if prior is not None else None
        n_credits = len(shadow.credited)
        with contextlib.suppress(InputError):  # refused by the grader: the worker dead-letters it
            shadow.feed(line.lineno, line.event)
        after = shadow.states.get(key)
        nrs = [x for x in (before, after.next_review if after is not None else None) if x is not None]
        pacer.note(key, line.event.type, min(nrs) if nrs else None)
        published = self.upcoming[key].popleft()
        assert published == i, (published, i)
        self.last[key] = i
        for credit in shadow.credited[n_credits:]:
            ref = ("customer", credit.referrer_id)
            left = self.upcoming.get(ref)
            assert self.last.get(ref, -1) < i and not (left and left[0] < i), \
                f"line {line.lineno}: the pacing would move its referral credit among {ref}'s lines"
            pacer.credits += 1
            pacer.note(ref, "referral-credits", shadow.states[ref].next_review)
        pacer.sent += 1
        yield line.lineno, line.raw

    def _late_before(self, t: int) -> int | None:
        """The next line of an entity whose late line must be graded before the worker's clock reaches ``t``.

        A late line (older than a line before it) of an entity with a review due between its
        time and ``t``: the file grades it before that review, the worker's timer would run the
        review first. Its entity's lines up to it are brought forward, in their order.
        """
        grader, received_at = self.shadow.grader, self.shadow.received_at
        for key, left in self.upcoming.items():
            if not left or self.items[left[0]].t >= t:
                continue
            state = self.shadow.states.get(key)
            trial = None if state is None else EntityState.from_bytes(state.to_bytes())
            for j in left:
                line = self.items[j]
                assert line.event is not None  # only events are upcoming
                if line.t >= t:
                    break
                if trial is not None:
                    grader.review_due(trial, line.t)
                    if trial.next_review is not None and trial.next_review <= t:
                        return left[0]
                trial, _ = grader.apply(trial, line.event, received_at, at=line.t)
        return None
