"""Issue #6 item 2 on the real ASL: with target groups, each batch is drained before it goes, and a
replacement counts only once healthy in every target group."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import boto3

from tests.functional.support import target_group

if TYPE_CHECKING:
    from tests.workflow.conftest import World

OLD, NEW = "1.0.266", "1.0.274"


def test_each_batch_is_drained_then_terminated_and_replacements_wait_for_target_health(world: World) -> None:
    world.fleet(build=NEW)
    original = world.asg("live_asg_web", 3, OLD)
    arn = target_group(world.autoscaling, "live_asg_web", delay_seconds=1)
    elbv2 = boto3.client("elbv2", region_name="us-east-1")
    stop, held = threading.Event(), set()

    def register_late() -> None:
        """Each replacement registers 2 s after it appears, as a slow health check would pass."""
        seen: dict[str, float] = {}
        while not stop.wait(0.05):
            group = world.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["live_asg_web"])
            for member in group["AutoScalingGroups"][0]["Instances"]:
                instance_id = member["InstanceId"]
                if instance_id in original or instance_id in held:
                    continue
                if instance_id not in seen:  # Auto Scaling registered it at launch: not healthy yet
                    seen[instance_id] = time.monotonic()
                    elbv2.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": instance_id}])
                elif time.monotonic() - seen[instance_id] >= 2:
                    elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": instance_id}])
                    held.add(instance_id)

    watcher = threading.Thread(target=register_late, daemon=True)
    watcher.start()
    try:
        execution, watch = world.release(
            {"asg_names": ["live_asg_web"], "target_version": NEW, "min_healthy": 2, "max_batch": 1}
        )
    finally:
        stop.set()
        watcher.join(timeout=5)

    assert execution.status == "SUCCEEDED", execution.cause
    drains = [o["drain"] for o in execution.task_outputs("Drain")]
    assert [d["instance_ids"] for d in drains] == [[i] for i in execution.terminated()]
    assert all(d["target_groups"] == 1 and d["seconds"] == 1 for d in drains)
    assert execution.states_entered().count("WaitForDraining") == 3
    checks = [o["progress"]["pending"] for o in execution.task_outputs("CheckReplacement")]
    assert any("not registered in target group" in p["status"] for p in checks if p)
    assert world.versions("live_asg_web") == [NEW] * 3
    assert watch.floor_breaches("live_asg_web", 2) == []
