"""The release scenarios of issue #2, each on the real ASL with the real handlers."""

from __future__ import annotations

from tests.workflow.conftest import World

OLD, NEW = "1.0.266", "1.0.274"


def assert_safe(world: World, execution, watch, asg_names, min_healthy, target) -> None:  # type: ignore[no-untyped-def]
    for name in asg_names:
        assert watch.floor_breaches(name, min_healthy) == [], f"{name} dropped below the floor"
    served_target = [i for i in execution.terminated() if watch.gone.get(i) == target]
    assert served_target == [], f"terminated instances that served the target: {served_target}"


def test_three_instances_on_old_build_become_new_with_min_healthy_2(world: World) -> None:
    world.fleet(build=NEW)
    world.asg("live_asg_web", 3, OLD)

    execution, watch = world.release({"asg_names": ["live_asg_web"], "target_version": NEW, "min_healthy": 2})

    assert execution.status == "SUCCEEDED", execution.cause
    assert world.versions("live_asg_web") == [NEW, NEW, NEW]
    report = execution.output["asgs"][0]
    assert report["target_version"] == NEW
    assert report["versions_before"] == {OLD: 3}
    assert report["versions_after"] == {NEW: 3}
    assert report["batch_count"] == 3 and report["terminated_count"] == 3
    assert_safe(world, execution, watch, ["live_asg_web"], 2, NEW)
    assert watch.lowest("live_asg_web").serving == 2  # the floor was used, not just respected
