"""The tier store's Redis keys, one place: names, the layout as documented, the change sequence.

Key layout (``{prefix}`` is ``Settings.redis_key_prefix``, ``tierstream`` by default;
``{entity_type}`` is ``customer`` or ``supplier``; ``{entity_id}`` is used verbatim and
may itself contain ``:``):

``{prefix}:tier:{entity_type}:{entity_id}`` (hash)
    The entity's current tier. Fields: ``tier`` (``ungraded`` below the rules'
    ``min_evidence``), ``score``, ``previous_tier`` (empty string when none),
    ``direction`` (``initial``/``upgrade``/``downgrade``/``ungraded``),
    ``components`` (JSON object dimension -> 0..100), ``reasons`` (JSON list of
    strings), ``next_tier`` (JSON object or ``null``), ``rules_version``,
    ``change_id`` (``tc:<entity_type>:<entity_id>:<seq>``), ``seq`` (integer, the
    change_id suffix), ``occurred_at`` (ISO-8601 event time of the change),
    ``ungraded_reason`` (why the tier is ``ungraded``, e.g. ``no delivery in the 180-day
    window``; empty string when graded), ``actions`` (JSON list: what the tier entitles or
    triggers, ``[{"name": "discount", "value": 0.1, "label": ...}]``), ``segment`` (the
    customer's RFM segment), ``loyalty`` (``loyal``/``potentially_loyal``/``disloyal``) and
    ``group`` (the customer group it is graded in), each empty when none, ``profile`` (JSON
    object of the latest profile's fields, or ``null``), ``updated_at`` (ISO-8601 wall
    clock of the write) and ``counted_in`` (the field of the ``dist`` hash this entity is
    counted in, see below).

``{prefix}:history:{entity_type}:{entity_id}`` (list)
    TierChange JSON documents, newest first, capped at ``HISTORY_CAP`` entries.

``{prefix}:audit:{entity_type}:{entity_id}`` (list)
    The entity's manual assessments and overrides (:class:`~schemas.outputs.AuditEntry` JSON:
    event_id, kind, value, author, reason, occurred_at, expires_at, status ``accepted`` or
    ``refused: <why>``), latest received first, each event id once, capped at ``AUDIT_CAP``.

``{prefix}:changes`` (stream)
    Every applied change, ``XADD ... MAXLEN ~ STREAM_MAXLEN``, one field ``change``
    holding the TierChange JSON. Consumers can tail it with ``XREAD``/consumer groups.

``{prefix}:changes:{entity_type}`` (pub/sub channel)
    The TierChange JSON of every applied change, for live listeners (fire and forget).

``{prefix}:dist:{entity_type}`` (hash)
    The tier distribution, counted as changes are applied (never by a scan): field
    ``["<tier>","<segment>","<group>"]`` (a JSON array; ``""`` when the change has no segment
    or group), value how many entities of that type are stored with that tier, segment and
    group. The apply script moves an entity from the cell in its ``counted_in`` field to
    the cell of the new change, only when the change is applied, so a redelivered or older
    change counts nothing twice; emptied cells are deleted. Entities stored before these
    counters existed are counted once by the first worker that starts (``count_uncounted``).

``{prefix}:dist-recounted`` (string)
    When that one pass over the tier hashes ended (ISO-8601); later starts skip it.

``{prefix}:alerts:supplier`` (pub/sub channel)
    The SupplierAlert JSON of every supplier downgrade alert on ``supplier-alerts`` (fire
    and forget, like the notices).

``{prefix}:case:supplier:{supplier_id}`` (hash)
    The supplier's latest rectification case event: ``n`` (its case number), ``status``
    (``opened`` while the case is open, then ``closed`` or ``escalated``) and ``case`` (the
    SupplierCase JSON). Written only forward (a later case, or a later status of the same one).

``{prefix}:notices:{entity_type}`` (pub/sub channel)
    The TierNotice JSON of every early warning on ``tier-notices`` (fire and forget; a
    notice redelivered after a crash may be published twice, with the same ``notice_id``).

Writes are idempotent and monotone per entity: one Lua script compares the change's
sequence number with the stored ``seq`` and only when it is strictly newer updates the
hash, pushes the history, appends to the stream and publishes -- all atomically. A
redelivered change or one older than what is stored changes nothing and emits nothing,
which is what at-least-once delivery from Kafka needs.

All keys of one change are touched by one script, so this layout needs a single Redis
(or a primary with replicas); it is not Redis-Cluster-safe (the keys hash to different
slots).
"""

from __future__ import annotations

from typing import Final, get_args

from tierstream.schemas.events import EntityType
from tierstream.schemas.outputs import TierChange

__all__ = [
    "AUDIT_CAP",
    "ENTITY_TYPES",
    "HISTORY_CAP",
    "STREAM_MAXLEN",
    "alert_channel",
    "audit_key",
    "case_key",
    "change_channel",
    "changes_stream_key",
    "check_entity_type",
    "dist_key",
    "history_key",
    "key_layout",
    "notice_channel",
    "parse_seq",
    "recounted_key",
    "rules_key",
    "tier_key",
]

ENTITY_TYPES: Final[tuple[str, ...]] = get_args(EntityType)
HISTORY_CAP: Final = 100
STREAM_MAXLEN: Final = 100_000
AUDIT_CAP: Final = 200


def rules_key(prefix: str) -> str:
    """Every rules version a worker took: field ``<version>:<sha256>``, value its JSON record."""
    return f"{prefix}:rules"


def tier_key(prefix: str, entity_type: str, entity_id: str) -> str:
    return f"{prefix}:tier:{entity_type}:{entity_id}"


def history_key(prefix: str, entity_type: str, entity_id: str) -> str:
    return f"{prefix}:history:{entity_type}:{entity_id}"


def audit_key(prefix: str, entity_type: str, entity_id: str) -> str:
    """Return the key of an entity's audit trail (list of AuditEntry JSON, latest first)."""
    return f"{prefix}:audit:{entity_type}:{entity_id}"


def changes_stream_key(prefix: str) -> str:
    return f"{prefix}:changes"


def change_channel(prefix: str, entity_type: str) -> str:
    return f"{prefix}:changes:{entity_type}"


def case_key(prefix: str, supplier_id: str) -> str:
    return f"{prefix}:case:supplier:{supplier_id}"


def notice_channel(prefix: str, entity_type: str) -> str:
    return f"{prefix}:notices:{entity_type}"


def dist_key(prefix: str, entity_type: str) -> str:
    """Return the key of an entity type's tier counters (cell ``[tier, segment, group]`` -> entities)."""
    return f"{prefix}:dist:{entity_type}"


def recounted_key(prefix: str) -> str:
    """Return the key that marks the one pass counting entities stored before the counters as done."""
    return f"{prefix}:dist-recounted"


def alert_channel(prefix: str) -> str:
    """Return the pub/sub channel of supplier alerts."""
    return f"{prefix}:alerts:supplier"


def key_layout(prefix: str = "tierstream") -> str:
    """The key layout as Markdown, for the README and ``--help`` texts."""
    return "\n".join(
        [
            f"- `{tier_key(prefix, '{entity_type}', '{entity_id}')}` (hash): current tier;"
            " fields tier (`ungraded` below min_evidence), score, previous_tier (empty when"
            " none), direction, components (JSON), reasons (JSON), next_tier (JSON or null),"
            " rules_version, change_id, seq (int, suffix of change_id `tc:<type>:<id>:<seq>`),"
            " occurred_at (event time), ungraded_reason (empty when graded), actions (JSON: what"
            " the tier entitles or triggers), segment, loyalty, group (customers: RFM segment, loyalty"
            " class, group; empty when none), profile (JSON or null), updated_at (wall clock of the write),"
            " counted_in (its cell of the dist hash)",
            f"- `{history_key(prefix, '{entity_type}', '{entity_id}')}` (list): TierChange"
            f" JSON, newest first, at most {HISTORY_CAP}",
            f"- `{audit_key(prefix, '{entity_type}', '{entity_id}')}` (list): the entity's manual"
            " assessments and overrides, AuditEntry JSON (event_id, kind, value, author, reason,"
            " occurred_at, expires_at, status `accepted` or `refused: <why>`), latest received first,"
            f" each event id once, at most {AUDIT_CAP}",
            f"- `{changes_stream_key(prefix)}` (stream, MAXLEN ~ {STREAM_MAXLEN}): field"
            " `change` = TierChange JSON, one entry per applied change",
            f"- `{change_channel(prefix, '{entity_type}')}` (pub/sub channel): TierChange"
            " JSON of every applied change",
            f"- `{dist_key(prefix, '{entity_type}')}` (hash): tier counters kept by the apply script,"
            ' field `["<tier>","<segment>","<group>"]` (JSON, `""` when none), value the number of'
            " entities stored in that cell",
            f"- `{recounted_key(prefix)}` (string): when the entities stored before the counters were"
            " counted (one pass at a worker's start)",
            f"- `{alert_channel(prefix)}` (pub/sub channel): SupplierAlert JSON of every supplier alert",
            f"- `{case_key(prefix, '{supplier_id}')}` (hash): the supplier's latest rectification case"
            " event: n (case number), status (`opened` while open, then `closed` or `escalated`), case (JSON)",
            f"- `{notice_channel(prefix, '{entity_type}')}` (pub/sub channel): TierNotice"
            " JSON of every early warning (at risk, supplier watch, approaching, assessment expiring)",
            f"- `{rules_key(prefix)}` (hash): every rules version in force, field"
            " `<version>:<sha256>`, value JSON (version, sha256, effective_from, regrade, taken_at, as_of)",
            "",
            "Writes are atomic, idempotent and monotone per entity: a change whose seq is"
            " not greater than the stored seq is ignored (nothing written, nothing emitted).",
        ]
    )


def parse_seq(change: TierChange) -> int:
    """The per-entity sequence number: the suffix of ``tc:<type>:<id>:<seq>``.

    The prefix must match the change's own entity (ids may contain ``:``, so the
    sequence is what follows the expected prefix, not a naive split).
    """
    expected = f"tc:{change.entity_type}:{change.entity_id}:"
    if not change.change_id.startswith(expected):
        raise ValueError(f"change_id {change.change_id!r} does not match {expected}<seq>")
    suffix = change.change_id[len(expected) :]
    if not suffix.isdigit():
        raise ValueError(f"change_id {change.change_id!r} has no integer sequence suffix")
    return int(suffix)


def check_entity_type(entity_type: str) -> None:
    if entity_type not in ENTITY_TYPES:
        raise ValueError(f"unknown entity_type {entity_type!r} (expected one of {ENTITY_TYPES})")

