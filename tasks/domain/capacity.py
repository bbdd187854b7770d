"""Surge (``max_surge``): launch replacements before old instances go, then give the capacity back.

The release raises the ASG's desired capacity when it takes the lease, and restores it when it lets
go, success or failure. The original capacity and the surged one are recorded in the lease (see
lease.py) before desired capacity changes, so whoever lets the ASG go (the release, Cleanup after a
stop, the next release after a crash) restores it, and only while nobody else has changed it since.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tasks.errors import InvalidStepInputError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tasks.domain.fleet import Instance
    from tasks.domain.lease import Surge

_PERCENT = re.compile(r"^(\d{1,3})%$")


def surge_size(max_surge: int | str, desired: int, max_size: int) -> int:
    """How many instances to add: a count, or a percentage of desired capacity rounded up; never
    beyond the group's max size."""
    if isinstance(max_surge, int):
        wanted = max_surge
    else:
        match = _PERCENT.match(max_surge)
        if match is None:
            raise InvalidStepInputError(f"max_surge: {max_surge!r} is neither a count nor a percentage like '25%'")
        wanted = -(-int(match.group(1)) * desired // 100)
    return max(0, min(wanted, max_size - desired))


@dataclass(frozen=True)
class SurgePlan:
    """What LockAsg does to desired capacity: set it (``set_to``) and record ``original``, or nothing."""

    set_to: int | None
    original: int | None
    note: str


def plan_surge(max_surge: int | str, desired: int, max_size: int, ours: Surge | None) -> SurgePlan:
    """``ours``: the surge this release's lease already records (a retried LockAsg, or the next
    execution of a chain): kept as it is, or made, when an attempt recorded it and then failed before
    desired capacity changed."""
    if ours is not None and desired == ours.original and ours.surged_to != ours.original:
        return SurgePlan(
            ours.surged_to, ours.original, f"surge: desired {desired} -> {ours.surged_to} (recorded before)"
        )
    if ours is not None:
        return SurgePlan(None, ours.original, f"surge kept: desired {desired}, {ours.original} before it")
    added = surge_size(max_surge, desired, max_size)
    if added:
        return SurgePlan(desired + added, desired, f"surge: desired {desired} -> {desired + added}")
    return SurgePlan(None, None, "no surge")


def to_give_back(instances: Sequence[Instance], count: int) -> list[str]:
    """Which instances go when a surge is given back: those that serve nothing first (not InService,
    or unhealthy), then the newest, which the release itself launched; so a release that failed on a
    broken build removes the broken instances rather than the old ones still serving."""
    newest_first = [i for i in reversed(instances) if not i.warm]  # a fleet lists the oldest first
    serving_last = sorted(newest_first, key=lambda i: i.healthy)  # stable: the newest first within each
    return [i.id for i in serving_last][: max(count, 0)]
