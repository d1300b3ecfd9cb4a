"""Send perfguard's alerts to Alertmanager: a degradation fires an alert, the recovery
resolves it.

    python examples/alertmanager_sink.py http://127.0.0.1:9093

A simulated operation (a fake clock, so it takes a second) learns its baseline, gets
twice as slow, then recovers; the script shows what Alertmanager lists at each step.
"""

import json
import random
import sys
import time
import urllib.request

from perfguard import PerformanceTracker
from perfguard.alertmanager import AlertmanagerSink
from perfguard.testing import FakeClock

url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:9093"
clock = FakeClock(start=time.time() - 600)
tracker = PerformanceTracker(autosave_interval=None, clock=clock)
sink = AlertmanagerSink(url, labels={"service": "example"})
tracker.on_alert(sink)
rng = random.Random(3)


def traffic(calls: int, median: float) -> None:
    for _ in range(calls):
        clock.advance(0.05)
        tracker.record("GET /search", rng.lognormvariate(0.0, 0.3) * median)


def listed() -> list[dict]:
    with urllib.request.urlopen(f"{url.rstrip('/')}/api/v2/alerts", timeout=5) as response:
        alerts = json.loads(response.read())
    return [a for a in alerts if a["labels"].get("service") == "example"]


def wait_until(predicate, deadline: float = 20.0) -> bool:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return False


traffic(3000, 0.02)
traffic(600, 0.04)  # twice as slow
print("tracker:", tracker.state("GET /search"))
if not wait_until(lambda: listed()):
    sys.exit("the alert never reached Alertmanager")
for alert in listed():
    labels, notes = alert["labels"], alert["annotations"]
    print(f"firing in Alertmanager: {labels['alertname']} {labels['operation']}")
    print(f"  kind={labels['kind']} p50 {notes['baseline_p50']} -> {notes['current_p50']}")
traffic(3000, 0.02)  # back to normal
print("tracker:", tracker.state("GET /search"))
if not wait_until(lambda: not listed()):
    sys.exit("the alert was never resolved")
print("resolved in Alertmanager (endsAt set: the v2 API lists it no more)")
sink.close()
print(f"delivered {sink.delivered} alerts, dropped {sink.dropped}")
