"""The one Lua script of the tier store, and its KEYS and ARGV for a change.

The script compares the change's sequence number with the stored ``seq`` and
only when it is strictly newer updates the hash, pushes the history, appends to
the stream, publishes and moves the entity in the tier counters, atomically (see
:mod:`.keys` for what each key holds).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Final

from tierstream.schemas.outputs import AuditEntry, TierChange
from tierstream.streams.store.keys import (
    audit_key,
    change_channel,
    changes_stream_key,
    dist_key,
    history_key,
    parse_seq,
    tier_key,
)

__all__ = ["APPLY_LUA", "APPLY_SHA", "AUDIT_LUA", "AUDIT_SHA", "CASE_LUA", "COUNT_LUA", "audit_call", "cell_of",
           "count_cell", "script_call"]

# KEYS[1] tier hash, KEYS[2] history list, KEYS[3] changes stream, KEYS[4] tier counters (dist hash)
# ARGV[1] seq, ARGV[2] change JSON, ARGV[3] history cap, ARGV[4] stream maxlen,
# ARGV[5] pub/sub channel, ARGV[6] the change's counters cell (count_cell),
# ARGV[7..] field/value pairs for the hash (seq included).
# Returns 1 when applied, 0 when the stored seq is already >= this one.
APPLY_LUA: Final = """
local seq = tonumber(ARGV[1])
local stored = redis.call('HGET', KEYS[1], 'seq')
if stored and tonumber(stored) and tonumber(stored) >= seq then
  return 0
end
local fields = {}
for i = 7, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('LPUSH', KEYS[2], ARGV[2])
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[3]) - 1)
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], '*', 'change', ARGV[2])
redis.call('PUBLISH', ARGV[5], ARGV[2])
-- tier counters of the dashboard: move the entity from the cell it was counted in to the
-- change's cell (ARGV[6], made in Python: decoding the change JSON here would double the cost)
local cell = ARGV[6]
local counted = redis.call('HGET', KEYS[1], 'counted_in')
if counted ~= cell then
  if counted and redis.call('HINCRBY', KEYS[4], counted, -1) <= 0 then
    redis.call('HDEL', KEYS[4], counted)
  end
  redis.call('HINCRBY', KEYS[4], cell, 1)
  redis.call('HSET', KEYS[1], 'counted_in', cell)
end
-- end of the tier counters
return 1
"""
APPLY_SHA: Final = hashlib.sha1(APPLY_LUA.encode()).hexdigest()

# KEYS[1] audit list; ARGV[1] event id, ARGV[2] AuditEntry JSON, ARGV[3] cap.
# Returns 1 when recorded, 0 when the list already holds that event id (a record sent again).
AUDIT_LUA: Final = """
local items = redis.call('LRANGE', KEYS[1], 0, -1)
for _, item in ipairs(items) do
  if cjson.decode(item)['event_id'] == ARGV[1] then
    return 0
  end
end
redis.call('LPUSH', KEYS[1], ARGV[2])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[3]) - 1)
return 1
"""
AUDIT_SHA: Final = hashlib.sha1(AUDIT_LUA.encode()).hexdigest()

# KEYS[1] tier hash, KEYS[2] tier counters; ARGV[1] the cell of the stored tier (count_cell).
# Counts an entity stored before the counters existed, once: returns 1 when counted, 0 when
# it is counted already (its counted_in is set, by this script or by a change applied since).
COUNT_LUA: Final = """
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HEXISTS', KEYS[1], 'counted_in') == 1 then
  return 0
end
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
redis.call('HSET', KEYS[1], 'counted_in', ARGV[1])
return 1
"""

# KEYS[1] case hash; ARGV[1] case number, ARGV[2] rank (1 opened, 2 closed or escalated),
# ARGV[3] status, ARGV[4] SupplierCase JSON. Only forward: returns 1 when written, 0 otherwise.
CASE_LUA: Final = """
local n, rank = tonumber(ARGV[1]), tonumber(ARGV[2])
local sn = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
local sr = tonumber(redis.call('HGET', KEYS[1], 'rank') or '0')
if sn > n or (sn == n and sr >= rank) then
  return 0
end
redis.call('HSET', KEYS[1], 'n', n, 'rank', rank, 'status', ARGV[3], 'case', ARGV[4])
return 1
"""


def script_call(
    prefix: str,
    change: TierChange,
    history_cap: int,
    stream_maxlen: int,
) -> tuple[list[str], list[str | int]]:
    """KEYS and ARGV of the apply script for one change."""
    seq = parse_seq(change)
    et, eid = change.entity_type, change.entity_id
    change_json = change.model_dump_json()
    dumped = change.model_dump(mode="json")
    fields: list[str | int] = [
        "tier", change.tier,
        "score", repr(float(change.score)),
        "previous_tier", change.previous_tier or "",
        "direction", change.direction,
        "components", json.dumps(dumped["components"], separators=(",", ":")),
        "reasons", json.dumps(dumped["reasons"], ensure_ascii=False),
        "next_tier", json.dumps(dumped["next_tier"], ensure_ascii=False),
        "rules_version", change.rules_version,
        "change_id", change.change_id,
        "seq", seq,
        "occurred_at", dumped["occurred_at"],
        "ungraded_reason", change.ungraded_reason or "",
        "actions", json.dumps(dumped["actions"], ensure_ascii=False),
        "segment", change.segment or "",
        "loyalty", change.loyalty or "",
        "group", change.group or "",
        "profile", json.dumps(dumped["profile"], ensure_ascii=False),
        "updated_at", datetime.now(UTC).isoformat(timespec="milliseconds"),
    ]  # fmt: skip
    keys = [tier_key(prefix, et, eid), history_key(prefix, et, eid), changes_stream_key(prefix), dist_key(prefix, et)]
    args: list[str | int] = [
        seq,
        change_json,
        history_cap,
        stream_maxlen,
        change_channel(prefix, et),
        count_cell(change),
        *fields,
    ]
    return keys, args



def count_cell(change: TierChange) -> str:
    """Return the counters cell of a change: ``["<tier>","<segment>","<group>"]``, ``""`` when it has none.

    ``segment`` and ``group`` are read when the change carries them (a TierChange
    without those fields counts in ``["<tier>","",""]``).
    """
    return cell_of(change.tier, change.segment, change.group)


def cell_of(tier: str, segment: str | None, group: str | None) -> str:
    """Return the counters cell of a tier, segment and group (the one format of the ``dist`` fields)."""
    return json.dumps([tier, segment or "", group or ""], ensure_ascii=False, separators=(",", ":"))


def audit_call(prefix: str, entry: AuditEntry, cap: int) -> tuple[list[str], list[str | int]]:
    """Return KEYS and ARGV of the audit script for one entry."""
    keys = [audit_key(prefix, entry.entity_type, entry.entity_id)]
    return keys, [entry.event_id, entry.model_dump_json(), cap]
