"""What the ASG's tags allow, on the real ASL: an ASG that has not opted in is refused before anything
is touched (locally too, where no IAM condition applies), a malformed guardrail tag fails that ASG
before anything is touched, the tags' floor holds whatever the input asks, and a downgrade needs
``allow_downgrade``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from click.testing import CliRunner

from asg_terminator.cli import main

if TYPE_CHECKING:
    from tests.workflow.conftest import World

OLD, NEW = "1.0.266", "1.0.274"


def test_an_asg_that_has_not_opted_in_is_refused_before_anything_is_touched(world: World) -> None:
    world.fleet(build=NEW)
    untagged = world.asg("plain_web", 2, OLD, opted_in=False)
    empty_app = world.asg("empty_app_web", 2, OLD, tags={"asg-terminator:app": ""})
    world.asg("live_asg_web", 2, OLD)  # opted in: the one failing ASG never stops the others

    execution, _ = world.release(
        {"asg_names": ["plain_web", "empty_app_web", "live_asg_web"], "target_version": NEW, "max_surge": 1}
    )

    assert execution.status == "FAILED" and execution.error == "ReleaseFailedError"
    message = execution.cause_message()
    assert "plain_web FAILED AsgNotOptedInError" in message and "empty_app_web FAILED AsgNotOptedInError" in message
    assert "live_asg_web CONVERGED on 1.0.274" in message
    assert not (set(untagged) | set(empty_app)) & set(execution.terminated())
    for name in ("plain_web", "empty_app_web"):
        group = world.group(name)
        assert group["DesiredCapacity"] == 2 and group["SuspendedProcesses"] == []  # no surge, nothing suspended
        assert world.lease(name) is None and world.versions(name) == [OLD, OLD]
        assert "asg-terminator:release" not in {t["Key"] for t in group["Tags"]}


def test_a_dry_run_refuses_an_asg_that_has_not_opted_in(world: World) -> None:
    world.fleet(build=NEW)
    world.asg("plain_web", 2, OLD, opted_in=False)

    execution, _ = world.release({"asg_names": ["plain_web"], "target_version": NEW, "dry_run": True})

    assert execution.status == "FAILED" and "plain_web FAILED AsgNotOptedInError" in execution.cause_message()
    assert "Terminate" not in execution.states_entered()


def test_a_malformed_guardrail_tag_fails_that_asg_before_anything_is_touched(world: World) -> None:
    world.fleet(build=NEW)
    world.asg("live_asg_web", 3, OLD, tags={"asg-terminator:app": "web", "asg-terminator:min-healthy": "two"})

    execution, _ = world.release(
        {"asg_names": ["live_asg_web"], "target_version": NEW, "max_surge": 1, "min_healthy": 1}
    )

    assert execution.status == "FAILED"
    assert "live_asg_web FAILED InvalidAsgTagError" in execution.cause_message()
    assert "asg-terminator:min-healthy='two'" in execution.cause_message()
    group = world.group("live_asg_web")
    assert group["DesiredCapacity"] == 3 and group["SuspendedProcesses"] == []
    assert world.lease("live_asg_web") is None and execution.terminated() == []


def test_the_tags_floor_holds_when_the_input_asks_for_none(world: World) -> None:
    """``min_healthy: 0`` would put the whole ASG in one batch; its tags keep 3 of 4 serving."""
    world.fleet(build=NEW)
    world.asg("live_asg_web", 4, OLD, tags={"asg-terminator:app": "web", "asg-terminator:min-healthy-percent": "75"})

    execution, watch = world.release(
        {"asg_names": ["live_asg_web"], "target_version": NEW, "min_healthy": 0, "min_healthy_percent": 0}
    )

    assert execution.status == "SUCCEEDED", execution.cause
    assert world.versions("live_asg_web") == [NEW] * 4
    assert execution.batch_sizes() == [1, 1, 1, 1]
    assert watch.floor_breaches("live_asg_web", 0, 75) == []
    assert watch.lowest("live_asg_web").serving == 3  # the tags' floor was used, not just respected


def test_a_downgrade_is_refused_unless_allowed(world: World) -> None:
    world.fleet(build=NEW)
    world.asg("live_asg_web", 3, NEW)
    world.simulator.publish(OLD)  # type: ignore[union-attr]  # the older build is what new instances boot

    refused, _ = world.release({"asg_names": ["live_asg_web"], "target_version": OLD, "min_healthy": 0})

    assert refused.status == "FAILED" and "live_asg_web FAILED DowngradeRefusedError" in refused.cause_message()
    assert "target 1.0.266 is older than 1.0.274" in refused.cause_message()
    assert refused.terminated() == [] and world.versions("live_asg_web") == [NEW] * 3
    assert world.lease("live_asg_web") is None

    allowed, watch = world.release(
        {"asg_names": ["live_asg_web"], "target_version": OLD, "min_healthy": 2, "allow_downgrade": True}
    )

    assert allowed.status == "SUCCEEDED", allowed.cause
    assert world.versions("live_asg_web") == [OLD] * 3
    assert watch.floor_breaches("live_asg_web", 2) == []


def test_plan_refuses_a_downgrade_unless_allow_downgrade_is_given(world: World) -> None:
    """A dry run judges the downgrade too (it takes no lease); --allow-downgrade is the input field."""
    world.fleet(build=NEW)
    world.asg("live_asg_web", 2, NEW)
    args = ["plan", "--asg", "live_asg_web", "--target-version", OLD, "--state-machine-arn", world.machine_arn]
    args += ["--region", "us-east-1", "--min-healthy", "1", "--version-url", world.simulator.url_template]  # type: ignore[union-attr]

    refused = CliRunner().invoke(main, args)
    allowed = CliRunner().invoke(main, [*args, "--allow-downgrade"])

    assert refused.exit_code == 1 and "DowngradeRefusedError" in refused.output, refused.output
    assert allowed.exit_code == 0, allowed.output
    assert "terminate: in the next batch" in allowed.output
    starts = world.sfn.list_executions(stateMachineArn=world.machine_arn)["executions"]
    inputs = [json.loads(world.sfn.describe_execution(executionArn=e["executionArn"])["input"]) for e in starts]
    assert sorted(i.get("allow_downgrade", False) for i in inputs) == [False, True]
    assert world.versions("live_asg_web") == [NEW, NEW]  # a plan terminates nothing
