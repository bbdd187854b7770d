"""Letting an ASG go after a drain whose batch was not terminated, when a drained instance no longer
runs: RegisterTargets refuses it (InvalidTarget) and, before the fix, the whole give-back with it,
so UnlockAsg and Cleanup never finished and the lease, the suspended processes and the surge stayed.
Against moto's elbv2, which refuses a target that is not running as ELBv2 does."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.stub import Stubber

from tasks import ownership, runtime
from tasks.adapters.elbv2 import LoadBalancing
from tasks.adapters.fleet_reader import FleetReader
from tasks.adapters.stepfunctions import ExecutionState
from tasks.errors import AwsThrottledError
from tasks.handlers.unlock_asg import handler as unlock_asg
from tests.functional.support import REGION, group, leased, target_group

if TYPE_CHECKING:
    from collections.abc import Callable

    from tasks.domain.fleet import Fleet

A = "arn:aws:states:us-east-1:123456789012:execution:asg-terminator-release:A"


def registered(arn: str) -> set[str]:
    health = boto3.client("elbv2", region_name=REGION).describe_target_health(TargetGroupArn=arn)
    return {d["Target"]["Id"] for d in health["TargetHealthDescriptions"]}


def test_unlock_registers_the_drained_instances_that_run_and_names_one_stopped_since(
    make_asg: Callable[..., list[str]], autoscaling: Any
) -> None:
    """A stopped instance stays InService in the group until a health check sees it; ELBv2 refuses it."""
    ids = make_asg("web", 3)
    tg = target_group(autoscaling, "web")
    release_id = leased("web", suspend_processes=["AZRebalance"])
    ownership.drain("web", release_id, [tg], ids[:2])  # then the release failed before Terminate
    boto3.client("ec2", region_name=REGION).stop_instances(InstanceIds=[ids[0]])

    done = unlock_asg({"asg_name": "web", "release_id": release_id}, None)

    assert done["unlocked"] is True and runtime.leases().get("web") is None
    assert ids[1] in registered(tg) and ids[0] not in registered(tg)
    assert group(autoscaling, "web")["SuspendedProcesses"] == []
    assert any(ids[0] in note and "no longer running" in note for note in done["notes"])


def test_cleanup_lets_go_when_a_drained_instance_was_terminated_and_the_group_still_lists_it(
    make_asg: Callable[..., list[str]], autoscaling: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DescribeAutoScalingGroups may list an instance terminated outside the group as InService for a
    while: the read is taken before the termination, as such a lagging read would show it."""
    ids = make_asg("web", 3, max_size=6)
    tg = target_group(autoscaling, "web")
    release_id = leased("web", max_surge=1, suspend_processes=["AZRebalance"])
    ownership.drain("web", release_id, [tg], ids[:2])
    stale = runtime.fleet_reader().discover("web", None, guarded=False)
    boto3.client("ec2", region_name=REGION).terminate_instances(InstanceIds=[ids[0]])

    def lagging(self: FleetReader, asg_name: str, version_url: str | None, guarded: bool = True) -> Fleet:
        return stale

    class Stopped:
        def state_of(self, arn: str) -> ExecutionState:
            return ExecutionState("ABORTED" if arn == release_id else None, time.time() - 100, None)

        def is_running(self, arn: str) -> bool:
            return False

    monkeypatch.setattr(FleetReader, "discover", lagging)
    monkeypatch.setattr(runtime, "stepfunctions", Stopped)
    done = ownership.clean_up(release_id, time.time() - 100)

    assert done["web"].unlocked is True and runtime.leases().get("web") is None
    assert ids[1] in registered(tg)
    assert group(autoscaling, "web")["SuspendedProcesses"] == []
    assert int(group(autoscaling, "web")["DesiredCapacity"]) == 3  # the surge given back
    assert any(ids[0] in note for note in done["web"].notes)


def test_register_retries_one_by_one_only_on_invalid_target(aws: None) -> None:
    client = boto3.client("elbv2", region_name=REGION)
    arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123abcd"
    refused = {"Code": "InvalidTarget", "Message": "The following targets are not in a running state: 'i-1'"}
    with Stubber(client) as stub:
        stub.add_client_error("register_targets", refused["Code"], refused["Message"], 400)
        stub.add_client_error("register_targets", refused["Code"], refused["Message"], 400)
        stub.add_response("register_targets", {}, {"TargetGroupArn": arn, "Targets": [{"Id": "i-2"}]})
        assert LoadBalancing(client).register([arn], ["i-1", "i-2"]) == ("i-1",)

        stub.add_client_error("register_targets", "Throttling", "Rate exceeded", 400)
        with pytest.raises(AwsThrottledError, match="RegisterTargets web"):
            LoadBalancing(client).register([arn], ["i-1", "i-2"])
        stub.assert_no_pending_responses()


def test_a_rollback_registers_the_drained_instances_that_run_and_goes_on_without_one_stopped_since(
    make_asg: Callable[..., list[str]], autoscaling: Any
) -> None:
    ids = make_asg("web", 3)
    tg = target_group(autoscaling, "web")
    release_id = leased("web")
    ownership.drain("web", release_id, [tg], ids[:2])  # then an alarm stopped Terminate
    boto3.client("ec2", region_name=REGION).stop_instances(InstanceIds=[ids[0]])

    back = ownership.undrain("web", release_id)

    assert back == (ids[1],) and ids[1] in registered(tg) and ids[0] not in registered(tg)
    held = runtime.leases().get("web")
    assert held is not None and held.drained == ()
