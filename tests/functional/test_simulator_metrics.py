"""The fleet simulator's per-instance metrics (canary_analysis, locally): every serving instance
publishes Latency and Errors with the dimension InstanceId to moto's CloudWatch, a degraded build 3x
slower; an instance that serves nothing publishes nothing."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import boto3
import pytest

from asg_terminator.simulator import DEGRADED_BUILD, HEALTHY_BUILD, NEVER_BOOTS, FleetSimulator, MetricsPlan
from tasks.adapters.cloudwatch import CloudWatch
from tests.functional.support import NEW, OLD, REGION

if TYPE_CHECKING:
    from collections.abc import Iterator

IDS = ["i-0a01", "i-0a02", "i-0b01", "i-0b02"]


@pytest.fixture
def simulators() -> Iterator[list[FleetSimulator]]:
    made: list[FleetSimulator] = []
    yield made
    for simulator in made:
        simulator.stop()


def _simulator(made: list[FleetSimulator], plan: MetricsPlan) -> FleetSimulator:
    """Started (and stopped after the test); its own publisher waits an hour: the test publishes."""
    plan.interval = 3600
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    simulator = FleetSimulator(lambda: IDS, build=NEW, boot_seconds=0, metrics=plan, cloudwatch=cloudwatch)
    simulator.adopt(IDS[:2], OLD)
    simulator.adopt(IDS[2:], NEW)
    simulator.sync()
    made.append(simulator.start())
    return simulator


def _medians() -> dict[str, float]:
    end = datetime.now(UTC) + timedelta(seconds=2)
    read = CloudWatch(boto3.client("cloudwatch", region_name=REGION)).instance_datapoints(
        [("App", "Latency", "Average")], IDS, end - timedelta(seconds=60), end, 60
    )
    return {instance_id: statistics.median(values) for (_, instance_id), values in read.items()}


@pytest.mark.parametrize(("health", "factor"), [(HEALTHY_BUILD, 1.0), (DEGRADED_BUILD, 3.0)])
def test_the_new_build_is_healthy_or_3x_slower(
    aws: None, simulators: list[FleetSimulator], health: str, factor: float
) -> None:
    simulator = _simulator(simulators, MetricsPlan.for_new_build(OLD, health))
    assert simulator.publish_metrics() == 2 * len(IDS)  # Latency and Errors per serving instance
    medians = _medians()
    assert set(medians) == set(IDS)
    for new in IDS[2:]:
        assert medians[new] / medians[IDS[0]] == pytest.approx(factor, rel=0.25)


def test_an_instance_that_serves_nothing_publishes_nothing(aws: None, simulators: list[FleetSimulator]) -> None:
    simulator = _simulator(simulators, MetricsPlan())
    simulator.set_fault("i-0b02", NEVER_BOOTS)
    assert simulator.publish_metrics() == 2 * 3
    assert "i-0b02" not in _medians()


def test_errors_follow_the_builds_error_rate(aws: None, simulators: list[FleetSimulator]) -> None:
    simulator = _simulator(simulators, MetricsPlan(error_rates={NEW: 1.0}))
    simulator.publish_metrics()
    end = datetime.now(UTC) + timedelta(seconds=2)
    read = CloudWatch(boto3.client("cloudwatch", region_name=REGION)).instance_datapoints(
        [("App", "Errors", "Sum")], IDS, end - timedelta(seconds=60), end, 60
    )
    assert {i: v for (_, i), v in read.items()} == {"i-0a01": [0.0], "i-0a02": [0.0], "i-0b01": [1.0], "i-0b02": [1.0]}


def test_a_plan_needs_a_client_and_a_known_health() -> None:
    with pytest.raises(ValueError, match="needs a CloudWatch client"):
        FleetSimulator(lambda: [], build=NEW, metrics=MetricsPlan())
    with pytest.raises(ValueError, match="unknown build health 'sick'"):
        MetricsPlan.for_new_build(OLD, "sick")
