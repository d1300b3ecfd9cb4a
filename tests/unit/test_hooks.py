"""HookRegistry (_hooks.py): owners held weakly, one failing action logged while the
others still run, and the interpreter hook installed once however many owners register."""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable

import pytest

from perfguard._hooks import HookRegistry


class Owner:
    def __init__(self, name: str) -> None:
        self.name = name
        self.ran: list[str] = []


def first(owner: Owner) -> None:
    owner.ran.append("first")


def second(owner: Owner) -> None:
    owner.ran.append("second")


def broken(owner: Owner) -> None:
    raise RuntimeError(f"{owner.name} failed")


class Installer:
    """Stands in for os.register_at_fork / atexit.register."""

    def __init__(self) -> None:
        self.installed: list[Callable[[], None]] = []

    def __call__(self, callback: Callable[[], None]) -> None:
        self.installed.append(callback)


def test_the_hook_is_installed_once_on_the_first_registration() -> None:
    install = Installer()
    registry = HookRegistry("test", install)
    assert install.installed == []  # nothing installed before anyone registers
    owners = [Owner(str(i)) for i in range(5)]
    for owner in owners:
        registry.register(owner, first)
        registry.register(owner, second)
    assert install.installed == [registry.run]
    install.installed[0]()  # the interpreter fires the hook
    assert all(owner.ran == ["first", "second"] for owner in owners)


def test_owners_are_held_weakly() -> None:
    registry = HookRegistry("test", Installer())
    kept, forgotten = Owner("kept"), Owner("forgotten")
    registry.register(kept, first)
    registry.register(forgotten, first)
    seen: list[str] = []
    registry.register(kept, lambda owner: seen.append(owner.name))
    registry.register(forgotten, lambda owner: seen.append(owner.name))
    del forgotten
    gc.collect()
    registry.run()
    assert seen == ["kept"]
    assert kept.ran == ["first"]


def test_a_failing_action_is_logged_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = HookRegistry("test", Installer())
    a, b = Owner("a"), Owner("b")
    registry.register(a, broken)
    registry.register(a, second)  # the same owner's next action
    registry.register(b, broken)
    registry.register(b, first)
    with caplog.at_level(logging.ERROR, logger="perfguard"):
        registry.run()
    assert a.ran == ["second"] and b.ran == ["first"]
    failures = [r for r in caplog.records if "perfguard test hook" in r.getMessage()]
    assert len(failures) == 2
    assert all(r.exc_info is not None for r in failures)
    assert {str(r.exc_info[1]) for r in failures if r.exc_info} == {"a failed", "b failed"}


def test_a_registry_can_run_again_and_after_renewing_its_lock() -> None:
    registry = HookRegistry("test", Installer())
    owner = Owner("o")
    registry.register(owner, first)
    registry.run()
    registry.renew_lock()  # as in a forked child
    registry.register(owner, second)
    registry.run()
    assert owner.ran == ["first", "first", "second"]
