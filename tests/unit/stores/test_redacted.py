"""Issue 11, item 13: a Redis URL's password never appears in `location`,
`storage_location`, errors or log lines."""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("redis")

from perfguard import StorageError
from perfguard._sketch import LogSketch, SketchDelta
from perfguard._stores.redis_fleet import RedisStore, redacted


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:s3cret@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("redis://app:s3cret@cache.internal/2", "redis://app:***@cache.internal/2"),
        ("rediss://tokenonly@cache.internal:6380", "rediss://***@cache.internal:6380"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://:s3cret@[::1]:6379/0", "redis://:***@[::1]:6379/0"),
    ],
)
def test_credentials_are_replaced(url: str, shown: str) -> None:
    assert redacted(url) == shown


def test_no_message_shows_the_password(caplog: pytest.LogCaptureFixture) -> None:
    store = RedisStore("redis://:s3cret@127.0.0.1:1/0", timeout=0.2)  # nothing listens
    assert "s3cret" not in store.location
    sketch = LogSketch(6)
    sketch.add_many([0.01] * 10)
    with caplog.at_level(logging.DEBUG, logger="perfguard"), pytest.raises(StorageError) as info:
        store.save_deltas({"op": SketchDelta(sketch, 0, 1.0)})
    assert "s3cret" not in str(info.value)
    with pytest.raises(StorageError) as read_error:
        store.load()
    assert "s3cret" not in str(read_error.value)
    assert all("s3cret" not in record.getMessage() for record in caplog.records)
