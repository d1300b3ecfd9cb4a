"""Property: whatever baselines are saved (any names, any valid figures), loading gives
back exactly the same state, plain or gzip-compressed."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from perfguard import JsonFileStore
from perfguard._baseline import Baseline

positive = st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False)


@st.composite
def baselines(draw: st.DrawFn) -> Baseline:
    p50, p75, p95, p99 = sorted(draw(st.lists(positive, min_size=4, max_size=4)))
    return Baseline(
        p50=p50,
        p75=p75,
        p95=p95,
        p99=p99,
        mean=draw(positive),
        std=draw(positive),
        sample_count=draw(st.integers(min_value=1, max_value=10**12)),
        error_rate=draw(st.floats(min_value=0.0, max_value=1.0, exclude_max=True)),
        log_scale=draw(positive),
        established_at=draw(positive),
        updated_at=draw(positive),
        last_seen_at=draw(positive),
    )


names = st.text(min_size=1, max_size=40)  # any unicode, surrogates included


@settings(max_examples=100, derandomize=True, database=None, deadline=None)
@given(st.dictionaries(names, baselines(), max_size=8), st.booleans())
def test_save_then_load_gives_back_the_same_state(
    saved: dict[str, Baseline], compressed: bool
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("b.json.gz" if compressed else "b.json")
        store = JsonFileStore(path)
        store.save(saved)
        assert JsonFileStore(path).load() == saved
