"""A real HTTP server on a loopback port, in a thread, for the HTTP client tests.

Routes: /ok (200), /users/<n> (200), /fail (500), /missing (404), /hop (302 to /ok).
Every request advances the given fake clock by `server_seconds` before it answers, so a
client's recorded duration is exact.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from perfguard.testing import FakeClock


class LoopbackServer:
    def __init__(self, clock: FakeClock, server_seconds: float) -> None:
        self.clock = clock
        self.server_seconds = server_seconds
        self.paths: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                outer.paths.append(self.path)
                outer.clock.advance(outer.server_seconds)
                if self.path == "/hop":
                    self._answer(302, b"", [("Location", "/ok")])
                elif self.path == "/fail":
                    self._answer(500, b"broken")
                elif self.path == "/missing":
                    self._answer(404, b"no")
                else:
                    self._answer(200, b"hello " + self.path.encode())

            do_POST = do_GET

            def _answer(
                self,
                status: int,
                body: bytes,
                headers: list[tuple[str, str]] = (),  # type: ignore[assignment]
            ) -> None:
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return None  # quiet

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.operation_host = f"127.0.0.1:{self.port}"


@contextmanager
def loopback_server(clock: FakeClock, server_seconds: float = 0.02) -> Iterator[LoopbackServer]:
    server = LoopbackServer(clock, server_seconds)
    thread = threading.Thread(target=server.httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
        thread.join(timeout=10)


@contextmanager
def refusing_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound (so no one else takes it while
    the test runs) but not listening, so a SYN is answered with a reset."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]
    finally:
        sock.close()
