"""Fixtures for functional tests: handlers and adapters against moto, version endpoints on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from asg_terminator.fleet import create_asg
from asg_terminator.simulator import FaultPlan, FleetSimulator, asg_instance_lister
from tasks import runtime
from tests.functional.support import NEW, REGION


def _forget_runtime() -> None:
    """runtime caches its clients and settings per cold start; each test is its own cold start."""
    runtime.settings.cache_clear()
    runtime.autoscaling.cache_clear()
    runtime.fleet_reader.cache_clear()


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
    ):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def aws(fake_credentials: None) -> Iterator[None]:
    _forget_runtime()
    with mock_aws():
        yield
    _forget_runtime()


@pytest.fixture
def autoscaling(aws: None) -> Any:
    return boto3.client("autoscaling", region_name=REGION)


@pytest.fixture
def ec2(aws: None) -> Any:
    return boto3.client("ec2", region_name=REGION)


@pytest.fixture
def make_asg(autoscaling: Any, ec2: Any) -> Callable[..., list[str]]:
    """Create an ASG in moto; returns its instance ids."""

    def make(name: str, instances: int, **kwargs: Any) -> list[str]:
        return create_asg(autoscaling, ec2, name, instances, **kwargs)

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
