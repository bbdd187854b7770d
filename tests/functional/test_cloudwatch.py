"""The CloudWatch adapter against moto: the states of the alarms a release watches."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tasks import runtime
from tasks.errors import AlarmNotFoundError, AlarmTriggeredError
from tests.functional.support import REGION


def alarm(name: str) -> None:
    boto3.client("cloudwatch", region_name=REGION).put_metric_alarm(
        AlarmName=name,
        MetricName="HTTPCode_Target_5XX_Count",
        Namespace="AWS/ApplicationELB",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=5,
        ComparisonOperator="GreaterThanThreshold",
    )


def set_state(name: str, state: str, reason: str) -> None:
    boto3.client("cloudwatch", region_name=REGION).set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason)


def test_each_named_alarm_that_exists_has_its_state_and_reason(aws: None) -> None:
    alarm("web-5xx")
    alarm("web-latency")
    set_state("web-5xx", "ALARM", "errors up")
    states: dict[str, Any] = runtime.cloudwatch().alarm_states(["web-5xx", "web-latency", "gone"])
    assert states["web-5xx"] == ("ALARM", "errors up")
    assert states["web-latency"][0] in ("INSUFFICIENT_DATA", "OK")
    assert "gone" not in states


def test_more_than_a_hundred_names_are_asked_in_pages(aws: None) -> None:
    names = [f"alarm-{n:03d}" for n in range(150)]
    for name in names[::30]:
        alarm(name)
    assert sorted(runtime.cloudwatch().alarm_states(names)) == names[::30]


def test_check_alarms_raises_the_named_errors(aws: None) -> None:
    alarm("web-5xx")
    runtime.check_alarms("web", ["web-5xx"], "stopped")  # INSUFFICIENT_DATA: goes on
    runtime.check_alarms("web", [], "stopped")
    set_state("web-5xx", "ALARM", "errors up")
    with pytest.raises(AlarmTriggeredError, match=r"web-5xx \(errors up\); stopped"):
        runtime.check_alarms("web", ["web-5xx"], "stopped")
    with pytest.raises(AlarmNotFoundError):
        runtime.check_alarms("web", ["web-5xx", "nope"], "stopped")
