"""Outgoing HTTP calls timed per method and host, with httpx and requests, against a
small server started here on a loopback port (its /fail route answers 500)."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import requests

import perfguard.httpx
import perfguard.requests
from perfguard import PerformanceTracker


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 500 if self.path == "/fail" else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
thread.start()
base = f"http://127.0.0.1:{server.server_address[1]}"
try:
    httpx_tracker = PerformanceTracker()
    with perfguard.httpx.instrument(httpx.Client(base_url=base), httpx_tracker) as client:
        for n in range(25):
            client.get("/fail" if n % 5 == 0 else f"/users/{n}")

    requests_tracker = PerformanceTracker()
    with perfguard.requests.instrument(requests.Session(), requests_tracker) as session:
        for n in range(25):
            session.get(f"{base}/fail" if n % 5 == 0 else f"{base}/users/{n}")
finally:
    server.shutdown()
    server.server_close()

for label, tracker in (("httpx", httpx_tracker), ("requests", requests_tracker)):
    (name,) = tracker.operations()  # one operation: method and host, never the path
    stats = tracker.stats(name)
    print(f"{label}: {name}: {stats['sample_count']} calls, {stats['failure_count']} failures")
