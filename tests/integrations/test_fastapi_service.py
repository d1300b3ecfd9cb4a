"""A FastAPI service timed by the ASGI middleware, driven through its real routing with a
fake clock whose latency wanders as real latency does: a 2x slowdown of one route alerts
on that route alone, within 500 of its calls. (How often the steady phase false-alarms
is a figure, not a test: bench/service_wander.py.)"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable

import pytest

fastapi = pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

from perfguard import DegradationEvent, PerformanceTracker  # noqa: E402
from perfguard.asgi import PerfguardMiddleware  # noqa: E402
from perfguard.testing import FakeClock  # noqa: E402

ROUTES = {  # operation: (median seconds, log-spread)
    "GET /users/{user_id}": (0.004, 0.35),
    "GET /orders": (0.012, 0.45),
    "POST /orders": (0.020, 0.40),
    "GET /health": (0.0005, 0.25),
}


class Latency:
    """Per-route call durations: lognormal around a level that wanders (an AR(1) in log
    space, ±15 % over tens of calls, as scheduling and GC make real latency wander),
    times an injected slowdown factor."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.level = dict.fromkeys(ROUTES, 0.0)
        self.slowdown = dict.fromkeys(ROUTES, 1.0)

    def draw(self, route: str) -> float:
        median, spread = ROUTES[route]
        self.level[route] = 0.98 * self.level[route] + self.rng.gauss(0.0, 0.03)
        wander = math.exp(self.level[route])
        return self.slowdown[route] * median * wander * self.rng.lognormvariate(0.0, spread)


def build_app(clock: FakeClock, latency: Latency, tracker: PerformanceTracker) -> object:
    app = fastapi.FastAPI()

    def served(route: str) -> Callable[[], None]:
        def spend() -> None:
            clock.advance(latency.draw(route))

        return spend

    @app.get("/users/{user_id}")
    async def get_user(user_id: int) -> dict[str, int]:
        served("GET /users/{user_id}")()
        return {"id": user_id}

    @app.get("/orders")
    async def list_orders() -> list[int]:
        served("GET /orders")()
        return [1, 2, 3]

    @app.post("/orders")
    async def create_order() -> dict[str, str]:
        served("POST /orders")()
        return {"status": "created"}

    @app.get("/health")
    async def health() -> dict[str, str]:
        served("GET /health")()
        return {"status": "ok"}

    app.add_middleware(PerfguardMiddleware, tracker=tracker)
    return app


async def drive(app: object, rounds: int, rng: random.Random) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        for _ in range(rounds):
            await client.get(f"/users/{rng.randrange(1000)}")
            await client.get("/orders")
            await client.post("/orders")
            await client.get("/health")


def run_service(
    seed: int, steady_rounds: int, slowed_rounds: int
) -> tuple[PerformanceTracker, list[DegradationEvent], int, int]:
    """Steady traffic, then POST /orders 2x slower; returns the tracker, its events, how
    many events came before the slowdown, and POST /orders' sample index at it."""
    clock = FakeClock()
    latency = Latency(seed)
    events: list[DegradationEvent] = []
    tracker = PerformanceTracker(clock=clock, autosave_interval=None, on_alert=events.append)
    app = build_app(clock, latency, tracker)
    requests = random.Random(seed + 100)
    asyncio.run(drive(app, steady_rounds, requests))
    before = len(events)
    slowed_from = tracker.stats("POST /orders")["sample_count"]
    latency.slowdown["POST /orders"] = 2.0
    if slowed_rounds:
        asyncio.run(drive(app, slowed_rounds, requests))
    return tracker, events, before, slowed_from


@pytest.mark.parametrize("seed", [1, 2])
def test_a_slowed_route_alerts_within_500_of_its_calls_and_alone(seed: int) -> None:
    tracker, events, before, slowed_from = run_service(seed, 2500, 700)
    since = [e for e in events[before:] if e.kind == "degraded"]
    assert [e.operation for e in since] == ["POST /orders"]
    assert slowed_from <= since[0].sample_index < slowed_from + 500
    assert {route: tracker.state(route) for route in ROUTES} == {
        "GET /users/{user_id}": "ok",
        "GET /orders": "ok",
        "POST /orders": "degraded",
        "GET /health": "ok",
    }
