"""A terminated batch and its replacements: recorded when the batch goes, then checked until every
newcomer serves the target (for ``healthy_for_seconds``), or the replacement times out."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from tasks.domain import history_budget, watch
from tasks.domain.fleet import Action, Pending, iso, parse_iso
from tasks.domain.text import listed
from tasks.errors import InvalidStepInputError, ReplacementTimeoutError

if TYPE_CHECKING:
    from collections.abc import Collection
    from datetime import datetime

    from tasks.domain.fleet import Fleet, Instance, Progress
    from tasks.domain.policy import Policy


def elapsed(since: str, now: datetime) -> float:
    """Seconds from a ledger's timestamp to the clock's reading."""
    return (now - parse_iso(since)).total_seconds()


def first_check_after(progress: Progress, expected: int, poll_seconds: int) -> int:
    """Seconds from a batch's termination to the first check of its replacements: at once when Auto
    Scaling launches none (the surge paid for the whole batch); a poll before the shortest
    replacement this release has measured ends (rounded down), when it has measured one, so that
    the check watching them (``to_watch``) sees the boot end; otherwise after ``poll_seconds``.
    Later checks come every ``poll_seconds``."""
    if expected <= 0:
        return 0
    if progress.boot_seconds is None:
        return poll_seconds
    return max(0, int(progress.boot_seconds) - poll_seconds)


def begin_replacement(
    progress: Progress, terminated: list[str], now: datetime, *, poll_seconds: int, decremented: int = 0
) -> Progress:
    """Record a terminated batch; its replacements are checked by ``check_replacement``, first after
    ``first_check_after``. ``decremented``: those of the batch the surge paid for, for which Auto
    Scaling launches nothing."""
    decision = progress.decision
    if decision is None or decision.action != Action.TERMINATE:
        raise InvalidStepInputError("Terminate: progress.decision is not a terminate decision")
    paid = f", {decremented} paid for by the surge" if decremented else ""
    pending = Pending(
        instance_ids=decision.batch,
        fleet_key=decision.fleet_key,
        since=iso(now),
        status=f"terminated {len(terminated)} of {len(decision.batch)}{paid}; waiting for replacements",
        decremented=decremented,
    )
    pending = replace(pending, wait_seconds=first_check_after(progress, pending.expected, poll_seconds))
    return progress.update(
        pending=pending,
        decision=None,
        events_spent=progress.events_spent + history_budget.TERMINATE,
        surge_paid=progress.surge_paid + decremented,
    ).with_batch(tuple(terminated))


def check_replacement(
    fleet: Fleet, progress: Progress, policy: Policy, now: datetime, known: Collection[str]
) -> Progress:
    """Done when the batch has left, InService+Healthy >= desired and every newcomer serves the target,
    and with ``healthy_for_seconds`` has been seen serving it at every check for at least that long.
    ``known``: the instances of the read the batch was chosen from (``pending.fleet_key``); the others
    are newcomers."""
    progress = progress.spend(history_budget.POLL)
    pending = progress.pending
    target = progress.target_version
    if pending is None or target is None:
        return progress
    lingering, newcomers = _replacing(fleet, pending, known)
    since = serving_since(pending, [i for i in newcomers if i.serves(target)], policy, now)
    steady = {i for i, t in since.items() if elapsed(t, now) >= policy.healthy_for_seconds}
    not_ready = [i for i in newcomers if i.id not in steady]
    healthy = sum(1 for i in fleet.instances if i.healthy)
    if not lingering and not not_ready and healthy >= fleet.desired:
        return progress.update(pending=None, boot_seconds=shortest_boot(progress, now)).with_launched(
            tuple(i.id for i in newcomers)
        )

    def why(instance: Instance) -> str:
        if instance.id in since:
            held = elapsed(since[instance.id], now)
            return f"serving {target} for {held:.0f} s of healthy_for_seconds {policy.healthy_for_seconds}"
        return instance.why_not_serving()

    expected = max(pending.expected, len(newcomers))
    named = [f"{i.id} {why(i)}" for i in not_ready] + [f"{i.id} still {i.lifecycle}" for i in lingering]
    problems = [listed(named, ", ")] if named else []
    missing = pending.expected - len(newcomers)
    if missing > 0:
        problems.append(f"{missing} not launched yet (InService+Healthy {healthy} of desired {fleet.desired})")
    waited = elapsed(pending.since, now)
    status = (
        f"{fleet.asg_name}: {len(not_ready) + max(missing, 0)} of {expected} replacements "
        f"not serving {target} after {waited:.0f} s: " + ", ".join(problems)
    )
    if waited > policy.replacement_timeout_seconds:
        raise ReplacementTimeoutError(status)
    kept = tuple(sorted(since.items())) if policy.healthy_for_seconds else ()
    waiting = replace(pending, status=status, serving_since=kept, wait_seconds=policy.poll_seconds)
    return progress.update(pending=waiting)


def _replacing(fleet: Fleet, pending: Pending, known: Collection[str]) -> tuple[list[Instance], list[Instance]]:
    """The batch's instances still in the group, and the newcomers: every instance not in the read
    the batch was chosen from (``known``), the warm pool refilling itself aside (no replacement:
    only instances that joined the group are)."""
    known = set(known)
    lingering = [i for i in fleet.instances if i.id in pending.instance_ids]
    return lingering, [i for i in fleet.instances if i.id not in known and not i.warm]


def to_watch(fleet: Fleet, progress: Progress, policy: Policy, known: Collection[str]) -> tuple[str, ...]:
    """After a check that is not done (``progress``: its result), the replacements it watches in its
    function (tasks/domain/watch.py) rather than leaving them to the next Wait: those InService and
    Healthy that answer no version yet, when nothing else holds the batch back (every batch
    instance gone, every replacement launched, none on another version) and serving once is enough
    (no ``healthy_for_seconds``, which counts checks). None: nothing a watch could see end."""
    pending, target = progress.pending, progress.target_version
    if pending is None or target is None or policy.healthy_for_seconds:
        return ()
    lingering, newcomers = _replacing(fleet, pending, known)
    if lingering or len(newcomers) < pending.expected:
        return ()
    not_yet = [i for i in newcomers if not i.runs(target)]
    # One that answers another version has booted, and one unhealthy waits on Auto Scaling: neither
    # ends by a watch of the versions.
    if not all(i.booting for i in not_yet):
        return ()
    return tuple(i.id for i in not_yet)


def after_watch(progress: Progress, watched: float, poll_seconds: int) -> Progress:
    """A check that watched for ``watched`` seconds and is still not done: the next check comes once
    the rest of the poll has passed (at once when the watch took all of it)."""
    pending = progress.pending
    if pending is None:
        return progress
    return progress.update(pending=replace(pending, wait_seconds=watch.rest(poll_seconds, watched)))


def shortest_boot(progress: Progress, now: datetime) -> float | None:
    """The shortest replacement this release has measured, with the pending batch's (its termination
    to ``now``, when it is seen done) among them; a batch for which nothing launched measures none."""
    pending = progress.pending
    if pending is None or pending.expected <= 0:
        return progress.boot_seconds
    took = round(elapsed(pending.since, now), 1)
    return took if progress.boot_seconds is None else min(progress.boot_seconds, took)


def serving_since(pending: Pending, serving: list[Instance], policy: Policy, now: datetime) -> dict[str, str]:
    """Since when each replacement serving now has been seen serving at every check; one that missed a
    check starts again. Without a stability window, serving now is enough."""
    if not policy.healthy_for_seconds:
        return {i.id: iso(now) for i in serving}
    seen = dict(pending.serving_since)
    return {i.id: seen.get(i.id, iso(now)) for i in serving}
