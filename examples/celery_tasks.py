"""Celery tasks timed per task name, in the worker processes.

With a broker, as a worker (each prefork child records and saves into baselines.json):

    CELERY_BROKER_URL=redis://127.0.0.1:6379/0 celery -A celery_tasks worker -c 2

Run as a script, it applies the tasks eagerly in this process (no broker needed: the same
signals fire) and prints what was recorded, retries included.
"""

import os
import random

from celery import Celery

import perfguard.celery
from perfguard import PerformanceTracker

app = Celery("shop", broker=os.environ.get("CELERY_BROKER_URL", "memory://"))
tracker = PerformanceTracker(storage=os.environ.get("PERFGUARD_STORAGE"), min_samples=10)
perfguard.celery.instrument(tracker, app=app)


@app.task(name="shop.resize_image")
def resize_image(size: int) -> int:
    return sum(range(size))


@app.task(name="shop.charge_card", bind=True, max_retries=3)
def charge_card(self, amount: int) -> int:
    if amount % 10 == 0 and self.request.retries == 0:
        raise self.retry(countdown=0)  # the payment gateway said "try again"
    if amount % 7 == 0:
        raise ValueError(f"card declined for {amount}")
    return amount


if __name__ == "__main__":
    app.conf.task_always_eager = True
    rng = random.Random(7)
    for _ in range(50):
        resize_image.delay(rng.randint(1_000, 5_000))
    for amount in range(1, 41):
        charge_card.apply((amount,))  # apply(): a failure is stored in the result, not raised
    for name in sorted(tracker.operations()):
        stats = tracker.stats(name)
        print(f"{name}: {stats['sample_count']} calls, {stats['failure_count']} failed")
