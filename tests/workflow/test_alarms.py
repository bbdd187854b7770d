"""Issue #6 item 4 on the real ASL: an alarm in ALARM stops the release; nothing more is terminated."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.functional.support import put_alarm
from tests.workflow.harness import alarm_after_first_termination

if TYPE_CHECKING:
    from tests.workflow.conftest import World

OLD, NEW = "1.0.266", "1.0.274"


def test_an_alarm_firing_during_a_batch_stops_the_release_after_it(world: World) -> None:
    world.fleet(build=NEW, boot_seconds=3)  # the first batch is still booting when the alarm fires
    original = world.asg("live_asg_web", 3, OLD)
    with alarm_after_first_termination(world.autoscaling, "live_asg_web", original, "web-5xx"):
        execution, _ = world.release(
            {
                "asg_names": ["live_asg_web"],
                "target_version": NEW,
                "min_healthy": 1,
                "max_batch": 1,
                "alarm_names": ["web-5xx"],
            }
        )

    assert execution.status == "FAILED"
    message = execution.cause_message()
    assert "AlarmTriggeredError" in message and "web-5xx (set to ALARM by the test)" in message
    assert len(execution.terminated()) == 1  # the batch under way, nothing after it
    assert world.versions("live_asg_web").count(OLD) == 2


def test_an_alarm_already_firing_terminates_nothing(world: World) -> None:
    world.fleet(build=NEW)
    world.asg("live_asg_web", 3, OLD)
    put_alarm("web-5xx", "ALARM")

    execution, _ = world.release(
        {"asg_names": ["live_asg_web"], "target_version": NEW, "min_healthy": 1, "alarm_names": ["web-5xx"]}
    )

    assert execution.status == "FAILED" and "AlarmTriggeredError" in execution.cause_message()
    assert "the batch of 2 was not drained" in execution.cause_message()  # Drain checks first
    assert execution.terminated() == [] and world.versions("live_asg_web") == [OLD] * 3


def test_a_name_that_is_no_alarm_fails_before_anything_is_terminated(world: World) -> None:
    world.fleet(build=NEW)
    world.asg("live_asg_web", 2, OLD)

    execution, _ = world.release(
        {"asg_names": ["live_asg_web"], "target_version": NEW, "min_healthy": 1, "alarm_names": ["web-5xxx"]}
    )

    assert execution.status == "FAILED" and "AlarmNotFoundError" in execution.cause_message()
    assert "no CloudWatch alarm named web-5xxx" in execution.cause_message()
    assert execution.terminated() == []
