"""The roles in infra/template.yaml grant exactly what the functions do in the tests (tests/iam_recorder.py).

Each test already fails when a function makes an action its role lacks; the check here, which
runs last, fails when a role grants an action no test made (only on a run of every functional and
workflow test, as `make check` runs them).
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests import iam_recorder
from tests.iam_recorder import RECORDING, RUN, Run

REGION = "us-east-1"


# Granted, needed, and made through the function by no test, each with why. Keep it short: an entry
# that a test comes to make fails below, so the list cannot outlive its reason.
NOT_MADE_IN_TESTS = {
    "LockAsgFunction is granted autoscaling:DescribeWarmPool, which no test made": (
        "read only to give back what an ended release left on a group with a warm pool (tasks/ownership.py), "
        "through the FleetReader.discover that tests/functional/test_warm_pool_through_the_functions.py shows "
        "UnlockAsg making"
    ),
    "CleanupFunction is granted autoscaling:DescribeWarmPool, which no test made": (
        "the same give-back read as UnlockAsg's, after an execution ended, on a group with a warm pool"
    ),
}


def test_every_granted_action_was_made_by_some_test() -> None:
    why = RUN.partial()
    if why is not None:
        pytest.skip(f"a partial run ({why}): only a run of every test shows an action is unused")
    unused = iam_recorder.never_made()
    assert [u for u in unused if u not in NOT_MADE_IN_TESTS] == []
    assert [e for e in NOT_MADE_IN_TESTS if e not in unused] == [], "made after all: remove from NOT_MADE_IN_TESTS"


@pytest.fixture
def moto_discover(monkeypatch: pytest.MonkeyPatch) -> Any:
    for key, value in {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        from tasks import runtime
        from tasks.handlers.discover import handler

        runtime.settings.cache_clear()
        yield handler
    runtime.settings.cache_clear()


def test_an_action_is_recorded_for_the_function_making_it_and_not_for_the_test(moto_discover: Any) -> None:
    with RECORDING.lock:
        before = set(RECORDING.made)
    boto3.client("ec2", region_name=REGION).describe_regions()  # the test's own call: no function's

    with pytest.raises(Exception, match="live_asg_web"):
        moto_discover(
            {"asg_name": "live_asg_web", "release_id": "arn:x", "version_url": "http://{PrivateIpAddress}/version"},
            None,
        )

    made = RECORDING.since(before)
    assert ("Discover", "autoscaling:DescribeAutoScalingGroups") in made | set(RECORDING.made)
    assert not [pair for pair in made if pair[1] == "ec2:DescribeRegions"]


def test_an_action_the_role_lacks_is_named_with_the_test_that_made_it() -> None:
    pair = ("Discover", "autoscaling:TerminateInstanceInAutoScalingGroup")
    with RECORDING.lock:
        RECORDING.made[pair] = "tests/functional/test_x.py::test_y"
    try:
        assert iam_recorder.not_granted({pair}) == [
            "Discover made autoscaling:TerminateInstanceInAutoScalingGroup (in tests/functional/test_x.py::test_y), "
            "which its role does not grant"
        ]
        assert iam_recorder.not_granted({("Discover", "autoscaling:DescribeAutoScalingGroups")}) == []
    finally:
        with RECORDING.lock:
            del RECORDING.made[pair]


def test_every_function_with_a_role_is_read_from_the_template() -> None:
    roles = iam_recorder.granted()
    assert "elasticloadbalancing:DeregisterTargets" in roles["Drain"]
    assert roles["ValidateInput"] == frozenset()
    assert "events:PutEvents" in roles["Summarize"]


def test_a_partial_run_is_told_from_a_whole_one() -> None:
    whole = Run(files=set(RUN.files) | _all_suite_files(), expected={"a"}, finished={"a"})
    assert whole.partial() is None
    assert "deselected" in str(Run(files=whole.files, deselected=2).partial())
    assert "did not run" in str(Run(files=whole.files, expected={"a", "b"}, finished={"a"}).partial())
    assert "not every functional and workflow test file" in str(Run(files=set()).partial())


def _all_suite_files() -> set[str]:
    root = iam_recorder.TESTS_DIR
    return {p.relative_to(root.parent).as_posix() for s in iam_recorder.SUITES for p in (root / s).glob("test_*.py")}


def test_a_granted_action_no_test_made_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    everything = {(f, a): "a test" for f, actions in iam_recorder.granted().items() for a in actions}
    del everything[("Drain", "elasticloadbalancing:DeregisterTargets")]
    monkeypatch.setattr(RECORDING, "made", everything)

    assert iam_recorder.never_made() == [
        "DrainFunction is granted elasticloadbalancing:DeregisterTargets, which no test made"
    ]


@pytest.mark.parametrize(
    ("function", "action", "arn", "allowed"),
    [
        ("Summarize", "events:PutEvents", "arn:aws:events:us-east-1:123456789012:event-bus/default", True),
        ("Summarize", "events:PutEvents", "arn:aws:events:us-east-1:123456789012:event-bus/other", False),
        (
            "Terminate",
            "ssm:PutParameter",
            "arn:aws:ssm:us-east-1:123456789012:parameter/asg-terminator/web/build",
            True,
        ),
        ("Terminate", "ssm:PutParameter", "arn:aws:ssm:us-east-1:123456789012:parameter/app/web/build", False),
        ("Discover", "s3:PutObject", "arn:aws:s3:::asg-terminator-fleets/fleets/x/web/0.json", True),
        ("Discover", "s3:PutObject", "arn:aws:s3:::asg-terminator-fleets/other/web.json", False),
        ("SelectBatch", "s3:GetObject", "arn:aws:s3:::asg-terminator-artifacts/fleets/x/web/0.json", False),
    ],
)
def test_a_call_on_a_resource_the_role_does_not_name_is_refused(
    function: str, action: str, arn: str, allowed: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(RECORDING, "on", {(function, action, arn): "a test"})
    refused = iam_recorder.not_allowed_on({(function, action, arn)})
    assert refused == (
        []
        if allowed
        else [f"{function} made {action} on {arn} (in a test), which its role does not grant on that resource"]
    )
