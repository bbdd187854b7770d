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


def test_every_granted_action_was_made_by_some_test(request: pytest.FixtureRequest) -> None:
    if iam_recorder.is_worker(request.config):
        pytest.skip("an xdist worker sees its own tests only: the controller checks the whole run (whole_run)")
    why = RUN.partial()
    if why is not None:
        pytest.skip(f"a partial run ({why}): only a run of every test shows an action is unused")
    assert iam_recorder.unused_grants() == []


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


def test_the_controller_checks_the_whole_run_from_every_workers_records(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under pytest-xdist: two workers' records together make the whole run, and what neither made is named."""
    monkeypatch.setattr(iam_recorder, "RECORDING", iam_recorder.Recording())
    monkeypatch.setattr(iam_recorder, "RUN", Run(finished={"tests/functional/a", "tests/workflow/b"}))
    everything = sorted((f, a) for f, actions in iam_recorder.granted().items() for a in actions)
    everything.remove(("Drain", "elasticloadbalancing:DeregisterTargets"))
    files = sorted(_all_suite_files())
    for half, expected in ((everything[::2], "tests/functional/a"), (everything[1::2], "tests/workflow/b")):
        made = [[f, a, "a test"] for f, a in half]
        handed = {"made": made, "on": [], "expected": [expected], "files": files, "deselected": 0}
        iam_recorder.worker_finished({"iam": handed})
    last = iam_recorder.CHECK_LAST
    assert iam_recorder.whole_run() == [
        f"{last}: DrainFunction is granted elasticloadbalancing:DeregisterTargets, which no test made",
        *(f"{last}: {e}: made after all, remove it from NOT_MADE_IN_TESTS" for e in iam_recorder.NOT_MADE_IN_TESTS),
    ]

    iam_recorder.RUN.expected.add("tests/workflow/c")  # a test that never finished (its worker died)
    assert iam_recorder.whole_run() == []  # a partial run tells nothing


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
