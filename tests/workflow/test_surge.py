"""Issue #6 item 1 on the real ASL: max_surge launches replacements before old instances go and
gives the capacity back at the end, converged, failed or interrupted. Issue 14 item 1: the surge
replaces outdated instances (their terminations lower desired capacity) instead of adding to them."""

from __future__ import annotations

import json
import math
import time
import uuid
from typing import TYPE_CHECKING

import pytest

from asg_terminator.simulator import NEVER_BOOTS, FaultPlan
from tasks.domain.capacity import surge_size
from tasks.domain.lease import LOCK_TAG, Surge

if TYPE_CHECKING:
    from tests.workflow.conftest import World

OLD, NEW = "1.0.266", "1.0.274"


def _tags(world: World, name: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in world.group(name).get("Tags", [])}


def test_an_asg_of_one_instance_releases_without_ever_having_none_serving(world: World) -> None:
    world.fleet(build=NEW)
    (old,) = world.asg("live_asg_web", 1, OLD, max_size=2)

    execution, watch = world.release(
        {"asg_names": ["live_asg_web"], "target_version": NEW, "min_healthy": 1, "max_surge": 1}
    )

    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.terminated() == [old]
    assert watch.floor_breaches("live_asg_web", 1) == []
    assert watch.lowest("live_asg_web").serving >= 1
    assert world.group("live_asg_web")["DesiredCapacity"] == 1  # given back
    assert LOCK_TAG not in _tags(world, "live_asg_web") and world.lease("live_asg_web") is None
    assert world.versions("live_asg_web") == [NEW]
    (locked,) = execution.task_outputs("LockAsg")
    assert "LockAsg" in execution.states_entered() and locked["asg_name"] == "live_asg_web"
    lock_events = [e for e in execution.history if e["type"] == "LambdaFunctionSucceeded"]
    assert any("surge: desired 1 -> 2" in e["lambdaFunctionSucceededEventDetails"]["output"] for e in lock_events)


def test_without_surge_the_same_asg_cannot_be_released(world: World) -> None:
    world.fleet(build=NEW)
    world.asg("live_asg_web", 1, OLD, max_size=2)
    execution, _ = world.release({"asg_names": ["live_asg_web"], "target_version": NEW, "min_healthy": 1})
    assert execution.status == "FAILED" and "FloorBlocksReleaseError" in execution.cause_message()


def test_a_failed_release_gives_the_capacity_back(world: World) -> None:
    world.fleet(build=NEW, faults=FaultPlan({NEVER_BOOTS: 1.0}))
    world.asg("live_asg_web", 2, OLD, max_size=4)
    time.sleep(1.1)  # EC2 launch times have one-second resolution: the release's instances are newer

    execution, _ = world.release(
        {
            "asg_names": ["live_asg_web"],
            "target_version": NEW,
            "min_healthy": 1,
            "max_surge": "50%",
            "replacement_timeout_seconds": 3,
        }
    )

    assert execution.status == "FAILED" and "ReplacementTimeoutError" in execution.cause_message()
    assert world.group("live_asg_web")["DesiredCapacity"] == 2
    # The surplus given back was a broken instance the release launched, not the old one still serving.
    assert world.versions("live_asg_web") == [OLD, "unreadable"]
    assert world.lease("live_asg_web") is None


def test_a_release_stopped_by_hand_whose_cleanup_never_ran_is_repaired_by_the_next_one(world: World) -> None:
    assert world.simulator is None
    world.fleet(build=NEW, boot_seconds=30)  # the first release's surge never gets to serve
    world.asg("live_asg_web", 2, OLD, max_size=4)
    time.sleep(1.1)  # EC2 launch times have one-second resolution: the surge's instance is the newest
    release = {"asg_names": ["live_asg_web"], "target_version": NEW, "min_healthy": 1, "poll_seconds": 1}
    first = world.sfn.start_execution(
        stateMachineArn=world.machine_arn,
        name=f"test-{uuid.uuid4().hex[:12]}",
        input=json.dumps({**release, "version_url": world.simulator.url_template, "max_surge": 1}),
    )["executionArn"]
    deadline = time.monotonic() + 30
    while (held := world.lease("live_asg_web")) is None or held.surge is None:
        assert time.monotonic() < deadline, "the first release never surged"
        time.sleep(0.05)
    while world.group("live_asg_web")["DesiredCapacity"] != 3:
        assert time.monotonic() < deadline, "the first release never raised desired capacity"
        time.sleep(0.05)
    # Stopped, and no status-change event delivered (world.status_changes() is not running): what the
    # first release changed is still there, and its lease records it.
    world.sfn.stop_execution(executionArn=first, cause="stopped by the operator")
    left = world.lease("live_asg_web")
    assert left is not None and left.holder == first and left.surge == Surge(2, 3)
    assert set(left.suspended) == {"AZRebalance", "ScheduledActions", "InstanceRefresh"}

    world.simulator.boot_seconds = 0.3
    time.sleep(1.1)  # IN_FLIGHT_SECONDS: until then a step of the stopped release may still be running
    execution, _ = world.release(release)

    assert execution.status == "SUCCEEDED", execution.cause
    assert world.group("live_asg_web")["DesiredCapacity"] == 2
    assert world.group("live_asg_web")["SuspendedProcesses"] == []
    assert world.lease("live_asg_web") is None
    assert world.versions("live_asg_web") == [NEW, NEW]


def _floor(desired: int, min_healthy: int, min_healthy_percent: int) -> int:
    return max(min_healthy, math.ceil(min_healthy_percent * desired / 100))


# Issue 14 item 1: the surge replaces, it does not add. (instances, max_surge, min_healthy,
# min_healthy_percent, max_batch): an ASG of 1; blue/green; 25 % and 50 % surges at a floor of
# every instance; a surge beside headroom (terminations while the surge still boots); a surge
# larger than a batch; a percentage floor, which the surge itself raises.
SURGE_CASES = [
    pytest.param(1, 1, 1, 0, None, id="asg-of-1"),
    pytest.param(4, 4, 4, 0, None, id="blue-green"),
    pytest.param(4, "25%", 4, 0, None, id="surge-25%-floor-all"),
    pytest.param(4, "50%", 2, 0, None, id="surge-50%-with-headroom"),
    pytest.param(4, 4, 1, 0, None, id="surge-100%-floor-1"),
    pytest.param(4, 4, 4, 0, 1, id="surge-larger-than-a-batch"),
    pytest.param(5, 2, 0, 50, 2, id="surge-2-floor-50%-batches-of-2"),
]


@pytest.mark.parametrize(("size", "max_surge", "min_healthy", "min_healthy_percent", "max_batch"), SURGE_CASES)
def test_a_surge_replaces_outdated_instances_without_a_needless_launch(
    world: World, size: int, max_surge: int | str, min_healthy: int, min_healthy_percent: int, max_batch: int | None
) -> None:
    world.fleet(build=NEW)
    original = world.asg("live_asg_web", size, OLD, max_size=2 * size)
    surge = surge_size(max_surge, size, 2 * size)

    execution, watch = world.release(
        {
            "asg_names": ["live_asg_web"],
            "target_version": NEW,
            "min_healthy": min_healthy,
            "min_healthy_percent": min_healthy_percent,
            "max_batch": max_batch,
            "max_surge": max_surge,
        }
    )

    assert execution.status == "SUCCEEDED", execution.cause
    assert sorted(execution.terminated()) == sorted(original)
    # The floor held at every moment: by the release's own formula (the floor of the desired capacity
    # of each sample, surge included), and by that of the ASG's capacity before the surge.
    assert watch.floor_breaches("live_asg_web", min_healthy, min_healthy_percent) == []
    assert watch.lowest("live_asg_web").serving >= _floor(size, min_healthy, min_healthy_percent)
    # Nothing serving the target was terminated: each instance that left the group was an old one,
    # read serving the old build (or nothing) at the last sample before it went.
    assert set(watch.gone) <= set(original)
    assert all(read != NEW for read in watch.gone.values())
    # No needless launch: one new instance for each outdated one, the surge's among them, and so
    # nothing left for UnlockAsg to terminate.
    assert len(watch.last_read) == 2 * size
    terminates = execution.task_outputs("Terminate")
    assert sum(t["progress"]["pending"].get("decremented", 0) for t in terminates) == surge
    assert terminates[-1]["progress"]["surge_paid"] == surge
    (unlocked,) = execution.task_outputs("UnlockAsg")
    assert unlocked["unlock"]["restored_capacity"] == size
    assert world.group("live_asg_web")["DesiredCapacity"] == size
    assert world.versions("live_asg_web") == [NEW] * size
    assert world.lease("live_asg_web") is None


def test_blue_green_watches_the_surge_boot_and_terminates_once_it_answers(world: World) -> None:
    """Issue 14 item 2: the wait for the surge is WatchBooting's, not a poll's: no WaitBeforeReread,
    each watch names the surge, and the read after the last one terminates the batch. (Whether the
    last watch or the read after it saw the boot end depends on the moment it ended:
    tests/functional/test_watch_booting.py pins that.)"""
    world.fleet(build=NEW, boot_seconds=3.0)
    original = world.asg("live_asg_web", 4, OLD, max_size=8)

    execution, watch = world.release(
        {"asg_names": ["live_asg_web"], "target_version": NEW, "min_healthy": 4, "max_surge": "100%"}
    )

    assert execution.status == "SUCCEEDED", execution.cause
    assert sorted(execution.terminated()) == sorted(original)
    assert watch.floor_breaches("live_asg_web", 4) == []
    entered = execution.states_entered()
    assert "WaitBeforeReread" not in entered
    watched = [o["booting"] for o in execution.task_outputs("WatchBooting")]
    assert watched and all(not w["answered"] for w in watched[:-1])
    assert all(w["rest_seconds"] == 0 for w in watched)  # poll_seconds 1: each watch took it whole, or saw the end
    surge = set(watch.last_read) - set(original)
    assert all(set(w["instance_ids"]) == surge for w in watched)
    # The last watch saw the surge answer and read the fleet itself: SelectBatch decides on that read.
    after = entered[len(entered) - entered[::-1].index("WatchBooting") :]
    assert after[:4] == ["BootsEnded", "SelectBatch", "BatchDecision", "Drain"]
    assert "fleet" in execution.task_outputs("WatchBooting")[-1] and watched[-1]["answered"]
