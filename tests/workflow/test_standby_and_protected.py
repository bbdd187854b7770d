"""Issue #6 item 7 on the real ASL: Standby and scale-in protected instances under their policies."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from click.testing import CliRunner

from asg_terminator.cli import main
from tests.workflow.harness import in_background

if TYPE_CHECKING:
    from tests.workflow.conftest import World

OLD, NEW = "1.0.266", "1.0.274"


def _present(world: World, name: str) -> dict[str, str]:
    group = world.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
    return {i["InstanceId"]: i["LifecycleState"] for i in group["Instances"]}


def test_standby_instances_are_replaced_when_the_policy_says_replace(world: World) -> None:
    world.fleet(build=NEW)
    ids = world.asg("live_asg_web", 4, OLD)
    world.autoscaling.enter_standby(
        AutoScalingGroupName="live_asg_web", InstanceIds=[ids[0]], ShouldDecrementDesiredCapacity=True
    )

    execution, watch = world.release(
        {"asg_names": ["live_asg_web"], "target_version": NEW, "min_healthy": 2, "standby_instances": "replace"}
    )

    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.terminated()[0] == ids[0]  # first: replacing it costs no headroom
    present = _present(world, "live_asg_web")
    assert ids[0] not in present and set(present.values()) == {"InService"}
    assert world.versions("live_asg_web") == [NEW] * 3
    assert watch.floor_breaches("live_asg_web", 2) == []


def test_by_default_a_standby_instance_is_left_alone(world: World) -> None:
    world.fleet(build=NEW)
    ids = world.asg("live_asg_web", 3, OLD)
    world.autoscaling.enter_standby(
        AutoScalingGroupName="live_asg_web", InstanceIds=[ids[0]], ShouldDecrementDesiredCapacity=True
    )

    execution, _ = world.release({"asg_names": ["live_asg_web"], "target_version": NEW, "min_healthy": 1})

    assert execution.status == "SUCCEEDED", execution.cause
    assert ids[0] not in execution.terminated()
    assert _present(world, "live_asg_web")[ids[0]] == "Standby"
    assert world.simulator is not None and world.simulator.reads(ids[0]) == OLD


def test_protected_instances_are_left_serving_when_the_policy_says_ignore(world: World) -> None:
    world.fleet(build=NEW)
    ids = world.asg("live_asg_web", 3, OLD)
    world.autoscaling.set_instance_protection(
        AutoScalingGroupName="live_asg_web", InstanceIds=[ids[1]], ProtectedFromScaleIn=True
    )

    execution, watch = world.release(
        {"asg_names": ["live_asg_web"], "target_version": NEW, "min_healthy": 1, "protected_instances": "ignore"}
    )

    assert execution.status == "SUCCEEDED", execution.cause
    assert sorted(execution.terminated()) == sorted([ids[0], ids[2]])
    assert world.versions("live_asg_web") == sorted([NEW, NEW, OLD])
    report = execution.output["asgs"][0]
    assert report["status"] == "CONVERGED" and report["terminated_count"] == 2
    assert watch.floor_breaches("live_asg_web", 1) == []


def test_a_protected_instance_is_waited_for_and_replaced_once_unprotected(world: World) -> None:
    world.fleet(build=NEW)
    ids = world.asg("live_asg_web", 3, OLD)
    world.autoscaling.set_instance_protection(
        AutoScalingGroupName="live_asg_web", InstanceIds=[ids[1]], ProtectedFromScaleIn=True
    )

    # The operator lifts the protection once the release waits for it (the job on it finished).
    def unprotect_once_waited_for(arn: str) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            events = world.sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
            if any(
                "protected_instances: wait" in e.get("stateExitedEventDetails", {}).get("output", "") for e in events
            ):
                world.autoscaling.set_instance_protection(
                    AutoScalingGroupName="live_asg_web", InstanceIds=[ids[1]], ProtectedFromScaleIn=False
                )
                return
            time.sleep(0.1)

    with in_background(world, unprotect_once_waited_for):
        execution, _ = world.release(
            {
                "asg_names": ["live_asg_web"],
                "target_version": NEW,
                "min_healthy": 1,
                "max_batch": 2,
                "protected_instances": "wait",
            }
        )

    assert execution.status == "SUCCEEDED", execution.cause
    terminated = execution.terminated()
    assert terminated[-1] == ids[1] and sorted(terminated[:-1]) == sorted([ids[0], ids[2]])
    assert world.versions("live_asg_web") == [NEW] * 3
    waits = [o["progress"]["decision"]["message"] for o in execution.task_outputs("SelectBatch")]
    assert any(f"{ids[1]} protected from scale-in on {OLD} (protected_instances: wait)" in m for m in waits)


def test_plan_takes_both_policies_from_the_command_line(world: World) -> None:
    world.fleet(build=NEW)
    world.asg("live_asg_web", 2, OLD)
    args = ["plan", "--asg", "live_asg_web", "--target-version", NEW, "--state-machine-arn", world.machine_arn]
    args += ["--region", "us-east-1", "--standby-instances", "replace", "--protected-instances", "wait"]

    shown = CliRunner().invoke(main, args)

    assert shown.exit_code == 0, shown.output
    started = world.sfn.list_executions(stateMachineArn=world.machine_arn)["executions"][0]["executionArn"]
    given = json.loads(world.sfn.describe_execution(executionArn=started)["input"])
    assert (given["standby_instances"], given["protected_instances"], given["dry_run"]) == ("replace", "wait", True)
