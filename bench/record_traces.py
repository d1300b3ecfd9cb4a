"""Record real per-call traces with faults injected for real, in the format of
shared/data/realtrace, so that bench/realtrace.py can score a set the detector was
never tuned on.

Run: python bench/record_traces.py --out /tmp/perfguard-traces [--seed 7] [--calls 6000]
then: python bench/realtrace.py --data /tmp/perfguard-traces --per-trace

Each trace times one real call at a time with time.perf_counter_ns(): an SQLite point
query on an indexed table (in memory), a Redis GET/SET over loopback to a redis-server
started here on a free port (skipped when redis-server or redis-py is missing), a
request to a local http.server over one keep-alive connection, or pure-Python JSON
work. At a seeded call index a fault starts for real: the index is dropped, a second
round trip is added, a background client makes the server sleep, writes hit the
memory limit, AOF fsync is switched on, the handler renders more, a thread rebuilds a
cyclic cache (GC and GIL), a GIL-bound thread burns CPU, the payload grows, a batch
job shares the SQLite connection, a neighbour holds Redis for 5-10 ms at a time, 5 % of
requests miss their cache. Healthy traces have no fault. Clients wait an exponential
think time between calls, as a service's callers do.

Labels follow the shared set's README: `kind`, `family`, `params`,
`change_points` (index, kind, end, ramp, before, after), `check.ok` (the fault moved
p50 by 10 %, p90 by 20 %, p99 by 30 % or the error rate by 1 point: this recorder's
rule, stated here) and `stability` (the interquartile means of the healthy span's
quarters; stable when max/min <= 1.25, as the README defines it). The traces are
written outside the project: they are measurements of this machine, not fixtures.
"""

from __future__ import annotations

import argparse
import csv
import gc
import http.client
import json
import random
import shutil
import socket
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from loopback_redis import start_redis


@dataclass
class Fault:
    """Switches a fault on at `start`, off at `end` (a recovery), or ramps it (a drift)."""

    on: Callable[[], None] = lambda: None
    off: Callable[[], None] = lambda: None
    ramp: int = 0  # a drift: calls over which the fault grows to its full size
    grow: Callable[[float], None] = lambda fraction: None


@dataclass
class Workload:
    call: Callable[[], None]  # raises on a failed call
    fault: Fault = field(default_factory=Fault)
    think_ms: float = 0.3
    close: Callable[[], None] = lambda: None


# -- the workloads ----------------------------------------------------------------------


def sqlite_lookup(rng: random.Random, fault: str | None) -> Workload:
    rows = 40_000
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, code INTEGER, body TEXT)")
    db.executemany(
        "INSERT INTO items (code, body) VALUES (?, ?)",
        ((rng.randrange(10**9), "x" * rng.randrange(20, 80)) for _ in range(rows)),
    )
    codes = [c for (c,) in db.execute("SELECT code FROM items")]
    db.execute("CREATE INDEX by_code ON items (code)")

    def call() -> None:
        db.execute("SELECT body FROM items WHERE code = ?", (rng.choice(codes),)).fetchall()

    def drop() -> None:
        db.execute("DROP INDEX by_code")

    def rebuild() -> None:
        db.execute("CREATE INDEX by_code ON items (code)")

    stop = threading.Event()

    def writer() -> None:
        # a batch job sharing the connection: each batch holds its mutex for ~1-3 ms
        local = random.Random(rng.random())
        while not stop.wait(local.expovariate(1 / 0.03)):
            first = local.randrange(rows - 800)
            batch = "UPDATE items SET body = body WHERE id BETWEEN ? AND ?"
            db.execute(batch, (first, first + 800))

    def start_writer() -> None:
        threading.Thread(target=writer, daemon=True).start()

    def close() -> None:
        stop.set()
        time.sleep(0.05)  # let the writer's last batch finish before the connection goes
        db.close()

    faults = {
        None: Fault(),
        "noindex": Fault(on=drop, off=rebuild),
        "writer": Fault(on=start_writer, off=stop.set),
    }
    return Workload(call, faults[fault], think_ms=0.1, close=close)


@contextmanager
def redis_server(folder: Path) -> Iterator[int]:
    process, port = start_redis(str(folder), "--enable-debug-command", "yes")
    try:
        yield port
    finally:
        process.terminate()
        process.wait(10)


def redis_ops(rng: random.Random, fault: str | None, port: int) -> Workload:
    import redis

    client = redis.Redis(port=port)
    client.flushall()
    client.config_set("maxmemory", "0")
    keys = [f"user:{i}" for i in range(5000)]
    for start in range(0, len(keys), 500):
        client.mset({k: "v" * 64 for k in keys[start : start + 500]})
    state = {"extra": False}
    write_share = 0.2

    def call() -> None:
        key = rng.choice(keys)
        if rng.random() < write_share:
            client.set(key, "w" * rng.randrange(32, 256))
        else:
            client.get(key)
        if state["extra"]:
            client.expire(key, 3600)

    stop = threading.Event()

    def sleeper() -> None:
        other = redis.Redis(port=port)
        local = random.Random(rng.random())
        while not stop.wait(local.expovariate(1 / 0.12)):
            other.execute_command("DEBUG", "SLEEP", f"{local.uniform(0.002, 0.006):.4f}")
        other.close()

    def start_sleeper() -> None:
        threading.Thread(target=sleeper, daemon=True).start()

    def busy_neighbour() -> None:
        # a neighbour whose commands hold the server for 5-10 ms, ~15 times a second (a
        # closed-loop caller meets one stall at a time, a few % of its calls wait)
        other = redis.Redis(port=port)
        local = random.Random(rng.random())
        while not stop.wait(local.expovariate(1 / 0.06)):
            other.execute_command("DEBUG", "SLEEP", f"{local.uniform(0.005, 0.010):.4f}")
        other.close()

    def start_neighbour() -> None:
        threading.Thread(target=busy_neighbour, daemon=True).start()

    def oom() -> None:
        used = int(client.info("memory")["used_memory"])
        client.config_set("maxmemory-policy", "noeviction")
        client.config_set("maxmemory", str(used // 2))

    def aof() -> None:
        client.config_set("appendonly", "yes")
        client.config_set("appendfsync", "always")

    faults = {
        None: Fault(),
        "extra_rtt": Fault(on=lambda: state.update(extra=True)),
        "debug_sleep": Fault(on=start_sleeper, off=stop.set),
        "busy_neighbour": Fault(on=start_neighbour, off=stop.set),
        "oom": Fault(on=oom),
        "aof": Fault(on=aof),
    }

    def close() -> None:
        stop.set()
        client.close()

    return Workload(call, faults[fault], think_ms=0.5, close=close)


def http_render(rng: random.Random, fault: str | None) -> Workload:
    settings = {"items": 20, "error_share": 0.0, "miss_share": 0.0}
    failing = random.Random(rng.random())
    missing = random.Random(rng.random())

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()  # headers and body go out in two writes: no Nagle delay
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_GET(self) -> None:
            if failing.random() < settings["error_share"]:
                body, status = b'{"error": "upstream"}', 503
            else:
                items = int(settings["items"])
                if missing.random() < settings["miss_share"]:
                    items *= 100  # a cache miss: the page is built from scratch
                records = [{"id": i, "name": f"n{i}", "tags": ["a", "b"]} for i in range(items)]
                body, status = json.dumps({"records": records}).encode(), 200
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1])
    connection.connect()
    connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def call() -> None:
        connection.request("GET", "/records")
        response = connection.getresponse()
        response.read()
        if response.status >= 500:
            raise RuntimeError(f"HTTP {response.status}")

    stop = threading.Event()

    def refresher() -> None:
        while not stop.wait(0.1):
            cache = []
            for i in range(8000):
                node: dict[str, Any] = {"i": i}
                node["self"] = node
                cache.append(node)
            del cache
            gc.collect()

    def start_refresher() -> None:
        threading.Thread(target=refresher, daemon=True).start()

    faults = {
        None: Fault(),
        "slow_handler": Fault(on=lambda: settings.update(items=35)),
        "refresher": Fault(on=start_refresher, off=stop.set),
        "errors": Fault(on=lambda: settings.update(error_share=0.08)),
        "cache_misses": Fault(on=lambda: settings.update(miss_share=0.05)),
    }

    def close() -> None:
        stop.set()
        connection.close()
        server.shutdown()
        server.server_close()

    return Workload(call, faults[fault], think_ms=0.3, close=close)


def cpu_json(rng: random.Random, fault: str | None) -> Workload:
    size = {"items": 40}

    def call() -> None:
        payload = [{"id": i, "v": [i, i * 2, "x" * 8]} for i in range(int(size["items"]))]
        json.loads(json.dumps(payload))

    stop = threading.Event()

    def hog() -> None:
        while not stop.is_set():
            until = time.perf_counter() + 0.003
            while time.perf_counter() < until:
                pass  # Python bytecode holding the GIL
            stop.wait(0.02)

    def start_hog() -> None:
        threading.Thread(target=hog, daemon=True).start()

    faults = {
        None: Fault(),
        "payload_step": Fault(on=lambda: size.update(items=56)),
        "gilhog": Fault(on=start_hog, off=stop.set),
        "payload_drift": Fault(ramp=2000, grow=lambda f: size.update(items=40 + 40 * f)),
    }
    return Workload(call, faults[fault], think_ms=0.1, close=stop.set)


# -- recording and labels -------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    name: str
    kind: str
    family: str
    fault: str | None
    recovery: bool = False


PLANS = [
    Plan("sqlite_healthy", "sqlite", "healthy", None),
    Plan("sqlite_step_noindex", "sqlite", "step", "noindex"),
    Plan("sqlite_recovery_index", "sqlite", "recovery", "noindex", recovery=True),
    Plan("sqlite_tail_writer", "sqlite", "tail", "writer"),
    Plan("redis_healthy", "redis", "healthy", None),
    Plan("redis_step_extra_rtt", "redis", "step", "extra_rtt"),
    Plan("redis_tail_debug_sleep", "redis", "tail", "debug_sleep"),
    Plan("redis_tail_busy_neighbour", "redis", "tail", "busy_neighbour"),
    Plan("redis_errors_oom", "redis", "errors", "oom"),
    Plan("redis_variance_aof", "redis", "variance", "aof"),
    Plan("http_healthy", "http", "healthy", None),
    Plan("http_step_slow_handler", "http", "step", "slow_handler"),
    Plan("http_tail_refresher", "http", "tail", "refresher"),
    Plan("http_tail_cache_misses", "http", "tail", "cache_misses"),
    Plan("http_errors_503", "http", "errors", "errors"),
    Plan("cpu_healthy", "cpu", "healthy", None),
    Plan("cpu_step_payload", "cpu", "step", "payload_step"),
    Plan("cpu_tail_gilhog", "cpu", "tail", "gilhog"),
    Plan("cpu_recovery_gilhog", "cpu", "recovery", "gilhog", recovery=True),
    Plan("cpu_drift_payload", "cpu", "drift", "payload_drift"),
]


def record(
    workload: Workload, calls: int, rng: random.Random, start: int | None, end: int | None
) -> tuple[list[float], list[bool], list[float]]:
    values: list[float] = []
    successes: list[bool] = []
    starts: list[float] = []
    fault = workload.fault
    clock = time.perf_counter_ns
    origin = clock()
    for index in range(calls):
        if index == start:
            fault.on()
        if index == end:
            fault.off()
        if start is not None and fault.ramp and start <= index < start + fault.ramp:
            fault.grow((index - start) / fault.ramp)
        time.sleep(rng.expovariate(1000.0 / workload.think_ms))
        began = clock()
        try:
            workload.call()
            ok = True
        except Exception:
            ok = False
        values.append((clock() - began) / 1e9)
        successes.append(ok)
        starts.append((began - origin) / 1e9)
    return values, successes, starts


def figures(values: list[float], successes: list[bool]) -> dict[str, float]:
    ok = sorted(v for v, s in zip(values, successes, strict=True) if s)

    def q(p: float) -> float:
        return ok[min(len(ok) - 1, int(p * len(ok)))] if ok else 0.0

    return {
        "n": len(values),
        "p50": q(0.5),
        "p90": q(0.9),
        "p99": q(0.99),
        "mean": statistics.fmean(ok) if ok else 0.0,
        "err_rate": 1 - len(ok) / len(values) if values else 0.0,
    }


def changed(before: dict[str, float], after: dict[str, float]) -> bool:
    """This recorder's rule for `check.ok` (module docstring)."""
    limits = (("p50", 1.1), ("p90", 1.2), ("p99", 1.3))
    moved = any(before[k] > 0 and after[k] / before[k] >= r for k, r in limits)
    return moved or after["err_rate"] - before["err_rate"] >= 0.01


def stability(values: list[float], successes: list[bool]) -> dict[str, Any]:
    ok = [v for v, s in zip(values, successes, strict=True) if s]
    quarter = len(ok) // 4
    means = []
    for k in range(4):
        part = sorted(ok[k * quarter : (k + 1) * quarter])
        middle = part[len(part) // 4 : 3 * len(part) // 4]
        means.append(statistics.fmean(middle) if middle else 0.0)
    ratio = max(means) / min(means) if min(means) > 0 else float("inf")
    return {"quarter_iq_means": means, "max_over_min": ratio, "stable": ratio <= 1.25}


def label_of(
    plan: Plan,
    values: list[float],
    successes: list[bool],
    start: int | None,
    end: int | None,
    ramp: int,
) -> dict[str, Any]:
    n = len(values)
    label: dict[str, Any] = {
        "n": n,
        "kind": plan.kind,
        "family": plan.family,
        "params": {"fault": plan.fault},
        "change_points": [],
    }
    healthy_stop = n if start is None else start
    label["stability"] = stability(values[:healthy_stop], successes[:healthy_stop])
    if start is None:
        label["check"] = {"ok": True}
        return label
    stop = end if end is not None else n
    before = figures(values[:start], successes[:start])
    after = figures(values[start + ramp : stop], successes[start + ramp : stop])
    kind = "recovery" if plan.recovery else ("drift" if ramp else plan.family)
    label["change_points"] = [
        {
            "index": start,
            "kind": kind,
            "end": end,
            "ramp": ramp or None,
            "before": before,
            "after": after,
        }
    ]
    label["check"] = {"ok": changed(before, after)}
    return label


def redis_available() -> bool:
    if shutil.which("redis-server") is None:
        return False
    try:
        import redis  # noqa: F401
    except ImportError:
        return False
    return True


def record_plan(plan: Plan, seed: int, calls: int, out: Path, scratch: Path) -> dict[str, Any]:
    """Record one trace into `out/<name>.csv`; its label."""
    rng = random.Random(f"{seed}:{plan.name}")
    start = rng.randrange(calls // 3, calls * 2 // 3) if plan.fault else None
    end = start + calls // 4 if plan.recovery and start is not None else None
    with _workload(plan, rng, scratch) as workload:
        values, successes, starts = record(workload, calls, rng, start, end)
        ramp = workload.fault.ramp if plan.fault else 0
    write_trace(out / f"{plan.name}.csv", values, successes, starts)
    return label_of(plan, values, successes, start, end, ramp)


def write_trace(
    path: Path, values: list[float], successes: list[bool], starts: list[float]
) -> None:
    """One trace in the set's format: value (s), success (1/0), start (s)."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["value", "success", "start_s"])
        for value, ok, began in zip(values, successes, starts, strict=True):
            writer.writerow([f"{value:.9f}", int(ok), f"{began:.6f}"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_out = Path(tempfile.gettempdir()) / "perfguard-traces"
    parser.add_argument("--out", type=Path, default=default_out)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--calls", type=int, default=6000)
    parser.add_argument("--only", default="", help="comma-separated trace names")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    wanted = {name for name in args.only.split(",") if name}
    plans = [plan for plan in PLANS if not wanted or plan.name in wanted]
    if not redis_available():
        print("no redis-server or redis-py: the Redis traces are skipped")
        plans = [plan for plan in plans if plan.kind != "redis"]
    labels: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for plan in plans:
            labels[plan.name] = label = record_plan(
                plan, args.seed, args.calls, args.out, Path(scratch)
            )
            fault_at = label["change_points"][0]["index"] if label["change_points"] else None
            print(f"{plan.name}: {label['n']} calls, fault at {fault_at}, check {label['check']}")
    path = args.out / "labels.json"
    if wanted and path.exists():  # a partial run keeps the other traces' labels
        labels = {**json.loads(path.read_text())["streams"], **labels}
    path.write_text(json.dumps({"seed": args.seed, "streams": labels}, indent=1))


@contextmanager
def _workload(plan: Plan, rng: random.Random, scratch: Path) -> Iterator[Workload]:
    if plan.kind == "redis":
        with redis_server(scratch) as port:
            workload = redis_ops(rng, plan.fault, port)
            try:
                yield workload
            finally:
                workload.close()
        return
    makers = {"sqlite": sqlite_lookup, "http": http_render, "cpu": cpu_json}
    workload = makers[plan.kind](rng, plan.fault)
    try:
        yield workload
    finally:
        workload.close()


if __name__ == "__main__":
    main()
