"""Issue #6 item 3 on the real ASL: canary and checkpoints (checkpoints, bake_seconds), and a human's
approval at a checkpoint (approve_checkpoints; `asg-terminator approve|reject`)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from tests.functional.support import put_alarm
from tests.workflow.harness import cli, in_background, wait_for_approvals

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.workflow.conftest import World

OLD, NEW = "1.0.266", "1.0.274"


def test_a_canary_then_checkpoints_each_baked_and_no_batch_crossing_one(world: World) -> None:
    world.fleet(build=NEW)
    world.asg("live_asg_web", 6, OLD)

    execution, watch = world.release(
        {
            "asg_names": ["live_asg_web"],
            "target_version": NEW,
            "min_healthy": 1,
            "checkpoints": [1, "50%"],
            "bake_seconds": 1,
        }
    )

    assert execution.status == "SUCCEEDED", execution.cause
    # Without checkpoints the floor would allow 5 at once: the canary is 1, then up to 50% (3), then the rest.
    assert execution.batch_sizes() == [1, 2, 3]
    entered = execution.states_entered()
    assert entered.count("Bake") == entered.count("PassCheckpoint") == 2
    assert "AwaitApproval" not in entered
    # Each bake follows a batch whose replacements serve the target, before the next batch goes.
    path = [s for s in entered if s in ("Terminate", "ReplacementDone", "Bake")]
    assert path[:2] == ["Terminate", "ReplacementDone"] and path.count("Bake") == 2
    assert path.index("Bake") < path.index("Terminate", 1)
    passed = [o["progress"]["checkpoints_passed"] for o in execution.task_outputs("PassCheckpoint")]
    assert passed == [1, 2]
    assert world.versions("live_asg_web") == [NEW] * 6
    assert watch.floor_breaches("live_asg_web", min_healthy=1) == []


def test_100_percent_bakes_after_the_last_batch_before_converging(world: World) -> None:
    world.fleet(build=NEW)
    world.asg("live_asg_web", 2, OLD)

    execution, _ = world.release(
        {"asg_names": ["live_asg_web"], "target_version": NEW, "checkpoints": ["100%"], "bake_seconds": 1}
    )

    assert execution.status == "SUCCEEDED", execution.cause
    entered = execution.states_entered()
    assert entered.count("Bake") == 1
    assert entered.index("Bake") > max(i for i, s in enumerate(entered) if s == "Terminate")
    assert entered.index("Bake") < entered.index("AsgConverged")


def test_an_alarm_during_the_bake_fails_the_asg_at_its_checkpoint(world: World) -> None:
    world.fleet(build=NEW)
    world.asg("live_asg_web", 3, OLD)
    put_alarm("web-5xx", "OK")
    with in_background(world, until_state(world, "Bake", lambda _: put_alarm("web-5xx", "ALARM"))):
        execution, _ = world.release(
            {
                "asg_names": ["live_asg_web"],
                "target_version": NEW,
                "min_healthy": 1,
                "checkpoints": [1],
                "bake_seconds": 2,
                "alarm_names": ["web-5xx"],
            }
        )

    assert execution.status == "FAILED"
    assert "AlarmTriggeredError" in execution.cause_message()
    assert "the release stopped at its checkpoint" in execution.cause_message()
    assert execution.batch_sizes() == [1]  # the canary, nothing after it
    assert world.versions("live_asg_web") == [OLD, OLD, NEW]


def test_approved_checkpoints_go_on_and_the_cli_asks_which_asg_when_several_wait(world: World) -> None:
    world.fleet(build=NEW)
    for name in ("live_asg_web", "live_asg_api"):
        world.asg(name, 3, OLD)
    answers: list[str] = []

    def answer(arn: str) -> None:
        waiting = wait_for_approvals(world, arn, 2)
        assert {w.asg_name for w in waiting} == {"live_asg_web", "live_asg_api"}
        time.sleep(1.5)  # while they wait, nothing more is terminated
        assert sorted(world.versions("live_asg_web")) == [OLD, OLD, NEW]
        answers.append(cli(world, "approve", arn).output)  # which one? both wait
        for name in ("live_asg_web", "live_asg_api"):
            answers.append(cli(world, "approve", arn, "--asg", name, "--note", "canary looks fine").output)

    with in_background(world, answer):
        execution, _ = world.release(
            {
                "asg_names": ["live_asg_web", "live_asg_api"],
                "target_version": NEW,
                "min_healthy": 1,
                "checkpoints": [1],
                "bake_seconds": 0,
                "approve_checkpoints": True,
            }
        )

    assert execution.status == "SUCCEEDED", execution.cause
    assert "2 ASGs wait for approval (live_asg_api, live_asg_web): name one with --asg" in answers[0]
    assert [a.split(":")[0] for a in answers[1:]] == ["live_asg_web", "live_asg_api"]
    assert all("approved; the release goes on" in a for a in answers[1:])
    answered = execution.approvals()
    assert [a["note"] for a in answered] == ["canary looks fine"] * 2 and all(a["approved_by"] for a in answered)
    for name in ("live_asg_web", "live_asg_api"):
        assert world.versions(name) == [NEW] * 3
    assert "nothing waits for approval" in cli(world, "approve", execution.arn).output  # it has ended


def test_a_rejected_checkpoint_fails_the_asg_and_terminates_nothing_more(world: World) -> None:
    world.fleet(build=NEW)
    world.asg("live_asg_web", 4, OLD)
    answers: list[str] = []

    def answer(arn: str) -> None:
        wait_for_approvals(world, arn, 1)
        answers.append(cli(world, "reject", arn, "--asg", "live_asg_web", "--reason", "5xx on the canary").output)

    with in_background(world, answer):
        execution, _ = world.release(
            {
                "asg_names": ["live_asg_web"],
                "target_version": NEW,
                "min_healthy": 1,
                "checkpoints": [1, "50%"],
                "bake_seconds": 0,
                "approve_checkpoints": True,
            }
        )

    assert execution.status == "FAILED"
    assert answers == ["live_asg_web: rejected; its release fails with ReleaseRejectedError\n"]
    assert "live_asg_web FAILED" in execution.cause_message() and "ReleaseRejectedError" in execution.cause_message()
    assert execution.batch_sizes() == [1]
    assert world.versions("live_asg_web") == [OLD, OLD, OLD, NEW]
    assert "UnlockAsg" in execution.states_entered()  # the lock is given back


# -- helpers for this file's tests.


def until_state(world: World, state: str, then: Callable[[str], None]) -> Callable[[str], None]:
    """Once the release has entered ``state``, do ``then``."""

    def watch(arn: str) -> None:
        while True:
            events = world.sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
            if any(e.get("stateEnteredEventDetails", {}).get("name") == state for e in events):
                then(arn)
                return
            time.sleep(0.05)

    return watch
