"""Discover against moto: one ASG's capacity and every instance, with the URL its version is read from.

Discover never connects to an instance, but every template here still names loopback as its host.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ec2.models import ec2_backends

from tasks.domain.fleet import Fleet
from tasks.errors import AsgNotFoundError, InvalidStepInputError
from tests.functional.support import REGION, group
from tests.functional.support import discover_fleet as discover

if TYPE_CHECKING:
    from collections.abc import Callable


def ec2_instances(ec2: Any, ids: list[str]) -> dict[str, dict[str, Any]]:
    pages = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    return {i["InstanceId"]: i for r in pages for i in r["Instances"]}


def test_discover_reports_capacity_and_every_instance(make_asg: Callable[..., list[str]], ec2: Any) -> None:
    ids = make_asg("live_asg_web", 3, zones=("us-east-1a",), max_size=5, tags={"Name": "web node/1"})

    fleet = discover(
        {
            "asg_name": "live_asg_web",
            "version_url": "http://127.0.0.1:9/{InstanceId}/version?name={tag:Name}&az={AvailabilityZone}",
        },
        None,
    )

    assert (fleet["asg_name"], fleet["desired"], fleet["min_size"], fleet["max_size"]) == ("live_asg_web", 3, 0, 5)
    launched = {k: v["LaunchTime"] for k, v in ec2_instances(ec2, ids).items()}
    assert [i["id"] for i in fleet["instances"]] == sorted(ids, key=lambda i: (launched[i], i))  # oldest first
    for instance in fleet["instances"]:
        # InService and Healthy, the usual case, go unsaid.
        assert instance == {
            "id": instance["id"],
            "az": "us-east-1a",
            "url": f"http://127.0.0.1:9/{instance['id']}/version?name=web%20node%2F1&az=us-east-1a",
        }


def test_each_instance_keeps_its_own_zone(make_asg: Callable[..., list[str]], autoscaling: Any, ec2: Any) -> None:
    ids = make_asg("web", 6, zones=("us-east-1a", "us-east-1b", "us-east-1c"))
    # Scale out so instances land in more than one zone in moto, whatever its placement order.
    autoscaling.set_desired_capacity(AutoScalingGroupName="web", DesiredCapacity=9)
    ids = sorted(i["InstanceId"] for i in group(autoscaling, "web")["Instances"])

    fleet = discover({"asg_name": "web", "version_url": "http://127.0.0.1:9/{AvailabilityZone}/{InstanceId}"}, None)

    placed = {k: v["Placement"]["AvailabilityZone"] for k, v in ec2_instances(ec2, ids).items()}
    by_asg = {i["InstanceId"]: i["AvailabilityZone"] for i in group(autoscaling, "web")["Instances"]}
    assert len(fleet["instances"]) == 9
    for instance in fleet["instances"]:
        assert instance["az"] == by_asg[instance["id"]] == placed[instance["id"]]
        assert instance["url"] == f"http://127.0.0.1:9/{instance['az']}/{instance['id']}"


def test_discover_reports_lifecycle_and_health_as_auto_scaling_sees_them(
    make_asg: Callable[..., list[str]], autoscaling: Any
) -> None:
    ids = make_asg("web", 3, zones=("us-east-1a",))
    autoscaling.set_instance_health(InstanceId=ids[0], HealthStatus="Unhealthy")
    autoscaling.enter_standby(AutoScalingGroupName="web", InstanceIds=[ids[1]], ShouldDecrementDesiredCapacity=True)

    fleet = discover({"asg_name": "web", "version_url": "http://127.0.0.1:9/{InstanceId}/version"}, None)

    seen = {i.id: (i.lifecycle, i.health) for i in Fleet.from_record(fleet).instances}
    assert seen[ids[0]] == ("InService", "Unhealthy")
    assert seen[ids[1]][0] == "Standby"
    assert seen[ids[2]] == ("InService", "Healthy")
    assert fleet["desired"] == group(autoscaling, "web")["DesiredCapacity"] == 2


def test_a_tag_the_instance_lacks_leaves_it_without_url_and_says_why(make_asg: Callable[..., list[str]]) -> None:
    make_asg("web", 2, tags={"Name": "web"})

    fleet = discover({"asg_name": "web", "version_url": "http://127.0.0.1:9/{tag:Owner}/version"}, None)

    assert [(i.url, i.reason) for i in Fleet.from_record(fleet).instances] == [
        (None, "no tag:Owner for the version URL")
    ] * 2


def test_a_tag_value_cannot_change_the_host_of_the_url(make_asg: Callable[..., list[str]]) -> None:
    make_asg("web", 1, tags={"Role": "evil.example/x?y=1#z"})

    fleet = discover({"asg_name": "web", "version_url": "http://127.0.0.1:9/{tag:Role}/version"}, None)

    assert fleet["instances"][0]["url"] == "http://127.0.0.1:9/evil.example%2Fx%3Fy%3D1%23z/version"


def test_a_dot_dot_tag_value_cannot_move_the_path(make_asg: Callable[..., list[str]]) -> None:
    make_asg("web", 1, tags={"Role": ".."})

    fleet = discover({"asg_name": "web", "version_url": "http://127.0.0.1:9/app/{tag:Role}/version"}, None)

    assert fleet["instances"][0]["url"] == "http://127.0.0.1:9/app/%2E%2E/version"


def test_an_asg_with_no_instances_is_an_empty_fleet(make_asg: Callable[..., list[str]]) -> None:
    make_asg("empty", 0)

    fleet = discover({"asg_name": "empty", "version_url": "http://127.0.0.1:9/{InstanceId}"}, None)

    assert (fleet["desired"], fleet["instances"]) == (0, [])


def test_an_asg_that_does_not_exist_raises_asg_not_found(make_asg: Callable[..., list[str]]) -> None:
    make_asg("web", 1)

    with pytest.raises(AsgNotFoundError) as raised:
        discover({"asg_name": "live_asg_ghost", "version_url": "http://127.0.0.1:9/{InstanceId}"}, None)

    assert type(raised.value).__name__ == "AsgNotFoundError"
    assert str(raised.value) == "live_asg_ghost: no Auto Scaling group of that name in this account and region"


def test_an_event_without_version_url_is_invalid_step_input(aws: None) -> None:
    with pytest.raises(InvalidStepInputError, match=r"^discover input: version_url: required field is missing$"):
        discover({"asg_name": "web"}, None)


def test_an_instance_ec2_cannot_describe_yet_is_reported_not_fatal(make_asg: Callable[..., list[str]]) -> None:
    ids = make_asg("web", 3)
    # Auto Scaling lists the instance, EC2's DescribeInstances does not know it yet.
    backend = ec2_backends[DEFAULT_ACCOUNT_ID][REGION]
    for reservation in backend.reservations.values():
        reservation.instances = [i for i in reservation.instances if i.id != ids[0]]

    fleet = discover({"asg_name": "web", "version_url": "http://127.0.0.1:9/{InstanceId}/version"}, None)

    by_id = {i["id"]: i for i in fleet["instances"]}
    assert by_id[ids[0]] == {"id": ids[0], "az": by_id[ids[0]]["az"], "reason": "not yet described by EC2"}
    assert by_id[ids[1]]["url"] == f"http://127.0.0.1:9/{ids[1]}/version"


def test_an_instance_ec2_shuts_down_is_terminating_whatever_the_group_still_lists(
    make_asg: Callable[..., list[str]],
) -> None:
    """The group's list lags a termination (found by the simulation, seed 20425: a give-back took an
    instance terminated just before for a booting one, by a second decrement, and Auto Scaling scaled
    in the serving one). EC2 shutting it down makes it Terminating: desired capacity no longer counts it."""
    ids = make_asg("web", 2)
    ec2_backends[DEFAULT_ACCOUNT_ID][REGION].get_instance(ids[0])._state.name = "shutting-down"

    fleet = discover({"asg_name": "web", "version_url": "http://127.0.0.1:9/{InstanceId}/version"}, None)

    by_id = {i["id"]: Fleet.from_record({**fleet, "instances": [i]}).instances[0] for i in fleet["instances"]}
    assert by_id[ids[0]].lifecycle == "Terminating" and not by_id[ids[0]].in_capacity
    assert by_id[ids[1]].lifecycle == "InService"
