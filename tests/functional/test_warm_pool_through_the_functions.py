"""A group with a warm pool, released one batch through the real handlers: each function that reads
the group describes its warm pool too, and its role must allow that (tests/iam_recorder.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tasks.handlers.check_replacement import handler as check_replacement
from tasks.handlers.discover import handler as discover
from tasks.handlers.read_versions import handler as read_versions
from tasks.handlers.select_batch import handler as select_batch
from tasks.handlers.terminate import handler as terminate
from tasks.handlers.unlock_asg import handler as unlock_asg
from tasks.handlers.validate_input import handler as validate_input
from tests.functional.support import NEW, OLD, RELEASE_ID, group_ids, leased
from tests.iam_recorder import RECORDING

if TYPE_CHECKING:
    from collections.abc import Callable

    from asg_terminator.simulator import FleetSimulator

ASG = "live_asg_web"


def test_a_batch_of_a_group_with_a_warm_pool_goes_through_every_function_that_reads_it(
    make_asg: Callable[..., list[str]], autoscaling: Any, simulator: FleetSimulator
) -> None:
    ids = make_asg(ASG, 2, zones=("us-east-1a",))
    simulator.adopt(ids, OLD)
    autoscaling.put_warm_pool(AutoScalingGroupName=ASG, MinSize=1)
    given = {"asg_names": [ASG], "version_url": simulator.url_template, "target_version": NEW, "min_healthy": 1}
    release = validate_input({**given, "probe_timeout_seconds": 1, "poll_seconds": 1}, None)  # a watch of 1 s
    settings, progress = release["settings"], release["asgs"][0]["progress"]
    release_id = leased(ASG)

    fleet = discover({"asg_name": ASG, "release_id": RELEASE_ID, "version_url": settings["version_url"]}, None)
    fleet = read_versions({"fleet": fleet, "probe_timeout_seconds": 1}, None)
    state = {"asg_name": ASG, "release_id": release_id, "settings": settings}
    progress = select_batch({**state, "fleet": fleet, "progress": progress}, None)["progress"]
    assert progress["decision"]["action"] == "terminate"
    progress = terminate({"asg_name": ASG, "release_id": release_id, "progress": progress}, None)
    check_replacement({**state, "progress": progress}, None)
    unlock_asg({"asg_name": ASG, "release_id": release_id}, None)

    assert len(ids) - len(set(ids) & group_ids(autoscaling, ASG)) == 1  # one batch of one went
    with RECORDING.lock:
        described = {f for f, action in RECORDING.made if action == "autoscaling:DescribeWarmPool"}
    assert {"Discover", "CheckReplacement", "UnlockAsg"} <= described
