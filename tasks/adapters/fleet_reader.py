"""One read of an ASG: Auto Scaling's view of its instances joined with EC2's attributes."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from tasks.domain import guardrails, urls
from tasks.domain.fleet import READABLE, TERMINATING, Fleet, Instance

if TYPE_CHECKING:
    from collections.abc import Callable, Collection

    from tasks.adapters.autoscaling import AutoScaling, Member
    from tasks.adapters.ec2 import Ec2, InstanceFacts
    from tasks.adapters.elbv2 import LoadBalancing
    from tasks.adapters.version_probe import VersionProber


class FleetReader:
    def __init__(self, autoscaling: AutoScaling, ec2: Ec2, load_balancing: LoadBalancing | None = None) -> None:
        self._autoscaling = autoscaling
        self._ec2 = ec2
        self._load_balancing = load_balancing

    def discover(self, asg_name: str, version_url: str | None, guarded: bool = True) -> Fleet:
        """The group, its instances and (with a ``version_url`` template) where each reports its version.

        ``guarded``: a release reads the group, so its tags must opt it in and their floor is carried
        (tasks/domain/guardrails.py); giving back what a release changed reads it unguarded.
        """
        group = self._autoscaling.describe_group(asg_name)
        floor = guardrails.check(asg_name, group.tags) if guarded else guardrails.TagFloor()
        facts = self._ec2.describe(m.id for m in group.members)
        # Oldest launched first: the fleet's order is the instances' age (an instance EC2 does not
        # describe yet sorts first; it has no version to read either).
        members = sorted(group.members, key=lambda m: (_launched(facts.get(m.id)), m.id))
        instances = [_instance(m, facts.get(m.id), version_url) for m in members]
        # With target groups an instance serves only when healthy in every one of them.
        if group.target_groups and self._load_balancing is not None:
            health = self._load_balancing.health(list(group.target_groups), [i.id for i in instances])
            instances = [replace(i, lb=health[i.id]) for i in instances]
        # A warm pool's instances (Warmed:Stopped, Warmed:Running...) are listed so that they are seen,
        # known when one enters the group, and never counted as serving nor probed nor terminated.
        if group.warm_pool:
            instances += [_warm(m) for m in sorted(self._autoscaling.warm_pool(asg_name), key=lambda m: m.id)]
        return Fleet(
            asg_name=asg_name,
            desired=group.desired,
            min_size=group.min_size,
            max_size=group.max_size,
            instances=tuple(instances),
            tag_min_healthy=floor.min_healthy,
            tag_min_healthy_percent=floor.min_healthy_percent,
        )


def read_versions(fleet: Fleet, prober: VersionProber) -> Fleet:
    """The same fleet with every InService or Standby instance's version, or why it has none.
    The URLs of those that answered are left out, and the record stays small; an instance that
    answered no version keeps its URL, for WatchBooting to watch it boot (tasks/domain/decide.py
    booting)."""
    targets = {i.id: i.url for i in fleet.instances if i.lifecycle in READABLE and i.url}
    readings = prober.read_all(targets)
    instances = tuple(
        replace(
            i,
            url=None if readings[i.id].version is not None else i.url,
            version=readings[i.id].version,
            reason=readings[i.id].reason,
        )
        if i.id in readings
        else replace(i, url=None)
        for i in fleet.instances
    )
    return replace(fleet, instances=instances)


def watch(
    fleet: Fleet,
    ids: Collection[str],
    prober: VersionProber,
    *,
    seconds: float,
    every: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> bool:
    """Probe the instances ``ids`` of ``fleet`` (their URLs read: as discovered, or as a read keeps
    them for those that answered nothing) every ``every`` seconds, those that answered no more,
    until each has answered a version (True: their boot is over) or ``seconds`` have passed (False).
    Only their versions: the caller reads the fleet again to know what they run, and what else has
    changed."""
    left = {i.id: i.url for i in fleet.instances if i.id in ids and i.url}
    if len(left) < len(set(ids)):
        return False  # one is gone, or has no URL to read: a watch would never see it answer
    until = clock() + seconds
    while clock() + every <= until:
        sleep(every)
        readings = prober.read_all(left)
        left = {i: url for i, url in left.items() if readings[i].version is None}
        if not left:
            return True
    return False


def _warm(member: Member) -> Instance:
    return Instance(
        id=member.id, lifecycle=member.lifecycle, health=member.health, az=member.az, reason="in the warm pool"
    )


def _instance(member: Member, facts: InstanceFacts | None, template: str | None) -> Instance:
    url, reason = None, None
    if facts is None:
        reason = "not yet described by EC2"
    elif template is not None:
        try:
            url = urls.render(template, facts.placeholders)
        except KeyError as e:
            reason = f"no {e.args[0]} for the version URL"
    # The group's list lags a termination; EC2 does not (an instance it shuts down is going).
    lifecycle = TERMINATING if facts is not None and facts.going else member.lifecycle
    return Instance(
        id=member.id,
        lifecycle=lifecycle,
        health=member.health,
        az=member.az,
        url=url,
        reason=reason,
        protected=member.protected,
    )


def _launched(facts: InstanceFacts | None) -> str:
    return facts.launched if facts else ""
