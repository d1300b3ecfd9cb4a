"""One registry for what must happen after `fork()` in the child and at interpreter exit.

Owners are held weakly: a forgotten tracker or store leaves the registry by itself. Each
kind of hook is installed with the interpreter once (`os.register_at_fork`,
`atexit.register`), however many owners register, so creating many trackers costs no
global hooks.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

Owner = TypeVar("Owner")
logger = logging.getLogger("perfguard")


class HookRegistry:
    """Callbacks `action(owner)`, run for every live owner when the hook fires."""

    def __init__(self, name: str, install: Callable[[Callable[[], None]], object]) -> None:
        self._name = name
        self._install = install
        self._installed = False
        self._lock = threading.Lock()
        self._owners: weakref.WeakKeyDictionary[Any, list[Callable[[Any], None]]] = (
            weakref.WeakKeyDictionary()
        )

    def register(self, owner: Owner, action: Callable[[Owner], None]) -> None:
        with self._lock:
            self._owners.setdefault(owner, []).append(action)
            if not self._installed:
                self._install(self.run)
                self._installed = True

    def run(self) -> None:
        """Run every action; one that fails is logged and does not stop the others."""
        with self._lock:  # a thread creating a tracker meanwhile must not break the run
            owners = list(self._owners.items())
        for owner, actions in owners:
            for action in actions:
                try:
                    action(owner)
                except Exception:
                    logger.exception("perfguard %s hook of %r failed", self._name, owner)

    def renew_lock(self) -> None:
        """In a forked child the registry's own lock may have been held by a parent thread."""
        self._lock = threading.Lock()


def _install_after_fork(callback: Callable[[], None]) -> None:
    def renew_then_run() -> None:
        at_exit.renew_lock()
        after_fork_in_child.renew_lock()
        callback()

    os.register_at_fork(after_in_child=renew_then_run)


after_fork_in_child = HookRegistry("after-fork", _install_after_fork)
at_exit = HookRegistry("at-exit", atexit.register)


def flush_when_a_multiprocessing_child_exits(owner: Owner, action: Callable[[Owner], None]) -> None:
    """`multiprocessing` children end with os._exit(): atexit hooks never run there.
    Their own exit function runs multiprocessing's finalizers, so `action(owner)` is
    registered as one: for an owner created in a child now, and, through
    multiprocessing's after-fork registry, for one inherited by every forked child
    (fork clears the finalizers a child inherits). Nothing happens unless the program
    uses multiprocessing (it is never imported here)."""
    util = sys.modules.get("multiprocessing.util")
    if util is None:
        return
    reference = weakref.ref(owner)

    def run() -> None:
        alive = reference()
        if alive is not None:
            action(alive)

    util.Finalize(owner, run, exitpriority=10)
    util.register_after_fork(owner, lambda renewed: util.Finalize(renewed, run, exitpriority=10))
