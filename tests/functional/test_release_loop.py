"""The release loop for one ASG, driven step by step through the real handlers against moto and a
simulated fleet on loopback (the state machine itself is exercised in tests/workflow)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from tasks.handlers.check_replacement import handler as check_replacement
from tasks.handlers.discover import handler as discover
from tasks.handlers.read_versions import handler as read_versions
from tasks.handlers.select_batch import handler as select_batch
from tasks.handlers.summarize import handler as summarize
from tasks.handlers.terminate import handler as terminate
from tasks.handlers.validate_input import handler as validate_input
from tests.functional.support import NEW, OLD, RELEASE_ID, group, leased
from tests.unit.builders import outcome_progress, summarize_event

if TYPE_CHECKING:
    from collections.abc import Callable

    from asg_terminator.simulator import FleetSimulator


def serving(autoscaling: Any, simulator: FleetSimulator, name: str) -> int:
    return sum(
        1
        for i in group(autoscaling, name)["Instances"]
        if i["LifecycleState"] == "InService" and i["HealthStatus"] == "Healthy" and simulator.reads(i["InstanceId"])
    )


def test_four_instances_on_the_old_build_end_on_the_new_one_without_breaking_the_floor(
    make_asg: Callable[..., list[str]], autoscaling: Any, simulator: FleetSimulator
) -> None:
    original = make_asg("live_asg_web", 4)
    simulator.adopt(original, OLD)
    simulator.boot_seconds = 0.2
    release = validate_input(
        {
            "asg_names": ["live_asg_web"],
            "version_url": simulator.url_template,
            "target_version": NEW,
            "min_healthy": 2,
            "probe_timeout_seconds": 1,
        },
        None,
    )
    settings = release["settings"]
    progress = release["asgs"][0]["progress"]  # the ledger ValidateInput starts the ASG with
    floor_seen = [serving(autoscaling, simulator, "live_asg_web")]

    state = {"asg_name": "live_asg_web", "release_id": RELEASE_ID, "settings": settings}
    fleet = None  # the read SelectBatch decides on: the last check's once a batch is replaced (as the ASL goes)
    for _ in range(20):
        if fleet is None:
            fleet = discover(
                {"asg_name": "live_asg_web", "release_id": RELEASE_ID, "version_url": settings["version_url"]}, None
            )
            fleet = read_versions({"fleet": fleet, "probe_timeout_seconds": settings["probe_timeout_seconds"]}, None)
        progress = select_batch({**state, "fleet": fleet, "progress": progress}, None)["progress"]
        fleet = None
        action = progress["decision"]["action"]
        if action == "converged":
            break
        if action == "terminate":
            progress = terminate(
                {"asg_name": "live_asg_web", "release_id": leased("live_asg_web"), "progress": progress}, None
            )
            floor_seen.append(serving(autoscaling, simulator, "live_asg_web"))
            while progress["pending"] is not None:
                time.sleep(0.1)
                checked = check_replacement({**state, "progress": progress}, None)
                progress = checked["progress"]
                floor_seen.append(serving(autoscaling, simulator, "live_asg_web"))
            fleet = checked["fleet"]
        else:
            time.sleep(0.1)

    final = group(autoscaling, "live_asg_web")
    present = [i["InstanceId"] for i in final["Instances"]]
    assert progress["decision"]["action"] == "converged"
    assert final["DesiredCapacity"] == 4 and len(present) == 4
    assert set(present).isdisjoint(original)
    assert [simulator.reads(i) for i in present] == [NEW] * 4
    assert min(floor_seen) >= 2
    assert sorted(i for batch in progress["batches"] for i in batch) == sorted(original)

    outcome = {
        "asg_name": "live_asg_web",
        "status": "CONVERGED",
        "release_id": "arn:aws:states:us-east-1:123456789012:execution:asg-terminator-release:test",
        "progress": outcome_progress(progress),
    }
    report = summarize(summarize_event([outcome]), None)

    (asg,) = report["asgs"]
    assert report["status"] == "SUCCEEDED"
    assert (asg["versions_before"], asg["versions_after"]) == ({OLD: 4}, {NEW: 4})
    assert (asg["batch_count"], asg["terminated_count"]) == (2, 4)
