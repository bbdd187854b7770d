"""One read of an ASG judged against the target: the healthy floor, which instances may go, which a
policy sets aside, and the order a batch takes them in (oldest first, one zone at a time)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tasks.domain import versions

if TYPE_CHECKING:
    from tasks.domain.fleet import Fleet, Instance
    from tasks.domain.policy import Policy

REPLACE, IGNORE, WAIT = "replace", "ignore", "wait"


def healthy_floor(desired: int, min_healthy: int, min_healthy_percent: int) -> int:
    """max(min_healthy, ceil(min_healthy_percent x desired / 100)), in integers."""
    return max(min_healthy, -(-min_healthy_percent * desired // 100))


def _age_key(instance: Instance) -> tuple[int, Any]:
    """Oldest version first, unreadable versions before any; equal versions keep the fleet's order,
    which is the order of launch (sorts are stable)."""
    if instance.version is None:
        return (0, None)
    return (1, versions.parse(instance.version))


def spread_over_zones(candidates: list[Instance], newest_unreadable_first: bool = False) -> list[Instance]:
    """Oldest first, but take one per zone in turn, so a batch never empties one zone first.
    ``candidates`` are in the fleet's order: oldest launched first. A rollback takes unreadable
    instances newest first: those the failed release launched, which most likely serve nothing,
    before old ones that are merely slow to answer."""
    launch_order = {instance.id: n for n, instance in enumerate(candidates)}

    def oldest(instance: Instance) -> tuple[tuple[int, Any], int]:
        position = launch_order[instance.id]
        if newest_unreadable_first and instance.version is None:
            position = -position
        return (_age_key(instance), position)

    queues: dict[str, deque[Instance]] = {}
    for instance in sorted(candidates, key=oldest):
        queues.setdefault(instance.az, deque()).append(instance)
    ordered: list[Instance] = []
    while queues:
        heads = sorted((q[0] for q in queues.values()), key=oldest)
        for head in heads:
            ordered.append(queues[head.az].popleft())
            if not queues[head.az]:
                del queues[head.az]
    return ordered


@dataclass(frozen=True)
class Assessment:
    """One read of an ASG judged against the target."""

    target: str
    serving: int
    floor: int
    candidates: list[Instance]  # outdated serving instances: each one terminated costs headroom
    converged: bool
    standby: list[Instance] = field(default_factory=list)  # Standby, not on the target: replaced freely
    held: list[Instance] = field(default_factory=list)  # a policy says wait for these
    ignored: list[Instance] = field(default_factory=list)  # a policy says leave these as they are

    @property
    def headroom(self) -> int:
        return self.serving - self.floor


def assess(fleet: Fleet, target: str, policy: Policy) -> Assessment:
    """Which instances must serve the target, which may be terminated, and which a policy sets aside.

    Scale-in protected instances (``protected_instances``): replaced like any other, left alone, or
    waited for until unprotected. Standby instances (``standby_instances``) serve nothing, so the
    floor never counts them: left alone, replaced (without spending headroom), or waited for until
    they return to service. Either kind already on the target needs nothing.
    """
    in_service = fleet.in_service
    serving = [i for i in in_service if i.serving]
    unreadable = [i for i in in_service if i.healthy and i.version is None]
    outdated = [i for i in serving if not i.serves(target)] + (unreadable if policy.replace_unreadable else [])
    protected = [i for i in outdated if i.protected and policy.protected_instances != REPLACE]
    standby = [i for i in fleet.instances if i.standby and not i.runs(target)]
    ignored = [i for i in protected if policy.protected_instances == IGNORE]
    ignored += standby if policy.standby_instances == IGNORE else []
    held = [i for i in protected if policy.protected_instances == WAIT]
    held += standby if policy.standby_instances == WAIT else []
    counted = len(serving) + (len(unreadable) if policy.replace_unreadable else 0)
    must_serve = [i for i in in_service if i not in ignored]
    converged = (
        all(i.serves(target) for i in must_serve)
        and len(serving) >= fleet.desired
        and not any(i not in ignored for i in standby)
    )
    return Assessment(
        target=target,
        serving=counted,
        floor=healthy_floor(
            fleet.desired,
            max(policy.min_healthy, fleet.tag_min_healthy),
            max(policy.min_healthy_percent, fleet.tag_min_healthy_percent),
        ),
        candidates=[i for i in outdated if i not in protected],
        converged=converged,
        standby=standby if policy.standby_instances == REPLACE else [],
        held=held,
        ignored=ignored,
    )
