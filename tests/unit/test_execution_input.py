"""The execution input: defaults applied, and the rules its JSON Schema cannot express."""

from __future__ import annotations

from typing import Any

import pytest

from tasks import contracts
from tasks.domain import history_budget
from tasks.domain.execution_input import settings_from_input
from tasks.domain.fleet import Progress
from tasks.errors import InvalidExecutionInputError
from tests.unit.builders import settings


def release(event: dict[str, Any]) -> dict[str, Any]:
    return settings_from_input(event, contracts.defaults("validate_input.input"))


def test_every_default_is_applied() -> None:
    assert release({"asg_names": ["live_asg_web"]}) == {
        "asg_names": ["live_asg_web"],
        "settings": settings(),
        "asgs": [
            {
                "asg_name": "live_asg_web",
                "progress": Progress(
                    events_budget=20000 - history_budget.EXECUTION, events_spent=history_budget.ASG_ONCE
                ).to_record(),
                "takes_over": None,
            }
        ],
        "continuation": None,
    }


def test_given_values_win_over_defaults() -> None:
    event = {
        "asg_names": ["live_asg_web", "live_asg_api"],
        "target_version": "v1.0.274",
        "version_url": "https://{PrivateDnsName}/version",
        "max_batch": 2,
        "min_healthy_percent": 50,
        "replace_unreadable": True,
    }
    result = release(event)
    assert result["asg_names"] == ["live_asg_web", "live_asg_api"]
    assert result["settings"] == settings(
        target_version="v1.0.274",
        version_url="https://{PrivateDnsName}/version",
        max_batch=2,
        min_healthy_percent=50,
        replace_unreadable=True,
    )
    assert "asg_names" not in result["settings"]
    assert contracts.problems("validate_input.output", result) == []


@pytest.mark.parametrize("target", ["latest", "1.0.274-final!", "main@abc123"])
def test_a_target_that_is_not_a_version_is_refused_naming_the_field(target: str) -> None:
    with pytest.raises(InvalidExecutionInputError) as raised:
        release({"asg_names": ["live_asg_web"], "target_version": target})
    assert str(raised.value) == f"execution input: target_version: {target!r} is not a version (e.g. '1.0.274')"


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("ftp://{PrivateIpAddress}/version", "does not yield an http(s) URL with a host"),
        ("http://{PrivateIP}/version", "unknown placeholder {PrivateIP}"),
        ("http://{PrivateIpAddress/version", "unbalanced braces"),
    ],
)
def test_a_version_url_that_cannot_work_is_refused_naming_the_field(url: str, rule: str) -> None:
    with pytest.raises(InvalidExecutionInputError) as raised:
        release({"asg_names": ["live_asg_web"], "version_url": url})
    assert str(raised.value).startswith(f"execution input: version_url: {rule}")


def test_both_problems_are_reported_at_once() -> None:
    with pytest.raises(InvalidExecutionInputError) as raised:
        release({"asg_names": ["live_asg_web"], "target_version": "latest", "version_url": "ftp://x/version"})
    text = str(raised.value)
    assert "target_version: 'latest' is not a version" in text
    assert "; version_url: does not yield an http(s) URL" in text
