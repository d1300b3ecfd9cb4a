"""A Flask app timed per route template; requests sent with Flask's test client."""

from flask import Flask

from perfguard import PerformanceTracker
from perfguard.wsgi import instrument_flask

tracker = PerformanceTracker()
app = Flask(__name__)


@app.get("/orders/<int:order_id>")
def order(order_id: int) -> dict[str, int]:
    return {"id": order_id}


instrument_flask(app, tracker)

client = app.test_client()
for order_id in range(50):
    client.get(f"/orders/{order_id}").close()
stats = tracker.stats("GET /orders/<int:order_id>")
print(f"GET /orders/<int:order_id>: {stats['sample_count']} calls, p50 {stats['recent_p50']:.6f}s")
