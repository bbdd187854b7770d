"""Issue #6 item 8: a warm pool's instances are seen but never counted as serving, probed or
terminated (tests/workflow/test_lifecycle_hooks.py has the launch hooks).

moto keeps no instances in a warm pool, so DescribeWarmPool's answer is given here through a
botocore hook on a client of our own: AWS's documented shape, everything else is moto.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
from botocore.awsrequest import AWSResponse

from tasks import runtime
from tasks.adapters.autoscaling import AutoScaling
from tasks.adapters.ec2 import Ec2
from tasks.adapters.fleet_reader import FleetReader, read_versions
from tasks.adapters.version_probe import VersionProber
from tasks.domain.decide import decide
from tasks.domain.fleet import Progress
from tests.functional.support import NEW, OLD, REGION
from tests.unit.builders import policy

if TYPE_CHECKING:
    from collections.abc import Callable

    from asg_terminator.simulator import FleetSimulator

WARM = [
    {"InstanceId": "i-0warm00000000001", "LifecycleState": "Warmed:Stopped", "HealthStatus": "Healthy"},
    {"InstanceId": "i-0warm00000000002", "LifecycleState": "Warmed:Running", "HealthStatus": "Healthy"},
]


def reader(answers: list[dict[str, Any]]) -> tuple[FleetReader, list[int]]:
    """A FleetReader on moto whose DescribeWarmPool answers ``answers`` (pages); counts the calls."""
    autoscaling = boto3.client("autoscaling", region_name=REGION)
    calls: list[int] = []

    def answer(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        calls.append(1)
        page = answers[len(calls) - 1]
        return AWSResponse("https://autoscaling", 200, {}, None), {**page, "ResponseMetadata": {"HTTPStatusCode": 200}}

    autoscaling.meta.events.register("before-call.autoscaling.DescribeWarmPool", answer)
    return FleetReader(AutoScaling(autoscaling), Ec2(boto3.client("ec2", region_name=REGION))), calls


def test_warm_pool_instances_are_listed_and_never_read_counted_or_terminated(
    make_asg: Callable[..., list[str]], autoscaling: Any, simulator: FleetSimulator
) -> None:
    ids = make_asg("live_asg_web", 2, zones=("us-east-1a",))
    simulator.adopt(ids, OLD)
    autoscaling.put_warm_pool(AutoScalingGroupName="live_asg_web", MinSize=2)
    fleets, calls = reader([{"Instances": WARM[:1], "NextToken": "more"}, {"Instances": WARM[1:]}])

    fleet = read_versions(
        fleets.discover("live_asg_web", simulator.url_template), VersionProber(1, allowed_hosts=("127.0.0.1",))
    )

    warm = {i.id: i for i in fleet.instances if i.id.startswith("i-0warm")}
    assert len(calls) == 2  # both pages
    assert {i.lifecycle for i in warm.values()} == {"Warmed:Stopped", "Warmed:Running"}
    assert all(i.url is None and i.version is None and i.reason == "in the warm pool" for i in warm.values())
    key = "fleets/t/live_asg_web/" + "0" * 32 + ".json"
    chosen = decide(fleet, Progress(), policy(target_version=NEW, min_healthy=1), runtime.now(), key)
    decision = chosen.decision
    assert decision is not None and decision.action == "terminate"
    assert set(decision.batch) <= set(ids)  # never a warm one
    # The read the decision names lists the warm instances: one that enters the group is no newcomer.
    assert decision.fleet_key == key and set(warm) <= {i.id for i in fleet.instances}
    assert chosen.versions_before == {OLD: 2}  # not counted


def test_without_a_warm_pool_there_is_no_extra_call(make_asg: Callable[..., list[str]]) -> None:
    make_asg("live_asg_web", 2, zones=("us-east-1a",))
    fleets, calls = reader([])
    assert len(fleets.discover("live_asg_web", "http://127.0.0.1:9/{InstanceId}/version").instances) == 2
    assert calls == []
