"""Realistic, reproducible mixed event files for demos, tests and benchmarks.

:func:`generate` simulates a population of customers (``c00001``...) and suppliers
(``s0001``...) over ``days`` days ending at ``end`` and yields one JSON line per
event (bytes, no newline); :func:`write_sample` writes them as JSONL and returns
:class:`SampleStats`. Everything is driven by one ``random.Random(seed)`` (no
global random, no clock, no uuid): the same arguments give a byte-identical file
(on the same Python minor version; ``random``'s algorithms are stable in practice).

The population
--------------
Customers (75% already active when the window opens, 25% sign up during it):

* a hidden, heavy-tailed order rate (log-normal: median ~3 orders a year for
  retail, ~12 for wholesale; a few whales order weekly) and basket size
  (median ~250 retail, ~4000 wholesale; USD accounts ~1/7 of that);
* a group: ~8% ``wholesale`` (always sent in ``customer_group``), the rest retail
  (some sources send ``"retail"``, most omit the field);
* a lifecycle: steady, *ramping up* (rate x0.2 -> x3 across the window) or
  *lapsing* (stops buying at a random point), so scores cross tier thresholds;
* a margin (``cost`` < ``amount`` mostly, ~3% loss-making, some orders without
  cost; ~5% of customers from a feed without any cost), a currency (CNY mostly,
  some USD) and a time zone (``Z``, ``+08:00``...);
* 3% of orders are later ``cancelled`` (within 2 days, no invoice) and 4%
  ``returned`` (3-30 days later): same ``order_id`` and amounts, new event;
  half the returns are partial (``returned_amount``, 10-90% of the order, and
  half of those with their ``returned_cost``);
* invoiced orders (all wholesale, ~35% retail) get a ``payment`` with ``due_at``
  (7-60 day terms) paid early or late by a per-customer punctuality, a tenth in
  two parts, late ones sometimes with a ``delay_reason``; 70% of customers also
  send the ``invoice`` event (``issued_at``, ``due_at``), and of theirs 2% (25%
  for poor payers) are never paid; the others' payments define their invoices;
* ~40% of newcomers were ``referral``s by an existing customer (a few
  "ambassadors" refer many); a quarter of the referred never buy, and a third
  of those who buy cancel their first order (place-and-cancel);
* ~30% of newcomers get an ``assessment`` with a ``prospect_score``, and a
  couple of accounts a ``tier_override`` (reason, author, expiry).

Suppliers: a hidden defect rate, on-time probability, fill rate, price level
against the market (``market_amount``), lead time and after-sales response time;
~15% degrade and ~10% improve half-way through. Purchase ``order``s arrive
~2x a month (log-normal), each followed by a ``delivery`` (``promised_at``,
quantities ordered/delivered/accepted: some over-deliveries, 2% deliveries of
nothing) and sometimes a ``service`` ticket (more often for defective lots)
with its ``first_response_at``; a third of the tickets are first recorded open
(no ``first_response_at``) and answered by a second event for the same
``ticket_id`` when the response comes, and tickets unanswered at the end stay
open. ~8% are new suppliers whose purchase orders start in the last 15% of the
span (some without a delivery yet at the end), half of them with a
``prospect_score`` assessment.

Profiles (:mod:`.profiles`): ~60% of customers and suppliers send a ``profile``
(ownership, business nature, location, need type, the group their orders name,
half the time a share of wallet, a ``region`` attribute), those active when the
window opens up to ~2.5 years before it; a fifth of the profiled customers send
a second, later one. They draw from a random source of their own and number
their ids apart (``p0000001``), so every other line is as it was without them.

The shapes added with issue 10 point 2 and 8
draw from a second random source (``shapes``), so the others are drawn as
before.

Order in the file
-----------------
Events are simulated with a time-ordered heap (memory stays bounded by the
population plus the follow-ups pending in the next ~two months), so the file is
mostly sorted by ``occurred_at`` with entities interleaved, except that:

* ``late_ratio`` of events are held back and emitted 5 minutes to 4 days after
  their time, behind at least one later event (out of order; ``SampleStats.late``
  counts those that really are, which is nearly all of them);
* the answer to a ticket first recorded open comes when the response does,
  dated (as every service event) when the ticket was opened;
* ``duplicate_ratio`` of events are repeated verbatim (same ``event_id``) up to
  two days later;
* ``invalid_ratio`` of events are accompanied by one invalid line of a varied
  kind (see :data:`INVALID_KINDS`), with its own ``event_id`` where it has one.

Volume (:func:`estimate_lines`): over a year about 8.5 lines per customer and
60 per supplier; 60,000 customers and 8,000 suppliers over 365 days is ~1M lines.

The parts: :mod:`.stats` (what a sample contains, how big it is), :mod:`.clock`
(time formatting, weekly buying patterns), :mod:`.core` (parameters, the heap),
:mod:`.customers`, :mod:`.suppliers`, :mod:`.profiles`, :mod:`.invalid` (the bad lines),
:mod:`.stream` (the late and duplicated lines, the file order) and
:mod:`.writer` (:func:`generate`, :func:`write_sample`).
"""

from tierstream.streams.dev.sample.stats import DEFAULT_END, EVENT_TYPES, INVALID_KINDS, SampleStats, estimate_lines
from tierstream.streams.dev.sample.writer import generate, write_sample

__all__ = [
    "DEFAULT_END",
    "EVENT_TYPES",
    "INVALID_KINDS",
    "SampleStats",
    "estimate_lines",
    "generate",
    "write_sample",
]
