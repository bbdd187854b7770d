"""Fixtures for functional tests: handlers and adapters against moto, version endpoints on loopback."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws

from asg_terminator import stack
from asg_terminator.simulator import FaultPlan, FleetSimulator, asg_instance_lister
from tasks import runtime
from tests.functional.support import NEW, REGION, create_group

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


@pytest.fixture
def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",  # never look for credentials on 169.254.169.254
    }.items():
        monkeypatch.setenv(key, value)
    for key in (
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_AUTO_SCALING",
        "AWS_ENDPOINT_URL_EC2",
        "PROBE_CONCURRENCY",
        "LOG_LEVEL",
        "ARTIFACT_KEY_PATTERN",
        "RELEASE_DEFAULTS",
        "STATE_MACHINE_ARN",
        "LEASE_TABLE",
        "FLEET_BUCKET",
        "EVENT_BUS_NAME",
        "ALLOWED_VERSION_HOSTS",
        "IN_FLIGHT_SECONDS",
        "CAPACITY_LAG_SECONDS",
        "UPLOAD_WINDOW_SECONDS",
    ):
        monkeypatch.delenv(key, raising=False)
    runtime.settings.cache_clear()  # Settings.from_env is read once per cold start: each test is one


@pytest.fixture
def aws(fake_credentials: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto for every AWS call, including the clients tasks.runtime caches across tests; the stack's
    lease table exists, as the template declares it."""
    stack.make_moto_atomic()
    with mock_aws():
        monkeypatch.setenv("LEASE_TABLE", stack.create_lease_table(boto3.client("dynamodb", region_name=REGION)))
        monkeypatch.setenv("FLEET_BUCKET", stack.create_fleet_bucket(boto3.client("s3", region_name=REGION)))
        monkeypatch.setenv("ALLOWED_VERSION_HOSTS", "127.0.0.1")  # the simulator's version URLs, as local up sets it
        runtime.settings.cache_clear()
        yield


# Test-side clients are built once: moto intercepts them in whichever mock_aws context is active.
@pytest.fixture(scope="session")
def _clients() -> dict[str, Any]:
    creds = {"region_name": REGION, "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    return {"autoscaling": boto3.client("autoscaling", **creds), "ec2": boto3.client("ec2", **creds)}


@pytest.fixture
def autoscaling(aws: None, _clients: dict[str, Any]) -> Any:
    return _clients["autoscaling"]


@pytest.fixture
def ec2(aws: None, _clients: dict[str, Any]) -> Any:
    return _clients["ec2"]


@pytest.fixture
def make_asg(autoscaling: Any, ec2: Any) -> Callable[..., list[str]]:
    """Create an ASG in moto; returns its instance ids, sorted."""

    def make(name: str, instances: int, **kwargs: Any) -> list[str]:
        return create_group(autoscaling, ec2, name, instances, **kwargs)

    return make


@pytest.fixture
def simulator(autoscaling: Any) -> Iterator[FleetSimulator]:
    """A fleet on loopback: new instances boot with ``NEW`` after ``boot_seconds`` (60 s unless a test
    lowers it), and answer HTTP 503 until then. Adopt existing instances to give them a version."""
    sim = FleetSimulator(
        asg_instance_lister(autoscaling), build=NEW, boot_seconds=60, faults=FaultPlan(), watch_interval=0.05
    ).start()
    try:
        yield sim
    finally:
        sim.stop()
