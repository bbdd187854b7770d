"""Paths through the real handlers that make an AWS action no other test makes through its function:
a drained batch given back by UnlockAsg, by LockAsg after a release ended, and by Cleanup asking
Step Functions (moto's) whether the execution still runs; an approval request sent to the bus. Each
action must be one its role grants, and each grant must be used (tests/iam_recorder.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from tasks import ownership, runtime
from tasks.handlers.await_approval import handler as await_approval
from tasks.handlers.cleanup import handler as cleanup
from tasks.handlers.lock_asg import handler as lock_asg
from tasks.handlers.unlock_asg import handler as unlock_asg
from tests.functional.support import REGION, leased, target_group
from tests.iam_recorder import RECORDING

if TYPE_CHECKING:
    from collections.abc import Callable

ABORTED = Path(__file__).parent.parent / "events" / "execution_aborted.json"


def registered(tg: str) -> set[str]:
    elbv2 = boto3.client("elbv2", region_name=REGION)
    return {d["Target"]["Id"] for d in elbv2.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]}


def made_by(function: str) -> set[str]:
    with RECORDING.lock:
        return {action for f, action in RECORDING.made if f == function}


@pytest.fixture
def stopped_execution(aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """An execution of a release state machine in moto, stopped: the ended release (none of its steps
    can still be running: IN_FLIGHT_SECONDS 0)."""
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name="asg-terminator-release",
        definition=json.dumps({"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 3600, "End": True}}}),
        roleArn="arn:aws:iam::123456789012:role/release",
    )["stateMachineArn"]
    arn: str = sfn.start_execution(stateMachineArn=machine, name="ended")["executionArn"]
    sfn.stop_execution(executionArn=arn)
    monkeypatch.setenv("STATE_MACHINE_ARN", machine)
    monkeypatch.setenv("IN_FLIGHT_SECONDS", "0")
    runtime.settings.cache_clear()
    return arn


def test_unlock_asg_registers_a_drained_batch_that_was_not_terminated_again(
    make_asg: Callable[..., list[str]], autoscaling: Any
) -> None:
    ids = make_asg("web", 3)
    tg = target_group(autoscaling, "web")
    release_id = leased("web")
    ownership.drain("web", release_id, [tg], ids[:1])  # then the release failed before Terminate
    assert ids[0] not in registered(tg)

    unlock_asg({"asg_name": "web", "release_id": release_id}, None)

    assert ids[0] in registered(tg)
    assert runtime.leases().get("web") is None
    assert "elasticloadbalancing:RegisterTargets" in made_by("UnlockAsg")


def test_lock_asg_gives_back_the_drained_batch_of_a_release_that_ended(
    make_asg: Callable[..., list[str]], autoscaling: Any, stopped_execution: str
) -> None:
    ids = make_asg("web", 3)
    tg = target_group(autoscaling, "web")
    leased("web", stopped_execution)
    ownership.drain("web", stopped_execution, [tg], ids[:1])  # then the execution was stopped by hand

    after = "arn:aws:states:us-east-1:123456789012:execution:asg-terminator-release:after"
    settings = {**_defaults(), "suspend_processes": []}
    lock_asg({"asg_name": "web", "release_id": after, "takes_over": None, "settings": settings}, None)

    assert ids[0] in registered(tg)
    held = runtime.leases().get("web")
    assert held is not None and held.holder == after and held.drained == ()
    assert {"elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DescribeTargetHealth"} <= made_by("LockAsg")


def test_cleanup_asks_step_functions_whether_the_next_execution_runs_then_gives_the_batch_back(
    make_asg: Callable[..., list[str]], autoscaling: Any, stopped_execution: str
) -> None:
    ids = make_asg("web", 3)
    tg = target_group(autoscaling, "web")
    leased("web", stopped_execution)
    ownership.drain("web", stopped_execution, [tg], ids[:1])
    # Handed to the chain's next execution, which was never started: the ASG is still the ended one's.
    ownership.hand_over(["web"], stopped_execution, stopped_execution + "-c2")
    event = json.loads(ABORTED.read_text())
    event["detail"] |= {"executionArn": stopped_execution, "stateMachineArn": runtime.settings().state_machine_arn}
    del event["detail"]["stopDate"]  # Cleanup then takes the stop as now

    done = cleanup(event, None)

    assert [a["asg_name"] for a in done["asgs"]] == ["web"]
    assert ids[0] in registered(tg)
    assert runtime.leases().get("web") is None
    assert "states:DescribeExecution" in made_by("Cleanup")


def test_await_approval_tells_the_stacks_bus_that_a_checkpoint_waits(aws: None) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    queue = sqs.create_queue(QueueName="approvals")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events = boto3.client("events", region_name=REGION)
    events.put_rule(Name="approvals", EventPattern=json.dumps({"source": ["asg-terminator"]}))
    events.put_targets(Rule="approvals", Targets=[{"Id": "q", "Arn": queue_arn}])
    execution = "arn:aws:states:us-east-1:123456789012:execution:asg-terminator-release:test"

    await_approval(
        {
            "task_token": "AQCEAAAAKgAAAAMAAAAA",
            "asg_name": "web",
            "release_id": execution,
            "execution_id": execution,
            "message": "checkpoint 1 of 2",
            "event_bus_name": "default",
            "rollback_on_failure": False,
        },
        None,
    )

    received = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0)["Messages"]
    sent = json.loads(received[0]["Body"])
    assert (sent["detail-type"], sent["detail"]["asg_name"]) == ("Approval Requested", "web")
    assert "AQCEAAAAKgAAAAMAAAAA" not in received[0]["Body"]  # the callback token is never sent
    assert "events:PutEvents" in made_by("AwaitApproval")
    bus = "arn:aws:events:us-east-1:123456789012:event-bus/default"
    assert ("AwaitApproval", "events:PutEvents", bus) in RECORDING.on  # the role names this bus only


def _defaults() -> dict[str, Any]:
    from tasks import contracts

    return contracts.defaults("validate_input.input")
