"""Surge (``max_surge``): launch replacements before old instances go, then give the capacity back.

The release raises the ASG's desired capacity when it takes the lock, and restores it when it lets
go, success or failure. The original capacity is recorded on the ASG (tag
``asg-terminator:desired-capacity``), so a release that never got to restore it (stopped by hand)
is repaired by the next one before that one surges again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tasks.errors import InvalidStepInputError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tasks.domain.fleet import Instance

SURGE_TAG = "asg-terminator:desired-capacity"
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


def recorded(tag_value: str | None) -> int | None:
    """The desired capacity a surge recorded, or None when there is none (or it is unreadable)."""
    if tag_value is None or not tag_value.isdigit():
        return None
    return int(tag_value)


@dataclass(frozen=True)
class SurgePlan:
    """What LockAsg does to desired capacity: set it (``set_to``) and record ``original``, or nothing."""

    set_to: int | None
    original: int | None
    note: str


def plan_surge(
    max_surge: int | str, desired: int, max_size: int, recorded_capacity: int | None, ours: bool
) -> SurgePlan:
    """``recorded_capacity``: what the ASG's surge tag holds; ``ours``: the lock was already this release's
    (a retried LockAsg, or the next execution of a chain), so a recorded surge is this release's own."""
    if recorded_capacity is not None and ours:
        return SurgePlan(None, recorded_capacity, f"surge kept: desired {desired}, {recorded_capacity} before it")
    base = desired if recorded_capacity is None else recorded_capacity  # a stale surge is undone first
    added = surge_size(max_surge, base, max_size)
    if added:
        return SurgePlan(base + added, base, f"surge: desired {base} -> {base + added}")
    if recorded_capacity is not None:
        return SurgePlan(base, None, f"an interrupted release's surge undone: desired {desired} -> {base}")
    return SurgePlan(None, None, "no surge")


def to_give_back(instances: Sequence[Instance], count: int) -> list[str]:
    """Which instances go when a surge is given back: those that serve nothing first (not InService,
    or unhealthy), then the newest, which the release itself launched; so a release that failed on a
    broken build removes the broken instances rather than the old ones still serving."""
    newest_first = [i for i in reversed(instances) if not i.warm]  # a fleet lists the oldest first
    serving_last = sorted(newest_first, key=lambda i: i.healthy)  # stable: the newest first within each
    return [i.id for i in serving_last][: max(count, 0)]
