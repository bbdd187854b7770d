"""Bugs planted in the real code for a test (never in the code itself): each a monkeypatch that the
simulation must catch. The wrappers keep the real function's behaviour except for the one bug."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from tasks import ownership, runtime
from tasks.domain import assess, lease

if TYPE_CHECKING:
    import pytest


def floor_off_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    real = assess.healthy_floor
    monkeypatch.setattr(assess, "healthy_floor", lambda *args: real(*args) - 1)


def no_lease_check_before_terminate(monkeypatch: pytest.MonkeyPatch) -> None:
    real = ownership.fence

    def fence(asg_name: str, me: str, what: str, record: Any = None) -> Any:
        if re.fullmatch(r"terminating i-[0-9a-f]+", what):
            # The bug: the termination is not fenced by a renewal of the lease; the lease is only
            # read (whoever holds it), as a fence's answer would be.
            current = runtime.leases().get(asg_name)
            return current if current is not None else lease.Lease(asg_name, me, 0.0, 0)
        return real(asg_name, me, what, record)

    monkeypatch.setattr(ownership, "fence", fence)


def cleanup_does_not_resume(monkeypatch: pytest.MonkeyPatch) -> None:
    real = ownership._apply

    def apply(asg_name: str, me: str, plan: Any) -> tuple[str, ...]:
        if me.startswith(lease.CLEANUP):
            plan = replace(plan, resume=())  # the bug: Cleanup forgets the processes it should resume
        return real(asg_name, me, plan)

    monkeypatch.setattr(ownership, "_apply", apply)
