"""A simulated AWS in memory, behind the adapters the handlers use: Auto Scaling (lifecycle, boot
times, replacements launched by desired capacity, health, scaling, AZRebalance, a warm pool), EC2,
ELB target health and draining, the lease table, SSM, CloudWatch alarms and each instance's
/version answer. Time is a virtual clock (``World.now``): nothing sleeps.

Faults are the world's, not the code's: throttling (a call answers ``AwsThrottledError``), reads of
Auto Scaling that lag its writes by ``lag_seconds``, and writes whose answer is lost
(``AwsUnavailableError``) while the write itself lands ``late_seconds`` later.

Every fleet-changing call is checked against the lease store as it is made (``World.violations``):
the invariant "at most one release changes an ASG" holds at the call, not in a summary after.
"""

from __future__ import annotations

import copy
import hashlib
import io
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from tasks.adapters.autoscaling import AutoScaling, Member
from tasks.adapters.autoscaling import Group as AsgGroup
from tasks.adapters.cloudwatch import CloudWatch
from tasks.adapters.ec2 import Ec2, InstanceFacts
from tasks.adapters.elbv2 import HEALTHY, LoadBalancing
from tasks.adapters.events import Events
from tasks.adapters.fleet_reader import FleetReader
from tasks.adapters.leases import Leases
from tasks.adapters.s3 import FleetRecords, StoredFleet
from tasks.adapters.ssm import Parameters
from tasks.adapters.stepfunctions import ExecutionState, StepFunctions, execution_arn
from tasks.adapters.version_probe import Reading, VersionProber
from tasks.domain import lease as leases
from tasks.domain.fleet import Fleet, iso
from tasks.errors import AsgNotFoundError, AwsRequestError, AwsThrottledError, AwsUnavailableError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from mypy_boto3_s3 import S3Client

    from tasks.domain.lease import Lease, Record
    from tasks.runtime import Settings

PENDING, IN_SERVICE, TERMINATING, STANDBY, WARMED = "Pending", "InService", "Terminating", "Standby", "Warmed:Stopped"
LAUNCH_PROCESSES = ("Launch",)
NEVER_BOOTS, GARBAGE = "never-boots", "garbage"  # instance faults: HTTP 503 forever; 200 with no version
TG_PREFIX = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/"


@dataclass
class Instance:
    id: str
    az: str
    lifecycle: str
    version: str
    launched: float
    ready_at: float  # answers /version from then
    health: str = "Healthy"
    fault: str | None = None
    protected: bool = False
    in_service_at: float = 0.0
    gone_at: float | None = None  # Terminating ends

    def answer(self, now: float) -> tuple[str | None, str | None]:
        """What GET /version answers now: (version, None) or (None, why not)."""
        if self.fault == NEVER_BOOTS or now < self.ready_at:
            return None, "HTTP 503"
        if self.fault == GARBAGE:
            return None, "body is not a version"
        return self.version, None


@dataclass
class Group:
    name: str
    min_size: int
    max_size: int
    desired: int
    azs: tuple[str, ...]
    tags: dict[str, str]
    launch_version: str  # what a new instance boots, unless the pin parameter says otherwise
    pin_parameter: str | None = None
    instances: dict[str, Instance] = field(default_factory=dict)
    suspended: set[str] = field(default_factory=set)
    target_groups: tuple[str, ...] = ()
    registered: dict[str, set[str]] = field(default_factory=dict)  # target group -> instance ids
    drain_seconds: int = 0
    warm_pool: list[Instance] = field(default_factory=list)
    boot_seconds: float = 20.0
    broken_builds: tuple[str, ...] = ()  # instances booting one of these never answer

    def active(self) -> list[Instance]:
        return [i for i in self.instances.values() if i.lifecycle in (PENDING, IN_SERVICE)]


@dataclass
class Violation:
    rule: str
    detail: str
    at: float


@dataclass
class Actor:
    """Who is calling: the execution (or ``cleanup:`` + execution) whose step runs, and what the
    step is releasing (for the termination invariants)."""

    holder: str = "world"
    state: str = ""
    target: str | None = None
    replace_unreadable: bool = False


def _stable(*parts: object) -> float:
    """A number in [0, 1) fixed by its parts: a fault decision that does not depend on call order."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class World:
    """The simulated account: groups, the lease table, parameters, alarms, executions, and a clock."""

    def __init__(self, seed: int, start: float = 1_800_000_000.0) -> None:
        self.seed = seed
        self.now = start
        self.groups: dict[str, Group] = {}
        self.lease_items: dict[str, Lease] = {}
        self.parameters: dict[str, str] = {}
        self.alarms: dict[str, str] = {}
        self.executions: dict[str, dict[str, Any]] = {}  # arn -> status, stop time, input
        self.started: list[tuple[str, str, dict[str, Any]]] = []  # executions a step started
        self.actor = Actor()
        self.violations: list[Violation] = []
        self.removed: dict[str, int] = {}  # serving instances the faults took from each ASG
        self.disturbed: set[str] = set()  # ASGs whose desired capacity a fault changed
        self.last_read: dict[tuple[str, str], str | None] = {}  # (release, instance): what it last read
        self.terminated_by: list[tuple[str, str, str]] = []  # (holder, asg, instance) of the releases' own
        self.holders: dict[str, set[str]] = {}  # the executions that have held each ASG's lease
        self.failed: set[tuple[str, str]] = set()  # (execution, asg) that reached AsgFailed
        self.lag_seconds = 0.0
        self.pending_seconds = 5.0  # a launched instance is Pending this long, then InService
        self.lag_capacity = False  # desired capacity and suspended processes lag too (see docs/simulation.md)
        self.late_seconds = 0.0
        self.throttle_share = 0.0  # of calls, while ``throttle_until`` lasts
        self.throttle_until = -1.0
        self.lose_share = 0.0  # of writes whose answer is lost (the write lands late)
        self.lose_until = -1.0
        self.faults: dict[str, int] = {}
        self._snapshots: dict[str, list[tuple[float, dict[str, Any]]]] = {}
        self._late: list[tuple[float, int, Callable[[], None]]] = []
        self._calls: dict[tuple[str, str], int] = {}
        self._ids = 0

    # --- the clock and what happens as it moves ------------------------------------------------
    def advance(self, seconds: float) -> None:
        """Move the clock, letting each group act at every moment something is due."""
        end = self.now + max(0.0, seconds)
        while True:
            due = [t for t in (self._next_due(), *(t for t, _, _ in self._late)) if t is not None and t <= end]
            if not due:
                break
            self.now = max(self.now, min(due))
            self.tick()
        self.now = end
        self.tick()

    def _next_due(self) -> float | None:
        times = []
        for group in self.groups.values():
            for i in group.instances.values():
                if i.lifecycle == PENDING:
                    times.append(i.in_service_at)
                elif i.lifecycle == TERMINATING and i.gone_at is not None:
                    times.append(i.gone_at)
                if i.ready_at > self.now:
                    times.append(i.ready_at)
        future = [t for t in times if t > self.now]
        return min(future) if future else None

    def tick(self) -> None:
        for _due, _, write in sorted((w for w in self._late if w[0] <= self.now), key=lambda w: (w[0], w[1])):
            write()
        self._late = [w for w in self._late if w[0] > self.now]
        for group in self.groups.values():
            self._settle(group)
        self.snapshot()

    def _settle(self, group: Group) -> None:
        for i in list(group.instances.values()):
            if i.lifecycle == PENDING and self.now >= i.in_service_at:
                i.lifecycle = IN_SERVICE
            if i.lifecycle == TERMINATING and i.gone_at is not None and self.now >= i.gone_at:
                del group.instances[i.id]
        if "ReplaceUnhealthy" not in group.suspended and "HealthCheck" not in group.suspended:
            for i in group.instances.values():
                if i.lifecycle == IN_SERVICE and i.health != "Healthy":
                    self._start_terminating(group, i)
        if "Launch" not in group.suspended:
            while len(group.active()) < group.desired:
                self._launch(group)
        if "Terminate" not in group.suspended:
            while len(group.active()) > group.desired:
                self._start_terminating(group, self._scale_in_choice(group))

    def _scale_in_choice(self, group: Group) -> Instance:
        """Auto Scaling's default policy, simplified: unprotected first, the fullest zone, oldest."""
        active = group.active()
        counts = {az: sum(1 for i in active if i.az == az) for az in group.azs}
        return min(active, key=lambda i: (i.protected, -counts.get(i.az, 0), i.launched, i.id))

    def new_id(self) -> str:
        self._ids += 1
        return f"i-{self._ids:04x}{self.seed % 0xFFFF:04x}"

    def _launch(self, group: Group) -> Instance:
        counts = {az: sum(1 for i in group.active() if i.az == az) for az in group.azs}
        az = min(group.azs, key=lambda z: (counts[z], z))
        version = (group.pin_parameter and self.parameters.get(group.pin_parameter)) or group.launch_version
        if group.warm_pool:
            instance = group.warm_pool.pop(0)
            instance.lifecycle, instance.az, instance.version = PENDING, az, version
            instance.in_service_at, instance.ready_at = self.now + 2, self.now + group.boot_seconds / 2
        else:
            instance = Instance(
                self.new_id(),
                az,
                PENDING,
                version,
                launched=self.now,
                ready_at=self.now + group.boot_seconds,
                in_service_at=self.now + self.pending_seconds,
            )
        instance.launched = self.now
        if version in group.broken_builds:
            instance.fault = NEVER_BOOTS
        group.instances[instance.id] = instance
        for tg in group.target_groups:
            group.registered.setdefault(tg, set()).add(instance.id)
        return instance

    def _start_terminating(self, group: Group, instance: Instance) -> None:
        if instance.lifecycle == TERMINATING:
            return
        instance.lifecycle, instance.gone_at = TERMINATING, self.now + 10
        for members in group.registered.values():
            members.discard(instance.id)

    # --- what the invariants read ----------------------------------------------------------------
    def serving(self, group: Group) -> list[Instance]:
        """InService, Healthy, registered in every target group and answering a version (harness.FloorWatch's count)."""
        return [
            i
            for i in group.instances.values()
            if i.lifecycle == IN_SERVICE
            and i.health == "Healthy"
            and i.answer(self.now)[0] is not None
            and all(i.id in group.registered.get(tg, set()) for tg in group.target_groups)
        ]

    def unreadable(self, group: Group) -> list[Instance]:
        """InService, Healthy and registered, answering no version: replace_unreadable counts them as serving."""
        return [
            i
            for i in group.instances.values()
            if i.lifecycle == IN_SERVICE
            and i.health == "Healthy"
            and i.answer(self.now)[0] is None
            and all(i.id in group.registered.get(tg, set()) for tg in group.target_groups)
        ]

    def violation(self, rule: str, detail: str) -> None:
        self.violations.append(Violation(rule, detail, self.now))

    # --- faults decided per call, independent of call order ----------------------------------------
    def call(self, service: str, operation: str, key: str) -> None:
        """Raise AwsThrottledError when this call is throttled."""
        n = self._calls.get((operation, key), 0)
        self._calls[operation, key] = n + 1
        if self.now <= self.throttle_until and _stable(self.seed, operation, key, n) < self.throttle_share:
            self.faults["throttled call"] = self.faults.get("throttled call", 0) + 1
            raise AwsThrottledError(f"{operation} {key}: Rate exceeded (Throttling, simulated)")

    def write(self, operation: str, key: str, apply: Callable[[], None]) -> None:
        """Apply a write; or, while writes are being lost, land it ``late_seconds`` later and answer
        AwsUnavailableError now (the caller cannot tell it will land)."""
        self.call("", operation, key)
        n = self._calls[operation, key]
        if self.now <= self.lose_until and _stable(self.seed, "lose", operation, key, n) < self.lose_share:
            self.faults["late write"] = self.faults.get("late write", 0) + 1
            self._late.append((self.now + self.late_seconds, len(self._late) + n * 1000, apply))
            raise AwsUnavailableError(f"{operation} {key}: the request timed out (simulated; it lands later)")
        apply()

    # --- lagging reads -----------------------------------------------------------------------------
    def snapshot(self) -> None:
        if self.lag_seconds <= 0:
            return
        for name, group in self.groups.items():
            shots = self._snapshots.setdefault(name, [])
            described = self._describe(group)
            if not shots or shots[-1][1] != described:
                shots.append((self.now, described))
            while len(shots) > 1 and shots[1][0] <= self.now - self.lag_seconds:
                shots.pop(0)

    def described(self, name: str) -> dict[str, Any]:
        group = self.groups.get(name)
        if group is None:
            raise AsgNotFoundError(f"{name}: no Auto Scaling group of that name in this account and region")
        if self.lag_seconds <= 0:
            return self._describe(group)
        shots = [d for t, d in self._snapshots.get(name, []) if t <= self.now - self.lag_seconds]
        described = copy.deepcopy(shots[-1] if shots else self._snapshots[name][0][1])
        if not self.lag_capacity:  # only the instance list lags (new instances unseen, old ones still listed)
            current = self._describe(group)
            for key in ("DesiredCapacity", "MinSize", "MaxSize", "SuspendedProcesses", "Tags"):
                described[key] = current[key]
        return described

    def _describe(self, group: Group) -> dict[str, Any]:
        described: dict[str, Any] = {
            "AutoScalingGroupName": group.name,
            "MinSize": group.min_size,
            "MaxSize": group.max_size,
            "DesiredCapacity": group.desired,
            "Instances": [
                {
                    "InstanceId": i.id,
                    "AvailabilityZone": i.az,
                    "LifecycleState": i.lifecycle,
                    "HealthStatus": i.health,
                    "ProtectedFromScaleIn": i.protected,
                }
                for i in sorted(group.instances.values(), key=lambda i: i.id)
            ],
            "SuspendedProcesses": [{"ProcessName": p} for p in sorted(group.suspended)],
            "TargetGroupARNs": list(group.target_groups),
            "Tags": [{"Key": k, "Value": v} for k, v in sorted(group.tags.items())],
        }
        if group.warm_pool:
            described["WarmPoolConfiguration"] = {"PoolState": "Stopped"}
        return described

    # --- ownership ---------------------------------------------------------------------------------
    def changing(self, asg_name: str, what: str) -> None:
        """A fleet-changing call of the acting step: the caller must hold the ASG's lease now."""
        held = self.lease_items.get(asg_name)
        if held is None or held.holder != self.actor.holder or held.expired(self.now):
            holder = "nobody" if held is None else f"{held.holder}{' (expired)' if held.expired(self.now) else ''}"
            self.violation(
                "single owner",
                f"{self.actor.holder} ({self.actor.state}) {what} on {asg_name}, whose lease {holder} holds",
            )

    def group_of_target_group(self, arn: str) -> Group:
        return next(g for g in self.groups.values() if arn in g.target_groups)


class SimAutoScaling(AutoScaling):
    def __init__(self, world: World) -> None:
        self.world = world

    def describe_group(self, name: str) -> AsgGroup:
        self.world.call("autoscaling", "DescribeAutoScalingGroups", name)
        return AsgGroup.of(self.world.described(name))

    def warm_pool(self, name: str) -> tuple[Member, ...]:
        self.world.call("autoscaling", "DescribeWarmPool", name)
        return tuple(Member(i.id, i.lifecycle, i.health, i.az) for i in self.world.groups[name].warm_pool)

    def set_tag(self, name: str, key: str, value: str) -> None:
        self.world.call("autoscaling", "CreateOrUpdateTags", name)
        self.world.groups[name].tags[key] = value

    def delete_tag_if(self, name: str, key: str, value: str) -> bool:
        self.world.call("autoscaling", "DeleteTags", name)
        group = self.world.groups.get(name)
        if group is None or group.tags.get(key) != value:
            return False
        del group.tags[key]
        return True

    def delete_tag(self, name: str, key: str) -> None:
        self.world.groups[name].tags.pop(key, None)

    def set_desired(self, name: str, capacity: int) -> None:
        world = self.world
        world.changing(name, f"set desired capacity to {capacity}")

        def apply() -> None:
            world.groups[name].desired = capacity

        world.write("SetDesiredCapacity", name, apply)

    def _processes(self, verb: str, name: str, processes: tuple[str, ...] | list[str]) -> None:
        world, group = self.world, self.world.groups[name]
        world.changing(name, f"{verb}ed {' '.join(processes)}")

        def apply() -> None:
            if verb == "suspend":
                group.suspended.update(processes)
            else:
                group.suspended.difference_update(processes)

        world.write(f"{verb.capitalize()}Processes", name, apply)

    def tagged(self, key: str, value: str) -> dict[str, dict[str, str]]:
        return {n: dict(g.tags) for n, g in self.world.groups.items() if g.tags.get(key) == value}

    def terminate_in_group(self, instance_id: str, decrement: bool = False) -> bool:
        world = self.world
        group = next((g for g in world.groups.values() if instance_id in g.instances), None)
        if group is None or group.instances[instance_id].lifecycle == TERMINATING:
            world.call("autoscaling", "TerminateInstanceInAutoScalingGroup", instance_id)
            return False
        world.changing(group.name, f"terminated {instance_id}")
        instance = group.instances[instance_id]
        if not decrement:
            self._check_termination(group, instance)

        def apply() -> None:
            if instance.lifecycle == TERMINATING or instance.id not in group.instances:
                return
            world._start_terminating(group, instance)
            if decrement:
                group.desired -= 1

        world.write("TerminateInstanceInAutoScalingGroup", instance_id, apply)
        world.terminated_by.append((world.actor.holder, group.name, instance_id))
        return True

    def _check_termination(self, group: Group, instance: Instance) -> None:
        world, actor = self.world, self.world.actor
        version, _ = instance.answer(world.now)
        serving = instance.lifecycle == IN_SERVICE and instance.health == "Healthy" and version is not None
        key = (actor.holder, instance.id)
        unread = key in world.last_read and world.last_read[key] is None
        # Judged as the release last read it: replace_unreadable (and a rollback) replaces an instance
        # that answered nothing then, even one that has finished booting since.
        if (
            actor.target is not None
            and serving
            and version == actor.target
            and not (unread and actor.replace_unreadable)
        ):
            world.violation("target kept", f"{actor.holder} terminated {instance.id}, serving the target {version}")
        if unread and instance.lifecycle == IN_SERVICE and not actor.replace_unreadable:  # Standby: standby_instances
            world.violation("unreadable kept", f"{actor.holder} terminated {instance.id}, whose version was unreadable")
        if (actor.holder, group.name) in world.failed:
            world.violation("failed stops", f"{actor.holder} terminated {instance.id} after {group.name} failed")


class SimEc2(Ec2):
    def __init__(self, world: World) -> None:
        self.world = world

    def describe(self, instance_ids: Iterable[str]) -> dict[str, InstanceFacts]:
        self.world.call("ec2", "DescribeInstances", "")
        every = {i.id: i for g in self.world.groups.values() for i in g.instances.values()}
        found = {}
        for instance_id in instance_ids:
            i = every.get(instance_id)
            if i is None or i.launched > self.world.now - self.world.lag_seconds / 2:  # not yet visible
                continue
            address = f"10.0.{int(i.id[2:6], 16) // 250}.{int(i.id[2:6], 16) % 250 + 1}"
            facts = {"InstanceId": i.id, "PrivateIpAddress": address, "AvailabilityZone": i.az}
            state = "shutting-down" if i.lifecycle == TERMINATING else "running"
            found[instance_id] = InstanceFacts(facts, iso(datetime.fromtimestamp(i.launched, UTC)), state)
        return found


class SimLoadBalancing(LoadBalancing):
    def __init__(self, world: World) -> None:
        self.world = world

    def health(self, target_group_arns: list[str], instance_ids: list[str]) -> dict[str, str]:
        self.world.call("elbv2", "DescribeTargetHealth", "")
        verdicts = dict.fromkeys(instance_ids, HEALTHY)
        for arn in target_group_arns:
            group = self.world.group_of_target_group(arn)
            for instance_id in instance_ids:
                i = group.instances.get(instance_id)
                if instance_id not in group.registered.get(arn, set()):
                    state = "unused"
                elif i is None or i.health != "Healthy" or i.answer(self.world.now)[0] is None:
                    state = "unhealthy"
                else:
                    state = HEALTHY
                if state != HEALTHY and verdicts[instance_id] == HEALTHY:
                    verdicts[instance_id] = f"{state} in target group {arn.rsplit('/', 2)[-2]}"
        return verdicts

    def register(
        self, target_group_arns: list[str] | tuple[str, ...], instance_ids: list[str] | tuple[str, ...]
    ) -> tuple[str, ...]:
        refused: set[str] = set()
        for arn in target_group_arns:
            group = self.world.group_of_target_group(arn)
            self.world.changing(group.name, f"registered {' '.join(instance_ids)}")
            refused.update(i for i in instance_ids if i not in group.instances)  # InvalidTarget

            def apply(group: Group = group, arn: str = arn) -> None:
                group.registered.setdefault(arn, set()).update(i for i in instance_ids if i in group.instances)

            self.world.write("RegisterTargets", arn, apply)
        return tuple(i for i in instance_ids if i in refused)

    def deregister(self, target_group_arns: list[str], instance_ids: list[str]) -> int:
        delay = 0
        for arn in target_group_arns:
            group = self.world.group_of_target_group(arn)
            self.world.changing(group.name, f"deregistered {' '.join(instance_ids)}")

            def apply(group: Group = group, arn: str = arn) -> None:
                group.registered.setdefault(arn, set()).difference_update(instance_ids)

            self.world.write("DeregisterTargets", arn, apply)
            delay = max(delay, group.drain_seconds)
        return delay


def _renewed(held: Lease, now: float, record: Record) -> Lease:
    """What the lease table's UpdateExpression (tasks/adapters/leases.py ``_update``) makes of an item."""
    term = held.term_seconds if record.term_seconds is None else record.term_seconds
    drained = (set(held.drained) | set(record.drained)) - set(record.undrained)
    return replace(
        held,
        term_seconds=term,
        expires_at=now + term,
        target_version=record.target_version if record.target_version is not None else held.target_version,
        surge=None if record.clear_surge else (record.surge or held.surge),
        suspended=tuple(sorted((set(held.suspended) | set(record.suspended)) - set(record.resumed))),
        drained=tuple(sorted(drained)),
        drained_from=tuple(sorted(set(held.drained_from) | set(record.drained_from))),
        repair=held.repair and not record.repaired,
        version_url=record.version_url if record.version_url is not None else held.version_url,
        probe_timeout_seconds=(
            record.probe_timeout_seconds if record.probe_timeout_seconds is not None else held.probe_timeout_seconds
        ),
    )


class SimLeases(Leases):
    """The lease table: strongly consistent, every write conditional; a put whose answer is lost
    lands later, its condition judged when it lands (as DynamoDB judges it)."""

    def __init__(self, world: World) -> None:
        self.world = world

    def get(self, asg_name: str) -> Lease | None:
        self.world.call("dynamodb", "GetItem", asg_name)
        return self.world.lease_items.get(asg_name)

    def put(self, lease: Lease, replacing: Lease | None) -> tuple[bool, Lease | None]:
        world, outcome = self.world, dict[str, Any]()

        def apply() -> None:
            current = world.lease_items.get(lease.asg_name)
            holds = (
                current is None
                if replacing is None
                else current is not None
                and (current.holder, current.expires_at) == (replacing.holder, replacing.expires_at)
            )
            outcome["written"] = holds
            outcome["found"] = current
            if holds:
                world.lease_items[lease.asg_name] = lease
                world.holders.setdefault(lease.asg_name, set()).add(lease.holder.removeprefix(leases.CLEANUP))

        world.write("PutItem", lease.asg_name, apply)
        return (True, lease) if outcome["written"] else (False, outcome["found"])

    def renew(self, asg_name: str, me: str, now: float, record: Record, what: str) -> Lease:
        self.world.call("dynamodb", "UpdateItem", asg_name)
        held = self.world.lease_items.get(asg_name)
        if held is None or held.holder != me:
            raise leases.lost(asg_name, me, None if held is None else held.holder, what)
        renewed = _renewed(held, now, record)
        self.world.lease_items[asg_name] = renewed
        return renewed

    def hand_over(self, asg_name: str, me: str, to: str, now: float) -> None:
        held = self.world.lease_items.get(asg_name)
        if held is None or held.holder not in (me, to):
            raise leases.lost(asg_name, me, None if held is None else held.holder, f"handing the lease to {to}")
        self.world.lease_items[asg_name] = replace(
            held, holder=to, handed_over_by=me, expires_at=now + held.term_seconds
        )

    def release(self, asg_name: str, me: str) -> bool:
        self.world.call("dynamodb", "DeleteItem", asg_name)
        held = self.world.lease_items.get(asg_name)
        if held is None or held.holder != me:
            return False
        del self.world.lease_items[asg_name]
        return True

    def held_by(self, execution_arn: str) -> list[Lease]:
        self.world.call("dynamodb", "Scan", "")
        cleanup = leases.CLEANUP + execution_arn
        return [
            held
            for _, held in sorted(self.world.lease_items.items())
            if held.holder in (execution_arn, cleanup) or held.handed_over_by == execution_arn
        ]


class SimParameters(Parameters):
    def __init__(self, world: World) -> None:
        self.world = world

    def pinned(self, name: str) -> str | None:
        self.world.call("ssm", "GetParameter", name)
        return self.world.parameters.get(name)

    def pin(self, name: str, version: str) -> str | None:
        before = self.pinned(name)
        if before != version:
            self.world.write("PutParameter", name, lambda: self.world.parameters.__setitem__(name, version))
        return before


class SimCloudWatch(CloudWatch):
    def __init__(self, world: World) -> None:
        self.world = world

    def alarm_states(self, names: list[str]) -> dict[str, tuple[str, str]]:
        self.world.call("cloudwatch", "DescribeAlarms", "")
        return {n: (self.world.alarms[n], "simulated") for n in names if n in self.world.alarms}

    def instance_datapoints(self, *args: Any, **kwargs: Any) -> dict[tuple[int, str], list[float]]:
        return {}


class SimStepFunctions(StepFunctions):
    def __init__(self, world: World) -> None:
        self.world = world

    def start_once(self, state_machine_arn: str, name: str, execution_input: dict[str, Any]) -> str | None:
        arn = execution_arn(state_machine_arn, name)
        if arn in self.world.executions:
            return None
        self.world.executions[arn] = {"status": "RUNNING", "stopped_at": None, "input": execution_input}
        self.world.started.append((arn, name, execution_input))
        return arn

    def state_of(self, execution_arn: str) -> ExecutionState:
        self.world.call("stepfunctions", "DescribeExecution", execution_arn)
        found = self.world.executions.get(execution_arn)
        if found is None:
            return ExecutionState(None, None, None)
        return ExecutionState(found["status"], found["stopped_at"], found["input"])


class SimEvents(Events):
    def __init__(self, world: World) -> None:
        self.world = world
        self.sent: list[tuple[str, str]] = []

    def send(self, bus: str, detail_type: str, detail: dict[str, Any]) -> None:
        self.sent.append((bus, detail_type))


class SimFleetRecords(FleetRecords):
    """The stack's fleet bucket in memory. With ``checked`` (a case that checks every contract), the
    real adapter's write and read, schema checks included, over an in-memory object store; without,
    the read is kept as it is, under a key of the same shape."""

    def __init__(self, world: World, checked: bool = True) -> None:
        super().__init__(cast("S3Client", _MemoryS3(world)), "simulated-fleets")
        self.world, self.checked = world, checked
        self._kept: dict[str, StoredFleet] = {}

    def put(self, release_id: str, written_by: str, fleet: Fleet, read_seconds: float | None = None) -> dict[str, Any]:
        if self.checked:
            return super().put(release_id, written_by, fleet, read_seconds)
        self.world.call("s3", "PutObject", fleet.asg_name)
        key = self.key(release_id, fleet.asg_name, f"{written_by}:{len(self._kept)}".encode())
        self._kept[key] = StoredFleet(release_id, fleet, written_by, read_seconds)
        ref = {"asg_name": fleet.asg_name, "key": key, "instances": len(fleet.instances)}
        return ref | {"desired": fleet.desired, "census": fleet.census()}

    def get(self, asg_name: str, key: str, instances: int | None = None) -> StoredFleet:
        if self.checked:
            return super().get(asg_name, key, instances)
        self.world.call("s3", "GetObject", asg_name)
        if key not in self._kept:
            raise AwsRequestError(f"GetObject {key}: no such fleet record (simulated)")
        return self._kept[key]


class _MemoryS3:
    """The two S3 calls FleetRecords makes, on a dict."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.objects: dict[str, bytes] = {}

    def put_object(self, Bucket: str, Key: str, Body: bytes, ContentType: str) -> None:  # noqa: N803 - boto3's
        self.world.call("s3", "PutObject", Key)
        self.objects[Key] = Body

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803 - boto3's names
        self.world.call("s3", "GetObject", Key)
        if Key not in self.objects:
            raise AwsRequestError(f"GetObject {Key}: no such fleet record (simulated)")
        return {"Body": io.BytesIO(self.objects[Key])}


class SimProber(VersionProber):
    """Each instance's answer, read from the world (no socket): remembered for the invariants."""

    def __init__(self, world: World) -> None:
        self.world = world

    def read_all(self, urls: Mapping[str, str]) -> dict[str, Reading]:
        every = {i.id: i for g in self.world.groups.values() for i in g.instances.values()}
        readings = {}
        for instance_id in urls:
            found = every.get(instance_id)
            version, reason = found.answer(self.world.now) if found else (None, "connection refused")
            self.world.last_read[self.world.actor.holder, instance_id] = version
            readings[instance_id] = Reading(version, reason)
        return readings

    def read(self, url: str) -> Reading:
        raise NotImplementedError("the simulation reads by instance id (read_all)")


@dataclass
class Adapters:
    """A tasks.runtime.Installed: the simulated adapters over one World, with its clock."""

    world: World
    settings: Settings
    autoscaling: SimAutoScaling = field(init=False)
    fleet_reader: FleetReader = field(init=False)
    leases: SimLeases = field(init=False)
    load_balancing: SimLoadBalancing = field(init=False)
    stepfunctions: SimStepFunctions = field(init=False)
    parameters: SimParameters = field(init=False)
    cloudwatch: SimCloudWatch = field(init=False)
    events: SimEvents = field(init=False)
    fleet_records: SimFleetRecords = field(init=False)

    def __post_init__(self) -> None:
        w = self.world
        self.autoscaling = SimAutoScaling(w)
        self.load_balancing = SimLoadBalancing(w)
        self.fleet_reader = FleetReader(self.autoscaling, SimEc2(w), self.load_balancing)
        self.leases, self.stepfunctions, self.parameters = SimLeases(w), SimStepFunctions(w), SimParameters(w)
        self.cloudwatch, self.events = SimCloudWatch(w), SimEvents(w)
        self.fleet_records = SimFleetRecords(w)
        self._prober = SimProber(w)

    def prober(self, timeout_seconds: float) -> VersionProber:
        return self._prober

    def sleep(self, seconds: float) -> None:
        self.world.advance(seconds)

    def epoch(self) -> float:
        return self.world.now


def target_group_arn(asg_name: str) -> str:
    return f"{TG_PREFIX}{asg_name}/0123456789abcdef"


def processes_of(group: Group) -> Sequence[str]:
    return sorted(group.suspended)
