"""Surge (``max_surge``): launch replacements before old instances go, then give the capacity back.

The release raises the ASG's desired capacity when it takes the lease. The surge then replaces, it
does not add: once surged instances stand in for outdated ones, a batch's terminations lower desired
capacity (``plan_wave``) instead of launching yet more replacements, and what is left of the surge is
restored when the release lets go, success or failure. The original capacity and the surged one are
recorded in the lease (see lease.py) before desired capacity changes, so whoever lets the ASG go
(the release, Cleanup after a stop, the next release after a crash) restores it, and only while
nobody else has changed it since.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tasks.errors import InvalidStepInputError

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence

    from tasks.domain.fleet import Instance


@dataclass(frozen=True)
class Surge:
    """Desired capacity before the release raised it, and what it is raised to now.

    The surge shrinks as it pays for terminations (see capacity.plan_wave): ``size`` is the surge the
    release asked for (None: ``surged_to - original``, as LockAsg raised it). ``was``: desired capacity
    before a wave of terminations that lowers it, recorded before them, so whoever lets the ASG go
    after a wave stopped half-way still knows any capacity between the two as the release's own."""

    original: int
    surged_to: int
    size: int | None = None
    was: int | None = None

    @property
    def full(self) -> int:
        """The surge the release asked for: the most a wave keeps for the outdated instances left."""
        return self.surged_to - self.original if self.size is None else self.size

    @property
    def low(self) -> int:
        """The least desired capacity may be at while it is this release's surge (``was`` may be either side)."""
        return min(self.surged_to, self.surged_to if self.was is None else self.was)

    def holds(self, desired: int) -> bool:
        """Desired capacity is still this release's surge: nobody else has changed it since."""
        return self.low <= desired <= max(self.surged_to, self.surged_to if self.was is None else self.was)


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


def unlisted(desired: int, instances: Sequence[Instance]) -> int:
    """How much of desired capacity a read lists no instance for (Instance.in_capacity): launches a
    read of the group does not show yet, or that Auto Scaling could not make."""
    return max(0, desired - sum(1 for i in instances if i.in_capacity))


def to_give_back(instances: Sequence[Instance], count: int, unsure: int = 0) -> list[str]:
    """Which instances go when a surge is given back, each with a decrement: only instances desired
    capacity counts (Pending or InService, never Standby); those that serve nothing first (Pending,
    unhealthy, or healthy with no version read: a boot that never served), then the newest, which
    the release itself launched; so a release that failed on a broken build removes the broken
    instances rather than the old ones still serving. Versions unread (None), the ASG's health alone
    tells which serve.

    ``unsure``: capacity that may still be the surge's or may be gone already (a decrement recorded
    before its answer, which never came): up to that many more go, but only instances that serve
    nothing. Left to SetDesiredCapacity, Auto Scaling would scale in whichever its policy picks, a
    serving one maybe; taken once too often, SetDesiredCapacity raises desired capacity back."""
    # A fleet lists the oldest first. Only what desired capacity counts goes (Instance.in_capacity):
    # a Standby instance terminated with a decrement would make Auto Scaling scale in a serving one.
    newest_first = [i for i in reversed(instances) if i.in_capacity]
    read = any(i.version is not None or i.reason is not None for i in instances)
    serving_last = sorted(newest_first, key=lambda i: (i.healthy, i.serving or not read))  # stable: newest first
    sure = serving_last[: max(count, 0)]
    idle = [i for i in serving_last[len(sure) :] if not i.healthy or (read and not i.serving)]
    return [i.id for i in sure + idle[: max(unsure, 0)]]


@dataclass(frozen=True)
class Wave:
    """How one batch's terminations use the surge: ``decrement`` go with ShouldDecrementDesiredCapacity
    (the surge pays for them, so no replacement launches), the others let Auto Scaling launch one each.
    ``moving`` is recorded in the lease before any of them (None: desired capacity does not move),
    ``settled`` once the batch is terminated (None: no surge of this release's to record)."""

    decrement: tuple[str, ...] = ()
    moving: Surge | None = None
    settled: Surge | None = None
    note: str = "no surge"

    def settled_after(self, decremented: int) -> Surge | None:
        """The surge to record once the batch is terminated, when only ``decremented`` of the planned
        decrements happened (an instance gone before its call, say): desired capacity fell by that many
        only, and the rest of the surge is still the release's to give back."""
        if self.settled is None:
            return None
        missed = len(self.decrement) - min(max(decremented, 0), len(self.decrement))
        return _surge(self.settled.original, self.settled.surged_to + missed, self.settled.full)


def plan_wave(
    batch: Sequence[str],
    outdated_after: int | None,
    surge: Surge | None,
    desired: int,
    min_size: int = 0,
    counted: Collection[str] | None = None,
) -> Wave:
    """The surge kept after this batch is what the outdated instances left after it can still use,
    at most the surge asked for: ``min(size, outdated_after)``. Every surged instance beyond that
    already stands in for one of the batch, so that many of the batch's terminations lower desired
    capacity, and no needless launch follows; the rest keep it, so their replacements boot the next
    wave beside the surge. The floor is the batch's concern (SelectBatch): lowering desired capacity
    terminates nothing more. Nothing is decremented for a surge someone else has changed since (a
    scaling policy, an operator: it is theirs), nor for a batch decided without ``outdated_after``.

    ``counted``: the batch's instances desired capacity counts (fleet.counted_in_capacity; None:
    all of them). Only those go with a decrement: a Standby instance terminated with one lowers
    desired capacity without leaving it, and Auto Scaling scales in a serving instance instead."""
    if surge is None:
        return Wave()
    if not surge.holds(desired):
        return Wave(note=f"surge left as it is: desired {desired} is no longer the release's {surge.surged_to}")
    kept = surge.full if outdated_after is None else min(surge.full, max(outdated_after, 0))  # None: not known
    # Never below the group's min size (raised since the surge, say): Auto Scaling would refuse it.
    payable = [i for i in batch if counted is None or i in counted]
    paid = max(0, min(len(payable), desired - surge.original - kept, desired - min_size))
    settled = _surge(surge.original, desired - paid, surge.full)
    if not paid:
        return Wave(settled=settled, note=f"surge kept at {desired - surge.original}: desired {desired}")
    return Wave(
        decrement=tuple(payable[len(payable) - paid :]),
        moving=_surge(surge.original, desired - paid, surge.full, was=desired),
        settled=settled,
        note=f"surge pays for {paid} of the batch: desired {desired} -> {desired - paid}",
    )


def _surge(original: int, surged_to: int, size: int, was: int | None = None) -> Surge:
    """A surge as the lease records it: ``size`` only once the surge has shrunk below it."""
    return Surge(original, surged_to, None if size == surged_to - original else size, was)
