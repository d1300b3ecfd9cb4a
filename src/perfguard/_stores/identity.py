"""Process identity for shared stores: host, pid, start time and a random part, so a
reused pid never collides and a forked child, which takes a new one, never sends its
parent's samples as its own."""

from __future__ import annotations

import os
import secrets
import socket

from .._clock import SYSTEM_CLOCK


def new_identity() -> str:
    host = "".join(c if c.isalnum() or c in "-_" else "_" for c in socket.gethostname())[:40]
    started = int(SYSTEM_CLOCK.wall())
    return f"{host or 'host'}-{os.getpid()}-{started}-{secrets.token_hex(4)}"
