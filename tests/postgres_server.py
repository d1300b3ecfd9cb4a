"""A throwaway PostgreSQL cluster for the tests: initdb into a temporary folder, the
server on a free loopback port with its unix socket in that folder, always stopped.

PostgreSQL refuses to run as root: as root (CI), initdb and the server run as the
`postgres` system user that Debian's postgresql package creates, in a folder it owns
(outside pytest's tmp_path, whose parents only root may enter)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def postgres_bindir() -> Path | None:
    """The folder of initdb/pg_ctl: `pg_config --bindir`, else Debian's layout."""
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        found = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        folder = Path(found.stdout.strip())
        if found.returncode == 0 and (folder / "initdb").exists():
            return folder
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    """`start()` then `url(driver)`; `stop()` in a finally."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = free_port()
        self.user = "perfguard"
        self.folder = Path(tempfile.mkdtemp(prefix="perfguard-pg-"))
        self.data = self.folder / "data"
        self._as: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self._started = False

    def _run(self, *command: str) -> None:
        done = subprocess.run([*self._as, *command], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{command[0]} failed: {done.stdout[-1500:]}{done.stderr[-1500:]}")

    def start(self) -> None:
        self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", self.user,
            "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions",
        )  # fmt: skip
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._started = True  # from here on, stop() must run pg_ctl stop
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", options,
            "-l", str(self.folder / "server.log"), "-w", "-t", "60", "start",
        )  # fmt: skip

    def url(self, driver: str) -> str:
        return f"postgresql+{driver}://{self.user}@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        try:
            if self._started:
                subprocess.run(
                    [*self._as, str(self.bindir / "pg_ctl"), "-D", str(self.data),
                     "stop", "-m", "immediate", "-w"],
                    capture_output=True, timeout=60,
                )  # fmt: skip
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
