"""The closing report: the execution's output, or one failure naming every ASG."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tasks import contracts
from tasks.domain.fleet import Progress
from tasks.errors import ReleaseFailedError
from tests.unit.builders import OLD, TARGET, at, outcome_progress, stamp, summarize_event, summarized


def converged(asg_name: str, batches: tuple[tuple[str, ...], ...], seconds: float) -> dict[str, Any]:
    progress = Progress(
        target_version=TARGET,
        versions_before={OLD: 3},
        versions_after={TARGET: 3},
        batches=batches,
        started_at=stamp(0),
        finished_at=stamp(seconds),
    )
    return {
        "asg_name": asg_name,
        "status": "CONVERGED",
        "release_id": "arn:aws:states:us-east-1:123456789012:execution:asg-terminator-release:test",
        "progress": outcome_progress(progress.to_record()),
    }


def failed(asg_name: str, error: str, cause: str, batches: tuple[tuple[str, ...], ...] = ()) -> dict[str, Any]:
    progress = Progress(target_version=TARGET, versions_before={OLD: 2}, batches=batches, started_at=stamp(0))
    return {
        "asg_name": asg_name,
        "status": "FAILED",
        "release_id": "arn:aws:states:us-east-1:123456789012:execution:asg-terminator-release:test",
        "progress": outcome_progress(progress.to_record(), "FAILED"),
        "error": error,
        "cause": cause,
    }


def lambda_cause(error_type: str, message: str) -> str:
    """The Cause Step Functions records for a Python Lambda that raised."""
    return json.dumps(
        {
            "errorMessage": message,
            "errorType": error_type,
            "requestId": "6f1c2a3e-0000-4000-8000-000000000000",
            "stackTrace": ['  File "/var/task/tasks/handlers/check_replacement.py", line 18, in handler\n'],
        }
    )


def test_success_lists_every_asg_with_its_counts_and_duration() -> None:
    outcomes = [
        converged("live_asg_web", (("i-a", "i-b"), ("i-c",)), 600.5),
        converged("live_asg_api", (), 2),
    ]
    output = summarized(outcomes, at(10_000))
    assert output == {
        "status": "SUCCEEDED",
        "asgs": [
            {
                "asg_name": "live_asg_web",
                "status": "CONVERGED",
                "target_version": TARGET,
                "versions_before": {OLD: 3},
                "versions_after": {TARGET: 3},
                "batches": [["i-a", "i-b"], ["i-c"]],
                "batch_count": 2,
                "terminated_count": 3,
                "duration_seconds": 600.5,
            },
            {
                "asg_name": "live_asg_api",
                "status": "CONVERGED",
                "target_version": TARGET,
                "versions_before": {OLD: 3},
                "versions_after": {TARGET: 3},
                "batches": [],
                "batch_count": 0,
                "terminated_count": 0,
                "duration_seconds": 2.0,
            },
        ],
    }
    assert contracts.problems("summarize.output", output) == []
    assert contracts.problems("summarize.input", summarize_event(outcomes)) == []


def test_one_failure_fails_the_release_and_the_message_lists_every_asg() -> None:
    message = "live_asg_web: 1 of 1 replacements not serving 1.0.274 after 901 s: i-0ae0 HTTP 503"
    outcomes = [
        converged("live_asg_api", (("i-x",),), 300),
        failed(
            "live_asg_web", "ReplacementTimeoutError", lambda_cause("ReplacementTimeoutError", message), (("i-a",),)
        ),
        failed("live_asg_jobs", "AsgNotFoundError", lambda_cause("AsgNotFoundError", "live_asg_jobs: no such group")),
    ]
    assert contracts.problems("summarize.input", summarize_event(outcomes)) == []
    with pytest.raises(ReleaseFailedError) as raised:
        summarized(outcomes, at(1000))
    assert str(raised.value) == (
        "2 of 3 ASGs failed: "
        "live_asg_api CONVERGED on 1.0.274 (1 terminated in 1 batches); "
        "live_asg_web FAILED ReplacementTimeoutError after 1 terminated in 1 batches: " + message + "; "
        "live_asg_jobs FAILED AsgNotFoundError after 0 terminated in 0 batches: live_asg_jobs: no such group"
    )


def test_the_lambda_cause_json_is_reduced_to_its_error_message() -> None:
    cause = lambda_cause("FloorBlocksReleaseError", "live_asg_web: healthy floor 1 leaves no headroom")
    with pytest.raises(ReleaseFailedError) as raised:
        summarized([failed("live_asg_web", "FloorBlocksReleaseError", cause)], at(0))
    text = str(raised.value)
    assert text.endswith(": live_asg_web: healthy floor 1 leaves no headroom")
    assert "stackTrace" not in text and "requestId" not in text and "{" not in text


@pytest.mark.parametrize(
    "cause",
    [
        "Task timed out after 60.00 seconds",
        '["not", "a", "lambda", "payload"]',
        '{"message": "no errorMessage key"}',
        "",
    ],
)
def test_a_cause_that_is_not_a_lambda_payload_is_kept_whole(cause: str) -> None:
    with pytest.raises(ReleaseFailedError) as raised:
        summarized([failed("live_asg_web", "States.Timeout", cause)], at(0))
    assert str(raised.value) == (
        "1 of 1 ASGs failed: live_asg_web FAILED States.Timeout after 0 terminated in 0 batches: " + cause
    )


def test_an_asg_that_failed_before_its_first_decision_has_no_duration() -> None:
    never_started = {
        "asg_name": "live_asg_gone",
        "status": "FAILED",
        "release_id": "arn:aws:states:us-east-1:123456789012:execution:asg-terminator-release:test",
        "progress": outcome_progress(Progress().to_record(), "FAILED"),
        "error": "AsgNotFoundError",
        "cause": lambda_cause("AsgNotFoundError", "live_asg_gone: no Auto Scaling group of that name"),
    }
    with pytest.raises(ReleaseFailedError) as failure:
        summarized([never_started], at(5))
    assert str(failure.value) == (
        "1 of 1 ASGs failed: live_asg_gone FAILED AsgNotFoundError after 0 terminated in 0 batches: "
        "live_asg_gone: no Auto Scaling group of that name"
    )


def skipped(asg_name: str, holder: str) -> dict[str, Any]:
    """LockAsg's AsgSkippedError, as the AsgSkipped Pass state builds the outcome."""
    message = f"{asg_name}: skipped: being released by {holder} (1.0.274)"
    return {
        "asg_name": asg_name,
        "status": "SKIPPED",
        "release_id": "arn:aws:states:us-east-1:123456789012:execution:asg-terminator-release:sweep",
        "progress": outcome_progress(Progress().to_record(), "FAILED"),
        "error": "AsgSkippedError",
        "cause": lambda_cause("AsgSkippedError", message),
    }


def test_an_execution_whose_asgs_were_skipped_or_converged_succeeds_naming_the_holder() -> None:
    holder = "arn:aws:states:us-east-1:123456789012:execution:asg-terminator-release:console"
    outcomes = [skipped("live_asg_web", holder), converged("live_asg_api", (("i-x",),), 30)]
    assert contracts.problems("summarize.input", summarize_event(outcomes)) == []

    output = summarized(outcomes, at(40))

    assert contracts.problems("summarize.output", output) == []
    web = output["asgs"][0]
    assert (web["status"], web["error"], web["target_version"], web["duration_seconds"]) == (
        "SKIPPED",
        "AsgSkippedError",
        None,
        None,
    )
    assert web["cause"] == f"live_asg_web: skipped: being released by {holder} (1.0.274)"


def test_a_skipped_asg_is_listed_when_another_fails() -> None:
    holder = "arn:aws:states:us-east-1:123456789012:execution:asg-terminator-release:console"
    outcomes = [skipped("live_asg_web", holder), failed("live_asg_api", "AlarmTriggeredError", "web-5xx in ALARM")]
    with pytest.raises(ReleaseFailedError, match="1 of 2 ASGs failed: live_asg_web SKIPPED: live_asg_web: skipped"):
        summarized(outcomes, at(0))


def test_what_letting_go_left_as_it_was_reaches_the_report() -> None:
    note = "desired capacity left at 7: it is no longer the 5 the release surged it to"
    outcome = converged("live_asg_web", (("i-a",),), 60)
    outcome["unlock"] = {
        "asg_name": "live_asg_web",
        "release_id": outcome["release_id"],
        "unlocked": True,
        "restored_capacity": None,
        "notes": [note],
    }
    assert contracts.problems("summarize.input", summarize_event([outcome])) == []
    (report,) = summarized([outcome], at(61))["asgs"]
    assert report["notes"] == [note]
    assert "notes" not in summarized([converged("live_asg_web", (), 1)], at(2))["asgs"][0]
