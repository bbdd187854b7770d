"""The release scenarios of issue #2, each on the real ASL with the real handlers."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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
    # The first batch is first checked after poll_seconds (1 here), each later one a poll before the
    # shortest replacement measured before it would end (rounded down), so that the check watches the
    # boot end; WaitForReplacement waits what Terminate wrote.
    terminated = [o["progress"] for o in execution.task_outputs("Terminate")]
    replaced = [o["progress"] for o in execution.task_outputs("CheckReplacement") if o["progress"]["pending"] is None]
    assert [t["pending"]["wait_seconds"] for t in terminated] == [
        1,
        *(max(0, int(r["boot_seconds"]) - 1) for r in replaced[: len(terminated) - 1]),
    ]
    assert all(r["boot_seconds"] <= r_before["boot_seconds"] for r_before, r in itertools.pairwise(replaced))


def test_two_asgs_release_in_one_execution(world: World) -> None:
    world.fleet(build=NEW)
    world.asg("live_asg_web", 3, OLD)
    world.asg("live_asg_api", 2, OLD)

    execution, watch = world.release(
        {"asg_names": ["live_asg_web", "live_asg_api"], "target_version": NEW, "min_healthy": 1, "max_batch": 2}
    )

    assert execution.status == "SUCCEEDED", execution.cause
    assert world.versions("live_asg_web") == [NEW] * 3
    assert world.versions("live_asg_api") == [NEW] * 2
    reports = {r["asg_name"]: r for r in execution.output["asgs"]}
    assert reports["live_asg_web"]["terminated_count"] == 3
    assert reports["live_asg_api"]["terminated_count"] == 2
    assert all(len(batch) <= 2 for r in reports.values() for batch in r["batches"])
    assert_safe(world, execution, watch, ["live_asg_web", "live_asg_api"], 1, NEW)


def test_one_asg_failing_does_not_stop_the_others(world: World) -> None:
    world.fleet(build=NEW)
    world.asg("live_asg_web", 2, OLD)

    execution, watch = world.release({"asg_names": ["live_asg_web", "live_asg_gone"], "target_version": NEW})

    assert execution.status == "FAILED"
    assert execution.error == "ReleaseFailedError"
    message = execution.cause_message()
    assert "1 of 2 ASGs failed" in message
    assert "live_asg_web CONVERGED on 1.0.274" in message
    assert "live_asg_gone FAILED AsgNotFoundError" in message
    assert world.versions("live_asg_web") == [NEW] * 2
    assert_safe(world, execution, watch, ["live_asg_web"], 1, NEW)


def test_rollback_by_pinning_an_older_target(world: World) -> None:
    world.fleet(build=NEW)
    world.asg("live_asg_web", 3, NEW)
    world.simulator.publish(OLD)  # type: ignore[union-attr]  # the operator re-publishes the old build

    execution, watch = world.release(
        {"asg_names": ["live_asg_web"], "target_version": OLD, "min_healthy": 2, "allow_downgrade": True}
    )

    assert execution.status == "SUCCEEDED", execution.cause
    assert world.versions("live_asg_web") == [OLD] * 3
    assert execution.output["asgs"][0]["versions_before"] == {NEW: 3}
    assert_safe(world, execution, watch, ["live_asg_web"], 2, OLD)


def test_already_converged_terminates_nothing(world: World) -> None:
    world.fleet(build=NEW)
    before = world.asg("live_asg_web", 3, NEW)

    execution, _ = world.release({"asg_names": ["live_asg_web"]})

    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["asgs"][0]["target_version"] == NEW  # the highest version read
    assert execution.output["asgs"][0]["terminated_count"] == 0
    assert "Terminate" not in execution.states_entered()
    assert sorted(world.versions("live_asg_web")) == [NEW] * 3
    assert sorted(before) == sorted(
        i["InstanceId"]
        for i in world.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["live_asg_web"])[
            "AutoScalingGroups"
        ][0]["Instances"]
    )


def test_an_instance_whose_version_times_out_is_never_counted_nor_terminated(world: World) -> None:
    sim = world.fleet(build=NEW)
    ids = world.asg("live_asg_web", 4, OLD)
    sim.set_fault(ids[0], "hangs")

    execution, watch = world.release(
        {
            "asg_names": ["live_asg_web"],
            "target_version": NEW,
            "min_healthy": 2,
            "probe_timeout_seconds": 1,
            "replacement_timeout_seconds": 4,
        }
    )

    assert execution.status == "FAILED"
    message = execution.cause_message()
    assert "ReleaseStalledError" in message and f"{ids[0]} timeout after 1 s" in message
    assert ids[0] not in execution.terminated()
    assert sorted(execution.terminated()) == sorted(ids[1:])  # the readable ones were released
    assert world.versions("live_asg_web").count(NEW) == 3
    assert_safe(world, execution, watch, ["live_asg_web"], 2, NEW)


def test_replace_unreadable_replaces_instances_without_a_version_endpoint(world: World) -> None:
    sim = world.fleet(build=NEW)
    ids = world.asg("live_asg_web", 3, OLD)
    sim.set_fault(ids[0], "hangs")

    execution, watch = world.release(
        {
            "asg_names": ["live_asg_web"],
            "target_version": NEW,
            "min_healthy": 1,
            "max_batch": 1,
            "probe_timeout_seconds": 1,
            "replace_unreadable": True,
        }
    )

    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.terminated()[0] == ids[0]  # unknown versions are the oldest
    assert world.versions("live_asg_web") == [NEW] * 3
    assert_safe(world, execution, watch, ["live_asg_web"], 1, NEW)


def test_replacements_that_never_get_healthy_fail_with_a_named_error(world: World) -> None:
    from asg_terminator.simulator import NEVER_BOOTS, FaultPlan

    world.fleet(build=NEW, faults=FaultPlan({NEVER_BOOTS: 1.0}))
    world.asg("live_asg_web", 3, OLD)

    execution, watch = world.release(
        {
            "asg_names": ["live_asg_web"],
            "target_version": NEW,
            "min_healthy": 1,
            "max_batch": 1,
            "replacement_timeout_seconds": 3,
        }
    )

    assert execution.status == "FAILED"
    message = execution.cause_message()
    assert "ReplacementTimeoutError" in message
    assert "1 of 1 replacements not serving 1.0.274" in message and "HTTP 503" in message
    assert len(execution.terminated()) == 1  # nothing more was terminated after the first batch
    assert world.versions("live_asg_web").count(OLD) == 2
    assert_safe(world, execution, watch, ["live_asg_web"], 1, NEW)


def test_bad_input_fails_before_any_termination_naming_the_field(world: World) -> None:
    world.fleet(build=NEW)
    ids = world.asg("live_asg_web", 3, OLD)

    execution, _ = world.release({"asg_names": ["live_asg_web"], "target_version": NEW, "min_heathy": 2})

    assert execution.status == "FAILED"
    assert execution.error == "InvalidExecutionInputError"
    assert "min_heathy: unknown field" in execution.cause_message()
    assert execution.states_entered() == ["RouteInput", "ValidateInput"]
    assert sorted(world.versions("live_asg_web")) == [OLD] * 3 and len(ids) == 3


def test_a_version_url_that_is_not_http_is_rejected(world: World) -> None:
    world.fleet(build=NEW)
    world.asg("live_asg_web", 1, OLD)

    execution, _ = world.release({"asg_names": ["live_asg_web"], "version_url": "ftp://{PrivateIpAddress}/version"})

    assert execution.status == "FAILED"
    assert execution.error == "InvalidExecutionInputError"
    assert "version_url: does not yield an http(s) URL" in execution.cause_message()


def test_two_releases_of_one_asg_started_together_one_proceeds_the_other_touches_nothing(world: World) -> None:
    from tests.workflow.harness import run_execution

    world.fleet(build=NEW)
    world.asg("live_asg_web", 3, OLD)
    settings = {
        "asg_names": ["live_asg_web"],
        "target_version": NEW,
        "min_healthy": 2,
        "poll_seconds": 1,
        "version_url": world.simulator.url_template,
    }  # type: ignore[union-attr]
    results: dict[str, object] = {}

    def run(tag: str) -> None:
        results[tag] = run_execution(world.sfn, world.machine_arn, settings, timeout=120)

    import threading

    threads = [threading.Thread(target=run, args=(t,)) for t in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    executions = sorted(results.values(), key=lambda e: e.status)  # type: ignore[attr-defined]
    loser, winner = executions  # FAILED sorts before SUCCEEDED
    assert winner.status == "SUCCEEDED" and loser.status == "FAILED"
    assert "AsgLockedError" in loser.cause_message() and "nothing was terminated" in loser.cause_message()
    assert loser.terminated() == [] and "Terminate" not in loser.states_entered()
    assert world.versions("live_asg_web") == [NEW] * 3
    tags = world.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["live_asg_web"])["AutoScalingGroups"][
        0
    ]["Tags"]
    assert [t for t in tags if t["Key"] == "asg-terminator:release"] == []  # the winner let go at the end


def test_a_lock_left_by_an_ended_release_does_not_block_the_next(world: World) -> None:
    world.fleet(build=NEW)
    world.asg("live_asg_web", 2, OLD)
    stale = world.machine_arn.replace(":stateMachine:", ":execution:") + ":stopped-long-ago"
    world.autoscaling.create_or_update_tags(
        Tags=[
            {
                "ResourceId": "live_asg_web",
                "ResourceType": "auto-scaling-group",
                "Key": "asg-terminator:release",
                "Value": stale,
                "PropagateAtLaunch": False,
            }
        ]
    )

    execution, watch = world.release({"asg_names": ["live_asg_web"], "target_version": NEW})

    assert execution.status == "SUCCEEDED", execution.cause
    assert world.versions("live_asg_web") == [NEW] * 2
    assert_safe(world, execution, watch, ["live_asg_web"], 1, NEW)


def test_a_dry_run_reports_every_instance_and_terminates_nothing(world: World) -> None:
    sim = world.fleet(build=NEW)
    ids = world.asg("live_asg_web", 4, OLD)
    sim.set_fault(ids[0], "hangs")
    world.asg("live_asg_api", 1, NEW)

    execution, _ = world.release(
        {
            "asg_names": ["live_asg_web", "live_asg_api"],
            "target_version": NEW,
            "min_healthy": 2,
            "max_batch": 1,
            "probe_timeout_seconds": 1,
            "dry_run": True,
        }
    )

    assert execution.status == "SUCCEEDED", execution.cause
    assert "Terminate" not in execution.states_entered() and "LockAsg" not in execution.states_entered()
    reports = {r["asg_name"]: r for r in execution.output["asgs"]}
    assert reports["live_asg_api"]["status"] == "CONVERGED"
    web = reports["live_asg_web"]
    assert web["status"] == "PLANNED" and web["terminated_count"] == 0
    verdicts = {entry["id"]: entry["verdict"] for entry in web["plan"]}
    assert sorted(verdicts) == sorted(ids)
    assert verdicts[ids[0]] == "keep: version unreadable (timeout after 1 s); it blocks convergence"
    assert sorted(v.split(":")[0] for i, v in verdicts.items() if i != ids[0]) == ["later", "later", "terminate"]
    assert sorted(world.versions("live_asg_web")) == sorted([OLD, OLD, OLD, "unreadable"])
