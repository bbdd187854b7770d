"""Issue #6 item 4's rollback_on_failure on the real ASL: a failed ASG pins its previous version
(pin_parameter) and converges back onto it; the release still fails, and says so."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3

from asg_terminator.simulator import FaultPlan
from tests.functional.support import put_alarm
from tests.workflow.harness import alarm_after_first_termination, cli, in_background, wait_for_approvals

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.workflow.conftest import World

OLD, NEW = "1.0.266", "1.0.274"
PIN = "/asg-terminator/{asg_name}/build"


def pinned(asg_name: str) -> Callable[[], str | None]:
    """What the instances' boot script does: fetch the build the ASG's pin names, if there is one."""
    ssm = boto3.client("ssm", region_name="us-east-1")

    def build() -> str | None:
        try:
            return str(ssm.get_parameter(Name=PIN.format(asg_name=asg_name))["Parameter"]["Value"])
        except ssm.exceptions.ParameterNotFound:
            return None

    return build


def rolling_back(**fields: Any) -> dict[str, Any]:
    return {
        "asg_names": ["live_asg_web"],
        "target_version": NEW,
        "min_healthy": 1,
        "rollback_on_failure": True,
        "pin_parameter": PIN,
        **fields,
    }


def test_an_alarm_rolls_the_asg_back_onto_its_previous_version(world: World) -> None:
    world.fleet(build=NEW, boot_seconds=1, build_source=pinned("live_asg_web"))
    original = world.asg("live_asg_web", 3, OLD)
    with alarm_after_first_termination(world.autoscaling, "live_asg_web", original, "web-5xx"):
        execution, watch = world.release(rolling_back(max_batch=1, alarm_names=["web-5xx"]))

    assert execution.status == "FAILED"
    message = execution.cause_message()
    assert "1 of 1 ASGs failed: live_asg_web ROLLED_BACK to 1.0.266 after AlarmTriggeredError" in message
    assert "web-5xx (set to ALARM by the test)" in message
    entered = execution.states_entered()
    assert entered.count("RollBack") == 1 and "AsgConverged" in entered and "AsgFailed" not in entered
    # The alarm still fires: the rollback does not stop for it, and the fleet is back where it was.
    assert world.versions("live_asg_web") == [OLD] * 3
    assert pinned("live_asg_web")() == OLD
    assert watch.floor_breaches("live_asg_web", min_healthy=1) == []


def test_a_build_that_never_boots_times_out_and_rolls_back(world: World) -> None:
    world.fleet(build=NEW, faults=FaultPlan(broken_builds=(NEW,)), build_source=pinned("live_asg_web"))
    world.asg("live_asg_web", 3, OLD)

    execution, watch = world.release(rolling_back(max_batch=1, replacement_timeout_seconds=3))

    assert execution.status == "FAILED"
    assert "live_asg_web ROLLED_BACK to 1.0.266 after ReplacementTimeoutError" in execution.cause_message()
    # The broken instance answered nothing: the rollback replaces what it cannot read.
    assert world.versions("live_asg_web") == [OLD] * 3
    assert execution.batch_sizes()[0] == 1
    assert watch.floor_breaches("live_asg_web", min_healthy=1) == []


def test_a_rejected_canary_is_rolled_back(world: World) -> None:
    world.fleet(build=NEW, build_source=pinned("live_asg_web"))
    world.asg("live_asg_web", 3, OLD)

    answers: list[str] = []

    def reject(arn: str) -> None:
        wait_for_approvals(world, arn, 1)
        answers.append(cli(world, "reject", arn, "--reason", "5xx on the canary").output)

    with in_background(world, reject):
        execution, _ = world.release(rolling_back(checkpoints=[1], bake_seconds=0, approve_checkpoints=True))

    assert execution.status == "FAILED"
    assert "live_asg_web ROLLED_BACK to 1.0.266 after ReleaseRejectedError" in execution.cause_message()
    assert answers == [
        "live_asg_web: rejected; its release fails with ReleaseRejectedError; it rolls back first "
        "(rollback_on_failure)\n"
    ]
    assert execution.batch_sizes() == [1, 1]  # the canary, then the canary's replacement going back
    assert world.versions("live_asg_web") == [OLD] * 3


def test_nothing_terminated_is_nothing_to_roll_back(world: World) -> None:
    world.fleet(build=NEW, build_source=pinned("live_asg_web"))
    world.asg("live_asg_web", 2, OLD)
    put_alarm("web-5xx", "ALARM")

    execution, _ = world.release(rolling_back(alarm_names=["web-5xx"]))

    assert execution.status == "FAILED"
    assert "live_asg_web FAILED AlarmTriggeredError" in execution.cause_message()
    assert "RollBack" not in execution.states_entered()
    assert pinned("live_asg_web")() is None  # nothing was terminated, so nothing was pinned either


def test_a_rollback_that_fails_too_is_a_failure_and_rolls_back_only_once(world: World) -> None:
    broken = FaultPlan(broken_builds=(NEW, OLD))  # the old build no longer boots either
    world.fleet(build=NEW, faults=broken, build_source=pinned("live_asg_web"))
    world.asg("live_asg_web", 3, OLD)

    execution, watch = world.release(rolling_back(max_batch=1, replacement_timeout_seconds=2))

    assert execution.status == "FAILED"
    message = execution.cause_message()
    assert "live_asg_web FAILED ReplacementTimeoutError" in message
    assert "(while rolling back to 1.0.266 after ReplacementTimeoutError)" in message
    assert execution.states_entered().count("RollBack") == 1
    assert watch.floor_breaches("live_asg_web", min_healthy=1) == []
