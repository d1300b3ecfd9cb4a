"""A real FastAPI service under uvicorn, timed per route by perfguard, under steady load.

Run: python examples/fastapi_service.py [--steady 120] [--slowed 60] [--clients 2]

Four routes do real work (SQLite queries on a 20k-row table, JSON encoding, a write);
load comes from `--clients` threads with keep-alive httpx clients over loopback. After
`--steady` seconds one route, POST /orders, becomes 2x slower for real (each call also
waits as long as its typical call took: a dependency that slowed down) for `--slowed`
seconds. The run prints every alert and exits non-zero
unless: no alert during the steady phase, POST /orders alerts within 500 of its slowed
calls, and the other routes stay quiet. Needs `pip install fastapi uvicorn httpx`.
`bench/record_fastapi.py` runs the same service and saves every call, to replay.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import random
import socket
import sqlite3
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.synchronize import Event

import httpx
import uvicorn
from fastapi import FastAPI

from perfguard import DegradationEvent, PerformanceTracker
from perfguard.asgi import PerfguardMiddleware

SLOWED = "POST /orders"


class Shop:
    """The service's data: one shared in-memory SQLite database (a connection a worker
    thread, all on the same shared cache), built once before the server starts."""

    URI = "file:perfguard-shop?mode=memory&cache=shared"

    def __init__(self, rows: int = 20_000) -> None:
        self._local = threading.local()
        self.extra_wait = 0.0  # the injected fault: POST /orders waits this much more
        self._keeper = sqlite3.connect(self.URI, uri=True)  # keeps the database alive
        self._keeper.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, score REAL)")
        self._keeper.execute(
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, user INTEGER, total REAL)"
        )
        rng = random.Random(1)
        self._keeper.executemany(
            "INSERT INTO users VALUES (?, ?, ?)",
            ((i, f"user-{i}", rng.random()) for i in range(rows)),
        )
        self._keeper.commit()

    def db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = sqlite3.connect(self.URI, uri=True, isolation_level=None)
        return conn


def build_app(shop: Shop, tracker: PerformanceTracker) -> FastAPI:
    app = FastAPI()

    @app.get("/users/{user_id}")
    def get_user(user_id: int) -> dict[str, object]:
        row = shop.db().execute("SELECT id, name, score FROM users WHERE id = ?", (user_id,))
        found = row.fetchone()
        return {"id": found[0], "name": found[1], "score": found[2]} if found else {}

    @app.get("/orders")
    def list_orders() -> list[dict[str, object]]:
        rows = shop.db().execute("SELECT id, name, score FROM users ORDER BY id LIMIT 200")
        return [{"id": i, "name": n, "score": s} for i, n, s in rows]

    @app.post("/orders")
    def create_order(user: int = 1) -> dict[str, object]:
        db = shop.db()
        query = "SELECT score FROM users WHERE id BETWEEN ? AND ?"
        total = sum(s for (s,) in db.execute(query, (user, user + 400)))
        json.dumps([{"user": user, "total": total}] * 200)
        if shop.extra_wait:
            time.sleep(shop.extra_wait)  # a dependency that became slower
        db.execute("INSERT INTO orders (user, total) VALUES (?, ?)", (user, total))
        return {"user": user, "total": total}

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(PerfguardMiddleware, tracker=tracker)
    return app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def drive(base: str, stop: Event, seed: int) -> None:
    """One client process: a mix of the four routes, as a real front end would send."""
    rng = random.Random(seed)
    with httpx.Client(base_url=base, timeout=10.0) as client:
        while not stop.is_set():
            pick = rng.random()
            if pick < 0.4:
                client.get(f"/users/{rng.randrange(20_000)}")
            elif pick < 0.65:
                client.get("/orders")
            elif pick < 0.9:
                client.post("/orders", params={"user": rng.randrange(19_000)})
            else:
                client.get("/health")


@dataclass
class LoadRun:
    """What happened while the service was under load."""

    steady_alerts: list[DegradationEvent]
    slowed_from: int  # calls of the slowed route before its fault began
    events: list[DegradationEvent]


def serve_under_load(
    tracker: PerformanceTracker,
    events: list[DegradationEvent],
    steady: float,
    slowed: float,
    clients: int,
) -> LoadRun:
    """Serve the shop on loopback with `tracker` in its middleware, drive it from
    `clients` processes for `steady` seconds, then with POST /orders slowed 2x for
    `slowed` seconds (`events` is the list the tracker's on_alert appends to)."""
    shop = Shop()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(build_app(shop, tracker), host="127.0.0.1", port=port, log_level="error")
    )
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    while not server.started:
        time.sleep(0.05)

    # the load comes from other processes, as it would in production: client threads
    # in the server's process would compete with it for the GIL
    spawn = multiprocessing.get_context("spawn")
    stop = spawn.Event()
    processes = [
        spawn.Process(target=drive, args=(f"http://127.0.0.1:{port}", stop, seed))
        for seed in range(clients)
    ]
    for process in processes:
        process.start()
    try:
        # the steady phase starts once the clients are up (spawned interpreters take a
        # few seconds to import on a loaded machine), not when they were started
        deadline = time.monotonic() + 120.0
        while SLOWED not in tracker.operations() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(steady)
        steady_alerts = [e for e in events if e.kind == "degraded"]
        slowed_from = tracker.snapshot(SLOWED).calls
        # 2x: each call now also waits as long as a typical call took until now
        shop.extra_wait = tracker.stats(SLOWED)["recent_p50"] or 0.0
        print(f"steady phase over: {len(steady_alerts)} alerts; slowing {SLOWED} 2x")
        time.sleep(slowed)
    finally:
        stop.set()
        for process in processes:
            process.join()
        server.should_exit = True
        serving.join()
    return LoadRun(steady_alerts, slowed_from, events)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steady", type=float, default=120.0, help="seconds of steady load")
    parser.add_argument("--slowed", type=float, default=60.0, help="seconds with the fault")
    parser.add_argument("--clients", type=int, default=2)
    args = parser.parse_args(argv)

    logging.getLogger("perfguard").setLevel(logging.ERROR)  # alerts are printed below
    events: list[DegradationEvent] = []
    tracker = PerformanceTracker(autosave_interval=None, on_alert=events.append)
    run = serve_under_load(tracker, events, args.steady, args.slowed, args.clients)
    ok = report(tracker, run, args.steady)
    tracker.close()
    return 0 if ok else 1


def report(tracker: PerformanceTracker, run: LoadRun, steady: float) -> bool:
    """Print every alert and each route's figures; True when the run met its targets."""
    events, steady_alerts, slowed_from = run.events, run.steady_alerts, run.slowed_from
    later = [e for e in events if e.kind == "degraded" and e not in steady_alerts]
    for event in events:
        print(f"  [{event.kind}] {event.describe()}")
    print(f"{'route':<22} {'calls':>7} {'p50 ms':>8} {'p99 ms':>8} {'state':>9} {'episodes':>8}")
    for name in tracker.operations():
        snap = tracker.snapshot(name)
        stats = tracker.stats(name)
        p50, p99 = (stats[key] or 0.0 for key in ("recent_p50", "recent_p99"))
        print(
            f"{name:<22} {snap.calls:>7} {p50 * 1e3:>8.2f} {p99 * 1e3:>8.2f} "
            f"{tracker.state(name):>9} {snap.episodes:>8}"
        )
    slowed = [e for e in later if e.operation == SLOWED]
    others = [e for e in later if e.operation != SLOWED]
    delay = slowed[0].sample_index - slowed_from if slowed else None
    print(
        f"steady: {steady:.0f}s, {len(steady_alerts)} alerts; slowed route alerted "
        f"after {delay} of its calls; other routes: {len(others)} alerts"
    )
    return not steady_alerts and delay is not None and delay <= 500 and not others


if __name__ == "__main__":
    sys.exit(main())
