"""AWS-side faults on the real workflow: throttling is retried with backoff, an ASG deleted
mid-release ends that ASG's release with its cause, and a failed release can simply be run again."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from asg_terminator.simulator import NEVER_BOOTS, FaultPlan
from tasks import runtime
from tests.workflow.harness import run_execution, throttle

if TYPE_CHECKING:
    from tests.workflow.conftest import World

OLD, NEW = "1.0.266", "1.0.274"


def test_throttling_is_retried_by_the_state_machine_and_the_release_completes(world: World) -> None:
    world.fleet(build=NEW)
    world.asg("live_asg_web", 2, OLD)
    answered = throttle(runtime.autoscaling()._client, "DescribeAutoScalingGroups", times=2)

    execution, watch = world.release({"asg_names": ["live_asg_web"], "target_version": NEW})

    assert execution.status == "SUCCEEDED", execution.cause
    assert len(answered) == 2
    failures = [e for e in execution.history if e["type"] == "LambdaFunctionFailed"]
    assert [f["lambdaFunctionFailedEventDetails"]["error"] for f in failures] == ["AwsThrottledError"] * 2
    assert "throttled (Throttling): Rate exceeded" in failures[0]["lambdaFunctionFailedEventDetails"]["cause"]
    assert world.versions("live_asg_web") == [NEW, NEW]
    assert watch.floor_breaches("live_asg_web", 1) == []


def test_an_asg_deleted_mid_release_fails_that_asg_with_its_cause(world: World) -> None:
    world.fleet(build=NEW, faults=FaultPlan({NEVER_BOOTS: 1.0}))
    doomed = set(world.asg("live_asg_doomed", 2, OLD))
    world.asg("live_asg_web", 1, NEW)
    release = {
        "asg_names": ["live_asg_doomed", "live_asg_web"],
        "target_version": NEW,
        "version_url": world.simulator.url_template,  # type: ignore[union-attr]
        "min_healthy": 1,
        "poll_seconds": 1,
        "replacement_timeout_seconds": 60,
    }
    done: dict[str, Any] = {}
    runner = threading.Thread(target=lambda: done.update(e=run_execution(world.sfn, world.machine_arn, release)))
    runner.start()
    deadline = time.monotonic() + 30
    while doomed <= set(_ids(world, "live_asg_doomed")):  # until the first batch is terminated
        assert time.monotonic() < deadline
        time.sleep(0.1)
    world.autoscaling.delete_auto_scaling_group(AutoScalingGroupName="live_asg_doomed", ForceDelete=True)
    runner.join(timeout=120)

    execution = done["e"]
    assert execution.status == "FAILED" and execution.error == "ReleaseFailedError"
    message = execution.cause_message()
    assert "live_asg_doomed FAILED AsgNotFoundError after 1 terminated in 1 batches" in message
    assert "live_asg_doomed: no Auto Scaling group of that name" in message
    assert "live_asg_web CONVERGED" in message
    assert len(execution.terminated()) == 1


def test_a_failed_release_says_where_it_stopped_and_a_rerun_continues_from_there(world: World) -> None:
    sim = world.fleet(build=NEW, faults=FaultPlan({NEVER_BOOTS: 1.0}))
    old = world.asg("live_asg_web", 3, OLD)
    settings = {"asg_names": ["live_asg_web"], "target_version": NEW, "max_batch": 1, "replacement_timeout_seconds": 3}

    first, watch = world.release(settings)

    assert first.status == "FAILED"
    stuck = [i for i in _ids(world, "live_asg_web") if i not in old]
    assert len(first.terminated()) == 1 and len(stuck) == 1
    assert "1 of 1 replacements not serving 1.0.274 after" in first.cause_message()
    assert f"{stuck[0]} HTTP 503" in first.cause_message()
    assert watch.floor_breaches("live_asg_web", 1) == []

    sim.faults.shares.clear()  # the build is fixed: new instances boot; the stuck one finally does too
    sim.set_fault(stuck[0], "healthy")
    second, watch = world.release(settings)

    assert second.status == "SUCCEEDED", second.cause
    assert sorted(first.terminated() + second.terminated()) == sorted(old)
    assert world.versions("live_asg_web") == [NEW] * 3
    assert watch.floor_breaches("live_asg_web", 1) == []


def _ids(world: World, name: str) -> list[str]:
    groups = world.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    return [i["InstanceId"] for g in groups for i in g["Instances"]]
