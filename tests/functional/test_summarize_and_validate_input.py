"""ValidateInput and Summarize: the release's public input and its closing report, through their handlers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tasks.errors import InvalidExecutionInputError, InvalidStepInputError, ReleaseFailedError
from tasks.handlers.summarize import handler as summarize
from tasks.handlers.validate_input import handler as validate_input
from tests.functional.support import NEW, OLD, empty_progress
from tests.unit.builders import outcome_progress, settings, summarize_event

DEFAULTS = settings()  # every execution-input default

# -- ValidateInput ------------------------------------------------------------------------------


def test_a_console_input_naming_only_the_asgs_gets_every_default() -> None:
    release = validate_input({"asg_names": ["live_asg_web", "live_asg_api"]}, None)

    assert release["asg_names"] == ["live_asg_web", "live_asg_api"]
    assert release["settings"] == DEFAULTS
    assert [a["asg_name"] for a in release["asgs"]] == ["live_asg_web", "live_asg_api"]
    assert release["continuation"] is None


def test_given_values_override_the_defaults() -> None:
    given = {
        "target_version": "1.0.274",
        "version_url": "https://{PrivateDnsName}:8443/{tag:App}/version",
        "min_healthy": 2,
        "min_healthy_percent": 50,
        "max_batch": 3,
        "poll_seconds": 5,
        "replacement_timeout_seconds": 600,
        "probe_timeout_seconds": 0.5,
        "replace_unreadable": True,
        "allow_downgrade": True,
        "dry_run": True,
        "standby_instances": "wait",
        "protected_instances": "ignore",
        "event_bus_name": "default",  # the stack's EventBusName (the only bus allowed)
        "max_surge": "25%",
        "alarm_names": ["web-5xx"],
        "checkpoints": [1, "50%", "100%"],
        "bake_seconds": 600,
        "approve_checkpoints": True,
        "canary_analysis": {
            "metrics": [
                {
                    "namespace": "App",
                    "metric_name": "Latency",
                    "fails_when": "increase",
                    "statistic": "p99",
                    "tolerance_percent": 10,
                    "critical": True,
                }
            ],
            "period_seconds": 60,
            "min_samples": 10,
            "pass_score": 90,
            "marginal_score": 60,
        },
        "rollback_on_failure": True,
        "pin_parameter": "/asg-terminator/{asg_name}/build",
        "max_history_events": 10000,
        "suspend_processes": ["AZRebalance"],
        "healthy_for_seconds": 30,
        "when_held": "skip",
    }

    release = validate_input({"asg_names": ["web"], **given}, None)

    assert release["settings"] == given


def test_an_unknown_field_is_invalid_execution_input_naming_it() -> None:
    with pytest.raises(InvalidExecutionInputError) as raised:
        validate_input({"asg_names": ["web"], "min_healty": 2}, None)

    assert type(raised.value).__name__ == "InvalidExecutionInputError"
    message = str(raised.value)
    assert message.startswith("validate_input input: min_healty: unknown field (allowed: asg_names, target_version,")
    assert "min_healthy," in message


@pytest.mark.parametrize(
    ("execution_input", "message"),
    [
        ({}, "validate_input input: asg_names: required field is missing"),
        ({"asg_names": []}, "validate_input input: asg_names: [] should be non-empty"),
        (
            {"asg_names": ["web"], "min_healthy": -1},
            "validate_input input: min_healthy: -1 is less than the minimum of 0",
        ),
        (
            {"asg_names": ["web"], "target_version": "banana"},
            "execution input: target_version: 'banana' is not a version (e.g. '1.0.274')",
        ),
        (
            {"asg_names": ["web"], "version_url": "http://{PrivateIp}/version"},
            "execution input: version_url: unknown placeholder {PrivateIp}; use one of {InstanceId}, "
            "{PrivateIpAddress}, {PrivateDnsName}, {PublicIpAddress}, {PublicDnsName}, {AvailabilityZone} "
            "or {tag:NAME}",
        ),
        (
            {"asg_names": ["web"], "version_url": "ftp://{PrivateIpAddress}/version"},
            "execution input: version_url: does not yield an http(s) URL with a host (e.g. 'ftp://10.0.0.1/version')",
        ),
    ],
)
def test_input_that_cannot_work_is_invalid_execution_input_naming_the_field(
    execution_input: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidExecutionInputError) as raised:
        validate_input(execution_input, None)

    assert str(raised.value) == message


# -- Summarize ----------------------------------------------------------------------------------


def converged(name: str, batches: list[list[str]]) -> dict[str, Any]:
    return {
        "asg_name": name,
        "status": "CONVERGED",
        "release_id": "arn:aws:states:us-east-1:123456789012:execution:asg-terminator-release:test",
        "progress": outcome_progress(
            {
                **empty_progress(),
                "target_version": NEW,
                "versions_before": {OLD: 2, NEW: 1},
                "versions_after": {NEW: 3},
                "batches": batches,
                "started_at": "2026-03-01T10:00:00.000Z",
                "finished_at": "2026-03-01T10:04:30.500Z",
            }
        ),
    }


def failed(name: str, error: str, message: str) -> dict[str, Any]:
    cause = json.dumps({"errorMessage": message, "errorType": error, "requestId": "7f4c", "stackTrace": []})
    return {
        "asg_name": name,
        "status": "FAILED",
        "release_id": "arn:aws:states:us-east-1:123456789012:execution:asg-terminator-release:test",
        "progress": outcome_progress(
            {**empty_progress(), "target_version": NEW, "started_at": "2026-03-01T10:00:00.000Z"}, "FAILED"
        ),
        "error": error,
        "cause": cause,
    }


def test_every_asg_converged_is_a_succeeded_release() -> None:
    report = summarize(summarize_event([converged("live_asg_web", [["i-0a1", "i-0a2"], ["i-0a3"]])]), None)

    assert report == {
        "status": "SUCCEEDED",
        "asgs": [
            {
                "asg_name": "live_asg_web",
                "status": "CONVERGED",
                "target_version": NEW,
                "versions_before": {OLD: 2, NEW: 1},
                "versions_after": {NEW: 3},
                "batches": [["i-0a1", "i-0a2"], ["i-0a3"]],
                "batch_count": 2,
                "terminated_count": 3,
                "duration_seconds": 270.5,
            }
        ],
    }


def test_one_failed_asg_fails_the_release_naming_every_outcome() -> None:
    outcomes = [
        converged("live_asg_web", [["i-0a1"]]),
        failed(
            "live_asg_api",
            "ReplacementTimeoutError",
            "live_asg_api: 1 of 1 replacements not serving 1.0.274 after 901 s: i-0b7 HTTP 503",
        ),
    ]

    with pytest.raises(ReleaseFailedError) as raised:
        summarize(summarize_event(outcomes), None)

    assert str(raised.value) == (
        "1 of 2 ASGs failed: live_asg_web CONVERGED on 1.0.274 (1 terminated in 1 batches); "
        "live_asg_api FAILED ReplacementTimeoutError after 0 terminated in 0 batches: "
        "live_asg_api: 1 of 1 replacements not serving 1.0.274 after 901 s: i-0b7 HTTP 503"
    )


def test_a_cause_that_is_not_a_lambda_payload_is_reported_as_is() -> None:
    outcome = {**failed("web", "States.Timeout", ""), "cause": "Task timed out after 60.00 seconds"}

    with pytest.raises(
        ReleaseFailedError,
        match=r"web FAILED States\.Timeout after 0 terminated in 0 batches: "
        r"Task timed out after 60\.00 seconds$",
    ):
        summarize(summarize_event([outcome]), None)


def test_a_failed_outcome_without_its_error_is_invalid_step_input() -> None:
    outcome = {k: v for k, v in failed("web", "AsgNotFoundError", "gone").items() if k != "error"}

    with pytest.raises(InvalidStepInputError, match=r"^summarize input: "):
        summarize(summarize_event([outcome]), None)
