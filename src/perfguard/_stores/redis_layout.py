"""How a fleet lays out its data in Redis: the keys of an operation, the index of the
prefix's operations, the flush script, and the decoding of a stored sketch.

Per operation (one hash slot, `{prefix:escaped name}`, so the script is valid on a
Cluster): `:sketch` (the merged sketch and moments), `:applied` (per process identity,
the highest flush sequence applied: a replay is ignored) and `:applied_at` (when each
identity last flushed). Identities that have not flushed for APPLIED_RETENTION_SECONDS
are pruned from both, at most once an hour per operation and only past 32 identities,
so a fleet that restarts daily does not grow those hashes forever. A process silent for
longer than that whose last flush was applied but unacknowledged could have that one
flush applied twice; a week is far beyond any retry of perfguard's.

`{prefix}:operations` is a set of the prefix's escaped operation names, added to by each
process once per operation, read by load() instead of scanning the keyspace. A fleet
written before the index existed has none: load() scans once and writes it.
"""

from __future__ import annotations

import math
import urllib.parse
from collections.abc import Mapping
from typing import Any

from .._baseline import Baseline
from .._sketch import LogSketch, SketchDelta
from .formats import baseline_from_sketch

APPLIED_RETENTION_SECONDS = 7 * 24 * 3600
PRUNE_PAST_IDENTITIES = 32

# KEYS[1] = sketch hash, KEYS[2] = applied-flushes hash, KEYS[3] = last flush times
# ARGV = identity, sequence, scale, count, zero_count, sum, min, max, mean, m2, failures,
#        last_seen_at, now, then bucket index/count pairs
APPLY_FLUSH = """
local applied = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
local sequence = tonumber(ARGV[2])
if sequence <= applied then return 0 end
local scale = redis.call('HGET', KEYS[1], 'scale')
if scale and scale ~= ARGV[3] then
  return redis.error_reply('scale mismatch: fleet ' .. scale .. ', flush ' .. ARGV[3])
end
local n = tonumber(redis.call('HGET', KEYS[1], 'count') or '0')
local m = tonumber(ARGV[4])
if m > 0 then
  local mean_a = tonumber(redis.call('HGET', KEYS[1], 'mean') or '0')
  local m2_a = tonumber(redis.call('HGET', KEYS[1], 'm2') or '0')
  local mean_b = tonumber(ARGV[9])
  local total = n + m
  local delta = mean_b - mean_a
  local mean = mean_a + delta * m / total
  local m2 = m2_a + tonumber(ARGV[10]) + delta * delta * n * m / total
  redis.call('HSET', KEYS[1], 'mean', string.format('%.17g', mean),
             'm2', string.format('%.17g', m2))
  redis.call('HINCRBYFLOAT', KEYS[1], 'sum', ARGV[6])
  local low = redis.call('HGET', KEYS[1], 'min')
  if (not low) or tonumber(ARGV[7]) < tonumber(low) then
    redis.call('HSET', KEYS[1], 'min', ARGV[7])
  end
  local high = redis.call('HGET', KEYS[1], 'max')
  if (not high) or tonumber(ARGV[8]) > tonumber(high) then
    redis.call('HSET', KEYS[1], 'max', ARGV[8])
  end
end
redis.call('HINCRBY', KEYS[1], 'count', ARGV[4])
redis.call('HINCRBY', KEYS[1], 'zero_count', ARGV[5])
redis.call('HINCRBY', KEYS[1], 'failures', ARGV[11])
redis.call('HSET', KEYS[1], 'scale', ARGV[3], 'updated_at', ARGV[13])
redis.call('HSETNX', KEYS[1], 'established_at', ARGV[13])
local seen = tonumber(redis.call('HGET', KEYS[1], 'last_seen_at') or '0')
if tonumber(ARGV[12]) > seen then redis.call('HSET', KEYS[1], 'last_seen_at', ARGV[12]) end
for i = 14, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], 'b' .. ARGV[i], ARGV[i + 1])
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[13])
local now = tonumber(ARGV[13])
if redis.call('HLEN', KEYS[2]) > PRUNE_PAST_IDENTITIES then
  local pruned = tonumber(redis.call('HGET', KEYS[3], '.pruned') or '0')
  if now - pruned > 3600 then
    redis.call('HSET', KEYS[3], '.pruned', ARGV[13])
    for _, id in ipairs(redis.call('HKEYS', KEYS[2])) do
      local at = redis.call('HGET', KEYS[3], id)
      if not at then
        redis.call('HSET', KEYS[3], id, ARGV[13])  -- written before times were kept
      elseif now - tonumber(at) > APPLIED_RETENTION_SECONDS then
        redis.call('HDEL', KEYS[2], id)
        redis.call('HDEL', KEYS[3], id)
      end
    end
  end
end
return 1
""".replace("APPLIED_RETENTION_SECONDS", str(APPLIED_RETENTION_SECONDS)).replace(
    "PRUNE_PAST_IDENTITIES", str(PRUNE_PAST_IDENTITIES)
)


def flush_args(identity: str, sequence: int, delta: SketchDelta, scale: int, now: str) -> list[Any]:
    sketch = delta.sketch if delta.sketch.scale == scale else delta.sketch.downscaled(scale)
    argv: list[Any] = [
        identity,
        sequence,
        scale,
        sketch.count,
        sketch.zero_count,
        repr(sketch.total),
        repr(sketch.minimum if sketch.count else 0.0),
        repr(sketch.maximum if sketch.count else 0.0),
        repr(sketch.mean),
        repr(sketch.m2),
        delta.failures,
        repr(delta.last_seen_at),
        now,
    ]
    for index, count in sorted(sketch.buckets.items()):
        argv.extend((index, count))
    return argv


def fleet_scale(error: Exception) -> int | None:
    """The fleet's scale from the script's "scale mismatch: fleet N, flush M" error."""
    text = str(error)
    marker = "scale mismatch: fleet "
    if marker not in text:
        return None
    number = text.split(marker, 1)[1].split(",", 1)[0].strip()
    return int(number) if number.lstrip("-").isdigit() else None


def glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def escape_name(name: str) -> str:
    """A reversible, key-safe spelling of any operation name."""
    return urllib.parse.quote_from_bytes(name.encode("utf-8", "surrogatepass"), safe="")


def unescape_name(escaped: str) -> str:
    return urllib.parse.unquote_to_bytes(escaped).decode("utf-8", "surrogatepass")


def baseline_of(fields: Mapping[str, str]) -> Baseline | None:
    count = int(fields.get("count", "0"))
    if count <= 0:
        return None
    sketch = LogSketch(int(fields["scale"]))
    sketch.count = count
    sketch.zero_count = int(fields.get("zero_count", "0"))
    for field, value in fields.items():
        if field.startswith("b"):
            sketch.buckets[int(field[1:])] = int(value)
    sketch.total = float(fields.get("sum", "0"))
    sketch.minimum = float(fields.get("min", "0"))
    sketch.maximum = float(fields.get("max", "0"))
    sketch.mean = float(fields.get("mean", "0"))
    sketch.m2 = max(0.0, float(fields.get("m2", "0")))
    if not all(math.isfinite(v) for v in (sketch.total, sketch.mean, sketch.m2)):
        return None
    return baseline_from_sketch(
        sketch,
        int(fields.get("failures", "0")),
        established_at=float(fields.get("established_at", "0")),
        updated_at=float(fields.get("updated_at", "0")),
        last_seen_at=float(fields.get("last_seen_at", "0")),
    )


def operation_keys(prefix: str, name: str) -> tuple[str, str, str]:
    """The sketch, applied and applied_at keys of one operation (one hash slot)."""
    tag = f"{{{prefix}:{escape_name(name)}}}"
    return f"{tag}:sketch", f"{tag}:applied", f"{tag}:applied_at"


def index_key(prefix: str) -> str:
    """The set of the prefix's escaped operation names."""
    return f"{{{prefix}}}:operations"


STATUS_KEPT = 3600.0  # seconds a process's status record outlives its last write


def status_key(prefix: str, identity: str) -> str:
    """One process's status record (_status.py), in the slot of the prefix's index."""
    return f"{{{prefix}}}:status:{identity}"


def status_index_key(prefix: str) -> str:
    """The identities of the prefix's status records, scored by their last write."""
    return f"{{{prefix}}}:statuses"


def sketch_pattern(prefix: str) -> str:
    """SCAN pattern of the sketch keys of `prefix` (a fleet written before the index)."""
    return f"{{{glob_escape(prefix)}:*}}:sketch"


def escaped_name_of(prefix: str, key: str) -> str | None:
    """The escaped operation name of a sketch key of exactly this prefix, else None: an
    escaped name never holds ':', '{' or '}', so "perfguard:staging" is not "perfguard"."""
    escaped = key[len(prefix) + 2 : -len("}:sketch")]
    if not key.startswith("{" + prefix + ":") or set(escaped) & {":", "}", "{"}:
        return None
    return escaped
