"""A throwaway redis-server on a free loopback port, for the benchmarks that need one."""

from __future__ import annotations

import socket
import subprocess
import time


def start_redis(folder: str, *options: str) -> tuple[subprocess.Popen[bytes], int]:
    """Start redis-server (no snapshots, its files in `folder`, extra `options`) and
    return once it answers a PING; the caller terminates the process."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    process = subprocess.Popen(
        [*command, "--dir", folder, *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(port=port, socket_connect_timeout=0.2)
    for _ in range(200):  # waiting for the server to listen, not a measurement
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    client.close()
    return process, port
