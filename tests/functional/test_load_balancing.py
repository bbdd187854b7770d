"""Issue #6 item 2: an instance serves only when healthy in every target group; a batch is drained
(deregistered, its delay waited out by the ASL) before it is terminated. Against moto's elbv2."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3

from tasks import runtime
from tasks.domain.decide import decide
from tasks.domain.fleet import Progress
from tasks.handlers.drain import handler as drain
from tests.functional.support import OLD, REGION, leased, target_group
from tests.functional.support import discover_fleet as discover
from tests.unit.builders import ASG, TARGET, fleet, instance, policy

if TYPE_CHECKING:
    from collections.abc import Callable


def test_instances_report_their_target_group_health(make_asg: Callable[..., list[str]], autoscaling: Any) -> None:
    ids = make_asg(ASG, 3, zones=("us-east-1a",))
    arn = target_group(autoscaling, ASG)
    boto3.client("elbv2", region_name=REGION).deregister_targets(TargetGroupArn=arn, Targets=[{"Id": ids[0]}])

    found = {
        i["id"]: i.get("lb")
        for i in discover({"asg_name": ASG, "version_url": "http://127.0.0.1:9/{InstanceId}"}, None)["instances"]
    }

    assert found[ids[1]] == found[ids[2]] == "healthy"
    assert found[ids[0]] == "not registered in target group live-asg-web-tg"


def test_without_target_groups_the_record_says_nothing_of_them(make_asg: Callable[..., list[str]]) -> None:
    make_asg(ASG, 1, zones=("us-east-1a",))
    (record,) = discover({"asg_name": ASG, "version_url": "http://127.0.0.1:9/{InstanceId}"}, None)["instances"]
    assert "lb" not in record


def test_drain_deregisters_the_batch_and_gives_the_delay_to_wait(
    make_asg: Callable[..., list[str]], autoscaling: Any
) -> None:
    ids = make_asg(ASG, 3, zones=("us-east-1a",))
    arn = target_group(autoscaling, ASG, delay_seconds=7)
    seen = fleet(*(instance(i, OLD) for i in ids))
    chosen = decide(seen, Progress(), policy(target_version=TARGET, min_healthy=2), runtime.now())

    drained = drain(
        {"asg_name": ASG, "release_id": leased(ASG), "progress": chosen.to_record(), "alarm_names": []}, None
    )

    assert drained == {"instance_ids": [ids[0]], "target_groups": 1, "seconds": 7}
    health = boto3.client("elbv2", region_name=REGION).describe_target_health(TargetGroupArn=arn)
    assert ids[0] not in {d["Target"]["Id"] for d in health["TargetHealthDescriptions"]}


def test_drain_without_target_groups_waits_nothing(make_asg: Callable[..., list[str]]) -> None:
    ids = make_asg(ASG, 2, zones=("us-east-1a",))
    seen = fleet(*(instance(i, OLD) for i in ids))
    chosen = decide(seen, Progress(), policy(target_version=TARGET, min_healthy=1), runtime.now())
    assert (
        drain({"asg_name": ASG, "release_id": leased(ASG), "progress": chosen.to_record(), "alarm_names": []}, None)[
            "seconds"
        ]
        == 0
    )
