"""Following a release's chain of executions: each one's output names the next (``continued_as``)."""

from __future__ import annotations

from typing import Any

import pytest

from asg_terminator.history import continuations, next_execution

ENDED = {
    "first": ("SUCCEEDED", {"status": "CONTINUED", "continued_as": "second"}),
    "second": ("SUCCEEDED", {"status": "CONTINUED", "continued_as": "third"}),
    "third": ("SUCCEEDED", {"asgs": []}),
}


@pytest.mark.parametrize(
    ("status", "output", "following"),
    [
        ("SUCCEEDED", {"continued_as": "arn:next"}, "arn:next"),
        ("SUCCEEDED", {"asgs": []}, None),
        ("FAILED", {"continued_as": "arn:next"}, None),  # a link that failed started nothing to follow
        ("SUCCEEDED", None, None),
        ("SUCCEEDED", ["continued_as"], None),
        ("SUCCEEDED", {"continued_as": 7}, None),
    ],
)
def test_a_succeeded_executions_output_names_the_next(status: str, output: Any, following: str | None) -> None:
    assert next_execution(status, output) == following


def test_continuations_read_each_later_link_once_in_order() -> None:
    read: list[str] = []

    def ended(arn: str) -> str:
        read.append(arn)
        return arn

    later = continuations("first", ended, lambda arn: next_execution(*ENDED[arn]))
    assert list(later) == ["second", "third"]
    assert read == ["second", "third"]


def test_an_execution_that_does_not_continue_has_no_continuations() -> None:
    assert list(continuations("third", str, lambda arn: next_execution(*ENDED[arn]))) == []
