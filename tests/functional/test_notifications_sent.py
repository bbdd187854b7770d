"""The Events adapter and runtime.notify against moto's EventBridge, delivering to an SQS queue."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from tasks import runtime
from tasks.domain import notifications
from tasks.errors import AwsRequestError, InvalidStepOutputError
from tests.functional.support import REGION

if TYPE_CHECKING:
    from collections.abc import Callable

RELEASE = "arn:aws:states:us-east-1:123456789012:execution:asg-terminator-release:web-1"


@pytest.fixture
def delivered(aws: None) -> Callable[[], list[dict[str, Any]]]:
    """Every asg-terminator event on the default bus lands in a queue; returns a reader of it."""
    events, sqs = boto3.client("events", region_name=REGION), boto3.client("sqs", region_name=REGION)
    queue = sqs.create_queue(QueueName="releases")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="releases", EventPattern=json.dumps({"source": [notifications.SOURCE]}))
    events.put_targets(Rule="releases", Targets=[{"Id": "queue", "Arn": arn}])

    def read() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]

    return read


def test_an_event_arrives_with_its_source_type_and_detail(delivered: Callable[[], list[dict[str, Any]]]) -> None:
    runtime.notify("default", notifications.started(RELEASE, "live_asg_web"), required=True)

    (event,) = delivered()
    assert (event["source"], event["detail-type"]) == ("asg-terminator", "ASG Release Started")
    assert event["detail"] == {"release_id": RELEASE, "asg_name": "live_asg_web"}


def test_no_bus_no_event(delivered: Callable[[], list[dict[str, Any]]]) -> None:
    runtime.notify(None, notifications.started(RELEASE, "live_asg_web"), required=True)
    assert delivered() == []


def test_a_bus_that_cannot_take_the_first_event_fails_the_step(aws: None) -> None:
    with pytest.raises(AwsRequestError, match="PutEvents ASG Release Started to no-such-bus"):
        runtime.notify("no-such-bus", notifications.started(RELEASE, "live_asg_web"), required=True)


def test_a_later_event_that_is_lost_is_logged_and_the_step_goes_on(aws: None, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="asg_terminator"):
        runtime.notify("no-such-bus", notifications.started(RELEASE, "live_asg_web"))
    assert "notification ASG Release Started not sent: PutEvents ASG Release Started to no-such-bus" in caplog.text


def test_a_detail_off_its_schema_is_never_sent(delivered: Callable[[], list[dict[str, Any]]]) -> None:
    with pytest.raises(InvalidStepOutputError, match=r"detail\.asg_name: required field is missing"):
        runtime.events().send("default", "ASG Release Started", {"release_id": RELEASE})
    assert delivered() == []
