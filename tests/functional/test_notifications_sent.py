"""The Events adapter and runtime.notify against moto's EventBridge, delivering to an SQS queue."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pytest

from tasks import runtime
from tasks.domain import notifications
from tasks.errors import AwsRequestError, InvalidStepOutputError
from tests.functional.support import subscribe_to_releases

if TYPE_CHECKING:
    from collections.abc import Callable

RELEASE = "arn:aws:states:us-east-1:123456789012:execution:asg-terminator-release:web-1"


@pytest.fixture
def delivered(aws: None) -> Callable[[], list[dict[str, Any]]]:
    return subscribe_to_releases()


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
