"""The execution input may name only the stack's bus, and a pin only as a whole path segment of its own."""

from __future__ import annotations

import pytest

from tasks import contracts
from tasks.domain.execution_input import settings_from_input
from tasks.errors import InvalidExecutionInputError

DEFAULTS = contracts.defaults("validate_input.input")
ARN = "arn:aws:events:us-east-1:123456789012:event-bus/releases"


@pytest.mark.parametrize("named", ["releases", ARN, None])
def test_the_stacks_bus_by_name_or_arn_is_accepted(named: str | None) -> None:
    release = settings_from_input({"asg_names": ["web"], "event_bus_name": named}, DEFAULTS, event_bus="releases")
    assert release["settings"]["event_bus_name"] == named


@pytest.mark.parametrize(
    "named", ["default", "releases-2", "arn:aws:events:us-east-1:123456789012:event-bus/default", "arn:releases"]
)
def test_any_other_bus_is_refused_naming_the_field_and_the_stacks_bus(named: str) -> None:
    with pytest.raises(InvalidExecutionInputError) as refused:
        settings_from_input({"asg_names": ["web"], "event_bus_name": named}, DEFAULTS, event_bus="releases")
    assert f"event_bus_name: {named!r} is not 'releases', the stack's EventBusName" in str(refused.value)


def test_where_the_stacks_bus_is_unknown_the_operators_check_leaves_it_to_the_stack() -> None:
    release = settings_from_input({"asg_names": ["web"], "event_bus_name": "anything"}, DEFAULTS)
    assert release["settings"]["event_bus_name"] == "anything"


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("/asg-terminator/prod-{asg_name}/build", "only inside a path segment"),
        ("/asg-terminator/{asg_name}-build", "only inside a path segment"),
        ("/asg-terminator/x/{asg_name}", "only inside a path segment"),
    ],
)
def test_a_pin_must_hold_the_asg_name_as_a_whole_segment(template: str, problem: str) -> None:
    with pytest.raises(InvalidExecutionInputError, match=f"pin_parameter: .*{problem}"):
        settings_from_input({"asg_names": ["web"], "pin_parameter": template}, DEFAULTS)


def test_an_asg_whose_name_has_a_slash_cannot_be_pinned() -> None:
    # "team/web" would make /asg-terminator/team/web/build: the name spans two segments.
    with pytest.raises(InvalidExecutionInputError, match="pin_parameter: ASG 'team/web' has a '/' in its name"):
        settings_from_input({"asg_names": ["team/web"], "pin_parameter": "/asg-terminator/{asg_name}/build"}, DEFAULTS)


def test_a_whole_segment_pin_is_accepted() -> None:
    given = {"asg_names": ["web"], "pin_parameter": "/asg-terminator/{asg_name}/build", "rollback_on_failure": True}
    assert settings_from_input(given, DEFAULTS)["settings"]["pin_parameter"] == "/asg-terminator/{asg_name}/build"
