"""The Auto Scaling adapter's typed group: what LockAsg, Drain and Terminate read, from a real
DescribeAutoScalingGroups answer (botocore's Stubber validates its shape; no request leaves the process)."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
from botocore.stub import Stubber

from tasks.adapters.autoscaling import AutoScaling, Group, Member
from tests.functional.support import REGION


def test_a_described_group_reads_as_a_typed_value() -> None:
    client = boto3.client("autoscaling", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    described = {
        "AutoScalingGroupName": "live_asg_web",
        "MinSize": 1,
        "MaxSize": 6,
        "DesiredCapacity": 3,
        "DefaultCooldown": 300,
        "AvailabilityZones": ["eu-west-1a"],
        "HealthCheckType": "EC2",
        "CreatedTime": datetime(2026, 1, 1, tzinfo=UTC),
        "Instances": [
            {
                "InstanceId": "i-0a01",
                "AvailabilityZone": "eu-west-1a",
                "LifecycleState": "InService",
                "HealthStatus": "Healthy",
                "ProtectedFromScaleIn": False,
            },
            {
                "InstanceId": "i-0a02",
                "AvailabilityZone": "eu-west-1a",
                "LifecycleState": "Terminating:Wait",
                "HealthStatus": "Healthy",
                "ProtectedFromScaleIn": False,
            },
        ],
        "SuspendedProcesses": [
            {"ProcessName": "Launch", "SuspensionReason": "User suspended"},
            {"ProcessName": "AZRebalance", "SuspensionReason": "User suspended"},
        ],
        "TargetGroupARNs": ["arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef"],
        "Tags": [{"Key": "asg-terminator:min-healthy", "Value": "2", "ResourceId": "live_asg_web"}],
    }
    with Stubber(client) as stubber:
        stubber.add_response(
            "describe_auto_scaling_groups",
            {"AutoScalingGroups": [described]},
            {"AutoScalingGroupNames": ["live_asg_web"]},
        )
        group = AutoScaling(client).describe_group("live_asg_web")

    assert group == Group(
        name="live_asg_web",
        desired=3,
        min_size=1,
        max_size=6,
        tags={"asg-terminator:min-healthy": "2"},
        suspended=("AZRebalance", "Launch"),
        target_groups=("arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef",),
        members=(
            Member("i-0a01", "InService", "Healthy", "eu-west-1a"),
            Member("i-0a02", "Terminating:Wait", "Healthy", "eu-west-1a"),
        ),
    )
    assert group.lifecycle == {"i-0a01": "InService", "i-0a02": "Terminating:Wait"}
    assert group.warm_pool is False
