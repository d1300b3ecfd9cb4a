"""A fleet: every process of every host shares one baseline per operation in Redis.

Each process flushes what it recorded since its previous flush (a mergeable sketch per
operation, see _sketch) off the hot path: from the background saver and at close. A
flush is applied by a Lua script, atomically per operation, and idempotently: the script
keeps, per operation, the highest flush sequence applied for each process identity and
ignores a replay. Keys of one operation share a hash slot (`{...}` hash tag), so the
script is also valid on a Redis Cluster. Operation names are percent-encoded (UTF-8,
lone surrogates kept) before they reach a key.

Redis Cluster: a URL naming any node of a cluster works as it is. The store asks the
node (`INFO cluster`) and then talks to the cluster: a flush is one pipeline per master,
each holding the operations whose hash slot that master serves. A MOVED reply (a
resharding, or a cluster that was unreachable when the store was built) keeps the flush
for a replay under the same sequence and refreshes the slot map; it never drops calls.

When Redis is down, a flush raises StorageError and the tracker keeps the deltas for the
next flush: a sketch's size does not grow with the number of calls, so what is buffered
stays bounded (operations are capped by max_operations) and nothing has to be dropped.

Requires the optional extra `perfguard[redis]`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from .. import _hooks
from .._baseline import Baseline
from .._clock import SYSTEM_CLOCK
from .._errors import ConfigurationError, StorageError
from .._sketch import SketchDelta
from .identity import new_identity
from .outbox import Outbox
from .redis_layout import (
    APPLY_FLUSH,
    STATUS_KEPT,
    baseline_of,
    escape_name,
    escaped_name_of,
    fleet_scale,
    flush_args,
    index_key,
    operation_keys,
    sketch_pattern,
    status_index_key,
    status_key,
    unescape_name,
)

__all__ = ["RedisStore", "escape_name", "redacted", "unescape_name"]

logger = logging.getLogger("perfguard")

try:
    import redis
    import redis.cluster
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "the Redis store needs the optional dependency: pip install 'perfguard[redis]'"
    ) from exc

# what a call to a server or a cluster raises when it did not do what was asked
_REDIS_FAILED = (redis.RedisError, redis.exceptions.RedisClusterException)


class RedisStore:
    """Baselines shared by a fleet through Redis. Pass it (or its URL) as `storage=`."""

    mergeable = True
    keeps_unsent = True  # a failed flush is kept and replayed first (_outbox)

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "perfguard",
        scale: int = 6,
        timeout: float = 1.0,
        cluster: bool | None = None,
    ) -> None:
        self._url = url  # with its credentials: only ever given to the client
        self.url = redacted(url)  # what every message, error and `location` shows
        self.prefix = prefix
        self.scale = scale
        self._timeout = timeout
        try:
            self._client: redis.Redis | redis.cluster.RedisCluster = self._plain()
        except ValueError as exc:  # a malformed URL: said at once, in perfguard's words
            raise ConfigurationError("storage", self.url, f"a valid Redis URL ({exc})") from None
        if cluster is None:
            cluster = _is_cluster(self._client)
        self._script = self._client.register_script(APPLY_FLUSH)
        if cluster:
            self._use_cluster_client()
        self._identity = new_identity()
        self._outbox = Outbox()
        _hooks.after_fork_in_child.register(self, RedisStore._forked)
        self.dropped: dict[str, int] = {}  # calls refused for good, per operation
        self._indexed: set[str] = set()  # operations this process added to the index
        self._scanned = False  # whether this process looked for an unindexed fleet

    @property
    def location(self) -> str:
        return self.url

    @property
    def cluster(self) -> bool:
        """True when the URL named a node of a Redis Cluster."""
        return isinstance(self._client, redis.cluster.RedisCluster)

    def _plain(self) -> redis.Redis:
        timeout = self._timeout
        return redis.Redis.from_url(
            self._url, socket_timeout=timeout, socket_connect_timeout=timeout, decode_responses=True
        )

    def _use_cluster_client(self) -> None:
        """Talk to the cluster: a new client, the flush script registered on it."""
        timeout = self._timeout
        self._client = redis.cluster.RedisCluster.from_url(
            self._url, socket_timeout=timeout, socket_connect_timeout=timeout, decode_responses=True
        )
        self._script = self._client.register_script(APPLY_FLUSH)

    def _pipelines(self, names: list[str]) -> list[tuple[Any, list[str]]]:
        """Pipelines to run the flush script in, with the operations each carries: one
        for a single server; one per master of a cluster (a cluster pipeline cannot run
        scripts), each with the operations whose slot that master serves."""
        client = self._client
        if not isinstance(client, redis.cluster.RedisCluster):
            return [(client.pipeline(transaction=False), names)]
        by_node: dict[str, tuple[Any, list[str]]] = {}
        for name in names:
            node = client.get_node_from_key(self._keys(name)[0])  # type: ignore[no-untyped-call]
            entry = by_node.get(node.name)
            if entry is None:
                connection = client.get_redis_connection(node)
                entry = by_node[node.name] = (connection.pipeline(transaction=False), [])
            entry[1].append(name)
        return list(by_node.values())

    def _moved(self) -> None:
        """A MOVED reply: become (or refresh) a cluster client; the flush is replayed."""
        if isinstance(self._client, redis.cluster.RedisCluster):
            self._client.nodes_manager.initialize()
        else:
            self._use_cluster_client()

    @property
    def identity(self) -> str:
        return self._identity

    def _keys(self, name: str) -> tuple[str, str, str]:
        return operation_keys(self.prefix, name)

    def _forked(self) -> None:
        """A forked child: its own identity, sequence, connections and drop count."""
        self._identity = new_identity()
        self.dropped = {}
        self._indexed = set()
        self._outbox.reset()
        if isinstance(self._client, redis.cluster.RedisCluster):
            self._use_cluster_client()  # a cluster client holds a pool per node
        else:
            self._client.connection_pool.reset()

    # -- writing -------------------------------------------------------------------------

    def save_deltas(self, deltas: Mapping[str, SketchDelta]) -> int:
        """Send this process's flush: a flush that failed before (maybe applied in part)
        goes first, under its own sequence. Returns how many flushes were sent."""
        self._outbox.add(deltas)
        return self._outbox.send(
            lambda sequence, batch: self.apply_flush(self._identity, sequence, batch)
        )

    def apply_flush(self, identity: str, sequence: int, deltas: Mapping[str, SketchDelta]) -> int:
        """Apply a flush identified by (identity, sequence); a replay changes nothing.
        Returns how many operations it changed (replays excluded). An operation the fleet
        keeps at a coarser scale is downscaled to it and sent again in the same flush.

        A refusal that can pass (out of memory, read-only, loading, slots moved) raises
        StorageError: the caller keeps the whole flush and replays it. A refusal that
        never passes drops that operation's calls, counted in `dropped`, only once the
        flush completes (a flush replayed later is judged again, never counted twice)."""
        now = repr(SYSTEM_CLOCK.wall())
        scales = dict.fromkeys(deltas, self.scale)
        replies = _Replies()
        pending = list(deltas)
        for _ in range(2):  # a second round only for operations at another fleet scale
            try:
                for pipeline, names in self._pipelines(pending):
                    for name in names:
                        argv = flush_args(identity, sequence, deltas[name], scales[name], now)
                        self._script(keys=list(self._keys(name)), args=argv, client=pipeline)
                    replies.sort(names, pipeline.execute(raise_on_error=False), scales)
            except _REDIS_FAILED as exc:
                raise StorageError(self.url, f"flush failed ({exc})") from exc
            if replies.moved:
                self._moved()
                raise StorageError(self.url, "flush refused by a cluster node (slots moved)")
            if replies.passing is not None:
                raise StorageError(self.url, f"flush refused for now ({replies.passing})")
            if not replies.rescaled:
                self._index(deltas)
                for name, reason in replies.refused:
                    self._drop(name, deltas[name], reason)
                return replies.applied
            pending, replies.rescaled = replies.rescaled, []
        raise StorageError(self.url, "flush failed: the fleet's scale kept changing")

    def _index(self, names: Mapping[str, object]) -> None:
        """Add operations this process has not indexed yet to the prefix's index (once
        per operation per process); a failure keeps the flush for a replay."""
        fresh = [escape_name(name) for name in names if name not in self._indexed]
        if not fresh:
            return
        try:
            self._client.sadd(index_key(self.prefix), *fresh)
        except _REDIS_FAILED as exc:
            raise StorageError(self.url, f"flush failed ({exc})") from exc
        self._indexed.update(names)

    def _drop(self, name: str, delta: SketchDelta, reason: str) -> None:
        self.dropped[name] = self.dropped.get(name, 0) + delta.sketch.count + delta.failures
        logger.warning(
            "perfguard fleet store %s refused the calls of %r (%s); %d dropped so far",
            self.url,
            name,
            reason,
            self.dropped[name],
        )

    # -- the status record (_status.py) ---------------------------------------------------

    def save_status(self, status: Mapping[str, Any]) -> None:
        """Replace this process's status record (expires STATUS_KEPT seconds after its
        last write); the prefix's status index forgets the expired ones."""
        now = SYSTEM_CLOCK.wall()
        key, index = status_key(self.prefix, self._identity), status_index_key(self.prefix)
        payload = json.dumps(status, allow_nan=False, separators=(",", ":"))
        try:
            pipeline = self._client.pipeline(transaction=not self.cluster)
            pipeline.set(key, payload, ex=int(STATUS_KEPT))
            pipeline.zadd(index, {self._identity: now})
            pipeline.zremrangebyscore(index, "-inf", now - STATUS_KEPT)
            pipeline.execute()
        except _REDIS_FAILED as exc:
            raise StorageError(self.url, f"status cannot be written ({exc})") from exc

    def statuses(self) -> list[tuple[str, str]]:
        """(identity, JSON text) of every process's status record still kept."""
        index = status_index_key(self.prefix)
        try:
            since = SYSTEM_CLOCK.wall() - STATUS_KEPT
            found: list[str] = self._client.zrangebyscore(index, since, "+inf")  # type: ignore[assignment]
            identities = sorted(found)
            pipeline = self._client.pipeline(transaction=False)
            for identity in identities:
                pipeline.get(status_key(self.prefix, identity))
            texts = pipeline.execute() if identities else []
        except _REDIS_FAILED as exc:
            raise StorageError(self.url, f"cannot be read ({exc})") from exc
        return [(i, t) for i, t in zip(identities, texts, strict=True) if isinstance(t, str)]

    # -- reading -------------------------------------------------------------------------

    def load(self) -> dict[str, Baseline]:
        """The fleet's baselines; {} when it has none yet."""
        try:
            keys = self._sketch_keys()
            pipeline = self._client.pipeline(transaction=False)
            for key in keys:
                pipeline.hgetall(key)
            hashes = pipeline.execute(raise_on_error=False)  # a key of another type: skipped
        except _REDIS_FAILED as exc:
            raise StorageError(self.url, f"cannot be read ({exc})") from exc
        result: dict[str, Baseline] = {}
        for key, fields in zip(keys, hashes, strict=True):
            try:
                if isinstance(fields, Exception):
                    raise ValueError(str(fields))
                name = unescape_name(escaped_name_of(self.prefix, key) or "")
                baseline = baseline_of(fields)
            except (KeyError, ValueError, TypeError, OverflowError) as exc:
                # one damaged entry (a missing field, an edited value) is skipped, never
                # a failure of every process that starts
                logger.warning("perfguard fleet store %s: skipping the damaged entry %r (%r)",
                               self.url, key, exc)  # fmt: skip
                continue
            if baseline is not None:
                result[name] = baseline
        return result

    def _sketch_keys(self) -> list[str]:
        """The sketch keys of the prefix's operations, from the index; a fleet written
        before the index existed is scanned once and the index written."""
        members: set[str] = self._client.smembers(index_key(self.prefix))  # type: ignore[assignment]
        if members or self._scanned:
            return [f"{{{self.prefix}:{escaped}}}:sketch" for escaped in sorted(members)]
        self._scanned = True  # at most once a process: later operations are indexed
        found = {
            escaped: key
            for key in self._client.scan_iter(match=sketch_pattern(self.prefix), count=1000)
            if (escaped := escaped_name_of(self.prefix, key)) is not None
        }
        if found:
            self._client.sadd(index_key(self.prefix), *found)
        return [found[escaped] for escaped in sorted(found)]


class _Replies:
    """The script's replies of one flush, sorted by what each asks for next."""

    def __init__(self) -> None:
        self.applied = 0  # operations changed
        self.moved = False  # a cluster node serves some slot elsewhere now
        self.passing: Exception | None = None  # a refusal that passes: replay it all
        self.rescaled: list[str] = []  # to send again at the fleet's coarser scale
        self.refused: list[tuple[str, str]] = []  # never passes: dropped, with why

    def sort(self, names: list[str], results: list[Any], scales: dict[str, int]) -> None:
        for name, result in zip(names, results, strict=True):
            if not isinstance(result, Exception):
                self.applied += int(result)
            elif isinstance(result, _SLOTS_ELSEWHERE):
                self.moved = True  # replayed whole next time: applied parts are ignored
            elif _passes(result):
                self.passing = result
            else:
                scale = fleet_scale(result)
                if scale is None or scale > scales[name]:
                    # the fleet keeps it finer than this process can send, or the script
                    # refused it for good: dropped and counted, so it cannot hold back
                    # every later flush of every operation
                    self.refused.append((name, str(result)))
                else:
                    scales[name] = scale
                    self.rescaled.append(name)


# replies of a cluster node that mean "not here, not now": the flush is replayed
_SLOTS_ELSEWHERE = (
    redis.exceptions.MovedError,
    redis.exceptions.AskError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.TryAgainError,
)


# refusals that pass (memory freed, a replica promoted, loading done, a script ended):
# redis-py's class when it knows the reply, else the reply's first word, which a
# script's error text carries too ("OOM command not allowed ... script: ...")
_PASSING_REPLIES = (
    redis.exceptions.OutOfMemoryError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.BusyLoadingError,
    redis.exceptions.MasterDownError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)
_PASSING_WORDS = re.compile(
    r"\b(OOM|READONLY|LOADING|BUSY|TRYAGAIN|MASTERDOWN|NOREPLICAS|CLUSTERDOWN)\b"
    r"|command not allowed when used memory|read only replica|You can't write against"
)


def _passes(refusal: Exception) -> bool:
    """Whether a script's refusal can pass if the flush is sent again later."""
    return isinstance(refusal, _PASSING_REPLIES) or bool(_PASSING_WORDS.search(str(refusal)))


def redacted(url: str) -> str:
    """The URL with its password (and a user with no password, a token) replaced by
    "***", also as a `password=` query option, so logs, errors and `storage_location`
    never show a secret. Plain string work: a malformed URL is redacted too."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        return url
    netloc, slash, path = rest.partition("/")
    if "@" in netloc:
        credentials, _, host = netloc.rpartition("@")
        user, colon, _ = credentials.partition(":")
        netloc = f"{user}:***@{host}" if colon else f"***@{host}"
    path = re.sub(r"(?i)(password=)[^&]*", r"\1***", path)
    return f"{scheme}://{netloc}{slash}{path}"


def _is_cluster(client: redis.Redis) -> bool:
    """Whether the server the URL names is a cluster node; False when it cannot be
    asked now (a MOVED reply later switches the store over)."""
    try:
        return int(client.info("cluster").get("cluster_enabled", 0)) == 1
    except (redis.RedisError, ValueError, TypeError):
        return False
