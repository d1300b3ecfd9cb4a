"""`import perfguard` pulls in only the standard library and perfguard's core modules:
no optional dependency, no store beyond the default ones, no exporter, no CLI."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
before = set(sys.modules)
import perfguard
tracker = perfguard.PerformanceTracker(autosave_interval=None)
tracker.record("op", 0.01)
print(json.dumps(sorted(set(sys.modules) - before)))
"""

NEVER_AT_IMPORT = (
    "perfguard._cli",
    "perfguard._http_names",
    "perfguard._stores.redis_fleet",
    "perfguard._promtext",
    "perfguard.aiohttp",
    "perfguard.alertmanager",
    "perfguard.asgi",
    "perfguard.django",
    "perfguard.httpx",
    "perfguard.otel",
    "perfguard.prometheus",
    "perfguard.pytest_plugin",
    "perfguard.requests",
    "perfguard.celery",
    "perfguard.sqlalchemy",
    "perfguard.wsgi",
)


def imported_by_perfguard() -> list[str]:
    # -I: isolated, so no site customisation or plugin adds modules of its own
    result = subprocess.run(
        [sys.executable, "-I", "-c", PROBE], capture_output=True, text=True, check=True
    )
    modules: list[str] = json.loads(result.stdout)
    return modules


def test_import_pulls_in_nothing_beyond_the_standard_library() -> None:
    modules = imported_by_perfguard()
    assert "perfguard" in modules
    foreign = [
        m
        for m in modules
        if m.split(".")[0] not in sys.stdlib_module_names
        and m.split(".")[0] != "perfguard"
        and not m.startswith("_")  # interpreter internals (_io, _thread, ...)
    ]
    assert foreign == []


def test_import_leaves_optional_parts_unloaded() -> None:
    modules = imported_by_perfguard()
    loaded = [m for m in modules for never in NEVER_AT_IMPORT if m.startswith(never)]
    assert loaded == []


def test_the_alertmanager_sink_needs_only_the_standard_library() -> None:
    probe = PROBE.replace("import perfguard\n", "import perfguard.alertmanager\n")
    result = subprocess.run(
        [sys.executable, "-I", "-c", probe], capture_output=True, text=True, check=True
    )
    modules = json.loads(result.stdout)
    assert "perfguard.alertmanager" in modules
    foreign = [
        m
        for m in modules
        if m.split(".")[0] not in sys.stdlib_module_names
        and m.split(".")[0] != "perfguard"
        and not m.startswith("_")
    ]
    assert foreign == []
