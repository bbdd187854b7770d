"""The version URL can only reach the instance: the real ASL, the real handlers, a simulated fleet on
loopback. (Bounded records for 2,000 instances: tests/functional/test_payload_bounds.py, as a real-ASL
run of that fleet on moto takes over two minutes.)"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tasks import runtime
from tests.workflow.harness import run_execution

if TYPE_CHECKING:
    from tests.workflow.conftest import World

OLD, NEW = "1.0.266", "1.0.274"


@pytest.mark.parametrize(
    ("version_url", "said"),
    [
        ("http://169.254.169.254/latest/meta-data", "version_url: host '169.254.169.254' is a link-local or metadata"),
        ("http://[fd00:ec2::254]/latest/meta-data", "version_url: host 'fd00:ec2::254' is a link-local or metadata"),
        ("http://{tag:Name}.internal/version", "version_url: {tag:Name} may appear only in the path"),
        ("http://metadata.internal/{InstanceId}", "version_url: host 'metadata.internal' is not an instance address"),
    ],
)
def test_a_version_url_that_does_not_reach_the_instance_fails_at_validate_input(
    world: World, version_url: str, said: str
) -> None:
    world.fleet(build=NEW)
    ids = world.asg("live_asg_web", 2, OLD)

    execution, _ = world.release({"asg_names": ["live_asg_web"], "target_version": NEW, "version_url": version_url})

    assert execution.status == "FAILED"
    assert execution.error == "InvalidExecutionInputError"
    assert said in execution.cause_message()
    assert execution.states_entered() == ["RouteInput", "ValidateInput"]
    assert world.versions("live_asg_web") == [OLD, OLD] and len(ids) == 2


def test_loopback_is_refused_unless_listed_in_allowed_version_hosts(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.fleet(build=NEW)
    world.asg("live_asg_web", 1, OLD)
    monkeypatch.setenv("ALLOWED_VERSION_HOSTS", "")  # the stack's default
    runtime.settings.cache_clear()

    execution, _ = world.release({"asg_names": ["live_asg_web"], "target_version": NEW})

    assert execution.status == "FAILED"
    assert execution.error == "InvalidExecutionInputError"
    assert "version_url: host '127.0.0.1' is not an instance address" in execution.cause_message()
    assert world.versions("live_asg_web") == [OLD]


def test_a_rendered_metadata_address_is_never_probed(world: World, loopback_only: list[object]) -> None:
    """Instances whose private address is next to the metadata service (moto lets a subnet be
    169.254.169.0/24): the default version URL renders 169.254.169.x, and ReadVersions refuses each
    one before connecting; nothing is read, so nothing is terminated and the release stalls."""
    world.fleet(build=NEW)
    ec2, autoscaling = world.ec2, world.autoscaling
    vpc = ec2.create_vpc(CidrBlock="169.254.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="169.254.169.0/24", AvailabilityZone="us-east-1a")["Subnet"]
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    ec2.create_launch_template(LaunchTemplateName="web-lt", LaunchTemplateData={"ImageId": image})
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="web",
        LaunchTemplate={"LaunchTemplateName": "web-lt"},
        MinSize=0,
        MaxSize=3,
        DesiredCapacity=2,
        VPCZoneIdentifier=subnet["SubnetId"],
        Tags=[{"Key": "asg-terminator:app", "Value": "web", "PropagateAtLaunch": True}],
    )
    group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["web"])["AutoScalingGroups"][0]
    ids = sorted(i["InstanceId"] for i in group["Instances"])
    described = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    assert all(i["PrivateIpAddress"].startswith("169.254.169.") for r in described for i in r["Instances"])

    execution = run_execution(
        world.sfn,
        world.machine_arn,
        {"asg_names": ["web"], "target_version": NEW, "poll_seconds": 1, "replacement_timeout_seconds": 2},
    )

    assert execution.status == "FAILED"
    read = execution.task_outputs("ReadVersions")
    assert read
    stored = runtime.fleet_records().read(read[0]["fleet"]).fleet.to_record()  # the state names it by key
    assert {(i["id"], i.get("reason")) for i in stored["instances"]} == {(i, "address not allowed") for i in ids}
    assert execution.terminated() == []
    group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["web"])["AutoScalingGroups"][0]
    assert sorted(i["InstanceId"] for i in group["Instances"]) == ids
    assert loopback_only == []  # no connection was even tried
