"""EC2 Auto Scaling: read a group, terminate an instance so that the group replaces it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from tasks.adapters.aws_errors import code_of, translate
from tasks.errors import AsgNotFoundError

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient
else:
    AutoScalingClient = Any


def tags_of(group: dict[str, Any]) -> dict[str, str]:
    """A described group's tags, by key."""
    return {str(t["Key"]): str(t["Value"]) for t in group.get("Tags", [])}


def suspended_of(group: dict[str, Any]) -> tuple[str, ...]:
    """The names of a described group's suspended processes."""
    return tuple(sorted(str(p["ProcessName"]) for p in group.get("SuspendedProcesses", [])))


@dataclass(frozen=True)
class Member:
    """One instance as Auto Scaling lists it, in the group or in its warm pool."""

    id: str
    lifecycle: str
    health: str
    az: str = ""
    protected: bool = False  # scale-in protection

    @classmethod
    def of(cls, instance: dict[str, Any]) -> Member:
        return cls(
            id=str(instance["InstanceId"]),
            lifecycle=str(instance["LifecycleState"]),
            health=str(instance.get("HealthStatus", "")),
            az=str(instance.get("AvailabilityZone", "")),
            protected=bool(instance.get("ProtectedFromScaleIn", False)),
        )


@dataclass(frozen=True)
class Group:
    """What the release's steps read of a described group, typed (not DescribeAutoScalingGroups' dict)."""

    name: str
    desired: int
    min_size: int
    max_size: int
    tags: dict[str, str]
    suspended: tuple[str, ...]  # suspended process names, sorted
    target_groups: tuple[str, ...]
    members: tuple[Member, ...]  # in the order Auto Scaling lists them
    warm_pool: bool = False  # the group has a warm pool (its instances: AutoScaling.warm_pool)

    @property
    def lifecycle(self) -> dict[str, str]:
        """Each member instance's LifecycleState, by id."""
        return {m.id: m.lifecycle for m in self.members}

    @classmethod
    def of(cls, group: dict[str, Any]) -> Group:
        return cls(
            name=str(group["AutoScalingGroupName"]),
            desired=int(group["DesiredCapacity"]),
            min_size=int(group.get("MinSize", 0)),
            max_size=int(group["MaxSize"]),
            tags=tags_of(group),
            suspended=suspended_of(group),
            target_groups=tuple(str(t) for t in group.get("TargetGroupARNs", [])),
            members=tuple(Member.of(dict(i)) for i in group.get("Instances", [])),
            warm_pool=bool(group.get("WarmPoolConfiguration")),
        )


class AutoScaling:
    def __init__(self, client: AutoScalingClient) -> None:
        self._client = client

    def describe_group(self, name: str) -> Group:
        """The group with every instance (DescribeAutoScalingGroups lists a group's instances whole)."""
        try:
            groups = self._client.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
        except (ClientError, BotoCoreError) as e:
            raise translate(e, f"DescribeAutoScalingGroups {name}") from e
        found = groups.get("AutoScalingGroups", [])
        if not found:
            raise AsgNotFoundError(f"{name}: no Auto Scaling group of that name in this account and region")
        return Group.of(dict(found[0]))

    def warm_pool(self, name: str) -> tuple[Member, ...]:
        """The instances in the group's warm pool (DescribeWarmPool, every page)."""
        instances: list[Member] = []
        kwargs: dict[str, Any] = {"AutoScalingGroupName": name}
        try:
            while True:
                page = self._client.describe_warm_pool(**kwargs)
                instances.extend(Member.of(dict(i)) for i in page.get("Instances", []))
                if not page.get("NextToken"):
                    return tuple(instances)
                kwargs["NextToken"] = page["NextToken"]
        except (ClientError, BotoCoreError) as e:
            raise translate(e, f"DescribeWarmPool {name}") from e

    def set_tag(self, name: str, key: str, value: str) -> None:
        tag = {
            "ResourceId": name,
            "ResourceType": "auto-scaling-group",
            "Key": key,
            "Value": value,
            "PropagateAtLaunch": False,
        }
        try:
            self._client.create_or_update_tags(Tags=[tag])  # type: ignore[list-item]
        except (ClientError, BotoCoreError) as e:
            raise translate(e, f"CreateOrUpdateTags {name} {key}") from e

    def delete_tag_if(self, name: str, key: str, value: str) -> bool:
        """Delete the tag when it still holds ``value``; False when it does not, or the group is gone."""
        try:
            groups = self._client.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
        except (ClientError, BotoCoreError) as e:
            raise translate(e, f"DescribeAutoScalingGroups {name}") from e
        if not groups or tags_of(dict(groups[0])).get(key) != value:
            return False
        self.delete_tag(name, key)
        return True

    def delete_tag(self, name: str, key: str) -> None:
        try:
            self._client.delete_tags(Tags=[{"ResourceId": name, "ResourceType": "auto-scaling-group", "Key": key}])
        except (ClientError, BotoCoreError) as e:
            raise translate(e, f"DeleteTags {name} {key}") from e

    def set_desired(self, name: str, capacity: int) -> None:
        """Set desired capacity now (cooldowns are for scaling policies, not for a release)."""
        try:
            self._client.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=capacity, HonorCooldown=False)
        except (ClientError, BotoCoreError) as e:
            raise translate(e, f"SetDesiredCapacity {name} {capacity}") from e

    def suspend(self, name: str, processes: tuple[str, ...] | list[str]) -> None:
        self._processes("suspend", name, processes)

    def resume(self, name: str, processes: tuple[str, ...] | list[str]) -> None:
        self._processes("resume", name, processes)

    def _processes(self, verb: str, name: str, processes: tuple[str, ...] | list[str]) -> None:
        call = self._client.suspend_processes if verb == "suspend" else self._client.resume_processes
        try:
            call(AutoScalingGroupName=name, ScalingProcesses=list(processes))
        except (ClientError, BotoCoreError) as e:
            raise translate(e, f"{verb.capitalize()}Processes {name} {' '.join(processes)}") from e

    def tagged(self, key: str, value: str) -> dict[str, dict[str, str]]:
        """Every ASG carrying the tag ``key=value``, with all its tags (paginated)."""
        found: dict[str, dict[str, str]] = {}
        try:
            paginator = self._client.get_paginator("describe_auto_scaling_groups")
            for page in paginator.paginate(Filters=[{"Name": f"tag:{key}", "Values": [value]}]):
                found.update((str(g["AutoScalingGroupName"]), tags_of(dict(g))) for g in page["AutoScalingGroups"])
        except (ClientError, BotoCoreError) as e:
            raise translate(e, f"DescribeAutoScalingGroups tag:{key}={value}") from e
        return found

    def terminate_in_group(self, instance_id: str, decrement: bool = False) -> bool:
        """Terminate through Auto Scaling, keeping desired capacity so a replacement launches (or,
        with ``decrement``, lowering it by one: giving capacity back instance by instance).

        Returns False when the instance already left the group (terminated by someone else, or an
        earlier attempt of this same step that was retried): the outcome we asked for holds.
        Never ec2:TerminateInstances, which would fight the group instead of using it.
        """
        try:
            self._client.terminate_instance_in_auto_scaling_group(
                InstanceId=instance_id, ShouldDecrementDesiredCapacity=decrement
            )
        except ClientError as e:
            if code_of(e) == "ValidationError" and _already_gone(e):
                return False
            raise translate(e, f"TerminateInstanceInAutoScalingGroup {instance_id}") from e
        except BotoCoreError as e:
            raise translate(e, f"TerminateInstanceInAutoScalingGroup {instance_id}") from e
        return True


def _already_gone(error: ClientError) -> bool:
    message = str(error.response.get("Error", {}).get("Message", "")).lower()
    return "not found" in message or "terminat" in message or "not part of" in message
