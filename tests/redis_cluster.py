"""A throwaway 3-master Redis Cluster on loopback ports (redis-server and redis-cli from
Debian's packages), for the fleet tests: started by a fixture, always stopped."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import threading
from pathlib import Path

import redis


def free_ports(count: int) -> list[int]:
    """Ports where a node and its cluster bus (port + 10000) can both listen: below the
    ephemeral range, so the bus port exists too."""
    rng = random.Random(os.getpid())
    ports: list[int] = []
    while len(ports) < count:
        port = rng.randrange(20000, 30000)
        if port not in ports and _free(port) and _free(port + 10000):
            ports.append(port)
    return ports


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class RedisCluster:
    """Three masters, no replicas; each node keeps an append-only file, so a node that
    is stopped and started again comes back with its data and its slots."""

    def __init__(self, folder: Path, ports: list[int]) -> None:
        self.folder = folder
        self.ports = ports
        self.processes: dict[int, subprocess.Popen[bytes]] = {}

    def url(self, node: int = 0) -> str:
        return f"redis://127.0.0.1:{self.ports[node]}/0"

    def start_node(self, port: int) -> None:
        folder = self.folder / str(port)
        folder.mkdir(parents=True, exist_ok=True)
        self.processes[port] = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
             "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
             "--cluster-node-timeout", "1000", "--save", "", "--appendonly", "yes",
             "--dir", str(folder)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self._wait(lambda client: bool(client.ping()), port, "did not start")

    def stop_node(self, port: int) -> None:
        process = self.processes.pop(port, None)
        if process is not None:
            process.terminate()
            process.wait(10)

    def start(self) -> None:
        for port in self.ports:
            self.start_node(port)
        nodes = [f"127.0.0.1:{port}" for port in self.ports]
        subprocess.run(
            ["redis-cli", "--cluster", "create", *nodes, "--cluster-replicas", "0",
             "--cluster-yes"],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.wait_until_ok()

    def wait_until_ok(self) -> None:
        for port in self.ports:
            self._wait(
                lambda client: client.cluster("info").get("cluster_state") == "ok",
                port,
                "never reached cluster_state:ok",
            )

    def stop(self) -> None:
        for port in list(self.processes):
            self.stop_node(port)

    def keys_per_node(self) -> list[int]:
        counts = []
        for port in self.ports:
            client = redis.Redis(host="127.0.0.1", port=port)
            counts.append(int(client.dbsize()))
            client.close()
        return counts

    @staticmethod
    def _wait(ready: object, port: int, what: str) -> None:
        client = redis.Redis(
            host="127.0.0.1", port=port, socket_connect_timeout=0.2, decode_responses=True
        )
        pause = threading.Event()
        try:
            for _ in range(400):  # readiness, not timing: up to ~20 s
                try:
                    if ready(client):  # type: ignore[operator]
                        return
                except (redis.RedisError, AttributeError, TypeError):
                    pass
                pause.wait(0.05)
            raise RuntimeError(f"redis node {port} {what}")
        finally:
            client.close()
