"""The line `local up` says for an execution's status change (asg_terminator.localstack.execution_line)."""

from __future__ import annotations

import json
from typing import Any

from asg_terminator.eventbridge import status_change_event
from asg_terminator.localstack import MAX_LINE_CAUSE, execution_line


def _event(status: str, **described: Any) -> dict[str, Any]:
    return status_change_event(
        {"executionArn": "arn:x", "stateMachineArn": "arn:m", "name": "web-1", "status": status, **described},
        "us-east-1",
        "123456789012",
    )


def test_a_start_names_what_it_releases() -> None:
    given = json.dumps({"asg_names": ["web", "api"], "target_version": "1.0.274"})
    assert execution_line(_event("RUNNING", input=given)) == "execution web-1 started: web, api to 1.0.274"
    no_target = json.dumps({"asg_names": ["web"]})
    assert execution_line(_event("RUNNING", input=no_target)) == (
        "execution web-1 started: web to each ASG's highest version"
    )
    assert execution_line(_event("RUNNING", input="not json")) == (
        "execution web-1 started: no ASGs to each ASG's highest version"
    )


def test_an_end_says_its_status_and_error_in_one_line() -> None:
    assert execution_line(_event("SUCCEEDED", output="{}")) == "execution web-1 ended SUCCEEDED"
    cause = json.dumps({"errorType": "ReleaseFailedError", "errorMessage": "1 of 1 ASGs failed:\n  web FAILED"})
    assert execution_line(_event("FAILED", error="ReleaseFailedError", cause=cause)) == (
        "execution web-1 ended FAILED: ReleaseFailedError: 1 of 1 ASGs failed: web FAILED"
    )
    assert execution_line(_event("ABORTED", error="States.Aborted")) == "execution web-1 ended ABORTED: States.Aborted"


def test_a_long_cause_is_cut_to_one_readable_line() -> None:
    line = execution_line(_event("FAILED", error="ReleaseFailedError", cause="x " * 1000))
    assert "\n" not in line and line.endswith("…")
    assert len(line.split(": ", 2)[2]) == MAX_LINE_CAUSE
