"""Where baselines live between runs, a family of interchangeable stores.

- `JsonFileStore` (json_file.py): one process, one file; the default for a path.
- `ShardStore` (shards.py): the processes of one host, one folder.
- `RedisStore` (redis_fleet.py): a fleet, through Redis; needs `perfguard[redis]`.

Shared parts: files.py (atomic write, set-aside, the folder lock), formats.py (schemas,
checksum, the baseline document, sketch entries), outbox.py (unsent flushes),
identity.py (process identity).
"""

from __future__ import annotations

import os

from .._errors import StorageError
from ..types import BaselineStore, MergeableStore
from .json_file import JsonFileStore
from .shards import CombineReport, ShardStore

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
AnyStore = BaselineStore | MergeableStore


def make_store(storage: str | os.PathLike[str] | AnyStore | None) -> AnyStore | None:
    """The store a `storage=` argument names: None, a Redis URL, a path, or a store."""
    if storage is None:
        return None
    if isinstance(storage, str) and storage.startswith(REDIS_SCHEMES):
        from .redis_fleet import RedisStore  # optional extra, imported only when used

        return RedisStore(storage)
    if isinstance(storage, (str, os.PathLike)):
        text = os.fspath(storage)
        if not text:
            raise StorageError(text, "an empty path; pass None for in-memory tracking")
        if os.path.isdir(text):  # never renamed aside as if it were a damaged file
            raise StorageError(
                text,
                "is a directory; pass a file path in it (e.g. "
                f"{os.path.join(text, 'baselines.json')!r}) or ShardStore({text!r})",
            )
        return JsonFileStore(text)
    return storage


__all__ = ["AnyStore", "CombineReport", "JsonFileStore", "ShardStore", "make_store"]
