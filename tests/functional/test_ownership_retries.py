"""Ownership under retries and partial failures: a step that failed halfway and is run again, Cleanup
delivered twice, a lease handed to an execution that has not started, a name taken in the chain.
The real handlers against moto; a fault is one AWS call answering Throttling, as AWS does."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest

from asg_terminator.simulator import DEAD, FleetSimulator
from tasks import ownership, runtime
from tasks.adapters.stepfunctions import ExecutionState
from tasks.domain.fleet import Decision, Progress
from tasks.domain.lease import Surge
from tasks.errors import AsgLockedError, AwsThrottledError, ContinuationTakenError
from tasks.handlers.lock_asg import handler as lock_asg
from tasks.handlers.roll_back import handler as roll_back
from tasks.handlers.terminate import handler as terminate
from tasks.handlers.unlock_asg import handler as unlock_asg
from tests.functional.support import NEW, OLD, group, group_ids, leased, target_group

if TYPE_CHECKING:
    from collections.abc import Callable

    from tasks.adapters.autoscaling import Group

A = "arn:aws:states:us-east-1:123456789012:execution:asg-terminator-release:A"
B = "arn:aws:states:us-east-1:123456789012:execution:asg-terminator-release:B"


class Executions:
    """Step Functions' view of the executions named: their status (absent: no such execution)."""

    def __init__(self, **statuses: tuple[str, float | None, dict[str, Any] | None]) -> None:
        self._statuses = {f"{A.rsplit(':', 1)[0]}:{k}": v for k, v in statuses.items()}

    def state_of(self, arn: str) -> ExecutionState:
        status, stopped, given = self._statuses.get(arn, (None, None, None))
        return ExecutionState(status, stopped, given)

    def is_running(self, arn: str) -> bool:
        return self.state_of(arn).status == "RUNNING"


def fail_once(monkeypatch: pytest.MonkeyPatch, method: str, on_call: int = 1) -> None:
    """The ``on_call``-th call of AutoScaling.``method`` answers Throttling (and changes nothing)."""
    cls = type(runtime.autoscaling())
    real = getattr(cls, method)
    calls = {"n": 0}

    def flaky(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == on_call:
            raise AwsThrottledError(f"{method}: throttled (Throttling): Rate exceeded")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(cls, method, flaky)


def desired(autoscaling: Any) -> int:
    return int(group(autoscaling, "web")["DesiredCapacity"])


def test_a_give_back_retried_after_it_failed_halfway_still_restores_the_capacity(
    make_asg: Callable[..., list[str]], autoscaling: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_asg("web", 3, max_size=6)
    time.sleep(1.1)  # EC2 launch times have one-second resolution: the surge's instances are the newest
    leased("web", A, max_surge=2)
    assert desired(autoscaling) == 5
    fail_once(monkeypatch, "terminate_in_group", on_call=2)  # the first surplus instance went, then throttled

    with pytest.raises(AwsThrottledError):
        unlock_asg({"asg_name": "web", "release_id": A}, None)
    assert desired(autoscaling) == 4
    done = unlock_asg({"asg_name": "web", "release_id": A}, None)  # the state machine's Retry

    assert (done["unlocked"], done["restored_capacity"], done["notes"]) == (True, 3, [])
    assert desired(autoscaling) == 3 and runtime.leases().get("web") is None


def lose_answer_once(monkeypatch: pytest.MonkeyPatch, method: str, on_call: int = 1) -> None:
    """The ``on_call``-th call of AutoScaling.``method`` lands, and its answer is lost (a timeout)."""
    cls = type(runtime.autoscaling())
    real = getattr(cls, method)
    calls = {"n": 0}

    def lost(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        answer = real(self, *args, **kwargs)
        if calls["n"] == on_call:
            raise AwsThrottledError(f"{method}: the request timed out")
        return answer

    monkeypatch.setattr(cls, method, lost)


# Simulation finding "lost give-back" (seed 2134): the retry found desired one below the surge it
# recorded, took it for someone else's change, and left the rest of the surge.
def test_a_give_back_retried_after_a_termination_whose_answer_was_lost_restores_the_capacity(
    make_asg: Callable[..., list[str]], autoscaling: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_asg("web", 3, max_size=6)
    time.sleep(1.1)  # EC2 launch times have one-second resolution: the surge's instances are the newest
    leased("web", A, max_surge=2)
    lose_answer_once(monkeypatch, "terminate_in_group", on_call=1)  # it went, with its decrement

    with pytest.raises(AwsThrottledError):
        unlock_asg({"asg_name": "web", "release_id": A}, None)
    assert desired(autoscaling) == 4
    done = unlock_asg({"asg_name": "web", "release_id": A}, None)  # the state machine's Retry

    assert (done["unlocked"], done["restored_capacity"], done["notes"]) == (True, 3, [])
    assert desired(autoscaling) == 3 and runtime.leases().get("web") is None


# Simulation finding "lagging capacity" (seed 64): a read of desired capacity from before the
# surge was taken for someone else's change, and the surge left in place.
def test_letting_go_reads_again_when_desired_capacity_lags_the_surge(
    make_asg: Callable[..., list[str]], autoscaling: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_asg("web", 3, max_size=6)
    time.sleep(1.1)  # EC2 launch times have one-second resolution: the surge's instances are the newest
    leased("web", A, max_surge=2)
    monkeypatch.setenv("CAPACITY_LAG_SECONDS", "2")
    runtime.settings.cache_clear()
    cls, reads = type(runtime.fleet_reader()), {"n": 0}
    real = cls.discover

    def lagging(self: Any, *args: Any, **kwargs: Any) -> Any:
        reads["n"] += 1
        fleet = real(self, *args, **kwargs)
        return replace(fleet, desired=3) if reads["n"] == 1 else fleet  # the first read is from before the surge

    monkeypatch.setattr(cls, "discover", lagging)
    done = unlock_asg({"asg_name": "web", "release_id": A}, None)

    assert (done["unlocked"], done["restored_capacity"], done["notes"]) == (True, 3, [])
    assert desired(autoscaling) == 3 and reads["n"] == 3  # capacity twice, then once with the versions


# Property test finding (seed 1969): a surge instance InService and Healthy that never served was
# kept while one that served went; the give-back reads the versions and keeps the serving ones.
def test_a_give_back_keeps_the_instances_that_serve(
    make_asg: Callable[..., list[str]], autoscaling: Any, simulator: FleetSimulator
) -> None:
    broken, serving = make_asg("web", 2, max_size=4)
    simulator.adopt([serving], OLD)
    simulator.adopt([broken], OLD)
    simulator.set_fault(broken, DEAD)  # InService and Healthy to Auto Scaling; its version never reads
    time.sleep(1.1)  # EC2 launch times have one-second resolution: the surge's instances are the newest
    leased("web", A, max_surge=2, version_url=simulator.url_template, probe_timeout_seconds=0.5)
    surged = group_ids(autoscaling, "web") - {broken, serving}
    simulator.adopt(surged, NEW)  # both boot and serve

    done = unlock_asg({"asg_name": "web", "release_id": A}, None)

    assert (done["unlocked"], done["restored_capacity"]) == (True, 2)
    left = group_ids(autoscaling, "web")
    assert broken not in left and serving in left and len(left & surged) == 1
    assert all(simulator.reads(i) for i in left)  # before: the two surge instances went, the broken one stayed


def test_a_change_by_someone_else_is_left_once_the_reads_agree_for_the_lag(
    make_asg: Callable[..., list[str]], autoscaling: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_asg("web", 3, max_size=6)
    leased("web", A, max_surge=2)
    autoscaling.set_desired_capacity(AutoScalingGroupName="web", DesiredCapacity=6)  # a scaling policy
    monkeypatch.setenv("CAPACITY_LAG_SECONDS", "1")
    runtime.settings.cache_clear()
    done = unlock_asg({"asg_name": "web", "release_id": A}, None)

    assert (done["unlocked"], done["restored_capacity"]) == (True, None)
    assert "desired capacity left at 6" in done["notes"][0] and "read again for 1 s" in done["notes"][1]
    assert desired(autoscaling) == 6


def test_a_lock_retried_after_its_surge_failed_surges(
    make_asg: Callable[..., list[str]], autoscaling: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_asg("web", 3, max_size=6)
    fail_once(monkeypatch, "set_desired")
    with pytest.raises(AwsThrottledError):
        leased("web", A, max_surge=2)
    assert desired(autoscaling) == 3  # recorded, not made

    leased("web", A, max_surge=2)

    assert desired(autoscaling) == 5
    held = runtime.leases().get("web")
    assert held is not None and held.surge is not None and (held.surge.original, held.surge.surged_to) == (3, 5)


def test_cleanup_delivered_again_after_it_failed_finishes_the_job(
    make_asg: Callable[..., list[str]], autoscaling: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_asg("web", 3, max_size=6)
    leased("web", A, suspend_processes=["AZRebalance"])
    monkeypatch.setattr(runtime, "stepfunctions", lambda: Executions(A=("ABORTED", time.time() - 100, None)))
    fail_once(monkeypatch, "resume")

    with pytest.raises(AwsThrottledError):
        ownership.clean_up(A, time.time() - 100)
    held = runtime.leases().get("web")
    assert held is not None and held.holder == "cleanup:" + A  # taken over, not yet let go
    done = ownership.clean_up(A, time.time() - 100)  # EventBridge's retry, or a second delivery

    assert done["web"].unlocked is True and runtime.leases().get("web") is None
    assert group(autoscaling, "web")["SuspendedProcesses"] == []


def test_cleanup_waits_until_no_step_of_the_stopped_execution_can_still_be_running(
    make_asg: Callable[..., list[str]], autoscaling: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_asg("web", 3, max_size=6)
    leased("web", A, max_surge=1)
    monkeypatch.setenv("IN_FLIGHT_SECONDS", "70")
    runtime.settings.cache_clear()
    stopped = time.time() - 30
    monkeypatch.setattr(runtime, "stepfunctions", lambda: Executions(A=("ABORTED", stopped, None)))
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        held = runtime.leases().get("web")
        assert held is not None and held.holder == "cleanup:" + A  # the ended execution is fenced out first
        assert desired(autoscaling) == 4  # and nothing is undone yet
        slept.append(seconds)

    monkeypatch.setattr(runtime, "sleep", sleep)
    ownership.clean_up(A, stopped)

    assert len(slept) == 1 and 39 <= slept[0] <= 40  # until 70 s after the stop
    assert desired(autoscaling) == 3 and runtime.leases().get("web") is None


def test_a_release_that_ended_moments_ago_is_not_taken_over_yet(
    make_asg: Callable[..., list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_asg("web", 2)
    leased("web", A)
    monkeypatch.setenv("IN_FLIGHT_SECONDS", "70")
    runtime.settings.cache_clear()
    monkeypatch.setattr(runtime, "stepfunctions", lambda: Executions(A=("ABORTED", time.time() - 5, None)))
    with pytest.raises(AsgLockedError, match=f"being released by {A}"):
        leased("web", B)
    monkeypatch.setattr(runtime, "stepfunctions", lambda: Executions(A=("ABORTED", time.time() - 71, None)))
    leased("web", B)
    held = runtime.leases().get("web")
    assert held is not None and held.holder == B


def test_a_lease_handed_to_an_execution_not_started_yet_is_not_free(
    make_asg: Callable[..., list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_asg("web", 2)
    leased("web", A)
    monkeypatch.setattr(runtime, "stepfunctions", lambda: Executions(A=("RUNNING", None, None)))
    ownership.hand_over(["web"], A, A + "-c2")  # ContinueAsNewExecution, before StartExecution

    with pytest.raises(AsgLockedError):
        leased("web", B)
    held = runtime.leases().get("web")
    assert held is not None and held.holder == A + "-c2"


def test_no_lease_goes_to_an_execution_that_took_the_chains_next_name(
    make_asg: Callable[..., list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_asg("web", 2)
    leased("web", A)
    squatter = {"continuation": {"previous_execution": B}}
    monkeypatch.setattr(
        runtime, "stepfunctions", lambda: Executions(A=("RUNNING", None, None), **{"A-c2": ("RUNNING", None, squatter)})
    )
    with pytest.raises(ContinuationTakenError, match="does not continue"):
        ownership.hand_over(["web"], A, A + "-c2")
    held = runtime.leases().get("web")
    assert held is not None and held.holder == A


def test_an_instance_already_terminating_when_terminate_is_retried_counts_as_terminated(
    make_asg: Callable[..., list[str]], autoscaling: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = make_asg("web", 4, zones=("us-east-1a",))
    progress = Progress(target_version=NEW).update(decision=Decision("terminate", "x", tuple(ids[:2])))
    event = {"asg_name": "web", "release_id": leased("web"), "progress": progress.to_record()}
    cls = type(runtime.autoscaling())
    real = cls.describe_group

    def first_attempt_landed(self: Any, name: str) -> Group:
        """The first attempt terminated ids[0] and then failed: AWS lists it Terminating for a while."""
        described = real(self, name)
        members = (replace(m, lifecycle="Terminating:Wait") if m.id == ids[0] else m for m in described.members)
        return replace(described, members=tuple(members))

    monkeypatch.setattr(cls, "describe_group", first_attempt_landed)
    after = terminate(event, None)

    assert after["batches"] == [[ids[0], ids[1]]]  # the ledger counts both: a rollback knows of both
    assert ids[0] in {i["InstanceId"] for i in group(autoscaling, "web")["Instances"]}  # not terminated again


def test_a_rollback_registers_a_drained_batch_that_was_not_terminated_again(
    make_asg: Callable[..., list[str]], autoscaling: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    ids = make_asg("web", 3)
    tg = target_group(autoscaling, "web")
    release_id = leased("web")
    ownership.drain("web", release_id, [tg], ids[:1])  # then an alarm stopped Terminate
    elbv2 = boto3.client("elbv2", region_name="us-east-1")

    def registered() -> set[str]:
        return {d["Target"]["Id"] for d in elbv2.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]}

    assert ids[0] not in registered()
    progress = Progress(target_version=NEW, versions_before={OLD: 3}, batches=((ids[1],),))
    roll_back(
        {
            "asg_name": "web",
            "release_id": release_id,
            "progress": progress.to_record(),
            "failure": {"Error": "AlarmTriggeredError", "Cause": "web-5xx"},
            "pin_parameter": "/asg-terminator/{asg_name}/build",
        },
        None,
    )

    assert ids[0] in registered()
    held = runtime.leases().get("web")
    assert held is not None and held.drained == ()


def test_a_lock_asg_retried_before_anything_was_recorded_takes_the_lease_once(
    make_asg: Callable[..., list[str]], autoscaling: Any
) -> None:
    make_asg("web", 2)
    event = {"asg_name": "web", "release_id": A, "takes_over": None, "settings": _settings()}
    first = lock_asg(event, None)
    again = lock_asg(event, None)
    assert first["suspended"] == again["suspended"] == ["AZRebalance", "InstanceRefresh", "ScheduledActions"]
    suspended = sorted(p["ProcessName"] for p in group(autoscaling, "web")["SuspendedProcesses"])
    assert suspended == ["AZRebalance", "InstanceRefresh", "ScheduledActions"]


def _settings() -> dict[str, Any]:
    from tests.unit.builders import settings

    return settings()


def test_a_wave_the_surge_pays_for_stopped_halfway_is_finished_by_the_retry_or_given_back(
    make_asg: Callable[..., list[str]], autoscaling: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14 item 1: a wave that lowers desired capacity is recorded before its first termination,
    so a retried Terminate pays only for what is left, and UnlockAsg after a stop gives back only what
    the surge has not paid for, wherever the wave stopped."""
    ids = make_asg("web", 3, max_size=6, zones=("us-east-1a",))
    time.sleep(1.1)  # EC2 launch times have one-second resolution: the surge's instances are the newest
    leased("web", A, max_surge=2)
    assert desired(autoscaling) == 5
    decision = Decision("terminate", "x", tuple(ids[:2]), outdated_after=1)  # 1 outdated left after
    event = {
        "asg_name": "web",
        "release_id": A,
        "progress": Progress(target_version=NEW, decision=decision).to_record(),
    }
    monkeypatch.setattr(ownership, "TERMINATE_CONCURRENCY", 1)  # one after another: the second is throttled
    fail_once(monkeypatch, "terminate_in_group", on_call=2)

    with pytest.raises(AwsThrottledError):
        terminate(event, None)
    held = runtime.leases().get("web")
    assert held is not None and held.surge == Surge(3, 4, size=2, was=5)  # the wave, recorded before it began
    assert desired(autoscaling) == 5  # the first of the batch keeps its replacement; the second is paid for

    after = terminate(event, None)  # the state machine's Retry

    assert after["pending"]["decremented"] == 1 and after["surge_paid"] == 1
    assert desired(autoscaling) == 4 and not {ids[0], ids[1]} & group_ids(autoscaling, "web")
    held = runtime.leases().get("web")
    assert held is not None and held.surge == Surge(3, 4, size=2)  # settled: 1 left for the last outdated one
    done = unlock_asg({"asg_name": "web", "release_id": A}, None)
    assert done["restored_capacity"] == 3 and desired(autoscaling) == 3
