"""AWS failures become the state machine's error names, in the adapters, through real botocore clients.

Stubber answers inside botocore (no request leaves the process); the unreachable-endpoint case
points a client at a closed loopback port.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from tasks.adapters.autoscaling import AutoScaling
from tasks.adapters.aws_errors import translate
from tasks.adapters.ec2 import Ec2
from tasks.errors import (
    AsgNotFoundError,
    AwsRequestError,
    AwsThrottledError,
    AwsUnavailableError,
    RetryableError,
    TerminalError,
)
from tasks.runtime import _CLIENT_CONFIG  # the clients' real config: botocore's retries must not hide errors
from tests.functional.support import REGION, closed_port

if TYPE_CHECKING:
    from collections.abc import Iterator


def client_error(code: str, message: str, status: int, operation: str = "DescribeAutoScalingGroups") -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
        operation,
    )


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("Throttling", 400, AwsThrottledError),
        ("RequestLimitExceeded", 503, AwsThrottledError),
        ("ThrottlingException", 400, AwsThrottledError),
        ("TooManyRequestsException", 429, AwsThrottledError),
        ("ServiceUnavailable", 503, AwsUnavailableError),
        ("InternalFailure", 500, AwsUnavailableError),
        ("InternalError", 500, AwsUnavailableError),
        ("SomethingNewOnTheServerSide", 502, AwsUnavailableError),
        ("", 504, AwsUnavailableError),
        ("ValidationError", 400, AwsRequestError),
        ("AccessDenied", 403, AwsRequestError),
        ("ResourceContentionFault", 400, AwsRequestError),
        ("InvalidInstanceID.NotFound", 400, AwsRequestError),
    ],
)
def test_translate_maps_each_code_to_one_leaf_error(code: str, status: int, expected: type[Exception]) -> None:
    error = translate(client_error(code, "details here", status), "DescribeAutoScalingGroups web")
    assert type(error) is expected
    assert str(error).startswith("DescribeAutoScalingGroups web: ")
    assert "details here" in str(error)


def test_throttling_is_retryable_and_a_rejected_request_is_terminal() -> None:
    throttled = translate(client_error("Throttling", "Rate exceeded", 400), "DescribeAutoScalingGroups web")
    rejected = translate(client_error("ValidationError", "bad name", 400), "DescribeAutoScalingGroups web")
    unavailable = translate(client_error("InternalFailure", "oops", 500), "DescribeAutoScalingGroups web")
    assert str(throttled) == "DescribeAutoScalingGroups web: throttled (Throttling): Rate exceeded"
    assert str(rejected) == "DescribeAutoScalingGroups web: ValidationError: bad name"
    assert str(unavailable) == "DescribeAutoScalingGroups web: AWS unavailable (InternalFailure): oops"
    assert isinstance(throttled, RetryableError) and isinstance(unavailable, RetryableError)
    assert isinstance(rejected, TerminalError)


@pytest.fixture
def stubbed_autoscaling(fake_credentials: None) -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("autoscaling", region_name=REGION, config=_CLIENT_CONFIG)
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def stubbed_ec2(fake_credentials: None) -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("ec2", region_name=REGION, config=_CLIENT_CONFIG)
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_describe_group_throttled_raises_aws_throttled_error(stubbed_autoscaling: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed_autoscaling
    stubber.add_client_error(
        "describe_auto_scaling_groups",
        service_error_code="Throttling",
        service_message="Rate exceeded",
        http_status_code=400,
        expected_params={"AutoScalingGroupNames": ["live_asg_web"]},
    )
    with pytest.raises(AwsThrottledError) as raised:
        AutoScaling(client).describe_group("live_asg_web")
    assert str(raised.value) == "DescribeAutoScalingGroups live_asg_web: throttled (Throttling): Rate exceeded"
    assert isinstance(raised.value.__cause__, ClientError)
    assert raised.value.__cause__.response["Error"]["Code"] == "Throttling"


def test_describe_group_server_fault_raises_aws_unavailable_error(stubbed_autoscaling: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed_autoscaling
    stubber.add_client_error(
        "describe_auto_scaling_groups",
        service_error_code="InternalFailure",
        service_message="We encountered an internal error",
        http_status_code=500,
    )
    unavailable = r"^DescribeAutoScalingGroups web: AWS unavailable \(InternalFailure\)"
    with pytest.raises(AwsUnavailableError, match=unavailable):
        AutoScaling(client).describe_group("web")


def test_describe_group_access_denied_raises_aws_request_error(stubbed_autoscaling: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed_autoscaling
    stubber.add_client_error(
        "describe_auto_scaling_groups",
        service_error_code="AccessDenied",
        service_message="User is not authorized to perform: autoscaling:DescribeAutoScalingGroups",
        http_status_code=403,
    )
    with pytest.raises(AwsRequestError, match=r"^DescribeAutoScalingGroups web: AccessDenied: User is not authorized"):
        AutoScaling(client).describe_group("web")


def test_describe_group_of_no_group_raises_asg_not_found(stubbed_autoscaling: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed_autoscaling
    stubber.add_response("describe_auto_scaling_groups", {"AutoScalingGroups": []})
    with pytest.raises(AsgNotFoundError, match=r"^gone: no Auto Scaling group of that name"):
        AutoScaling(client).describe_group("gone")


@pytest.mark.parametrize(
    "message",
    [
        "Instance Id not found - No managed instance found for instance ID: i-0123456789abcdef0",
        "The instance i-0123456789abcdef0 is not part of Auto Scaling group web.",
    ],
)
def test_terminating_an_instance_already_gone_is_not_an_error(
    stubbed_autoscaling: tuple[Any, Stubber], message: str
) -> None:
    client, stubber = stubbed_autoscaling
    stubber.add_client_error(
        "terminate_instance_in_auto_scaling_group",
        service_error_code="ValidationError",
        service_message=message,
        http_status_code=400,
        expected_params={"InstanceId": "i-0123456789abcdef0", "ShouldDecrementDesiredCapacity": False},
    )
    assert AutoScaling(client).terminate_in_group("i-0123456789abcdef0") is False


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("Throttling", 400, AwsThrottledError),
        ("ServiceUnavailable", 503, AwsUnavailableError),
        ("ScalingActivityInProgress", 400, AwsRequestError),
        ("ValidationError", 400, AwsRequestError),
    ],
)
def test_terminate_in_group_failures_keep_their_names(
    stubbed_autoscaling: tuple[Any, Stubber], code: str, status: int, expected: type[Exception]
) -> None:
    client, stubber = stubbed_autoscaling
    stubber.add_client_error(
        "terminate_instance_in_auto_scaling_group",
        service_error_code=code,
        service_message="1 validation error detected" if code == "ValidationError" else "try later",
        http_status_code=status,
    )
    with pytest.raises(expected, match=r"^TerminateInstanceInAutoScalingGroup i-0123456789abcdef0: "):
        AutoScaling(client).terminate_in_group("i-0123456789abcdef0")


def test_describe_instances_throttled_raises_aws_throttled_error(stubbed_ec2: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed_ec2
    stubber.add_client_error(
        "describe_instances",
        service_error_code="RequestLimitExceeded",
        service_message="Request limit exceeded.",
        http_status_code=503,
    )
    with pytest.raises(AwsThrottledError) as raised:
        Ec2(client).describe(["i-0123456789abcdef0", "i-0123456789abcdef1"])
    assert str(raised.value) == "DescribeInstances (2 ids): throttled (RequestLimitExceeded): Request limit exceeded."


def test_an_unreachable_endpoint_raises_aws_unavailable_error(fake_credentials: None) -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}"
    client = boto3.client(
        "autoscaling",
        region_name=REGION,
        endpoint_url=endpoint,
        config=Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=1, read_timeout=1),
    )
    with pytest.raises(AwsUnavailableError, match=r"^DescribeAutoScalingGroups web: could not reach AWS: "):
        AutoScaling(client).describe_group("web")
