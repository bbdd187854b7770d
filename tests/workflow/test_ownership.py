"""Exactly one release owns an ASG, and leaving it leaves the ASG as it was (the lease, fencing,
suspended processes, Cleanup after a stop, skipped starts, one release per upload), on the real ASL."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

from asg_terminator.eventbridge import UploadDelivery, invoke
from asg_terminator.lambda_server import ACCOUNT, function_name
from tasks import runtime
from tasks.adapters.leases import to_item
from tasks.domain.fleet import Progress
from tasks.domain.lease import LOCK_TAG, Lease
from tests.functional.support import target_group
from tests.workflow.harness import FloorWatch, run_execution, wait_for_execution

if TYPE_CHECKING:
    import pytest

    from tests.workflow.conftest import World

OLD, NEW = "1.0.266", "1.0.274"
REGION = "us-east-1"
EVENTS = Path(__file__).parent.parent / "events"


def _ids(world: World, name: str) -> set[str]:
    return {i["InstanceId"] for i in world.group(name)["Instances"]}


def _suspended(world: World, name: str) -> list[str]:
    return sorted(p["ProcessName"] for p in world.group(name)["SuspendedProcesses"])


def _start(world: World, execution_input: dict[str, Any]) -> str:
    assert world.simulator is not None
    full = {"version_url": world.simulator.url_template, "poll_seconds": 1, **execution_input}
    started = world.sfn.start_execution(
        stateMachineArn=world.machine_arn, name=f"test-{uuid.uuid4().hex[:12]}", input=json.dumps(full)
    )
    return str(started["executionArn"])


def _wait_until(what: str, done: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.05)


def _exited(world: World, arn: str, state: str) -> bool:
    events = world.sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return any(e.get("stateExitedEventDetails", {}).get("name") == state for e in events)


def _entered(world: World, arn: str, state: str) -> bool:
    events = world.sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return any(e.get("stateEnteredEventDetails", {}).get("name") == state for e in events)


def test_five_executions_of_one_asg_started_at_once_give_exactly_one_owner(world: World) -> None:
    world.fleet(build=NEW)
    original = world.asg("live_asg_web", 3, OLD)
    release = {
        "asg_names": ["live_asg_web"],
        "target_version": NEW,
        "min_healthy": 2,
        "max_batch": 1,
        "poll_seconds": 1,
    }
    barrier, executions = threading.Barrier(5), []

    def start_one() -> None:
        barrier.wait()
        executions.append(run_execution(world.sfn, world.machine_arn, {**release, "version_url": url}, timeout=120))

    assert world.simulator is not None
    url = world.simulator.url_template
    with FloorWatch(world.autoscaling, world.simulator, ["live_asg_web"], interval=0.1) as watch:
        threads = [threading.Thread(target=start_one) for _ in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=150)

    assert len(executions) == 5
    owners = [e for e in executions if e.status == "SUCCEEDED"]
    assert len(owners) == 1, [(e.status, e.cause_message()) for e in executions]
    for loser in (e for e in executions if e is not owners[0]):
        assert loser.status == "FAILED" and "AsgLockedError" in loser.cause_message()
        assert loser.terminated() == [] and "Terminate" not in loser.states_entered()
    terminated = [i for e in executions for i in e.terminated()]
    assert sorted(terminated) == sorted(original)  # the ASG's size, each instance once
    assert watch.floor_breaches("live_asg_web", 2) == []
    assert world.versions("live_asg_web") == [NEW] * 3 and world.lease("live_asg_web") is None


def test_a_lease_overwritten_mid_release_stops_that_release_and_nothing_is_terminated_after(world: World) -> None:
    world.fleet(build=NEW)
    original = world.asg("live_asg_web", 4, OLD)
    arn = _start(world, {"asg_names": ["live_asg_web"], "target_version": NEW, "min_healthy": 3, "max_batch": 1})
    _wait_until("the first batch terminated", lambda: _exited(world, arn, "Terminate"))
    intruder = "arn:aws:states:us-east-1:123456789012:execution:other-release:intruder"
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    taken = Lease("live_asg_web", intruder, time.time() + 3600, 3600)
    dynamodb.put_item(TableName=runtime.settings().lease_table, Item=to_item(taken))
    at_overwrite = _ids(world, "live_asg_web")

    execution = wait_for_execution(world.sfn, arn)

    assert execution.status == "FAILED"
    assert "live_asg_web FAILED LeaseLostError" in execution.cause_message()
    assert f"the lease is held by {intruder} now, not by {arn}" in execution.cause_message()
    assert len(execution.terminated()) == 1  # the batch before the overwrite, and none after
    assert at_overwrite & set(original) <= _ids(world, "live_asg_web")
    held = world.lease("live_asg_web")
    assert held is not None and held.holder == intruder  # UnlockAsg let another holder's lease be


def test_a_stop_while_draining_with_a_surge_and_suspended_processes_leaves_the_asg_as_it_was(world: World) -> None:
    world.fleet(build=NEW)
    original = world.asg("live_asg_web", 3, OLD, max_size=6)
    tg = target_group(world.autoscaling, "live_asg_web", delay_seconds=4)
    world.autoscaling.suspend_processes(AutoScalingGroupName="live_asg_web", ScalingProcesses=["ScheduledActions"])
    elbv2 = boto3.client("elbv2", region_name=REGION)
    time.sleep(1.1)  # EC2 launch times have one-second resolution: the surge's instance is the newest

    def registered() -> set[str]:
        return {d["Target"]["Id"] for d in elbv2.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]}

    release = {"asg_names": ["live_asg_web"], "target_version": NEW, "min_healthy": 2, "max_surge": 1}
    with world.status_changes() as delivery:
        arn = _start(world, release)
        _wait_until("WaitForDraining", lambda: _entered(world, arn, "WaitForDraining"))
        held = world.lease("live_asg_web")
        assert held is not None and held.drained and held.surge is not None
        assert world.group("live_asg_web")["DesiredCapacity"] == 4
        assert set(_suspended(world, "live_asg_web")) == {
            "AZRebalance",
            "InstanceRefresh",
            "ScheduledActions",
        }
        assert not set(held.drained) & registered()

        world.sfn.stop_execution(executionArn=arn, cause="stopped by the operator")
        _wait_until("Cleanup", lambda: delivery.delivered and world.lease("live_asg_web") is None, timeout=10)
        time.sleep(5)  # past the drain delay: an interpreter that went on would have reached Terminate

    assert world.sfn.describe_execution(executionArn=arn)["status"] in ("ABORTED", "FAILED")  # moto: FAILED
    assert world.group("live_asg_web")["DesiredCapacity"] == 3
    assert _ids(world, "live_asg_web") == set(original)  # the surge's instance went, nothing else did
    # Every instance is registered again. (moto leaves the terminated surge instance registered too,
    # where AWS deregisters an instance Auto Scaling terminates.)
    assert set(original) <= registered() and not (registered() - set(original)) & _ids(world, "live_asg_web")
    assert _suspended(world, "live_asg_web") == ["ScheduledActions"]  # the operator's own stays
    assert world.lease("live_asg_web") is None
    tags = {t["Key"] for t in world.group("live_asg_web").get("Tags", [])}
    assert LOCK_TAG not in tags


def test_a_forged_continuation_takes_nothing(world: World) -> None:
    world.fleet(build=NEW, boot_seconds=2)
    original = world.asg("live_asg_web", 2, OLD)
    release = {"asg_names": ["live_asg_web"], "target_version": NEW, "min_healthy": 1, "max_batch": 1}
    owner = _start(world, release)
    _wait_until("the owner's lease", lambda: world.lease("live_asg_web") is not None)
    forged = {
        **release,
        "continuation": {
            "origin": "test",
            "first_execution": owner,
            "index": 2,
            "previous_execution": owner,
            "asgs": [{"asg_name": "live_asg_web", "progress": Progress(target_version=NEW).carried().to_record()}],
            "finished": [],
        },
    }

    intruder, _ = world.release(forged)
    rightful = wait_for_execution(world.sfn, owner)

    assert intruder.status == "FAILED" and "AsgLockedError" in intruder.cause_message()
    assert f"being released by {owner}" in intruder.cause_message()
    assert intruder.terminated() == []
    assert rightful.status == "SUCCEEDED", rightful.cause
    assert sorted(rightful.terminated()) == sorted(original)


def test_a_sweep_during_a_release_succeeds_with_that_asg_skipped(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    sim = world.fleet(build=NEW, boot_seconds=2)
    monkeypatch.setenv("RELEASE_DEFAULTS", json.dumps({"version_url": sim.url_template, "poll_seconds": 1}))
    monkeypatch.setenv("ARTIFACT_BUCKET", "sweep-artifacts")  # the sweep's target: the build uploaded for it
    runtime.settings.cache_clear()
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="sweep-artifacts")
    s3.put_object(Bucket="sweep-artifacts", Key=f"sweep/{NEW}/app.zip", Body=b"build")
    world.asg("sweep_web", 2, OLD, tags={"asg-terminator:enabled": "true", "asg-terminator:app": "sweep"})
    owner = _start(world, {"asg_names": ["sweep_web"], "target_version": NEW, "min_healthy": 1})
    _wait_until("the owner's lease", lambda: world.lease("sweep_web") is not None)

    sweep, _ = world.release_raw(json.loads((EVENTS / "scheduled_event.json").read_text()), ["sweep_web"])
    rightful = wait_for_execution(world.sfn, owner)

    assert sweep.status == "SUCCEEDED", sweep.cause
    (report,) = sweep.output["asgs"]
    assert report["status"] == "SKIPPED" and report["error"] == "AsgSkippedError"
    assert f"sweep_web: skipped: being released by {owner} (1.0.274)" in report["cause"]
    assert sweep.terminated() == [] and "UnlockAsg" not in sweep.states_entered()
    assert rightful.status == "SUCCEEDED", rightful.cause
    assert world.versions("sweep_web") == [NEW, NEW] and world.lease("sweep_web") is None


def test_three_files_under_one_version_start_one_execution_and_a_later_upload_another(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = world.fleet(build=NEW)
    for key, value in {
        "RELEASE_DEFAULTS": json.dumps({"version_url": sim.url_template, "poll_seconds": 1}),
        "UPLOAD_WINDOW_SECONDS": "3",
    }.items():
        monkeypatch.setenv(key, value)
    runtime.settings.cache_clear()
    world.asg("shop_web", 2, NEW, tags={"asg-terminator:app": "shop"})  # converges at once: the test is the starts
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="asg-terminator-artifacts")
    answers: list[dict[str, Any]] = []
    start_release = invoke(world.lambdas.invoke, function_name("StartRelease"))

    def deliver(event: dict[str, Any]) -> None:
        answers.append(start_release(event))

    with UploadDelivery(s3, "asg-terminator-artifacts", deliver, REGION, ACCOUNT, interval=0.1):
        for name in ("app.zip", "app.sha256", "app.sig"):
            s3.put_object(Bucket="asg-terminator-artifacts", Key=f"shop/1.0.274/{name}", Body=name.encode())
        _wait_until("three deliveries", lambda: len(answers) == 3)
        started = [a for a in answers if a["started"]]
        assert len(started) == 1, answers
        assert all("one release per upload" in (a["skipped"] or "") for a in answers if not a["started"])
        first = wait_for_execution(world.sfn, started[0]["execution_arn"])
        assert first.status == "SUCCEEDED", first.cause
        time.sleep(3)  # past the window: a new upload of the same version
        s3.put_object(Bucket="asg-terminator-artifacts", Key="shop/1.0.274/app.zip", Body=b"rebuilt")
        _wait_until("the fourth delivery", lambda: len(answers) == 4)

    assert answers[3]["started"] is True and answers[3]["execution_arn"] != started[0]["execution_arn"]
    wait_for_execution(world.sfn, answers[3]["execution_arn"])
    executions = world.sfn.list_executions(stateMachineArn=world.machine_arn)["executions"]
    assert len(executions) == 2


def test_a_replacement_counts_only_once_it_served_through_the_stability_window(world: World) -> None:
    world.fleet(build=NEW, boot_seconds=0.3)
    world.asg("live_asg_web", 2, OLD)

    execution, watch = world.release(
        {"asg_names": ["live_asg_web"], "target_version": NEW, "min_healthy": 1, "healthy_for_seconds": 2}
    )

    assert execution.status == "SUCCEEDED", execution.cause
    checks = execution.task_outputs("CheckReplacement")
    waiting = [c["progress"]["pending"]["status"] for c in checks if c["progress"]["pending"]]
    assert any("serving 1.0.274 for 0 s of healthy_for_seconds 2" in w for w in waiting), waiting
    # A passing check did not count: for each batch, a check saw its replacement serving and waited on.
    seen_serving = [w for w in waiting if "of healthy_for_seconds 2" in w]
    assert len(seen_serving) >= len(execution.batch_sizes()), waiting
    assert len(execution.terminated()) == 2 and watch.floor_breaches("live_asg_web", 1) == []
