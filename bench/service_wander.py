"""False alerts of a FastAPI service whose latency wanders, through the ASGI middleware.

Run: python bench/service_wander.py [--seeds 6] [--rounds 4000]

The service of tests/integrations/test_fastapi_service.py (four routes, lognormal
calls around a level that follows an AR(1) in log space, ±15 % over tens of calls, on a
fake clock), steady, no fault: every alert is false. Reported per 10,000 calls.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integrations.test_fastapi_service import ROUTES, Latency, build_app, drive

from perfguard import DegradationEvent, PerformanceTracker
from perfguard.testing import FakeClock

logging.getLogger("perfguard").setLevel(logging.CRITICAL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=4000)
    args = parser.parse_args()
    alerts = worsenings = 0
    for seed in range(1, args.seeds + 1):
        clock = FakeClock()
        events: list[DegradationEvent] = []
        tracker = PerformanceTracker(clock=clock, autosave_interval=None, on_alert=events.append)
        app = build_app(clock, Latency(seed), tracker)
        asyncio.run(drive(app, args.rounds, random.Random(seed + 100)))
        degraded = [event for event in events if event.kind == "degraded"]
        worsened = sum(event.worsened for event in degraded)  # a signal added to one
        alerts += len(degraded) - worsened
        worsenings += worsened
    calls = args.seeds * len(ROUTES) * args.rounds
    print(
        f"{alerts} false alerts in {calls:,} healthy calls: {alerts * 1e4 / calls:.2f} per 10k"
        f" (and {worsenings} of them worsened by another signal)"
    )


if __name__ == "__main__":
    main()
