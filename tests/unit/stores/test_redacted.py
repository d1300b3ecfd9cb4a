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


def test_a_password_option_is_redacted_too() -> None:
    assert redacted("redis://cache/0?password=s3cret&ssl=1") == "redis://cache/0?password=***&ssl=1"


def test_a_malformed_url_is_a_configuration_error_without_its_secret() -> None:
    """Issue 11, item 4 (part)."""
    from perfguard import ConfigurationError, PerformanceTracker

    with pytest.raises(ConfigurationError) as info:
        PerformanceTracker(storage="redis://:s3cret@127.0.0.1:notaport/0", autosave_interval=None)
    assert "s3cret" not in str(info.value) and "storage" in str(info.value)


def test_a_tracker_starts_while_redis_is_down(caplog: pytest.LogCaptureFixture) -> None:
    """Issue 11, item 4 (part): the constructor warns and the tracker records on local
    baselines; nothing raises into the application."""
    from perfguard import PerformanceTracker

    with caplog.at_level(logging.WARNING, logger="perfguard"):
        tracker = PerformanceTracker(storage="redis://127.0.0.1:1/0", autosave_interval=None)
    tracker.record("op", 0.01)
    assert tracker.stats("op")["sample_count"] == 1
    assert any("without the stored baselines" in r.getMessage() for r in caplog.records)
    tracker.close(save=False)
