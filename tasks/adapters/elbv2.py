"""Elastic Load Balancing v2: the health of an ASG's instances in its target groups, and draining."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from tasks.adapters.aws_errors import code_of, translate

if TYPE_CHECKING:
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client
else:
    ElasticLoadBalancingv2Client = Any

HEALTHY = "healthy"
DELAY = "deregistration_delay.timeout_seconds"
INVALID_TARGET = "InvalidTarget"  # RegisterTargets: an instance that is not running (terminated, stopped)


def _name(target_group_arn: str) -> str:
    """``arn:...:targetgroup/web/0123abcd`` -> ``web``."""
    return target_group_arn.split(":targetgroup/", 1)[-1].split("/", 1)[0]


class LoadBalancing:
    def __init__(self, client: ElasticLoadBalancingv2Client) -> None:
        self._client = client

    def health(self, target_group_arns: list[str], instance_ids: list[str]) -> dict[str, str]:
        """Per instance: ``healthy`` when healthy in every target group, else why not (the first one)."""
        verdicts = dict.fromkeys(instance_ids, HEALTHY)
        for arn in target_group_arns:
            try:
                described = self._client.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
            except (ClientError, BotoCoreError) as e:
                raise translate(e, f"DescribeTargetHealth {_name(arn)}") from e
            states = {d["Target"]["Id"]: d.get("TargetHealth", {}).get("State", "unknown") for d in described}
            for instance_id in instance_ids:
                state = states.get(instance_id, "not registered")
                if state != HEALTHY and verdicts[instance_id] == HEALTHY:
                    verdicts[instance_id] = f"{state} in target group {_name(arn)}"
        return verdicts

    def register(
        self, target_group_arns: list[str] | tuple[str, ...], instance_ids: list[str] | tuple[str, ...]
    ) -> tuple[str, ...]:
        """Put the instances back into every target group (undoing a drain whose batch was not
        terminated); returns those refused because they no longer run (InvalidTarget: terminated or
        stopped since the group was read, which Auto Scaling may not show yet). RegisterTargets refuses
        the whole call for one such instance: the others are then registered one by one, so every
        instance that runs goes back in."""
        refused: dict[str, None] = {}
        for arn in target_group_arns:
            try:
                self._client.register_targets(TargetGroupArn=arn, Targets=[{"Id": i} for i in instance_ids])
            except ClientError as e:
                if code_of(e) != INVALID_TARGET:
                    raise translate(e, f"RegisterTargets {_name(arn)}") from e
                refused.update(dict.fromkeys(i for i in instance_ids if not self._register_one(arn, i)))
            except BotoCoreError as e:
                raise translate(e, f"RegisterTargets {_name(arn)}") from e
        return tuple(refused)

    def _register_one(self, arn: str, instance_id: str) -> bool:
        """False when the target group refuses the instance as a target (InvalidTarget)."""
        try:
            self._client.register_targets(TargetGroupArn=arn, Targets=[{"Id": instance_id}])
        except ClientError as e:
            if code_of(e) == INVALID_TARGET:
                return False
            raise translate(e, f"RegisterTargets {_name(arn)} {instance_id}") from e
        except BotoCoreError as e:
            raise translate(e, f"RegisterTargets {_name(arn)} {instance_id}") from e
        return True

    def deregister(self, target_group_arns: list[str], instance_ids: list[str]) -> int:
        """Take the instances out of every target group; returns the longest deregistration delay (s)."""
        delay = 0
        for arn in target_group_arns:
            try:
                self._client.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": i} for i in instance_ids])
                attributes = self._client.describe_target_group_attributes(TargetGroupArn=arn)["Attributes"]
            except (ClientError, BotoCoreError) as e:
                raise translate(e, f"DeregisterTargets {_name(arn)}") from e
            seconds = next((a.get("Value", "0") for a in attributes if a.get("Key") == DELAY), "0")
            delay = max(delay, int(seconds))
        return delay
