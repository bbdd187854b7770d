"""canary_analysis against moto: the CloudWatch adapter reads each metric per instance (dimension
InstanceId) over a window, and PassCheckpoint judges the canary's datapoints against the baseline's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from tasks import runtime
from tasks.adapters import cloudwatch as cloudwatch_adapter
from tasks.domain.canary import CanaryAnalysis, CanaryMetric
from tasks.domain.fleet import Decision, Progress
from tasks.errors import CanaryAnalysisFailedError
from tasks.handlers.pass_checkpoint import handler as pass_checkpoint
from tests.functional.support import NEW, OLD, REGION, RELEASE_ID, subscribe_to_releases

CANARY, BASELINE = ["i-0c01"], ["i-0b01", "i-0b02"]
LATENCY = CanaryMetric("App", "Latency", "increase", tolerance_percent=10, critical=True)
ERRORS = CanaryMetric("App", "Errors", "increase", "Sum")


def publish(metric: str, instance_id: str, values: list[float], namespace: str = "App") -> None:
    """One datapoint a second, ending a second ago, as the simulator (or EMF) would publish them."""
    now = datetime.now(UTC).replace(microsecond=0)
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": "InstanceId", "Value": instance_id}],
                "Timestamp": now - timedelta(seconds=len(values) - n),
                "Value": value,
                "StorageResolution": 1,
            }
            for n, value in enumerate(values)
        ],
    )


def _window(seconds: float = 30) -> tuple[datetime, datetime]:
    end = datetime.now(UTC) + timedelta(seconds=1)
    return end - timedelta(seconds=seconds), end


def test_each_metric_is_read_per_instance(aws: None) -> None:
    publish("Latency", "i-0c01", [100.0, 110.0, 120.0])
    publish("Latency", "i-0b01", [50.0, 60.0])
    publish("Errors", "i-0b01", [1.0])
    publish("Latency", "i-other", [1e6])  # another instance: not asked for
    read = runtime.cloudwatch().instance_datapoints(
        [("App", "Latency", "Average"), ("App", "Errors", "Sum")], ["i-0c01", "i-0b01", "i-0b02"], *_window(), 1
    )
    assert sorted(read[(0, "i-0c01")]) == [100.0, 110.0, 120.0]
    assert sorted(read[(0, "i-0b01")]) == [50.0, 60.0]
    assert read[(1, "i-0b01")] == [1.0]
    assert (0, "i-0b02") not in read and (1, "i-0c01") not in read  # published nothing: no entry
    assert not any(key[1] == "i-other" for key in read)


def test_datapoints_outside_the_window_are_not_read(aws: None) -> None:
    publish("Latency", "i-0c01", [100.0] * 5 + [1.0] * 3)  # 8 s ago to 1 s ago
    start, end = _window(4.5)
    values = runtime.cloudwatch().instance_datapoints([("App", "Latency", "Average")], ["i-0c01"], start, end, 1)
    assert values[(0, "i-0c01")] and set(values[(0, "i-0c01")]) <= {1.0, 100.0}
    assert len(values[(0, "i-0c01")]) < 8


def test_more_queries_than_one_call_takes_are_asked_in_chunks(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cloudwatch_adapter, "QUERIES_PER_CALL", 3)
    ids = [f"i-{n:04x}" for n in range(5)]
    for n, instance_id in enumerate(ids):
        publish("Latency", instance_id, [float(n)])
    read = runtime.cloudwatch().instance_datapoints([("App", "Latency", "Average")], ids, *_window(), 1)
    assert {k[1]: v for k, v in read.items()} == {instance_id: [float(n)] for n, instance_id in enumerate(ids)}


def test_a_refused_request_is_named(aws: None) -> None:
    from tasks.errors import AwsRequestError

    end = datetime.now(UTC)
    with pytest.raises(AwsRequestError, match="GetMetricData App/Latency for 1 instances"):
        runtime.cloudwatch().instance_datapoints([("App", "Latency", "Average")], ["i-0c01"], end, end, 1)


# -- PassCheckpoint --------------------------------------------------------------------------------

ANALYSIS = CanaryAnalysis((LATENCY, ERRORS), period_seconds=1, min_samples=5, pass_score=95, marginal_score=50)
BASE = [95.0, 100.0, 105.0, 98.0, 102.0, 99.0, 101.0]  # median 100


def _event(analysis: CanaryAnalysis | None = ANALYSIS, bus: str | None = None) -> dict[str, Any]:
    cohort = {"canary_ids": CANARY, "baseline_ids": BASELINE, "baseline_version": OLD}
    progress = Progress(
        target_version=NEW,
        versions_before={OLD: 3},
        batches=(("i-0b00",),),
        release_id=RELEASE_ID,
        launched=tuple(CANARY),
        decision=Decision("checkpoint", "checkpoint 1 of 2", canary=cohort),
    )
    return {
        "asg_name": "web",
        "progress": progress.to_record(),
        "alarm_names": [],
        "canary_analysis": None if analysis is None else analysis.to_record(),
        "bake_seconds": 8,
        "event_bus_name": bus,
    }


def _fleet_publishes(latency_factor: float, errors: float = 0.0) -> None:
    for instance_id in BASELINE:
        publish("Latency", instance_id, BASE)
        publish("Errors", instance_id, [0.0] * len(BASE))
    for instance_id in CANARY:
        publish("Latency", instance_id, [v * latency_factor for v in BASE])
        publish("Errors", instance_id, [errors] * len(BASE))


def test_a_healthy_canary_passes_the_checkpoint_with_its_judgement(aws: None) -> None:
    _fleet_publishes(1.0)
    passed = pass_checkpoint(_event(), None)
    assert passed["checkpoints_passed"] == 1
    judged = passed["decision"]["canary"]["judgement"]
    assert judged["verdict"] == "PASS"
    assert [r["canary_samples"] for r in judged["results"]] == [7, 7]
    assert [r["baseline_samples"] for r in judged["results"]] == [14, 14]
    assert passed["decision"]["action"] == "checkpoint"


def test_a_slow_canary_fails_the_asg_naming_the_metric(aws: None) -> None:
    _fleet_publishes(3.0)
    with pytest.raises(CanaryAnalysisFailedError) as failed:
        pass_checkpoint(_event(), None)
    assert "App/Latency (Average): FAIL: canary median 300 vs baseline median 100 (+200 %" in str(failed.value)
    assert str(failed.value).endswith("(canary 1 instances on the target, baseline 2 on 1.0.266)")


def test_a_marginal_canary_asks_for_approval(aws: None) -> None:
    _fleet_publishes(1.0, errors=1.0)
    decided = pass_checkpoint(_event(), None)
    assert decided["decision"]["action"] == "approval"
    assert decided["decision"]["canary"]["judgement"]["score"] == 50


def test_no_datapoints_fail_a_critical_metric(aws: None) -> None:
    publish("Errors", "i-0c01", [0.0] * 6)
    with pytest.raises(CanaryAnalysisFailedError, match=r"App/Latency \(Average\): NODATA: 0 canary and 0 baseline"):
        pass_checkpoint(_event(), None)


def test_without_canary_analysis_nothing_is_read(aws: None) -> None:
    _fleet_publishes(3.0)
    passed = pass_checkpoint(_event(analysis=None), None)
    assert passed["checkpoints_passed"] == 1
    assert "judgement" not in passed["decision"]["canary"]


def test_the_judgement_is_announced_even_when_it_fails(aws: None) -> None:
    delivered = subscribe_to_releases()
    _fleet_publishes(3.0)
    with pytest.raises(CanaryAnalysisFailedError):
        pass_checkpoint(_event(bus="default"), None)
    (event,) = delivered()
    assert event["detail-type"] == "Canary Judged"
    detail = event["detail"]
    assert (detail["asg_name"], detail["verdict"], detail["checkpoint"]) == ("web", "FAIL", 1)
    assert (detail["canary_ids"], detail["baseline_ids"]) == (CANARY, BASELINE)
    assert detail["results"][0]["canary_median"] == 300


def test_a_checkpoint_with_nothing_to_judge_passes_without_reading(aws: None) -> None:
    """SelectBatch named no cohort ("100%": no baseline left): the checkpoint passes on its alarms alone."""
    _fleet_publishes(3.0)
    event = _event()
    no_cohort = Progress(
        target_version=NEW, batches=(("i-0b00",),), decision=Decision("checkpoint", "checkpoint 2 of 2")
    )
    event["progress"] = no_cohort.to_record()
    passed = pass_checkpoint(event, None)
    assert passed["checkpoints_passed"] == 1
    assert "canary" not in passed["decision"]
